"""The routing worker: the one writer of decisions (docs/architecture.md, section 3).

Exactly-once without transactions. When partitions are assigned, the worker folds them from the
beginning to their current end *without deciding*, so it learns each demand's state and which
requests already have a decision. It then decides the requests that have none, in log order,
and follows the live stream from where the fold stopped. The committed offsets are only for lag
monitoring: a restart always refolds, so a crash between appending decisions and committing
(or a rebalance) costs nothing but a refold. A decision that does reach the log twice has the
same id and cause, and the fold ignores the second copy.

A demand's pending (undecided) requests are always a suffix of its requests: decisions are
appended in request order. So deciding them against the state at the end of the fold is
deciding them against the state they would have met live; the one exception, a request made
before its demand was submitted, is remembered as such and decided as "unknown demand".
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from dataclasses import dataclass, field

from routing.domain.decide import decide
from routing.domain.rules import DEFAULT_RULES, RuleTable
from services.config import Settings
from services.domain.demand import Demand, apply, is_unknown_demand
from services.eventlog.port import Consumer, EventLog, Offsets, Record, advance
from services.events.envelope import Event

logger = logging.getLogger("routing.worker")


@dataclass
class PartitionState:
    """What the worker knows about one partition: every demand's state, and the requests
    decided for demands that were never submitted (the fold keeps no state for those)."""

    demands: dict[str, Demand] = field(default_factory=dict)
    orphans_decided: set[str] = field(default_factory=set)

    def fold(self, event: Event) -> Demand | None:
        if is_unknown_demand(event) and event.causation_id:
            self.orphans_decided.add(event.causation_id)
        state = apply(self.demands.get(event.demand_id), event)
        if state is not None:
            self.demands[event.demand_id] = state
        return state

    def is_decided(self, request: Event) -> bool:
        if request.event_id in self.orphans_decided:
            return True
        state = self.demands.get(request.demand_id)
        return state is not None and request.event_id in state.decided

    def decide(self, state: Demand | None, request: Event, rules: RuleTable) -> list[Event]:
        """Decide one request against `state` and fold the decisions in at once, so the next
        request of the same demand sees them."""
        decisions = decide(state, request, rules)
        for decision in decisions:
            self.fold(decision)
        return decisions

    def handle(self, event: Event, rules: RuleTable) -> list[Event]:
        """Live path: fold an event; if it is a request without a decision, decide it."""
        state = self.fold(event)
        if event.is_decision or self.is_decided(event):  # a request stored twice
            return []
        return self.decide(state, event, rules)


@dataclass
class _Pending:
    partition: int
    request: Event
    unknown: bool  # the demand did not exist when the request was recorded


class RoutingWorker:
    """Consume the log in group `group` and append a decision for every request."""

    def __init__(self, log: EventLog, rules: RuleTable = DEFAULT_RULES, group: str = "routing",
                 *, poll_timeout: float = 0.5, max_records: int = 500) -> None:
        self.log, self.rules, self.group = log, rules, group
        self.poll_timeout, self.max_records = poll_timeout, max_records
        self.partitions: dict[int, PartitionState] = {}
        self.position: Offsets = {}
        self.decisions_appended = 0
        self._pending: list[_Pending] = []
        self._consumer: Consumer | None = None

    # -- catch-up -------------------------------------------------------------------------

    def _catch_up(self, assigned: list[int]) -> Offsets:
        """Fold newly assigned partitions to their end without deciding; remember the
        requests that have no decision yet. Called by the consumer on every assignment."""
        end_all = self.log.end_offsets()
        end = {p: end_all.get(p, 0) for p in assigned}
        self._pending = [x for x in self._pending if x.partition not in end]
        for p in assigned:
            self.partitions[p] = PartitionState()
        undecided: dict[str, _Pending] = {}  # in log order; a decision removes its cause
        for record in self.log.scan({p: 0 for p in assigned}, end):
            if record.partition not in end:
                continue
            part, event = self.partitions[record.partition], record.event
            state = part.fold(event)
            if event.is_decision:
                undecided.pop(event.causation_id or "", None)
            elif event.event_id not in undecided:
                undecided[event.event_id] = _Pending(record.partition, event,
                                                     unknown=state is None)
        pending = [x for x in undecided.values()
                   if not self.partitions[x.partition].is_decided(x.request)]
        self._pending.extend(pending)
        self.position.update(end)
        logger.info("caught up on partitions %s at %s: %d requests to decide",
                    assigned, end, len(pending))
        return end

    def _decide_pending(self) -> list[Event]:
        decisions: list[Event] = []
        for item in self._pending:
            part = self.partitions.get(item.partition)
            if part is None or part.is_decided(item.request):
                continue
            state = None if item.unknown else part.demands.get(item.request.demand_id)
            decisions.extend(part.decide(state, item.request, self.rules))
        self._pending = []
        return decisions

    # -- the live stream ------------------------------------------------------------------

    def start(self) -> None:
        """Join the group (which runs the catch-up for the assigned partitions) and decide
        what the catch-up found undecided."""
        self.partitions, self.position, self._pending = {}, {}, []
        self._consumer = self.log.consumer(self.group, self._catch_up)
        self._write(self._decide_pending(), [], commit=True)

    def step(self, timeout: float | None = None) -> int:
        """Poll one batch, decide it, append the decisions in one call, commit. Returns the
        number of records consumed."""
        if self._consumer is None:
            raise RuntimeError("start() the worker first")
        wait = self.poll_timeout if timeout is None else timeout
        records = self._consumer.poll(wait, self.max_records)
        self._forget_revoked()
        decisions = self._decide_pending()  # from an assignment made during this poll
        for record in records:
            part = self.partitions.get(record.partition)
            if part is None:
                continue
            decisions.extend(part.handle(record.event, self.rules))
        self._write(decisions, records, commit=bool(records or decisions))
        return len(records)

    def _write(self, decisions: list[Event], records: list[Record], *, commit: bool) -> None:
        """Append a batch's decisions in one call, then commit: a crash in between leaves
        decisions the next refold recognises."""
        if decisions:
            self.log.append(decisions)
            self.decisions_appended += len(decisions)
        self.position = advance(self.position, records)
        if commit and self._consumer is not None and self.position:
            try:
                self._consumer.commit(self.position)
            except Exception:  # e.g. a rebalance began: the next commit will do
                logger.warning("committing %s failed", self.position, exc_info=True)

    def _forget_revoked(self) -> None:
        assigned = set(self._consumer.assignment()) if self._consumer else set()
        for p in [p for p in self.partitions if p not in assigned]:
            del self.partitions[p]
            self.position.pop(p, None)

    def drain(self) -> None:
        """Process until a poll comes back empty: everything in the log is decided."""
        while self.step(timeout=0.0):
            pass

    def run(self, stop: threading.Event, *, retry_seconds: float = 1.0) -> None:
        """Follow the log until `stop` is set, finishing the batch in hand. If the log fails,
        start over: the refold shows which decisions made it."""
        while not stop.is_set():
            try:
                if self._consumer is None:
                    self.start()
                while not stop.is_set():
                    self.step()
            except Exception:
                logger.exception("routing worker failed; refolding in %.1fs", retry_seconds)
                self.close()
                stop.wait(retry_seconds)
        self.close()

    def close(self) -> None:
        if self._consumer is not None:
            try:
                self._consumer.close()
            except Exception:
                logger.warning("closing the consumer failed", exc_info=True)
            self._consumer = None


def main(settings: Settings) -> None:
    from services.eventlog import open_log

    logging.basicConfig(level=settings.log_level,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = threading.Event()

    def on_signal(signum, frame) -> None:
        logger.info("signal %s: finishing the batch in hand", signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    log = open_log(settings)
    try:
        worker = RoutingWorker(log)
        started = time.monotonic()
        worker.run(stop)
        logger.info("routing worker stopped after %.0fs, %d decisions appended",
                    time.monotonic() - started, worker.decisions_appended)
    finally:
        log.close()


if __name__ == "__main__":
    from services import config

    main(config.load())
