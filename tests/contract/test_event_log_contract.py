"""The event-log contract: what every adapter of `services.eventlog.port.EventLog` guarantees.

`EventLogContract` holds the tests; each backend subclasses it and provides `make_log`, a
factory that opens (or reopens) one log. The Kafka adapter runs against two independent
brokers, noida-db and Tansu, so code that only works because of one broker's behaviour fails.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from routing.domain.decide import decide
from services.domain.demand import apply, fold
from services.domain.rules import DEFAULT_RULES
from services.eventlog.kafka import KafkaEventLog
from services.eventlog.memory import MemoryEventLog, MemoryStore
from services.eventlog.port import EventLog, Offsets, Position, Record, advance
from services.eventlog.sqlite import SqliteEventLog
from services.events.envelope import SYSTEM_ROUTING, Actor, Event, encode, make, now
from services.events.ids import derived_id, new_id

REPO = Path(__file__).resolve().parents[2]
CLERK = Actor(role="intake_clerk", id="clerk-7", district=6)
STAFF = Actor(role="department_staff", id="staff-3", district=6, department="transport")


# -- events ------------------------------------------------------------------------------

def submitted(demand_id: str | None = None, title: str = "Broken street light") -> Event:
    demand_id = demand_id or new_id()
    return make(
        "DemandSubmitted", demand_id,
        {"requester": {"kind": "citizen"},
         "channel": "line_137", "district": 6, "neighbourhood": "Yusefabad",
         "category": "urban_services", "title": title,
         "description": "The light at the corner of 33rd street has been out for a week."},
        actor=CLERK, event_id=new_id(), recorded_at=now())


def note(demand_id: str, text: str) -> Event:
    return make("ProgressNoteSubmitted", demand_id, {"note": text}, actor=STAFF,
                event_id=new_id(), recorded_at=now())


def decision(type_: str, request: Event, payload: dict) -> Event:
    return make(type_, request.demand_id, payload, actor=SYSTEM_ROUTING,
                event_id=derived_id(request.recorded_at, request.event_id, type_),
                recorded_at=request.recorded_at, causation_id=request.event_id,
                correlation_id=request.correlation_id)


def demand_story(demand_id: str | None = None) -> list[Event]:
    """A submission, its routing, an acknowledgement request and its decision."""
    sub = submitted(demand_id)
    [routed] = decide(apply(None, sub), sub, DEFAULT_RULES)  # routing's own DemandRouted
    ack_request = make("AcknowledgementRequested", sub.demand_id, {"note": "on it"},
                       actor=STAFF, event_id=new_id(), recorded_at=now())
    acked = decision("DemandAcknowledged", ack_request, {})
    return [sub, routed, ack_request, acked]


# -- reading helpers ---------------------------------------------------------------------

def read_all(log: EventLog, start: Offsets | None = None, batch: int = 1000) -> list[Record]:
    """Every record from `start` to the end, by plain reads (not `scan`)."""
    end = log.end_offsets()
    position = dict(start or {})
    out: list[Record] = []
    while any(position.get(p, 0) < o for p, o in end.items()):
        records = log.read(position, limit=batch)
        assert records, f"read returned nothing at {position} before the end {end}"
        out += [r for r in records if r.offset < end.get(r.partition, 0)]
        position = advance(position, records)
    return out


def by_position(records: list[Record]) -> dict[Position, Record]:
    return {r.position: r for r in records}


def expected_ends(positions: list[Position]) -> Offsets:
    ends: Offsets = {}
    for p in positions:
        ends[p.partition] = max(ends.get(p.partition, 0), p.offset + 1)
    return ends


def nonzero(offsets: Offsets) -> Offsets:
    return {p: o for p, o in offsets.items() if o}


# -- the contract ------------------------------------------------------------------------

class EventLogContract:
    """Subclasses provide a `make_log` fixture: a factory opening one (fresh) log."""

    dedupes = False  # whether appending an event already in the log stores nothing

    @pytest.fixture
    def make_log(self) -> Callable[[], EventLog]:
        raise NotImplementedError

    @pytest.fixture
    def log(self, make_log) -> EventLog:
        return make_log()

    def test_append_returns_positions_and_reads_back_identical_bytes(self, log):
        events = [submitted(title=f"Demand {i}") for i in range(3)]
        positions = log.append(events)

        assert len(positions) == 3 and len(set(positions)) == 3
        records = by_position(read_all(log))
        assert len(records) == 3
        for event, position in zip(events, positions, strict=True):
            expected_partition = log.partition_for(event.demand_id)
            if expected_partition is not None:
                assert position.partition == expected_partition
            record = records[position]
            assert record.raw == encode(event)
            assert record.event == event
        assert log.append([]) == []

    def test_each_demand_keeps_its_order_in_one_partition(self, log):
        demands = [new_id() for _ in range(50)]
        stories = {d: [submitted(d)] + [note(d, f"step {i}") for i in range(1, 5)] for d in demands}
        interleaved = [stories[d][i] for i in range(5) for d in demands]
        # Several appends of different sizes: one large batch, then small ones.
        positions = log.append(interleaved[:150])
        for i in range(150, 250, 20):
            positions += log.append(interleaved[i:i + 20])
        assert len(positions) == 250

        seen: dict[str, list[Record]] = defaultdict(list)
        for record in read_all(log):
            seen[record.event.demand_id].append(record)
        assert set(seen) == set(demands)
        for d in demands:
            records = seen[d]
            assert [r.event.event_id for r in records] == [e.event_id for e in stories[d]]
            assert len({r.partition for r in records}) == 1
            offsets = [r.offset for r in records]
            assert offsets == sorted(offsets)
        if log.partitions > 1:  # the test must actually spread demands over partitions
            assert len({records[0].partition for records in seen.values()}) > 1

    def test_end_offsets_follow_appends(self, log):
        assert nonzero(log.end_offsets()) == {}
        assert set(log.end_offsets()) == set(range(log.partitions))

        positions = log.append([e for _ in range(12) for e in demand_story()])  # one batch
        assert log.end_offsets() == {p: expected_ends(positions).get(p, 0)
                                     for p in range(log.partitions)}
        positions += log.append([submitted()])  # a single record after a batch
        positions += log.append([submitted() for _ in range(7)])
        ends = log.end_offsets()
        assert nonzero(ends) == expected_ends(positions)
        assert sum(ends.values()) == 48 + 8  # offsets are dense from 0 in a fresh log

    def test_read_from_the_middle_returns_only_later_records(self, log):
        events = [submitted(title=f"Demand {i}") for i in range(40)]
        positions = log.append(events[:20])
        middle = log.end_offsets()
        later = log.append(events[20:])

        records = read_all(log, middle)
        assert len(records) == 20
        assert {r.position: r.event.event_id for r in records} == \
            {pos: e.event_id for e, pos in zip(events[20:], later, strict=True)}
        assert not {r.position for r in records} & set(positions)

        # A single read honours the limit and never goes back before `start`.
        first = log.read(middle, limit=3)
        assert 1 <= len(first) <= 3
        assert all(r.offset >= middle.get(r.partition, 0) for r in first)

    def test_read_waits_for_an_append_from_another_thread(self, make_log):
        log, writer = make_log(), make_log()
        log.append([submitted()])
        end = log.end_offsets()

        began = time.monotonic()
        assert log.read(end, timeout=0.3) == []
        assert time.monotonic() - began >= 0.25

        event = submitted(title="Arrives later")
        thread = threading.Thread(target=lambda: (time.sleep(0.5), writer.append([event])))
        began = time.monotonic()
        thread.start()
        records = log.read(end, timeout=15)
        waited = time.monotonic() - began
        thread.join()
        assert [r.event for r in records] == [event]
        assert 0.4 <= waited < 10

    def test_scan_yields_everything_exactly_once(self, log):
        events = [e for _ in range(15) for e in demand_story()]
        for i in range(0, 60, 13):
            log.append(events[i:i + 13])
        for batch in (7, 5000):
            records = list(log.scan(batch=batch))
            counts = Counter(r.event.event_id for r in records)
            assert set(counts) == {e.event_id for e in events}
            assert set(counts.values()) == {1}
            assert len({r.position for r in records}) == 60

        # scan(start, end) covers exactly that window.
        start = {p: o // 2 for p, o in log.end_offsets().items()}
        end = log.end_offsets()
        log.append([submitted()])  # beyond `end`: not part of the window
        window = list(log.scan(start, end))
        assert sum(end.values()) - sum(start.values()) == len(window)
        assert all(start[r.partition] <= r.offset < end[r.partition] for r in window)

    def test_group_consumer_starts_where_told_and_commits(self, log, unique_name):
        events = [submitted(title=f"Demand {i}") for i in range(30)]
        positions = log.append(events)
        ends = expected_ends(positions)
        start_at = {p: end // 2 for p, end in ends.items()}
        expected = {pos for pos in positions if pos.offset >= start_at[pos.partition]}
        asked: list[list[int]] = []

        def start(partitions: list[int]) -> Offsets:
            asked.append(partitions)
            return {p: start_at[p] for p in partitions if p in start_at}

        consumer = log.consumer(f"g-{unique_name}", start)
        try:
            got: list[Record] = []
            deadline = time.monotonic() + 30
            while len(got) < len(expected) and time.monotonic() < deadline:
                got += consumer.poll(timeout=0.5, max_records=7)
            assert {r.position for r in got} == expected
            assert len(got) == len(expected)
            assert consumer.assignment() == list(range(log.partitions))
            assert sorted(p for partitions in asked for p in partitions) == \
                list(range(log.partitions))

            progress = advance(start_at, got)
            consumer.commit(progress)
            assert log.committed(f"g-{unique_name}") == progress
            # Nothing more arrives; then a new event does.
            assert consumer.poll(timeout=0.3) == []
            late = submitted(title="Late")
            (late_pos,) = log.append([late])
            more: list[Record] = []
            deadline = time.monotonic() + 15
            while not more and time.monotonic() < deadline:
                more = consumer.poll(timeout=0.5)
            assert [(r.position, r.event) for r in more] == [(late_pos, late)]
        finally:
            consumer.close()

        # A new member of the group begins where `start` says, not at the committed offsets.
        again = log.consumer(f"g-{unique_name}", lambda partitions: {})
        try:
            replayed: list[Record] = []
            deadline = time.monotonic() + 30
            while len(replayed) < 31 and time.monotonic() < deadline:
                replayed += again.poll(timeout=0.5)
            assert sorted(r.position for r in replayed) == sorted(positions + [late_pos])
        finally:
            again.close()

    def test_replay_from_the_beginning_is_the_same_twice(self, make_log):
        log = make_log()
        for _ in range(5):
            log.append([e for _ in range(4) for e in demand_story()])
        first = [(r.partition, r.offset, r.raw) for r in read_all(log, batch=9)]
        second = [(r.partition, r.offset, r.raw) for r in read_all(make_log(), batch=1000)]
        assert len(first) == 80
        assert sorted(first) == sorted(second)
        # The same per-partition sequence, whatever the interleaving of partitions.
        for p in range(log.partitions):
            assert [x for x in first if x[0] == p] == [x for x in second if x[0] == p]

    def test_identity_names_the_log_and_survives_reopening(self, make_log):
        log = make_log()
        named = log.identity()
        assert named
        log.append([submitted() for _ in range(5)])
        assert log.identity() == named
        assert make_log().identity() == named  # appends and reopening keep the name

    def test_appending_an_event_twice_does_not_change_the_fold(self, log):
        story = demand_story()
        other = demand_story()
        positions = log.append(story + other)
        # Retries of a submission and of decisions, as after a crash between append and commit.
        again = log.append([story[0], story[1], story[3]])
        log.append([other[3]])

        records = [r for r in read_all(log) if r.event.demand_id == story[0].demand_id]
        if self.dedupes:
            assert again == [positions[0], positions[1], positions[3]]
            assert len(records) == 4
        else:
            assert len(records) >= 4
        assert {r.event.event_id for r in records} == {e.event_id for e in story}
        read_back = fold(r.event for r in sorted(records, key=lambda r: r.offset))
        assert read_back is not None and read_back.status == "acknowledged"
        assert read_back == fold(story)

    def test_concurrent_appends_each_land_once_where_acknowledged(self, log):
        """Many threads appending at once (intake's workers): every acknowledged event is in
        the log exactly once, at the position its append returned, an append's events in order."""
        threads, appends = 8, 12
        acked: dict[str, Position] = {}
        errors: list[BaseException] = []
        go = threading.Barrier(threads)

        def appender(t: int) -> None:
            try:
                go.wait(30)
                for i in range(appends):
                    d = new_id()
                    events = [submitted(d, title=f"t{t} a{i}")] + [note(d, f"n{j}")
                                                                   for j in range(i % 3)]
                    positions = log.append(events)
                    assert len(positions) == len(events)
                    for e, p in zip(events, positions, strict=True):
                        acked[e.event_id] = p
                    same = [p for p in positions if p.partition == positions[0].partition]
                    assert same == sorted(same)
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        workers = [threading.Thread(target=appender, args=(t,)) for t in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(120)
        assert not errors, errors[:3]
        records = read_all(log)
        counts = Counter(r.event.event_id for r in records)
        assert set(counts) == set(acked) and set(counts.values()) == {1}
        assert {r.event.event_id: r.position for r in records} == acked
        assert len(acked) == sum(1 + i % 3 for i in range(appends)) * threads


class TestMemoryEventLog(EventLogContract):
    """The fast lane's log: several partitions, no I/O; reopening shares the same store."""

    @pytest.fixture
    def make_log(self) -> Callable[[], EventLog]:
        store = MemoryStore(partitions=4)
        return lambda: MemoryEventLog(store)


class TestSqliteEventLog(EventLogContract):
    dedupes = True

    @pytest.fixture
    def make_log(self, tmp_path) -> Iterator[Callable[[], EventLog]]:
        opened: list[EventLog] = []

        def open_log() -> EventLog:
            opened.append(SqliteEventLog(tmp_path / "events.sqlite3"))
            return opened[-1]

        yield open_log
        for log in opened:
            log.close()

    def test_two_log_files_have_two_identities(self, tmp_path):
        with SqliteEventLog(tmp_path / "a.sqlite3") as a, \
                SqliteEventLog(tmp_path / "b.sqlite3") as b:
            assert a.identity() != b.identity()

    def test_opening_an_existing_log_waits_for_no_writer(self, tmp_path):
        """A worker started while another process holds the write lock (a long commit, a
        backup) opens the log and reads at once: opening it writes nothing once it exists."""
        path = tmp_path / "events.sqlite3"
        with SqliteEventLog(path) as first:
            first.append([submitted()])
            identity = first.identity()
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        opened: list[tuple[str, int]] = []

        def open_and_read() -> None:
            with SqliteEventLog(path) as log:
                opened.append((log.identity(), len(log.read({}))))

        opener = threading.Thread(target=open_and_read, daemon=True)
        try:
            opener.start()
            opener.join(5.0)
            assert not opener.is_alive(), "opening the log waited for the writer's lock"
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert opened == [(identity, 1)]

    def test_concurrent_processes_lose_nothing(self, tmp_path):
        path = tmp_path / "shared.sqlite3"  # fresh: the processes also race to create it
        ctx = multiprocessing.get_context("spawn")
        batches = {w: [[submitted(title=f"w{w} e{i}") for i in range(b * 10, b * 10 + 1 + b % 4)]
                       for b in range(12)] for w in range(4)}
        go, results = ctx.Event(), ctx.Queue()
        workers = [ctx.Process(target=_append_worker, args=(str(path), batches[w], go, results))
                   for w in range(4)]
        for w in workers:
            w.start()
        go.set()
        returned = [results.get(timeout=60) for _ in workers]
        for w in workers:
            w.join(30)
            assert w.exitcode == 0

        appended = {e.event_id: e for bs in batches.values() for b in bs for e in b}
        pairs = [pair for result in returned for pair in result]
        assert len(pairs) == len(appended)
        log = SqliteEventLog(path)
        try:
            records = read_all(log)
            assert [r.offset for r in records] == list(range(len(appended)))
            assert {r.event.event_id for r in records} == set(appended)
            at = by_position(records)
            assert len({pos for _, pos in pairs}) == len(pairs)
            for event_id, pos in pairs:
                assert at[Position(0, pos)].raw == encode(appended[event_id])
        finally:
            log.close()

    def test_an_acknowledged_append_survives_kill_9(self, tmp_path):
        path = tmp_path / "crash.sqlite3"
        events = [submitted(title=f"Crash {i}") for i in range(5)]
        child = subprocess.Popen(
            [sys.executable, "-c", _CRASH_CHILD, str(path), str(len(events))],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)})
        try:
            child.stdin.write(b"".join(encode(e) + b"\n" for e in events))
            child.stdin.flush()
            printed = [child.stdout.readline().decode().strip() for _ in events]
            os.kill(child.pid, signal.SIGKILL)  # at once: the child is still alive, blocked
        finally:
            child.kill()
            child.wait(10)
        assert child.returncode == -signal.SIGKILL
        assert printed == [f"0:{i}" for i in range(len(events))]

        log = SqliteEventLog(path)
        try:
            records = by_position(read_all(log))
            assert len(records) == len(events)
            for event, text in zip(events, printed, strict=True):
                assert records[Position.parse(text)].raw == encode(event)
        finally:
            log.close()

    # -- group commit: concurrent appends share one transaction -----------------------------

    def test_concurrent_appends_share_transactions(self, log):
        threads, appends = 16, 15
        commits, grouped = _commits(), _grouped_appends()
        acked: list[Position] = []
        go = threading.Barrier(threads)

        def appender() -> None:
            go.wait(30)
            for _ in range(appends):
                acked.extend(log.append([submitted()]))

        workers = [threading.Thread(target=appender) for _ in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(120)
        total = threads * appends
        assert len(acked) == total and len(set(acked)) == total
        assert len(read_all(log)) == total
        made = _commits() - commits
        assert _grouped_appends() - grouped == total  # each append in exactly one commit
        assert 1 <= made < total, f"{made} transactions for {total} concurrent appends"

    def test_a_failed_group_commit_fails_every_append_in_it(self, log, tmp_path):
        """One append the database refuses (a trigger, as a full disk or an I/O error would)
        fails its whole group: no caller in it is answered as stored, nothing of it is stored."""
        path = tmp_path / "events.sqlite3"
        refused = submitted(title="Refused")
        guard = sqlite3.connect(path, isolation_level=None)
        guard.execute("CREATE TRIGGER refuse BEFORE INSERT ON events "
                      f"WHEN NEW.event_id = '{refused.event_id}' "
                      "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END")
        outcomes: dict[str, object] = {}

        def append(event: Event) -> None:
            try:
                outcomes[event.event_id] = log.append([event])
            except Exception as exc:  # noqa: BLE001 - the outcome under test
                outcomes[event.event_id] = exc

        first = submitted(title="Leads alone")
        group = [submitted(title=f"Grouped {i}") for i in range(5)] + [refused]
        guard.execute("BEGIN IMMEDIATE")  # the log's write lock: appends wait behind it
        try:
            leader = threading.Thread(target=append, args=(first,))
            leader.start()
            time.sleep(0.3)  # `first` is committing alone, blocked on the lock
            waiting = [threading.Thread(target=append, args=(e,)) for e in group]
            for w in waiting:
                w.start()
            time.sleep(0.5)  # the rest queue behind it, as one group
        finally:
            guard.execute("ROLLBACK")
        for w in [leader, *waiting]:
            w.join(60)
        guard.close()

        assert isinstance(outcomes[first.event_id], list)
        for event in group:
            assert isinstance(outcomes[event.event_id], sqlite3.DatabaseError), \
                f"{event.payload['title']}: {outcomes[event.event_id]!r}"
        assert [r.event.event_id for r in read_all(log)] == [first.event_id]
        later = submitted(title="After the failure")
        assert log.append([later]) == [Position(0, 1)]  # the log goes on

    def test_a_lone_append_is_not_delayed(self, log, tmp_path):
        """No waiting for company: a lone append costs what a bare SQLite transaction with the
        same durability costs on the same disk."""
        bare = sqlite3.connect(tmp_path / "bare.sqlite3", isolation_level=None)
        bare.execute("PRAGMA journal_mode=WAL")
        bare.execute("PRAGMA synchronous=FULL")
        bare.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB)")
        events = [submitted() for _ in range(15)]
        log.append([submitted()])  # the writer's connection is opened
        adapter, raw = [], []
        for event in events:
            began = time.perf_counter()
            log.append([event])
            adapter.append(time.perf_counter() - began)
            began = time.perf_counter()
            bare.execute("BEGIN IMMEDIATE")
            bare.execute("INSERT INTO t (v) VALUES (?)", (encode(event),))
            bare.execute("COMMIT")
            raw.append(time.perf_counter() - began)
        bare.close()
        median_adapter, median_raw = sorted(adapter)[7], sorted(raw)[7]
        assert median_adapter <= 2 * median_raw + 0.005, (median_adapter, median_raw)

    def test_greenlets_share_transactions_under_gevent(self, tmp_path):
        """The web workers are gevent's: greenlets appending at once share transactions too
        (the commit runs off the hub, so the others reach the queue meanwhile)."""
        out = subprocess.run(
            [sys.executable, "-c", _GEVENT_CHILD, str(tmp_path / "g.sqlite3")],
            capture_output=True, text=True, timeout=120, cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)})
        assert out.returncode == 0, out.stderr
        appended, commits, stored = map(int, out.stdout.split())
        assert appended == stored == 200
        assert 1 <= commits < appended / 2, f"{commits} transactions for {appended} appends"

    def test_concurrently_acknowledged_appends_survive_kill_9(self, tmp_path):
        path = tmp_path / "crash.sqlite3"
        child = subprocess.Popen(
            [sys.executable, "-c", _CONCURRENT_CRASH_CHILD, str(path)],
            stdout=subprocess.PIPE, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
        try:
            printed = [child.stdout.readline().decode().split() for _ in range(300)]
            os.kill(child.pid, signal.SIGKILL)  # threads are still appending
        finally:
            child.kill()
            child.wait(10)
        assert child.returncode == -signal.SIGKILL
        log = SqliteEventLog(path)
        try:
            at = {r.event.event_id: r.position for r in read_all(log)}
            for event_id, position in printed:
                assert str(at[event_id]) == position
        finally:
            log.close()

    def test_committed_consumer_offsets_survive_kill_9(self, tmp_path):
        """Consumer offsets are written without an fsync of their own (they measure lag);
        a process killed after committing still leaves them in the log, and appends after
        them stay durable."""
        path = tmp_path / "offsets.sqlite3"
        child = subprocess.Popen(
            [sys.executable, "-c", _OFFSETS_CHILD, str(path)],
            stdout=subprocess.PIPE, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
        try:
            printed = child.stdout.readline().decode().split()
            os.kill(child.pid, signal.SIGKILL)
        finally:
            child.kill()
            child.wait(10)
        assert printed == ["3", "0:3"]
        log = SqliteEventLog(path)
        try:
            assert log.committed("lag") == {0: 3}
            assert len(read_all(log)) == 4
            log.consumer("lag", lambda partitions: {}).commit({0: 4})
            # The committing connection is back to FULL for what it writes next.
            assert log._connect().execute("PRAGMA synchronous").fetchone() == (2,)
        finally:
            log.close()


def _append_worker(path: str, batches: list[list[Event]], go, results) -> None:
    log = SqliteEventLog(path)
    go.wait(30)
    out = []
    for batch in batches:
        positions = log.append(batch)
        out += [(e.event_id, p.offset) for e, p in zip(batch, positions, strict=True)]
    log.close()
    results.put(out)


_CRASH_CHILD = """
import sys
from services.eventlog.sqlite import SqliteEventLog
from services.events.envelope import decode

log = SqliteEventLog(sys.argv[1])
for _ in range(int(sys.argv[2])):
    (position,) = log.append([decode(sys.stdin.buffer.readline().strip())])
    print(position, flush=True)
sys.stdin.buffer.read()  # wait, holding the log open, for the kill
"""

_GEVENT_CHILD = """
from gevent import monkey
monkey.patch_all()
import sys
import gevent
from prometheus_client import REGISTRY
from services.eventlog.sqlite import SqliteEventLog
from tests.contract.test_event_log_contract import read_all, submitted

log = SqliteEventLog(sys.argv[1])
log.append([submitted()])
before = REGISTRY.get_sample_value("sada_log_commits_total")
events = [submitted() for _ in range(200)]
gevent.joinall([gevent.spawn(log.append, [e]) for e in events], raise_error=True)
commits = REGISTRY.get_sample_value("sada_log_commits_total") - before
stored = {r.event.event_id for r in read_all(log)} & {e.event_id for e in events}
print(len(events), int(commits), len(stored))
"""

_CONCURRENT_CRASH_CHILD = """
import sys, threading
from services.eventlog.sqlite import SqliteEventLog
from tests.contract.test_event_log_contract import submitted

log = SqliteEventLog(sys.argv[1])
out = threading.Lock()

def appender():
    while True:
        event = submitted()
        (position,) = log.append([event])
        with out:
            sys.stdout.write(f"{event.event_id} {position}\\n")
            sys.stdout.flush()

for _ in range(8):
    threading.Thread(target=appender, daemon=True).start()
threading.Event().wait()
"""

_OFFSETS_CHILD = """
import sys
from services.eventlog.sqlite import SqliteEventLog
from tests.contract.test_event_log_contract import submitted

log = SqliteEventLog(sys.argv[1])
log.append([submitted() for _ in range(3)])
consumer = log.consumer("lag", lambda partitions: {})
consumer.poll(timeout=1)
consumer.commit({0: 3})
(position,) = log.append([submitted()])
print(log.committed("lag")[0], position, flush=True)
import time; time.sleep(600)
"""


def _commits() -> float:
    return REGISTRY.get_sample_value("sada_log_commits_total") or 0.0


def _grouped_appends() -> float:
    return REGISTRY.get_sample_value("sada_log_appends_per_commit_sum") or 0.0


class KafkaContract(EventLogContract):
    """Subclasses provide a `bootstrap` fixture naming a running broker."""

    @pytest.fixture
    def make_log(self, bootstrap, unique_name) -> Iterator[Callable[[], EventLog]]:
        opened: list[EventLog] = []

        def open_log() -> EventLog:
            opened.append(KafkaEventLog(bootstrap, unique_name, partitions=6))
            return opened[-1]

        yield open_log
        for log in opened:
            log.close()

    def test_reopening_finds_the_existing_topic(self, make_log, bootstrap, unique_name):
        first = make_log()
        event = submitted()
        (position,) = first.append([event])
        second = make_log()
        assert second.partitions == first.partitions == 6
        assert second.end_offsets()[position.partition] == position.offset + 1
        # The existing topic's partition count wins over the one asked for.
        with KafkaEventLog(bootstrap, unique_name, partitions=2) as third:
            assert third.partitions == 6
            assert third.partition_for(event.demand_id) == position.partition
            assert [r.event for r in third.read({})] == [event]


class TestKafkaOnNoida(KafkaContract):
    @pytest.fixture
    def bootstrap(self, noida_bootstrap) -> str:
        return noida_bootstrap


class TestKafkaOnTansu(KafkaContract):
    @pytest.fixture
    def bootstrap(self, tansu_bootstrap) -> str:
        return tansu_bootstrap
