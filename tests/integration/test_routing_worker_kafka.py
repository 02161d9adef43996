"""The routing worker over a real Kafka-protocol broker: several partitions, one group."""

from __future__ import annotations

import threading
import time
from collections import Counter

from routing.worker import RoutingWorker
from services.eventlog.kafka import KafkaEventLog
from services.events.envelope import encode
from tests.unit.streams import Router, lifecycle


def _decisions(log: KafkaEventLog):
    return [r.event for r in log.scan() if r.event.is_decision]


def _run_until(worker: RoutingWorker, log: KafkaEventLog, count: int, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while len(_decisions(log)) < count:
        assert time.monotonic() < deadline, f"{len(_decisions(log))} of {count} decisions"
        worker.step(timeout=0.2)


def test_decisions_over_several_partitions_survive_a_restart(noida_bootstrap, unique_name,
                                                             restarts):
    log = KafkaEventLog(noida_bootstrap, unique_name, partitions=3, timeout=10)
    try:
        requests = lifecycle(6)
        log.append(requests[:12])
        first = restarts.worker(log, group=unique_name, poll_timeout=0.2)
        first.start()
        _run_until(first, log, 12)
        log.append(requests[12:])
        _run_until(first, log, len(requests))
        first.close()
        assert len({log.partition_for(r.demand_id) for r in requests}) > 1

        second = restarts.worker(log, group=unique_name, poll_timeout=0.2)
        second.start()
        for _ in range(5):
            second.step(timeout=0.2)
        restarts.started(second)  # assigned in a poll: every partition from its snapshot
        if restarts.from_snapshots:
            assert set(second.restored_from) == {0, 1, 2}
        assert second.decisions_appended == 0
        assert set(second.partitions) == {0, 1, 2}
        second.close()

        decisions = _decisions(log)
        assert Counter(d.causation_id for d in decisions) == \
            Counter(r.event_id for r in requests)
        expected = Router().run(requests)
        assert sorted(map(encode, decisions)) == sorted(map(encode, expected))
    finally:
        log.close()


def _wait(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_a_rebalance_hands_partitions_over_without_doubling_decisions(noida_bootstrap,
                                                                      unique_name, restarts):
    """With snapshots, the partitions b hands over are taken from the snapshot b wrote when
    it stopped."""
    log = KafkaEventLog(noida_bootstrap, unique_name, partitions=3, timeout=10)
    a = restarts.worker(log, group=unique_name, poll_timeout=0.1)
    b = restarts.worker(log, group=unique_name, poll_timeout=0.1)
    stop_a, stop_b = threading.Event(), threading.Event()
    threads = [threading.Thread(target=a.run, args=(stop_a,)),
               threading.Thread(target=b.run, args=(stop_b,))]
    try:
        for t in threads:
            t.start()
        _wait(lambda: len(a.partitions) + len(b.partitions) == 3 and a.partitions
              and b.partitions, 30, "the group to split the partitions")
        first = lifecycle(6)
        log.append(first)
        _wait(lambda: len(_decisions(log)) >= len(first), 30, "the first decisions")
        assert a.decisions_appended and b.decisions_appended

        stop_b.set()  # b leaves: a is assigned b's partitions and catches up on them
        threads[1].join(30)
        second = lifecycle(6, first=6)
        log.append(second)
        _wait(lambda: len(_decisions(log)) >= len(first) + len(second), 30,
              "the decisions after the rebalance")
        _wait(lambda: set(a.partitions) == {0, 1, 2}, 30, "a to hold every partition")
        if restarts.from_snapshots:
            assert a.restored_from, "a folded b's partitions from the beginning"
    finally:
        stop_a.set()
        stop_b.set()
        for t in threads:
            t.join(30)
    try:
        decisions = _decisions(log)
    finally:
        log.close()
    requests = first + second
    assert Counter(d.causation_id for d in decisions) == Counter(r.event_id for r in requests)
    assert sorted(map(encode, decisions)) == sorted(map(encode, Router().run(requests)))
