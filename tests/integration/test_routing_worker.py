"""The routing worker over a real SQLite log: deciding, crashing, restarting."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta
from pathlib import Path

import pytest

from intake.app import create_app as intake_app
from routing.app import create_app as routing_app
from routing.snapshots import FILE_NAME
from routing.worker import RoutingWorker
from sada.processes import ManagedProcess
from services.config import Settings
from services.eventlog.port import Consumer, Offsets, Record
from services.eventlog.sqlite import SqliteEventLog
from services.events.envelope import Actor, Event, encode
from services.events.ids import derived_id
from tests.auth_helpers import MASTER_KEY, SECRET, authorize
from tests.unit.streams import T0, Router, Stream, lifecycle

ROOT = Path(__file__).resolve().parents[2]


class RecordingLog(SqliteEventLog):
    """The real SQLite log, remembering every append call (to count the worker's writes)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.appends: list[list[Event]] = []
        self.fail_appends = 0

    def append(self, events: Sequence[Event], *, partition: int | None = None):
        if self.fail_appends:
            self.fail_appends -= 1
            raise sqlite3.OperationalError("disk I/O error")
        self.appends.append(list(events))
        return super().append(events, partition=partition)


class Crash(BaseException):
    """The process dies here: nothing after this point runs."""


class CrashOnCommit(Consumer):
    def __init__(self, inner: Consumer) -> None:
        self.inner = inner

    def poll(self, timeout: float = 1.0, max_records: int = 500) -> list[Record]:
        return self.inner.poll(timeout, max_records)

    def commit(self, offsets: Offsets) -> None:
        raise Crash

    def assignment(self) -> list[int]:
        return self.inner.assignment()

    def close(self) -> None:
        self.inner.close()


class CrashBeforeCommitLog(RecordingLog):
    def consumer(self, group: str, start: Callable[[list[int]], Offsets]) -> Consumer:
        return CrashOnCommit(super().consumer(group, start))


def requests_in(log: SqliteEventLog) -> list[Event]:
    return [r.event for r in log.scan() if not (r.event.is_decision or r.event.is_fact)]


def decisions_in(log: SqliteEventLog) -> list[Event]:
    return [r.event for r in log.scan() if r.event.is_decision]


def assert_one_decision_per_request(log: SqliteEventLog) -> None:
    """Exactly one decision per request, byte-identical to deciding the requests afresh."""
    requests, decisions = requests_in(log), decisions_in(log)
    assert Counter(d.causation_id for d in decisions) == Counter(r.event_id for r in requests)
    expected = Router().run(requests)
    assert sorted(encode(d) for d in decisions) == sorted(encode(d) for d in expected)


@pytest.fixture
def log(tmp_path) -> Iterator[RecordingLog]:
    with RecordingLog(tmp_path / "events.sqlite3") as log:
        yield log


def test_submissions_and_actions_recorded_over_http_are_decided(tmp_path, log, mongo_db):
    settings = Settings(data_dir=tmp_path, auth_secret=SECRET, master_key=MASTER_KEY)
    intake = authorize(intake_app(settings, log, mongo_db).test_client(), "intake_clerk", 21)
    routing = authorize(routing_app(settings, log, db=mongo_db).test_client(),
                        "department_staff", 21, "transport")
    demand = {"requester": {"kind": "citizen"}, "channel": "line_137", "district": 21,
              "neighbourhood": "ویلاشهر", "category": "transport", "title": "ترافیک",
              "description": "صف خودروها"}
    sent = intake.post("/demands", json=demand).get_json()
    triage = intake.post("/demands", json={**demand, "category": "other"}).get_json()
    ack = routing.post(f"/demands/{sent['demand_id']}/acknowledge", json={}).get_json()
    worker = RoutingWorker(log)
    worker.start()
    worker.drain()
    by_cause = {d.causation_id: d for d in decisions_in(log)}
    assert by_cause[sent["event_id"]].type == "DemandRouted"
    assert by_cause[sent["event_id"]].payload["queue"] == "21/transport"
    assert by_cause[triage["event_id"]].payload["queue"] == "21/mayor_triage"
    assert by_cause[ack["request_id"]].type == "DemandAcknowledged"
    assert worker.partitions[0].demands[sent["demand_id"]].status == "acknowledged"
    assert log.committed("routing") == log.end_offsets() == {0: 6}
    worker.close()


def test_a_live_batch_is_decided_in_order_and_appended_in_one_call(log):
    worker = RoutingWorker(log)
    worker.start()
    assert worker.step() == 0 and log.appends == []
    requests = lifecycle(4)
    log.append(requests)
    log.appends.clear()
    assert worker.step() == len(requests)
    [batch] = log.appends
    assert [d.causation_id for d in batch] == [r.event_id for r in requests]
    assert Counter(d.type for d in batch) == {"DemandRouted": 4, "DemandAcknowledged": 4,
                                              "ActionRejected": 4, "DemandEscalated": 4,
                                              "DemandResolved": 4}
    # its own decisions come back through the stream and change nothing
    assert worker.step() == len(requests)
    assert len(log.appends) == 1
    assert_one_decision_per_request(log)


def test_a_crash_between_append_and_commit_doubles_nothing(tmp_path, restarts):
    path = tmp_path / "events.sqlite3"
    crashing = CrashBeforeCommitLog(path)
    crashing.append(lifecycle(3))
    first = restarts.worker(crashing)
    with pytest.raises(Crash):
        first.start()  # decides the backlog, appends, and dies before committing
    assert len(decisions_in(crashing)) == 15
    assert crashing.committed("routing") == {}

    with RecordingLog(path) as log:
        second = restarts.worker(log)
        second.start()
        restarts.started(second)
        second.drain()
        assert log.appends == []  # everything it found was already decided
        log.append(lifecycle(2, first=3))
        second.drain()
        assert second.decisions_appended == 10
        assert_one_decision_per_request(log)
        assert log.committed("routing") == log.end_offsets()
        second.close()


@pytest.mark.parametrize("decided_before_crash", [0, 1, 3, 7, 12, 14, 22])
def test_requests_left_undecided_by_a_crash_are_decided_as_if_live(tmp_path, decided_before_crash,
                                                                   restarts):
    """A worker decides a prefix live and dies; more requests arrive; a new worker catches
    up. The log ends with exactly the decisions of an uninterrupted run."""
    requests = lifecycle(4)
    ghost = Stream(demand_id=derived_id(T0, "never-submitted"))
    requests.insert(3, ghost.request("AcknowledgementRequested", {},
                                     Actor("department_staff", "s", 1, "transport")))
    later = Stream(start=T0 + timedelta(days=1))
    requests.append(later.submit(title="دوباره"))  # a second submission of a demand...
    requests.insert(0, Stream().submit())  # ...first submitted here
    early = Stream(demand_id=derived_id(T0, "acted-on-before-submission"))
    requests.insert(2, early.request("AcknowledgementRequested", {}, Actor("administrator", "a")))
    requests.insert(12, early.submit())
    path = tmp_path / "events.sqlite3"
    with RecordingLog(path) as log:
        first = restarts.worker(log)
        first.start()
        log.append(requests[:decided_before_crash])
        first.drain()
        log.append(requests[decided_before_crash:])  # recorded while no worker runs
    with RecordingLog(path) as log:
        second = restarts.worker(log)
        second.start()
        restarts.started(second, snapshot_expected=decided_before_crash > 0)
        second.drain()
        assert second.decisions_appended == len(requests) - decided_before_crash
        assert_one_decision_per_request(log)
        rejected = [d.payload["code"] for d in decisions_in(log) if d.type == "ActionRejected"]
        assert Counter(rejected) == {"not_your_level": 4, "unknown_demand": 2,
                                     "duplicate_submission": 1}
    with RecordingLog(path) as log:
        third = restarts.worker(log)
        third.start()
        restarts.started(third)
        third.drain()
        assert log.appends == []


def test_the_worker_refolds_and_goes_on_when_an_append_fails(log):
    log.append(lifecycle(2))
    log.fail_appends = 1
    worker = RoutingWorker(log, poll_timeout=0.05)
    stop = threading.Event()
    runner = threading.Thread(target=worker.run, args=(stop,), kwargs={"retry_seconds": 0.05})
    runner.start()
    try:
        deadline = time.monotonic() + 10
        while len(decisions_in(log)) < 10 and time.monotonic() < deadline:
            time.sleep(0.02)
        log.append(lifecycle(1, first=2))
        while len(decisions_in(log)) < 15 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        stop.set()
        runner.join(10)
    assert not runner.is_alive()
    assert log.fail_appends == 0
    assert_one_decision_per_request(log)


def _worker_process(tmp_path: Path, n: int, snapshot_events: str = "0") -> ManagedProcess:
    env = {"SADA_EVENT_LOG": "sqlite", "SADA_DATA_DIR": str(tmp_path),
           "SADA_ROUTING_SNAPSHOT_EVENTS": snapshot_events,
           "SADA_SQLITE_PATH": str(tmp_path / "events.sqlite3"), "SADA_LOG_LEVEL": "INFO",
           "SADA_CLOCK_SECONDS": "0",  # no ticks: the requests' decisions are all there is
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return ManagedProcess(f"routing-worker-{n}", [sys.executable, "-m", "routing.worker"],
                          env=env, log_path=tmp_path / f"worker-{n}.log")


def _has_snapshot(data_dir: Path) -> bool:
    path = data_dir / FILE_NAME
    if not path.exists():
        return False
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        try:
            return conn.execute("SELECT COUNT(*) FROM partition_snapshots").fetchone()[0] > 0
        except sqlite3.OperationalError:  # the table is not there yet
            return False


def _wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


@pytest.mark.parametrize("snapshot_events", ["0", "50"])
def test_a_worker_killed_mid_stream_and_restarted_leaves_one_decision_per_request(
        tmp_path, snapshot_events):
    """Killed with -9 mid-stream, with snapshots off or every 50 events (the restart starts
    from the last one the killed worker wrote)."""
    log = SqliteEventLog(tmp_path / "events.sqlite3")
    killed, written = threading.Event(), threading.Event()

    def write() -> None:
        """Record demands steadily until some time after the kill."""
        after_kill = 0
        for i in range(400):
            log.append(lifecycle(4, first=4 * i))
            time.sleep(0.02)
            after_kill += killed.is_set()
            if after_kill == 15:
                break
        written.set()

    first = _worker_process(tmp_path, 1, snapshot_events).start()
    writer = threading.Thread(target=write)
    second = None
    try:
        writer.start()
        _wait(lambda: len(decisions_in(log)) >= 200, 30, "the first decisions")
        if snapshot_events != "0":  # on a loaded machine the first may still be in writing
            _wait(lambda: _has_snapshot(tmp_path), 30, "the first snapshot")
        first.kill()  # kill -9, mid-stream: the writer is still writing
        killed.set()
        assert first.proc.returncode == -signal.SIGKILL
        assert not written.is_set()

        second = _worker_process(tmp_path, 2, snapshot_events).start()
        writer.join(30)
        total = len(requests_in(log))
        _wait(lambda: len(decisions_in(log)) >= total, 60, "every request decided")
        second.stop()  # SIGTERM: finishes its batch and exits cleanly
        assert second.proc.returncode == 0, (tmp_path / "worker-2.log").read_text()
    finally:
        first.kill()
        if second is not None:
            second.kill()
        killed.set()
        writer.join(30)
    assert written.is_set()
    assert_one_decision_per_request(log)
    assert "caught up" in (tmp_path / "worker-2.log").read_text()
    restarted = "restarts from its snapshot" in (tmp_path / "worker-2.log").read_text()
    assert restarted == (snapshot_events != "0")
    log.close()


@pytest.mark.parametrize(("path", "body"), [
    ("withdrawal", {"reason": "لازم نیست"}), ("support", {}),
    ("requester-response", {"answer": "کوچه سوم"}), ("reopen", {"reason": "دوباره"})])
def test_another_districts_clerk_is_refused_while_the_projector_is_stopped(
        tmp_path, mongo_db, path, body):
    """The read model knows nothing (no projector runs), so the API's early check lets the
    request through; routing's own fold refuses it, visibly, and the demand stays as it was."""
    settings = Settings(data_dir=tmp_path, auth_secret=SECRET, master_key=MASTER_KEY)
    with SqliteEventLog(tmp_path / "events.sqlite3") as log:
        intake = authorize(intake_app(settings, log, mongo_db).test_client(), "intake_clerk", 5)
        routing = authorize(routing_app(settings, log, db=mongo_db).test_client(),
                            "intake_clerk", 21)
        sent = intake.post("/demands", json={
            "requester": {"kind": "citizen"}, "channel": "line_137", "district": 5,
            "neighbourhood": "یوسف‌آباد", "category": "transport",
            "title": "چراغ راهنمایی خراب", "description": "چراغ تقاطع کار نمی‌کند"}).get_json()
        attack = routing.post(f"/demands/{sent['demand_id']}/{path}", json=body)
        assert attack.status_code == 202, attack.get_json()
        assert mongo_db["demands"].count_documents({}) == 0  # the projector never ran
        worker = RoutingWorker(log)
        worker.start()
        worker.drain()
        verdict = {d.causation_id: d for d in decisions_in(log)}[attack.get_json()["request_id"]]
        assert (verdict.type, verdict.payload["code"]) == ("ActionRejected", "out_of_scope")
        assert [d.type for d in decisions_in(log) if d.type != "ActionRejected"] == [
            "DemandRouted"]


def test_a_merge_offer_lost_between_two_appends_is_sent_again_on_restart(tmp_path, restarts):
    """The duplicate's MergeProposed is in the log, the offer to the target is not (a crash
    between two partitions' appends): the restarted worker finds the merge pending, sends the
    same offer again, and the merge completes exactly once."""
    from services.domain.demand import fold
    from tests.unit.streams import PERSON_A, PERSON_B
    from tests.unit.test_merge import DUP_ID, TARGET_ID, two_demands

    r = Router()
    _, dup = two_demands(r)
    r.send(dup.request("MergeRequested", {"into": TARGET_ID, "reason": "همان"},
                       Actor("department_staff", "staff-6-transport", 6, "transport")))
    lost = [e for e in r.log if e.type == "MergeOffered"]
    assert len(lost) == 1
    with RecordingLog(tmp_path / "events.sqlite3") as log:
        asked = next(i for i, e in enumerate(r.log) if e.type == "MergeRequested")
        before = restarts.worker(log)
        before.start()
        log.append(r.log[:asked])  # decided by the worker before, which snapshots it
        before.drain()
        log.append([e for e in r.log[asked:] if e.type != "MergeOffered"])
        worker = restarts.worker(log)
        worker.start()
        restarts.started(worker)
        worker.drain()
        events = [rec.event for rec in log.scan()]
        assert [e.event_id for e in events if e.type == "MergeOffered"] == [lost[0].event_id]
        dup_state = fold([e for e in events if e.demand_id == DUP_ID])
        target = fold([e for e in events if e.demand_id == TARGET_ID])
        assert (dup_state.status, dup_state.merged_into) == ("merged", TARGET_ID)
        assert (target.merged_from, target.supporters) == ([DUP_ID], [PERSON_A, PERSON_B])
        assert [e.type for e in events].count("DemandAbsorbed") == 1
        requests = [e for e in events if not e.is_decision and not e.is_fact]
        assert Counter(d.causation_id for d in events if d.is_decision) == Counter(
            e.event_id for e in requests)
        worker.start()  # another restart: nothing pending, nothing sent
        worker.drain()
        assert len(list(log.scan())) == len(events)


def test_routing_warns_once_a_year_before_the_calendars_horizon(tmp_path):
    """The stream's time reaches a year before the last day the calendar knows holidays for:
    routing records CalendarHorizonNear, once for the rule set, visible in the log."""
    from dataclasses import replace as replaced
    from datetime import UTC, date, datetime

    from routing.facts import rule_set_published, tick
    from services.domain.rules import DEFAULT_RULES

    cal = DEFAULT_RULES.calendar
    short = replaced(DEFAULT_RULES, version=2, calendar=replaced(
        cal, holidays=tuple(h for h in cal.holidays if h[0].year <= 2026)))
    assert short.calendar.horizon == date(2026, 12, 31)
    admin = Actor("administrator", "admin-1")
    with RecordingLog(tmp_path / "events.sqlite3") as log:
        log.append([rule_set_published(short, datetime(2025, 6, 1, tzinfo=UTC), actor=admin),
                    tick(datetime(2025, 11, 1, tzinfo=UTC))])
        worker = RoutingWorker(log)
        worker.start()
        worker.drain()
        assert not [r for r in log.scan() if r.event.type == "CalendarHorizonNear"]
        log.append([tick(datetime(2026, 1, 5, tzinfo=UTC))])  # 360 days before its horizon
        worker.drain()
        log.append([tick(datetime(2026, 2, 5, tzinfo=UTC))])
        worker.drain()
        again = RoutingWorker(log)  # a restart remembers it was said
        again.start()
        log.append([tick(datetime(2026, 3, 5, tzinfo=UTC))])
        again.drain()
        [warning] = [r.event for r in log.scan() if r.event.type == "CalendarHorizonNear"]
        assert warning.payload == {"rule_set_version": 2, "horizon": "2026-12-31",
                                   "days_left": 360}
