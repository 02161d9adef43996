"""Projectors as separate processes in one consumer group on a real Kafka-protocol broker
(noida-db and Tansu): they share the partitions, and a member leaving (kill -9 on Tansu,
SIGTERM on noida-db: see conftest.py) or joining mid-stream loses and doubles nothing: the read
models equal a fresh replay of the log, every event applied once."""

from __future__ import annotations

import uuid
from collections import Counter

import pytest
from pymongo import MongoClient

from reporting.readmodels import ReadModels
from reporting.replay import replay, snapshot
from services.eventlog.kafka import KafkaEventLog
from tests.integration.test_reporting_stream import append_all, city
from tests.scaleout.group import PARTITIONS, Group, kafka_env, wait_for

pytestmark = pytest.mark.scaleout


def _differences(left: dict, right: dict) -> list[str]:
    """Where two snapshots differ: collection, document id and fields (the first few)."""
    out = []
    for name in sorted(set(left) | set(right)):
        a = {d["_id"]: d for d in left.get(name, [])}
        b = {d["_id"]: d for d in right.get(name, [])}
        for key in sorted(set(a) | set(b), key=str):
            if a.get(key) != b.get(key):
                da, db = a.get(key) or {}, b.get(key) or {}
                fields = sorted(k for k in set(da) | set(db) if da.get(k) != db.get(k))
                out.append(f"{name}/{key}: " + ", ".join(
                    f"{k}: {da.get(k)!r} != {db.get(k)!r}" for k in fields))
    return out[:5]


def _projected(models: ReadModels, end: dict[int, int]) -> bool:
    done = models.checkpoint("reporting")
    return all(done.get(p, 0) >= o for p, o in end.items())


def test_projectors_share_partitions_and_survive_a_departure_and_a_join(broker, mongo_url,
                                                                         tmp_path, unique_name):
    events = city(500, 1500, seed=31)
    half = len(events) // 2
    client: MongoClient = MongoClient(mongo_url)
    db, fresh = client[f"t_{uuid.uuid4().hex[:12]}"], client[f"t_{uuid.uuid4().hex[:12]}"]
    models = ReadModels(db)
    log = KafkaEventLog(broker.bootstrap, unique_name, partitions=PARTITIONS, timeout=10)
    group = Group("reporting.projector", kafka_env(broker.bootstrap, unique_name, mongo_url,
                                                   db.name, tmp_path), tmp_path)
    try:
        a, b = group.add(), group.add()
        wait_for(group.shares_the_partitions, 60, "two projectors to share the partitions",
                 group.members)
        append_all(log, events[:half], chunk=500)
        wait_for(lambda: sum(models.checkpoint("reporting").values()) >= half // 3, 60,
                 "the first batches", group.members)
        group.depart(a, broker.departure)  # mid-stream: its partitions go to b
        wait_for(group.shares_the_partitions, 60, "b to take a's partitions", group.alive)
        c = group.add()
        wait_for(lambda: len(group.alive) == 2 and group.shares_the_partitions(), 60,
                 "b and c to share the partitions", group.alive)
        append_all(log, events[half:], chunk=500)
        end = log.end_offsets()
        wait_for(lambda: _projected(models, end), 120, "the read models to reach the end",
                 group.alive)
        wait_for(lambda: log.committed("reporting") == end, 30,
                 "the group's committed offsets to reach the end", group.alive)
        wait_for(lambda: all(m.counter("sada_consumer_lag") == 0 for m in (b, c)), 30,
                 "b's and c's lag to reach 0", group.alive)
        assert group.stop_all() == [0, 0]
        replay(log, fresh)
        incremental, replayed = snapshot(db), snapshot(fresh)
    finally:
        group.kill_all()
        log.close()
        client.drop_database(db.name)
        client.drop_database(fresh.name)
        client.close()

    assert _differences(incremental, replayed) == []
    assert len(incremental["history"]) == len(events)
    per_demand = Counter(e.demand_id for e in events)
    demands = incremental["demands"]
    assert len(demands) == 500
    assert all(d["events"] == per_demand[d["_id"]] for d in demands)
    assert all(len(d["decided"]) == len(set(d["decided"])) for d in demands)
