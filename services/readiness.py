"""`GET /readyz`: whether a service can do its work now, for load balancers and orchestrators.

`/healthz` says the process is alive; `/readyz` runs the checks its app registered with
`add_check` (the event log answers, MongoDB answers, the projector is not too far behind) and
answers 200 with each check's result, or 503 naming the checks that failed. The checks run
one set at a time in a background thread with a deadline, so a probe never waits longer than
`TIMEOUT_SECONDS` and a hung dependency never ties up more than one thread.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any

from flask import Flask, current_app, jsonify
from pymongo.database import Database

from services.eventlog.port import EventLog

log = logging.getLogger(__name__)

# A check returns None when all is well, or says what is wrong (or raises).
Check = Callable[[], str | None]
TIMEOUT_SECONDS = 2.5  # under the probes' 3 s timeout (deploy/k8s)
_KEY = "sada.readiness"


class Readiness:
    def __init__(self) -> None:
        self.checks: dict[str, Check] = {}
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._running: Future | None = None

    def _run_all(self) -> dict[str, str]:
        results = {}
        for name, check in self.checks.items():
            try:
                results[name] = check() or "ok"
            except Exception as exc:
                results[name] = f"{type(exc).__name__}: {exc}"
        return results

    def run(self, timeout: float = TIMEOUT_SECONDS) -> tuple[bool, dict[str, str]]:
        with self._lock:
            if self._pool is None:  # made lazily: gunicorn forks after create_app
                self._pool = ThreadPoolExecutor(1, thread_name_prefix="readyz")
            if self._running is None or self._running.done():
                self._running = self._pool.submit(self._run_all)
            running = self._running
        try:
            results = running.result(timeout)
        except FutureTimeout:
            return False, {"checks": f"no answer within {timeout:g} s"}
        return all(v == "ok" for v in results.values()), results


def install(app: Flask) -> None:
    app.extensions[_KEY] = Readiness()

    @app.get("/readyz")
    def readyz():
        ready, checks = current_app.extensions[_KEY].run()
        if not ready:
            log.warning("not ready: %s", {k: v for k, v in checks.items() if v != "ok"})
        body: dict[str, Any] = {"status": "ready" if ready else "not ready", "checks": checks}
        return jsonify(body), 200 if ready else 503


def add_check(app: Flask, name: str, check: Check) -> None:
    app.extensions[_KEY].checks[name] = check


# -- the checks the services use ----------------------------------------------------------
def event_log(get_log: Callable[[], EventLog]) -> Check:
    """The event log answers: its end offsets can be read."""

    def check() -> str | None:
        get_log().end_offsets()
        return None

    return check


def mongo(db: Database) -> Check:
    """MongoDB answers a ping."""

    def check() -> str | None:
        db.client.admin.command("ping")
        return None

    return check


def projector_lag(get_log: Callable[[], EventLog], done: Callable[[], dict[int, int]],
                  bound: int) -> Check:
    """The read models are at most `bound` events behind the log (`done`: the projector's
    checkpoint)."""

    def check() -> str | None:
        end = get_log().end_offsets()
        position = done()
        lag = sum(max(0, o - position.get(p, 0)) for p, o in end.items())
        if lag > bound:
            return (f"the read models are {lag} events behind the log "
                    f"(more than SADA_READY_MAX_LAG={bound})")
        return None

    return check


def embedded_processes(stack_file: Path) -> Check:
    """Under `sada run`: no process the runner keeps alive is failing (it records each one's
    state in the data directory's stack.json). Nothing to say where no runner writes one."""

    def check() -> str | None:
        try:
            processes = json.loads(stack_file.read_text()).get("processes", {})
        except (OSError, ValueError):
            return None
        failing = sorted(name for name, p in processes.items() if p.get("failing"))
        if failing:
            return f"keeps failing under sada run: {', '.join(failing)} (see its log)"
        return None

    return check
