"""Poison records written straight into the SQLite log between good events: the routing
worker and the reporting projector park each with its reason, count it, and go on."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from pymongo.database import Database

from reporting.projector import PROJECTION, Projector
from reporting.readmodels import ReadModels
from reporting.replay import replay, snapshot
from routing.worker import RoutingWorker
from services.deadletter import COLLECTION, DeadLetters, FileSink
from services.eventlog.sqlite import SqliteEventLog
from services.events.envelope import Event, encode
from services.events.ids import new_id
from services.metrics import DEAD_LETTERS
from tests.integration.test_reporting_stream import append_all, city
from tests.unit.streams import Router


def parked_count(consumer: str) -> float:
    return DEAD_LETTERS.labels(consumer=consumer)._value.get()


def poison(template: Event) -> list[tuple[bytes, str]]:
    """Raw records no consumer can process, each with the words its reason must contain."""
    base = json.loads(encode(template))
    unknown_type = {**base, "event_id": new_id(), "demand_id": new_id(), "type": "DemandTeleported"}
    unknown_version = {**base, "event_id": new_id(), "demand_id": new_id(), "version": 99}
    # Decodes, but its fold raises: a DemandSubmitted without the fields a demand needs.
    broken = {**base, "event_id": new_id(), "demand_id": new_id(), "payload": {"title": "x"}}
    return [
        (b"\xff\xfe{not json", "undecodable"),
        (json.dumps(unknown_type).encode(), "unknown event type or version"),
        (json.dumps(unknown_version).encode(), "unknown event type or version"),
        (json.dumps(broken).encode(), "handler failed: KeyError"),
    ]


def insert_raw(path: Path, raws: list[bytes]) -> list[int]:
    """Append bytes to the log with sqlite3 itself, past any validation; returns offsets."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        (start,) = conn.execute('SELECT COALESCE(MAX("offset") + 1, 0) FROM events').fetchone()
        for i, raw in enumerate(raws):
            conn.execute('INSERT INTO events ("offset", event_id, demand_id, type, data) '
                         "VALUES (?,?,?,?,?)", (start + i, f"poison-{start + i}", "?", "?", raw))
        conn.execute("COMMIT")
    finally:
        conn.close()
    return list(range(start, start + len(raws)))


@pytest.fixture
def other_db(mongo_db: Database) -> Iterator[Database]:
    name = f"t_{uuid.uuid4().hex[:12]}"
    yield mongo_db.client[name]
    mongo_db.client.drop_database(name)


def project_to_end(log: SqliteEventLog, db: Database, timeout: float = 60.0) -> Projector:
    """Run the projector's own loop in a thread until its checkpoint reaches the log's end."""
    projector = Projector(log, db)
    stop = threading.Event()
    thread = threading.Thread(target=projector.run, args=(stop,), kwargs={"batch": 7})
    thread.start()
    try:
        deadline = time.monotonic() + timeout
        while projector.models.checkpoint(PROJECTION) != log.end_offsets():
            assert thread.is_alive(), "the projector stopped"
            assert time.monotonic() < deadline, "the projector stopped moving"
            time.sleep(0.05)
    finally:
        stop.set()
        thread.join(30)
    assert not thread.is_alive()
    return projector


def test_poison_records_are_parked_and_both_consumers_go_on(
        tmp_path: Path, mongo_db: Database, other_db: Database) -> None:
    requests = [e for e in city(40, 120, seed=5) if not (e.is_decision or e.is_fact)]
    half = len(requests) // 2
    path = tmp_path / "events.sqlite3"
    with SqliteEventLog(path) as log:
        append_all(log, requests[:half])
        bad = poison(requests[0])
        offsets = insert_raw(path, [raw for raw, _ in bad])
        append_all(log, requests[half:])
        reasons = dict(zip(offsets, [why for _, why in bad], strict=True))

        # Routing: every good request decided exactly once, as deciding them afresh would.
        before = parked_count("routing-worker")
        sink = FileSink(tmp_path / "dead-letters" / "routing-worker.jsonl")
        worker = RoutingWorker(log, dead_letters=DeadLetters("routing-worker", sink))
        worker.start()
        worker.drain()
        worker.close()
        decisions = [r.event for r in log.scan() if r.offset not in reasons and r.event.is_decision]
        assert Counter(d.causation_id for d in decisions) == Counter(r.event_id for r in requests)
        expected = Router().run(requests)
        assert sorted(encode(d) for d in decisions) == sorted(encode(d) for d in expected)
        letters = {x["offset"]: x["reason"] for x in sink.letters()}
        assert set(letters) == set(reasons)
        assert all(reasons[o] in letters[o] for o in reasons), letters
        assert parked_count("routing-worker") - before == len(bad)

        # A restart refolds past the same poison: nothing decided twice, nothing parked twice.
        again = RoutingWorker(log, dead_letters=DeadLetters("routing-worker", FileSink(sink.path)))
        again.start()
        again.drain()
        again.close()
        assert again.decisions_appended == 0
        assert len(sink.letters()) == len(bad)

        # Reporting: every good event applied, the poison parked, the checkpoint past it all.
        before = parked_count("reporting-projector")
        project_to_end(log, mongo_db)
        parked = {d["offset"]: d["reason"] for d in mongo_db[COLLECTION].find()}
        assert set(parked) == set(reasons)
        assert all(reasons[o] in parked[o] for o in reasons), parked
        assert parked_count("reporting-projector") - before == len(bad)
        total = log.end_offsets()[0]
        models = ReadModels(mongo_db)
        assert models.history.count_documents({}) == total - len(bad)
        assert models.demands.count_documents({}) == 40
        # A replay folds the same log to the same read models and parks the same records.
        replay(log, other_db)
    assert snapshot(mongo_db) == snapshot(other_db)
    assert other_db[COLLECTION].count_documents({}) == len(bad)
