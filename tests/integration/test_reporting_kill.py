"""The projector as a real process: killed with SIGKILL mid-stream, restarted, and its read
models still equal a fresh replay, every event applied exactly once."""

from __future__ import annotations

import random
import signal
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest

from reporting.readmodels import ReadModels
from reporting.replay import replay, snapshot
from sada.processes import ManagedProcess
from services.eventlog.sqlite import SqliteEventLog
from tests.integration.test_reporting_stream import append_all, city

SETTLE_SECONDS = 0.2  # for writes a killed process had already sent to land
MAX_KILLS = 8


@pytest.fixture
def other_db(mongo_db):
    name = f"t_{uuid.uuid4().hex[:12]}"
    yield mongo_db.client[name]
    mongo_db.client.drop_database(name)


def projector_process(tmp_path: Path, mongo_url: str, db_name: str, run: int) -> ManagedProcess:
    return ManagedProcess(
        f"projector-{run}", [sys.executable, "-m", "reporting.projector", "--batch", "40"],
        env={"SADA_SQLITE_PATH": str(tmp_path / "events.sqlite3"), "SADA_MONGO_URL": mongo_url,
             "SADA_MONGO_DB": db_name, "SADA_DATA_DIR": str(tmp_path / "data")},
        log_path=tmp_path / f"projector-{run}.log").start()


def wait_for_checkpoint(models: ReadModels, proc: ManagedProcess, at_least: int,
                        timeout: float = 30.0) -> int:
    deadline = time.monotonic() + timeout
    while True:
        done = models.checkpoint("reporting").get(0, 0)
        if done >= at_least:
            return done
        assert proc.alive, f"the projector exited: see {proc.log_path}"
        assert time.monotonic() < deadline, f"checkpoint stuck at {done}: see {proc.log_path}"
        time.sleep(0.005)


def ahead_of_checkpoint(models: ReadModels, done: int) -> bool:
    """Whether some demand documents are written past the checkpoint: a batch cut short."""
    return models.demands.find_one({"position.offset": {"$gte": done}}, {"_id": 1}) is not None


def kill_soon_after(models: ReadModels, proc: ManagedProcess, at_least: int,
                    rng: random.Random) -> tuple[int, bool]:
    """SIGKILL a few milliseconds after the checkpoint passes `at_least`; returns where the
    checkpoint stayed and whether the kill cut a batch short (demands written, no checkpoint)."""
    wait_for_checkpoint(models, proc, at_least)
    time.sleep(rng.uniform(0, 0.04))
    proc.kill()
    time.sleep(SETTLE_SECONDS)
    done = models.checkpoint("reporting")[0]
    return done, ahead_of_checkpoint(models, done)


def test_a_killed_projector_resumes_and_applies_every_event_once(
        tmp_path, mongo_url, mongo_db, other_db) -> None:
    events = city(400, 1600, seed=21)
    total = len(events)
    rng = random.Random(3)
    with SqliteEventLog(tmp_path / "events.sqlite3") as log:
        append_all(log, events)
        models = ReadModels(mongo_db)
        kills: list[tuple[int, bool]] = []
        # Kill, restart, kill again, until two kills have cut a batch short.
        while sum(cut for _, cut in kills) < 2 and len(kills) < MAX_KILLS:
            proc = projector_process(tmp_path, mongo_url, mongo_db.name, len(kills))
            kills.append(kill_soon_after(models, proc, (kills[-1][0] if kills else 0) + 80, rng))
        checkpoints = [done for done, _ in kills]
        assert checkpoints == sorted(checkpoints) and checkpoints[-1] < total, kills
        assert sum(cut for _, cut in kills) >= 1, f"no kill cut a batch short: {kills}"
        proc = projector_process(tmp_path, mongo_url, mongo_db.name, len(kills))
        wait_for_checkpoint(models, proc, total)
        proc.stop()  # SIGTERM: finishes its batch and exits cleanly
        assert proc.proc is not None and proc.proc.returncode == 0
        assert "stopped" in proc.log_path.read_text()  # type: ignore[union-attr]
        replay(log, other_db)

    incremental, replayed = snapshot(mongo_db), snapshot(other_db)
    assert incremental == replayed
    assert len(incremental["history"]) == total
    per_demand = Counter(e.demand_id for e in events)
    demands = incremental["demands"]
    assert len(demands) == 400
    assert all(d["events"] == per_demand[d["_id"]] for d in demands)
    assert all(len(d["decided"]) == len(set(d["decided"])) for d in demands)


def test_sigterm_finishes_the_batch_and_exits(tmp_path, mongo_url, mongo_db) -> None:
    events = city(300, 1200, seed=22)
    with SqliteEventLog(tmp_path / "events.sqlite3") as log:
        append_all(log, events)
    models = ReadModels(mongo_db)
    proc = projector_process(tmp_path, mongo_url, mongo_db.name, 0)
    wait_for_checkpoint(models, proc, 1)
    assert proc.proc is not None
    proc.proc.send_signal(signal.SIGTERM)
    assert proc.proc.wait(10) == 0
    done = models.checkpoint("reporting")[0]
    assert 0 < done < len(events)
    # Stopped at a batch boundary: everything up to the checkpoint is there, nothing after it.
    history = models.history
    assert history.count_documents({}) == done
    assert history.count_documents({"offset": {"$gte": done}}) == 0
