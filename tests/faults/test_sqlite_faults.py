"""Faults under load on the embedded default (SQLite log): kill -9 of the routing worker and
the reporting projector mid-batch, a restart of the MongoDB-protocol server, and a write lock
held on the log. Afterwards every acknowledged demand is in the log once, every request has
one decision, and the read models equal a fresh replay."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from sada.processes import ManagedProcess, free_port, secantus
from services.eventlog.sqlite import SqliteEventLog
from tests.auth_helpers import bearer
from tests.faults.stack import (
    Load,
    Stack,
    assert_exactly_once,
    assert_read_models_equal_replay,
    demand,
    settings_for,
    undecided,
    wait_until,
)

DEMANDS = 2000


@pytest.fixture
def own_mongo(tmp_path: Path) -> Iterator[ManagedProcess]:
    """A SecantusDB of this test's own: it is stopped and restarted mid-load."""
    proc = secantus(tmp_path / "secantus", free_port(), tmp_path / "secantus.log").start()
    yield proc
    proc.stop()


def test_kills_and_a_database_restart_under_load(tmp_path: Path, own_mongo: ManagedProcess) -> None:
    settings = settings_for(tmp_path, f"mongodb://127.0.0.1:{own_mongo.port}", "sada_faults")
    stack = Stack(settings, tmp_path / "logs").start()
    log = SqliteEventLog(settings.event_log_path)
    try:
        load = Load(stack.url, "sqlite")
        running = load.run(DEMANDS)

        def reached(fraction: float) -> None:
            wait_until(lambda: len(load.acked) >= DEMANDS * fraction or not running.is_alive(),
                       f"{fraction:.0%} of the load acknowledged", timeout=120)

        reached(0.2)
        stack.restart_worker("routing-worker")  # kill -9 mid-batch, then a fresh process
        reached(0.35)
        stack.restart_worker("reporting-projector")
        reached(0.5)
        own_mongo.stop()  # intake's key store and the projector lose their database
        time.sleep(1.0)
        own_mongo.start()
        reached(0.7)
        stack.restart_worker("routing-worker")
        stack.restart_worker("reporting-projector")
        running.join(240)
        assert not running.is_alive(), "the load did not finish"
        assert not load.failures, load.failures[:5]
        assert len(load.acked) == DEMANDS

        # A submission that cannot be recorded durably (another writer holds the log's write
        # lock past intake's busy timeout) is a clear 503; the retry after recovery succeeds.
        key = {**bearer("headquarters"), "Idempotency-Key": "sqlite-locked"}
        lock = sqlite3.connect(settings.event_log_path, isolation_level=None)
        try:
            lock.execute("BEGIN IMMEDIATE")
            refused = requests.post(stack.url, json=demand(DEMANDS), headers=key, timeout=90)
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        assert refused.status_code == 503, refused.text
        assert "Idempotency-Key" in refused.json()["message"]
        assert refused.headers["Retry-After"] == "1"
        retried = requests.post(stack.url, json=demand(DEMANDS), headers=key, timeout=90)
        assert retried.status_code == 202, retried.text
        load.acked["sqlite-locked"] = retried.json()

        wait_until(lambda: undecided(log) == 0, "every request decided", interval=0.5)
        assert_exactly_once(log, load.acked)
        assert_read_models_equal_replay(settings, log)
        for proc in stack.workers.values():
            assert proc.alive, f"{proc.name} died: see {proc.log_path}"
    finally:
        stack.stop()
        log.close()
