"""The sealer: extends each partition's hash chain and records a seal in the stream.

It consumes the log in its own consumer group. On every assignment it re-reads its partitions
from the start, checking every seal already there (so it never extends a log that disagrees
with its own seals), then follows the stream. A partition is sealed once it has `every`
unsealed events, or once its oldest unsealed event has waited `seconds`; the seal goes to that
partition (`append(..., partition=p)`). Seals alone never call for another seal, and a new seal
waits until the previous one is back from the log: each seal starts where the last one ended.

The audit worker (`reporting/audit_worker.py`) runs it beside the time-travel snapshots.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from services.audit.chain import Chain
from services.eventlog.port import Consumer, EventLog, Offsets, Record
from services.events import envelope
from services.events.envelope import Actor, Event
from services.events.families.audit import AUDIT_STREAM_ID, SEAL
from services.events.ids import derived_id
from services.following import Follower

logger = logging.getLogger("services.audit.sealer")

GROUP = "audit-sealer"
SEALER = Actor(role="system", id="sealer")
EVERY = 1000
SECONDS = 300.0


def seal_event(payload: dict[str, Any]) -> Event:
    """A seal with an id fixed by what it seals, so a retried append stores it once."""
    at = envelope.now()
    event_id = derived_id(at, "seal", str(payload["partition"]), str(payload["count"]),
                          payload["chain_digest"])
    return envelope.make(SEAL, AUDIT_STREAM_ID, payload, actor=SEALER, event_id=event_id,
                         recorded_at=at)


class Sealer(Follower):
    what = "sealer"

    def __init__(self, log: EventLog, *, every: int = EVERY, seconds: float = SECONDS,
                 group: str = GROUP, clock: Callable[[], float] = time.monotonic) -> None:
        self.log, self.every, self.seconds, self.group = log, every, seconds, group
        self.clock = clock
        self.chains: dict[int, Chain] = {}
        self.waiting: dict[int, int] = {}  # partition -> count of the seal not yet seen
        self.since: dict[int, float] = {}  # partition -> when its oldest unsealed event came
        self.seals_appended = 0
        self.assigned: list[int] = []  # the partitions this sealer holds, after each step
        self._consumer: Consumer | None = None
        self._reported: set[int] = set()

    # -- consuming ------------------------------------------------------------------------
    def _catch_up(self, assigned: list[int]) -> Offsets:
        end_all = self.log.end_offsets()
        end = {p: end_all.get(p, 0) for p in assigned}
        for p in assigned:
            self.chains[p] = Chain(p)
            self.waiting.pop(p, None)
            self.since.pop(p, None)
        for record in self.log.scan({p: 0 for p in assigned}, end):
            if record.partition in end:
                self._feed(record)
        for p in assigned:
            c = self.chains[p]
            if not c.facts_only:  # events already waiting are sealed at once
                self.since[p] = self.clock() - self.seconds
            logger.info("partition %d: %d records, %d seals checked, %d unsealed", p, c.count,
                        c.seals, c.unsealed)
        return end

    def _feed(self, record: Record) -> None:
        chain = self.chains.get(record.partition)
        if chain is None:
            return
        seal = chain.feed(record.offset, record.raw)
        if seal is not None and seal["count"] >= self.waiting.get(record.partition, 0):
            self.waiting.pop(record.partition, None)
        problem = chain.finding or chain.suspect or chain.disorder
        if problem is not None and record.partition not in self._reported:
            self._reported.add(record.partition)
            logger.error("partition %d disagrees with its seals; not sealing it: %s",
                         record.partition, problem.to_dict())

    def start(self) -> None:
        self.chains, self.waiting, self.since = {}, {}, {}
        self._consumer = self.log.consumer(self.group, self._catch_up)

    def step(self, timeout: float = 0.5) -> int:
        """Poll one batch, extend the chains, append the seals that are due."""
        if self._consumer is None:
            raise RuntimeError("start() the sealer first")
        records = self._consumer.poll(timeout, 1000)
        for record in records:
            self._feed(record)
        self.assigned = sorted(set(self._consumer.assignment()) & set(self.chains))
        for p in self.assigned:
            if self.due(p):
                self.seal(p)
        if records:
            try:
                self._consumer.commit({p: c.next_offset for p, c in self.chains.items()})
            except Exception:
                logger.warning("committing the sealer's offsets failed", exc_info=True)
        return len(records)

    # -- sealing --------------------------------------------------------------------------
    def due(self, partition: int) -> bool:
        chain = self.chains[partition]
        if chain.facts_only:  # seals alone never call for another seal
            self.since.pop(partition, None)
            return False
        since = self.since.setdefault(partition, self.clock())
        if chain.finding or chain.suspect or chain.disorder or partition in self.waiting:
            return False
        events = chain.unsealed - sum(chain.is_seal)
        return events >= self.every or self.clock() - since >= self.seconds

    def seal(self, partition: int) -> Event:
        chain = self.chains[partition]
        event = seal_event(chain.next_seal())
        self.log.append([event], partition=partition)
        self.waiting[partition] = chain.count
        self.since[partition] = self.clock()
        self.seals_appended += 1
        logger.info("sealed partition %d up to offset %d (%d records): %s", partition,
                    chain.next_offset, chain.count, chain.digest.hex())
        return event

    def drain(self) -> None:
        """Until a poll comes back empty: every partition sealed as far as it is due."""
        while self.step(timeout=0.0) or any(p in self.waiting for p in self.chains):
            pass
