"""A merge whose two halves land on different partitions of a real Kafka-protocol broker: the
routing worker is killed (SIGKILL) after appending the duplicate's `MergeProposed` and before
the offer to the target reaches the target's partition. The restarted worker finds the merge
pending, offers it again, and the merge completes exactly once: one offer, one absorption, the
duplicate closed once, every supporter moved once."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

from routing.worker import RoutingWorker
from services.domain.demand import fold
from services.eventlog.kafka import KafkaEventLog
from tests.unit.streams import PERSON_A, PERSON_B, STAFF, Stream
from tests.unit.test_merge import CLERK_A, CLERK_B, DUP_ID, TARGET_ID, supporting

ROOT = Path(__file__).resolve().parents[2]

# A routing worker whose append dies between the partitions: whatever else the batch decided
# is appended, then the process is killed before the offer to the target is.
DYING_WORKER = textwrap.dedent("""
    import os, signal, sys
    from routing.worker import RoutingWorker
    from services.eventlog.kafka import KafkaEventLog

    bootstrap, topic, partitions, group = sys.argv[1:5]
    log = KafkaEventLog(bootstrap, topic, partitions=int(partitions), timeout=10)
    append = log.append

    def dying(events, **kw):
        if any(e.type == "MergeOffered" for e in events):
            append([e for e in events if e.type != "MergeOffered"])
            os.kill(os.getpid(), signal.SIGKILL)
        return append(events, **kw)

    log.append = dying
    worker = RoutingWorker(log, group=group, poll_timeout=0.2)
    worker.start()
    while True:
        worker.step(timeout=0.2)
""")


def _partitions_apart() -> int:
    """A partition count that puts the two demands on different partitions."""
    for n in range(2, 9):
        probe = KafkaEventLog.__new__(KafkaEventLog)
        probe._partitions = n
        if probe.partition_for(DUP_ID) != probe.partition_for(TARGET_ID):
            return n
    raise AssertionError("no partition count separates the two demands")


def _requests() -> list:
    t, d = Stream(TARGET_ID), Stream(DUP_ID)
    t.submit()
    d.submit()
    t.request("SupportRequested", supporting(PERSON_A), CLERK_A)
    d.request("SupportRequested", supporting(PERSON_A), CLERK_B)
    d.request("SupportRequested", supporting(PERSON_B), CLERK_B)
    d.request("MergeRequested", {"into": TARGET_ID, "reason": "همان"}, STAFF)
    return [*t.requests, *d.requests]


def _events(log: KafkaEventLog) -> list:
    return [r.event for r in log.scan()]


def test_a_worker_killed_between_the_two_partitions_appends_completes_the_merge_once(
        noida_bootstrap, unique_name):
    partitions = _partitions_apart()
    log = KafkaEventLog(noida_bootstrap, unique_name, partitions=partitions, timeout=10)
    try:
        assert log.partition_for(DUP_ID) != log.partition_for(TARGET_ID)
        log.append(_requests())
        dying = subprocess.run(
            [sys.executable, "-c", DYING_WORKER, noida_bootstrap, unique_name,
             str(partitions), unique_name], cwd=ROOT, timeout=120, capture_output=True)
        assert dying.returncode == -9, dying.stderr.decode()[-2000:]
        types = Counter(e.type for e in _events(log))
        assert types["MergeProposed"] == 1 and types["MergeOffered"] == 0  # the crash's mark

        # A fresh group: the killed member would hold its partitions until its session
        # expires, and the group's offsets are for lag monitoring only (a start refolds).
        worker = RoutingWorker(log, group=f"{unique_name}-restarted", poll_timeout=0.2)
        worker.start()
        deadline = time.monotonic() + 60
        while "DemandMerged" not in {e.type for e in _events(log)}:
            assert time.monotonic() < deadline, Counter(e.type for e in _events(log))
            worker.step(timeout=0.2)
        for _ in range(10):  # nothing more to do: no second offer, no second answer
            worker.step(timeout=0.2)
        worker.close()

        events = _events(log)
        types = Counter(e.type for e in events)
        assert (types["MergeOffered"], types["DemandAbsorbed"], types["MergeAccepted"],
                types["DemandMerged"]) == (1, 1, 1, 1)
        dup = fold([e for e in events if e.demand_id == DUP_ID])
        target = fold([e for e in events if e.demand_id == TARGET_ID])
        assert (dup.status, dup.merged_into) == ("merged", TARGET_ID)
        assert (target.merged_from, sorted(target.supporters)) == (
            [DUP_ID], sorted([PERSON_A, PERSON_B]))
        triggers = [e for e in events if not e.is_decision and not e.is_fact]
        assert Counter(e.causation_id for e in events if e.is_decision) == Counter(
            e.event_id for e in triggers)  # every request and message decided exactly once
    finally:
        log.close()
