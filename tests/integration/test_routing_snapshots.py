"""The routing worker's snapshots over a real SQLite log: a restart from a snapshot holds and
decides exactly what a full fold does, and a snapshot that is missing or cannot be trusted is
refolded, with the reason logged."""

from __future__ import annotations

import logging
import shutil
import sqlite3
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routing.domain.snapshot import PartitionHead, SnapshotUnreadable, encode_demand
from routing.snapshots import SnapshotStore
from routing.worker import RoutingWorker
from services.eventlog.sqlite import SqliteEventLog
from services.events.envelope import Event
from tests.integration.test_routing_worker_facts import V2, assert_as_if_never_stopped, timeline
from tests.unit.streams import lifecycle

EVENTS = sorted([*timeline(), *lifecycle(3)], key=lambda e: (e.recorded_at, e.event_id))


def _decide_prefix(path: Path, store: SnapshotStore, prefix: list[Event]) -> RoutingWorker:
    """A worker decides `prefix` live, snapshots after every batch, and stops cleanly."""
    with SqliteEventLog(path) as log:
        worker = RoutingWorker(log, snapshots=store, snapshot_every=1, max_records=7)
        worker.start()
        log.append(prefix)
        worker.drain()
        worker.close()
    return worker


def _state(worker: RoutingWorker, demand_ids: set[str]) -> tuple:
    part = worker.partitions[0]
    head = PartitionHead.of(part)
    return head.encode(), {i: encode_demand(part.demands[i]) for i in sorted(demand_ids)
                           if part.demands.get(i) is not None}


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(1, len(EVENTS) - 1))
def test_a_restart_from_a_snapshot_holds_and_decides_what_a_full_fold_does(tmp_path_factory, cut):
    """fold(all) == fold(tail, from=snapshot(prefix)), and the decisions made after either
    start are the same bytes in the same order."""
    tmp = tmp_path_factory.mktemp("cut")
    store = SnapshotStore(tmp / "snapshots.sqlite3")
    _decide_prefix(tmp / "a.sqlite3", store, EVENTS[:cut])
    shutil.copy(tmp / "a.sqlite3", tmp / "b.sqlite3")
    ids = {e.demand_id for e in EVENTS}
    assert _started(tmp / "a.sqlite3", store, ids) == _started(tmp / "b.sqlite3", None, ids)
    ends = {}
    for name in ("a", "b"):
        with SqliteEventLog(tmp / f"{name}.sqlite3") as log:
            log.append(EVENTS[cut:])  # recorded while no worker runs
            ends[name] = log.end_offsets()
    with SqliteEventLog(tmp / "a.sqlite3") as log:
        restarted = RoutingWorker(log, snapshots=store)
        restarted.start()
        assert restarted.restored_from == {0: store_offset(store)}
        state_from_snapshot = _state(restarted, ids)
        restarted.drain()
        after_snapshot = [r.raw for r in log.scan(ends["a"])]
        assert_as_if_never_stopped(log)
    with SqliteEventLog(tmp / "b.sqlite3") as log:
        refolded = RoutingWorker(log)
        refolded.start()
        assert refolded.restored_from == {}
        assert _state(refolded, ids) == state_from_snapshot
        refolded.drain()
        assert [r.raw for r in log.scan(ends["b"])] == after_snapshot
    store.close()


def _started(path: Path, store: SnapshotStore | None, ids: set[str]) -> tuple:
    """The state a worker starts with on the log at `path`, from `store`'s snapshot if given."""
    with SqliteEventLog(path) as log:
        worker = RoutingWorker(log, snapshots=store)
        worker.start()
        assert bool(worker.restored_from) == (store is not None)
        return _state(worker, ids)


def store_offset(store: SnapshotStore) -> int | None:
    """The offset partition 0's snapshot stands for, None if there is none."""
    with sqlite3.connect(store.path) as conn:
        row = conn.execute("SELECT header FROM partition_snapshots").fetchone()
    return None if row is None else orjson.loads(row[0])["offset"]


def _break(store: SnapshotStore, sql: str) -> None:
    with sqlite3.connect(store.path) as conn:
        conn.execute(sql)


CUT = 60


