"""SIGTERM stops a routing worker cleanly: it finishes the batch in hand, commits exactly what
it decided and exits 0; the next worker decides the rest, each request once. (The projector's
counterpart is tests/integration/test_reporting_kill.py; both under Kafka: tests/scaleout.)"""

from __future__ import annotations

import signal
import sys
import time
from collections import Counter
from pathlib import Path

from sada.processes import ManagedProcess
from services.eventlog.sqlite import SqliteEventLog
from services.events.envelope import encode
from tests.scaleout.group import decided_afresh, decision_differences
from tests.unit.streams import lifecycle


def worker(tmp_path: Path, run: int) -> ManagedProcess:
    return ManagedProcess(
        f"routing-worker-{run}", [sys.executable, "-m", "routing.worker"],
        env={"SADA_SQLITE_PATH": str(tmp_path / "events.sqlite3"),
             "SADA_DATA_DIR": str(tmp_path / "data"), "SADA_METRICS_PORT": "0"},
        log_path=tmp_path / f"routing-worker-{run}.log").start()


def wait_until(check, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def decided(log: SqliteEventLog, asked: set[str]) -> set[str]:
    """The requests among `asked` that have a decision in the log."""
    return {r.event.causation_id for r in log.scan() if r.event.is_decision} & asked


def test_sigterm_commits_exactly_what_the_worker_decided(tmp_path):
    log = SqliteEventLog(tmp_path / "events.sqlite3")
    requests = lifecycle(240)
    asked = {r.event_id for r in requests}
    first = worker(tmp_path, 1)
    try:
        for i in range(0, 600, 40):  # recorded steadily while the worker decides
            log.append(requests[i:i + 40])
            time.sleep(0.01)
        wait_until(lambda: decided(log, asked), 30, "the first decisions")
        assert first.proc is not None
        first.proc.send_signal(signal.SIGTERM)
        assert first.proc.wait(15) == 0
    finally:
        first.kill()
    assert "routing worker stopped after" in (tmp_path / "routing-worker-1.log").read_text()

    # What it committed is exactly what it decided: no request below the commit undecided,
    # none beyond it decided.
    (committed,) = log.committed("routing").values()
    offsets = {r.event.event_id: r.offset for r in log.scan() if r.event.event_id in asked}
    below = {e for e, offset in offsets.items() if offset < committed}
    assert below and decided(log, asked) == below

    log.append(requests[600:])
    second = worker(tmp_path, 2)
    try:
        wait_until(lambda: decided(log, asked) == asked, 60, "every request decided")
        second.stop()
        assert second.proc is not None and second.proc.returncode == 0
    finally:
        second.kill()
    records = list(log.scan())
    log.close()
    decisions = [r.event for r in records if r.event.is_decision]
    on_requests = [d for d in decisions if d.causation_id in asked]
    assert Counter(d.causation_id for d in on_requests) == Counter(asked)
    # The two workers, one after the other, decided what one deciding alone would have.
    afresh = decided_afresh(records)
    assert decision_differences(decisions, afresh) == []
    assert Counter(map(encode, decisions)) == Counter(map(encode, afresh))  # and no copies
