"""A Sada stack for fault tests: intake under gunicorn, the routing worker and the reporting
projector as their own processes, over a real log and a real MongoDB-protocol server; a load
of demands submitted over HTTP; and the checks that must hold after any fault."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from pymongo import MongoClient

from reporting.projector import PROJECTION
from reporting.readmodels import ReadModels
from reporting.replay import replay, snapshot
from sada.embedded import service_process, worker_process
from sada.processes import ManagedProcess, free_port
from services.config import Settings
from services.eventlog import open_log
from services.eventlog.port import EventLog
from services.events.envelope import Event
from tests.auth_helpers import MASTER_KEY, SECRET, bearer

ATTEMPTS = 200  # per submission; a 503 or a lost connection is retried with the same key
RETRY_PAUSE = 0.1


def settings_for(tmp_path: Path, mongo_url: str, db_name: str, **changes: Any) -> Settings:
    return Settings(
        data_dir=tmp_path / "data", mongo_url=mongo_url, mongo_db=db_name, host="127.0.0.1",
        intake_port=free_port(), auth_secret=SECRET, master_key=MASTER_KEY,
        rate_limit_per_minute=1_000_000, rate_limit_burst=100_000, clock_seconds=0,
        metrics_port=0, log_level="WARNING", **changes)


@dataclass
class Stack:
    settings: Settings
    logs: Path
    intake: ManagedProcess | None = None
    workers: dict[str, ManagedProcess] = field(default_factory=dict)

    def start(self) -> Stack:
        self.logs.mkdir(parents=True, exist_ok=True)
        for name in ("routing-worker", "reporting-projector"):
            self.start_worker(name)
        self.intake = service_process("intake", self.settings, self.logs).start(timeout=60)
        return self

    def start_worker(self, name: str) -> None:
        self.workers[name] = worker_process(name, self.settings, self.logs).start()

    def restart_worker(self, name: str, *, kill: bool = True) -> None:
        """kill -9 (or SIGTERM) the worker and start a fresh one."""
        if kill:
            self.workers[name].kill()
        else:
            self.workers[name].stop()
        self.start_worker(name)

    def stop(self) -> None:
        for proc in [self.intake, *self.workers.values()]:
            if proc is not None:
                proc.stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.settings.intake_port}/demands"


def demand(i: int) -> dict[str, Any]:
    return {"requester": {"kind": "citizen"}, "channel": "line_137", "district": 1 + i % 22,
            "neighbourhood": "محله", "category": ("transport", "other")[i % 2],
            "title": f"درخواست {i}", "description": "شرح درخواست"}


@dataclass
class Load:
    """Submissions over HTTP from a few threads, each retried with its Idempotency-Key until
    acknowledged; `acked` maps a key to the answer, `unavailable` counts the 503s seen."""

    url: str
    prefix: str
    acked: dict[str, dict[str, Any]] = field(default_factory=dict)
    unavailable: int = 0
    failures: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def submit(self, session: requests.Session, i: int) -> None:
        key = f"{self.prefix}-{i}"
        headers = {**bearer("headquarters"), "Idempotency-Key": key}
        for _ in range(ATTEMPTS):
            try:
                answer = session.post(self.url, json=demand(i), headers=headers, timeout=90)
            except requests.RequestException:
                time.sleep(RETRY_PAUSE)
                continue
            if answer.status_code == 202:
                with self._lock:
                    self.acked[key] = answer.json()
                return
            if answer.status_code != 503:
                with self._lock:
                    self.failures.append(f"{key}: {answer.status_code} {answer.text[:200]}")
                return
            with self._lock:
                self.unavailable += 1
            time.sleep(RETRY_PAUSE)
        with self._lock:
            self.failures.append(f"{key}: never acknowledged")

    def run(self, count: int, threads: int = 6, start: int = 0) -> threading.Thread:
        """Submit `count` demands in the background; join the returned thread to wait."""
        local = threading.local()

        def one(i: int) -> None:
            session = getattr(local, "session", None)
            if session is None:
                session = local.session = requests.Session()
            self.submit(session, i)

        def all_of_them() -> None:
            with ThreadPoolExecutor(threads) as pool:
                list(pool.map(one, range(start, start + count)))

        thread = threading.Thread(target=all_of_them, daemon=True)
        thread.start()
        return thread


def wait_until(check: Callable[[], bool], what: str, timeout: float = 90.0,
               interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{what}: not within {timeout}s"
        time.sleep(interval)


def log_events(log: EventLog) -> list[Event]:
    return [r.event for r in log.scan()]


def undecided(log: EventLog) -> int:
    events = log_events(log)
    decided = {e.causation_id for e in events if e.is_decision}
    return sum(1 for e in events if not (e.is_decision or e.is_fact) and e.event_id not in decided)


def assert_exactly_once(log: EventLog, acked: dict[str, dict[str, Any]]) -> None:
    """Every acknowledged submission in the log exactly once (nothing else submitted), and
    every request with exactly one decision (every fact with at most one per demand)."""
    events = log_events(log)
    submitted = Counter(e.event_id for e in events if e.type == "DemandSubmitted")
    assert submitted == Counter(a["event_id"] for a in acked.values())
    assert len({a["demand_id"] for a in acked.values()}) == len(acked)
    requests_ = {e.event_id for e in events if not (e.is_decision or e.is_fact)}
    facts = {e.event_id for e in events if e.is_fact}
    decisions = [e for e in events if e.is_decision]
    per_request = Counter(d.causation_id for d in decisions if d.causation_id in requests_)
    assert per_request == Counter(requests_)
    per_fact = Counter((d.causation_id, d.demand_id) for d in decisions
                       if d.causation_id in facts)
    assert all(n == 1 for n in per_fact.values())
    assert all(d.causation_id in requests_ | facts for d in decisions)


def assert_read_models_equal_replay(settings: Settings, log: EventLog) -> None:
    """The projector's read models (once at the log's end) equal a replay into a fresh db."""
    client: MongoClient = MongoClient(settings.mongo_url)
    fresh = f"{settings.mongo_db}_replay"
    try:
        models = ReadModels(client[settings.mongo_db])
        end = log.end_offsets()
        wait_until(lambda: models.checkpoint(PROJECTION) == end, "the projector reached the end",
                   interval=0.3)
        replay(log, client[fresh])
        live, replayed = snapshot(client[settings.mongo_db]), snapshot(client[fresh])
        assert live["demands"], "nothing was projected"
        assert live == replayed
    finally:
        client.drop_database(fresh)
        client.close()


def open_stack_log(settings: Settings) -> EventLog:
    return open_log(settings)