@pytest.mark.parametrize(("damage", "reason"), [
    ("UPDATE partition_snapshots SET header = x'00ff'", "header does not decode"),
    ("UPDATE partition_snapshots SET header = replace(header, '\"format\":1', '\"format\":9')",
     "format 9"),
    ("UPDATE partition_snapshots SET header = replace(header, '\"offset\":', '\"offset\":9')",
     "not within the log"),
    ("UPDATE partition_snapshots SET head = replace(head, 'now', 'wow')", "fails its digest"),
    ("DELETE FROM partition_snapshots", "no snapshot of partition 0"),
])
def test_a_damaged_or_missing_snapshot_is_refolded_and_said_so(tmp_path, caplog, damage, reason):
    store = SnapshotStore(tmp_path / "snapshots.sqlite3")
    path = tmp_path / "events.sqlite3"
    _decide_prefix(path, store, EVENTS[:CUT])
    _break(store, damage)
    with SqliteEventLog(path) as log, caplog.at_level(logging.INFO, "routing.snapshots"):
        log.append(EVENTS[CUT:])
        worker = RoutingWorker(log, snapshots=store)
        worker.start()
        assert worker.restored_from == {}
        worker.drain()
        assert_as_if_never_stopped(log)
    assert reason in caplog.text


def test_a_snapshot_of_other_rules_or_another_log_is_refolded(tmp_path, caplog):
    store = SnapshotStore(tmp_path / "snapshots.sqlite3")
    _decide_prefix(tmp_path / "a.sqlite3", store, EVENTS[:CUT])
    with SqliteEventLog(tmp_path / "a.sqlite3") as log, caplog.at_level(logging.INFO):
        other_rules = RoutingWorker(log, rules=V2, snapshots=store)
        other_rules.start()
        assert other_rules.restored_from == {}
        assert "another default rule set" in caplog.text
    _decide_prefix(tmp_path / "a.sqlite3", store, [])  # a snapshot again
    with SqliteEventLog(tmp_path / "b.sqlite3") as log, caplog.at_level(logging.INFO):
        log.append(EVENTS)  # the same events, but another log
        other_log = RoutingWorker(log, snapshots=store)
        other_log.start()
        assert other_log.restored_from == {}
        assert "a snapshot of another log" in caplog.text
        other_log.drain()
        assert_as_if_never_stopped(log)


def test_a_rewritten_log_under_the_snapshot_is_noticed(tmp_path, caplog):
    """The same log (same identity) whose record at the snapshot's offset is another one."""
    store = SnapshotStore(tmp_path / "snapshots.sqlite3")
    path = tmp_path / "events.sqlite3"
    _decide_prefix(path, store, EVENTS[:CUT])
    with sqlite3.connect(path) as conn:
        (last,) = conn.execute('SELECT max("offset") FROM events').fetchone()
        conn.execute('UPDATE events SET data = (SELECT data FROM events WHERE "offset" = 0) '
                     'WHERE "offset" = ?', (last,))
    with SqliteEventLog(path) as log, caplog.at_level(logging.INFO, "routing.snapshots"):
        worker = RoutingWorker(log, snapshots=store)
        worker.start()
        assert worker.restored_from == {}
    assert "the log holds another record" in caplog.text


def test_a_corrupt_demand_found_late_makes_the_worker_refold(tmp_path, caplog):
    """A demand's row is read only when needed: found corrupt then, the snapshot is forgotten
    and the worker starts over, refolding; nothing is parked, nothing decided twice."""
    store = SnapshotStore(tmp_path / "snapshots.sqlite3")
    path = tmp_path / "events.sqlite3"
    _decide_prefix(path, store, EVENTS[:CUT])
    _break(store, "UPDATE demand_snapshots SET doc = replace(doc, 'routed', 'rooted')")
    with SqliteEventLog(path) as log, caplog.at_level(logging.INFO, "routing.snapshots"):
        log.append(EVENTS[CUT:])
        worker = RoutingWorker(log, snapshots=store)
        with pytest.raises(SnapshotUnreadable):
            worker.start()
            worker.drain()
        assert "fails its digest" in caplog.text
        worker.close()
        worker.start()  # what `run` does after a failure
        assert worker.restored_from == {}
        worker.drain()
        assert_as_if_never_stopped(log)
        assert worker.dead_letters.sink.letters == {}  # nothing parked


