"""Routing workers as separate processes in one consumer group on a real Kafka-protocol broker
(noida-db and Tansu): they share the partitions, keep each demand's events in order, and a
member leaving (kill -9 on Tansu, SIGTERM on noida-db: see conftest.py) or joining mid-stream
loses and doubles nothing: every request has exactly one decision, and the log holds exactly
the decisions one router would make deciding each partition alone."""

from __future__ import annotations

from collections import Counter, defaultdict

import pytest

from services.eventlog.kafka import KafkaEventLog
from services.eventlog.port import Record
from services.events.envelope import Event, encode
from tests.scaleout.group import (
    PARTITIONS,
    Group,
    decided_afresh,
    decision_differences,
    kafka_env,
    wait_for,
)
from tests.unit.streams import lifecycle

pytestmark = pytest.mark.scaleout

DEMANDS = 600  # five requests each: 3,000 requests, then as many decisions


def _decided(log: KafkaEventLog, asked: set[str]) -> int:
    """How many of the requests `asked` have a decision in the log."""
    return len({r.event.causation_id for r in log.scan() if r.event.is_decision} & asked)


def _assert_in_order(log: KafkaEventLog, records: list[Record], requests: list[Event]) -> None:
    """Each demand's events sit in its own partition, its requests in the order they were
    recorded, each decision after its request and the decisions in request order."""
    rank = {r.event_id: i for i, r in enumerate(requests)}
    per_demand: dict[str, list[Record]] = defaultdict(list)
    for r in records:
        if r.event.event_id in rank or r.event.causation_id in rank:  # not stream-wide facts
            per_demand[r.event.demand_id].append(r)
    assert len(per_demand) == DEMANDS
    for demand_id, seq in per_demand.items():
        assert {r.partition for r in seq} == {log.partition_for(demand_id)}, demand_id
        ordered = [r.event for r in sorted(seq, key=lambda r: r.offset)]
        recorded = [rank[e.event_id] for e in ordered if not e.is_decision]
        assert recorded == sorted(recorded), f"requests of {demand_id} out of order"
        seen: set[str] = set()
        causes = []
        for e in ordered:
            if e.is_decision:
                assert e.causation_id in seen, f"a decision before its request in {demand_id}"
                causes.append(rank[e.causation_id])
            else:
                seen.add(e.event_id)
        assert causes == sorted(causes), f"decisions of {demand_id} out of request order"


def test_workers_share_partitions_and_survive_a_departure_and_a_join(broker, mongo_url,
                                                                     tmp_path, unique_name):
    log = KafkaEventLog(broker.bootstrap, unique_name, partitions=PARTITIONS, timeout=10)
    group = Group("routing.worker", kafka_env(broker.bootstrap, unique_name, mongo_url,
                                              unique_name, tmp_path), tmp_path)
    requests = lifecycle(DEMANDS)
    asked = {r.event_id for r in requests}
    third = len(requests) // 3
    try:
        a, b, c = group.add(), group.add(), group.add()
        wait_for(group.shares_the_partitions, 60, "three workers to share the partitions",
                 group.members)
        assert all(len(m.assignment() or []) == 2 for m in (a, b, c))

        log.append(requests[:third])
        wait_for(lambda: _decided(log, asked) >= third // 2, 60, "the first decisions",
                 group.members)
        group.depart(a, broker.departure)  # mid-stream: its partitions go to the others
        log.append(requests[third:2 * third])
        wait_for(group.shares_the_partitions, 60, "b and c to take a's partitions", group.alive)
        d = group.add()
        wait_for(lambda: len(group.alive) == 3 and group.shares_the_partitions(), 60,
                 "b, c and d to share the partitions", group.alive)
        log.append(requests[2 * third:])
        wait_for(lambda: _decided(log, asked) == len(asked), 120, "every request decided",
                 group.alive)
        # Each survivor decided some of the stream itself (d only after it joined).
        assert all(m.counter("sada_decisions_total") > 0 for m in (b, c, d))
        # The group's committed offsets (what lag monitors read) reach the end, even for
        # partitions whose last owner only caught up on them.
        wait_for(lambda: log.committed("routing") == log.end_offsets(), 30,
                 lambda: f"the group's committed offsets {log.committed('routing')} to reach "
                         f"the end {log.end_offsets()}", group.alive)
        assert group.stop_all() == [0, 0, 0]
        records = list(log.scan())
    finally:
        group.kill_all()
        log.close()

    decisions = [r.event for r in records if r.event.is_decision]
    on_requests = [d for d in decisions if d.causation_id in asked]
    assert Counter(d.causation_id for d in on_requests) == Counter(asked)
    afresh = decided_afresh(records)
    assert decision_differences(decisions, afresh) == []
    assert Counter(map(encode, decisions)) == Counter(map(encode, afresh))  # and no copies
    _assert_in_order(log, records, requests)
    assert {r.partition for r in records} == set(range(PARTITIONS))