def test_a_file_that_is_no_database_is_set_aside(tmp_path, caplog):
    path = tmp_path / "snapshots.sqlite3"
    path.write_bytes(b"not a database at all" * 100)
    with caplog.at_level(logging.WARNING, "routing.snapshots"):
        store = SnapshotStore(path)
    assert "starting anew" in caplog.text
    assert (tmp_path / "snapshots.sqlite3.unreadable").exists()
    _decide_prefix(tmp_path / "events.sqlite3", store, EVENTS[:CUT])
    with SqliteEventLog(tmp_path / "events.sqlite3") as log:
        worker = RoutingWorker(log, snapshots=store)
        worker.start()
        assert worker.restored_from


def test_no_snapshot_is_written_while_decisions_are_missing(tmp_path):
    """An append that fails leaves decisions the log does not have: nothing is snapshot then,
    not even by the clean stop that follows."""

    class FailingLog(SqliteEventLog):
        fail = True

        def append(self, events, *, partition=None):
            if self.fail and any(e.is_decision for e in events):
                raise sqlite3.OperationalError("disk I/O error")
            return super().append(events, partition=partition)

    store = SnapshotStore(tmp_path / "snapshots.sqlite3")
    with FailingLog(tmp_path / "events.sqlite3") as log:
        log.append(EVENTS[:CUT])
        worker = RoutingWorker(log, snapshots=store, snapshot_every=1)
        with pytest.raises(sqlite3.OperationalError):
            worker.start()
        worker.close()
        log.fail = False
        again = RoutingWorker(log, snapshots=store, snapshot_every=1)
        again.start()
        assert again.restored_from == {}
        again.drain()
        assert_as_if_never_stopped(log)


def test_snapshots_are_written_every_so_many_events_and_on_a_clean_stop(tmp_path):
    store = SnapshotStore(tmp_path / "snapshots.sqlite3")
    with SqliteEventLog(tmp_path / "events.sqlite3") as log:
        worker = RoutingWorker(log, snapshots=store, snapshot_every=10**9)
        worker.start()
        log.append(EVENTS[:CUT])
        worker.drain()
        assert store_offset(store) is None  # too few events yet
        worker.close()  # a clean stop
        assert store_offset(store) == log.end_offsets()[0]
        every = RoutingWorker(log, snapshots=store, snapshot_every=30)
        every.start()
        log.append(EVENTS[CUT:])
        end = log.end_offsets()[0]
        every.drain()
        assert CUT < store_offset(store) <= log.end_offsets()[0]
        assert store_offset(store) >= end


def test_a_snapshot_written_over_several_batches_is_usable_only_once_whole(tmp_path):
    """At most `snapshot_chunk` demands are written after a batch: until the last of them is,
    the partition has no usable snapshot (its rows are of several moments), and a worker
    that dies meanwhile is followed by a full fold."""
    store = SnapshotStore(tmp_path / "snapshots.sqlite3")
    path = tmp_path / "events.sqlite3"
    _decide_prefix(path, store, EVENTS[:CUT])
    whole = store_offset(store)
    assert whole is not None
    with SqliteEventLog(path) as log:
        log.append(EVENTS[CUT:])
        dies = RoutingWorker(log, snapshots=store, snapshot_every=1, snapshot_chunk=1)
        dies.start()  # from the snapshot; a new one is due after the tail: one demand of it
        assert dies.restored_from == {0: whole}
        assert store_offset(store) is None  # the old one is gone, the new one not whole
        again = RoutingWorker(log, snapshots=store, snapshot_every=1, snapshot_chunk=1)
        again.start()
        assert again.restored_from == {}  # died mid-way: folded from the beginning
        steps = 0
        while store_offset(store) is None:
            again.step(timeout=0.0)  # a chunk after each batch, even an empty one
            steps += 1
        assert steps > 1
        assert store_offset(store) == log.end_offsets()[0]
        assert_as_if_never_stopped(log)
        last = RoutingWorker(log, snapshots=store)
        last.start()
        assert last.restored_from == {0: log.end_offsets()[0]}
        ids = {e.demand_id for e in EVENTS}
        refolded = RoutingWorker(log)
        refolded.start()
        assert _state(last, ids) == _state(refolded, ids)
