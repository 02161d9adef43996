"""The routing worker: the one writer of decisions (docs/architecture.md, section 3).

Exactly-once without transactions. When partitions are assigned, the worker folds them from the
beginning to their current end *without deciding*, so it learns each demand's state and which
requests already have a decision. It then decides the requests that have none, in log order,
and follows the live stream from where the fold stopped. The committed offsets are only for lag
monitoring: a restart always refolds, so a crash between appending decisions and committing
(or a rebalance) costs nothing but a refold. A decision that does reach the log twice has the
same id and cause, and the fold ignores the second copy.

Triggers are requests and routing's facts (ticks, rule sets, closures: a fact may call for
no decision at all, or for one on each of many demands). The worker decides a partition's
triggers in log order and appends their decisions in that order, so a decision in the log
proves that every trigger before its cause was decided too: the catch-up takes those facts into
the routing context as it meets the proof (`_Backlog`). What is left at the end of the fold is
decided as if live, in log order, against the context and the demand states it would have met
live: a request made before its demand was submitted is remembered as such and decided as
"unknown demand", and a fact re-decided after a crash makes the decisions it would have made.
A crash while a fact's decisions were being appended can leave some of them in the log (Kafka
keeps a record batch whole, not an append): the last fact decided in a partition is decided
again on the demands it has no decision on, which makes exactly the missing ones.

`publish_default` (set by `main`) publishes the default rule set as version 1 when the stream
has none, so the rules in force are always in the stream; `clock` (set by `main` from
SADA_CLOCK_SECONDS) tells the stream the time while the worker runs (`routing.clock`).

Snapshots (`snapshots`, set by `main` unless SADA_ROUTING_SNAPSHOT_EVENTS is 0): after every
`snapshot_every` events, and on a clean stop, the worker writes each partition's state with
the offset it stands for (routing/snapshots.py). It writes one only right after appending a
batch's decisions, so a snapshot at offset N says: every trigger before N is decided and its
decisions are in the log. A start folds a partition from its snapshot on, with the same catch-up
as from the beginning: the backlog starts empty (nothing before N awaits a decision, nor the
rest of its decisions), and the tail's decisions it already holds are folded again as the
copies they are. A partition without a usable snapshot is folded from the beginning. The
demands changed since the last snapshot are written `snapshot_chunk` at a time, one chunk
after each batch, so a large snapshot (the first after a full fold) stalls no batch long.

A record the worker cannot decode, of an unknown type or version, or whose handling raises is
parked with the reason (`services.deadletter`; `main` parks in the data dir's
`dead-letters/routing-worker.jsonl`) and passed over: it gets no decision.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass, field

from routing.clock import Clock
from routing.domain.partition import PartitionState
from routing.domain.snapshot import DemandTable, SnapshotUnreadable
from routing.facts import horizon_warning, rule_set_published, tick
from routing.observed import record_decisions
from routing.snapshots import FILE_NAME, SnapshotStore, fingerprint
from services.config import Settings
from services.deadletter import DeadLetters, FileSink
from services.domain.context import RoutingContext, is_routing_fact
from services.domain.rules import DEFAULT_RULES, RuleSet
from services.eventlog.port import Consumer, EventLog, Offsets, Record, advance
from services.events.envelope import SYSTEM_ROUTING, Event, encode, now
from services.following import Follower
from services.heap import cycle_collection_paused
from services.observability import LagMeter
from services.signals import stop_on_signals

logger = logging.getLogger("routing.worker")


@dataclass
class _Pending:
    partition: int
    trigger: Event  # a request, or a routing fact
    unknown: bool  # a request whose demand did not exist when it was recorded
    record: Record | None = None  # where the trigger was read, to park it if it fails
    finish: bool = False  # a fact with decisions in the log: decide only what they lack


@dataclass
class _Backlog:
    """One partition's triggers not yet proven decided, in log order."""

    items: deque[_Pending] = field(default_factory=deque)
    first: int = 0  # the sequence number of items[0]
    index: dict[str, int] = field(default_factory=dict)  # event id -> first sequence number
    last: _Pending | None = None  # the last trigger a decision proved decided

    def add(self, item: _Pending) -> None:
        self.index.setdefault(item.trigger.event_id, self.first + len(self.items))
        self.items.append(item)

    def settle(self, cause: str | None) -> list[_Pending]:
        """The triggers up to and including `cause`, which a decision proves decided."""
        last = self.index.get(cause or "")
        out: list[_Pending] = []
        while last is not None and self.first <= last:
            item = self.items.popleft()
            if self.index.get(item.trigger.event_id) == self.first:
                del self.index[item.trigger.event_id]
            self.first += 1
            out.append(item)
        if out:
            self.last = out[-1]
        return out

    def unfinished(self) -> _Pending | None:
        """The last decided trigger, if it is a fact: the only one whose decisions can be in
        the log in part (a worker killed while appending them). The worker appends decisions
        in trigger order, so a decision of any later trigger proves all of its decisions
        there. Demands submitted after the fact need no care when it is decided again: their
        routing, which gives them a clock, would be a later decision, and facts pass over
        demands without one."""
        last = self.last
        if last is None or not last.trigger.is_fact:
            return None
        return _Pending(last.partition, last.trigger, False, last.record, finish=True)


class RoutingWorker(Follower):
    """Consume the log in group `group` and append a decision for every request."""

    what = "routing worker"

    def __init__(self, log: EventLog, rules: RuleSet = DEFAULT_RULES, group: str = "routing",
                 *, poll_timeout: float = 0.5, max_records: int = 500,
                 publish_default: bool = False, clock: Clock | None = None,
                 dead_letters: DeadLetters | None = None,
                 snapshots: SnapshotStore | None = None, snapshot_every: int = 5_000,
                 snapshot_chunk: int = 2_000) -> None:
        # `rules` hold until a rule set is published in the stream.
        self.log, self.rules, self.group = log, rules, group
        self.publish_default, self.clock = publish_default, clock
        self.poll_timeout, self.max_records = poll_timeout, max_records
        self.partitions: dict[int, PartitionState] = {}
        self.position: Offsets = {}
        self.decisions_appended = 0
        self._pending: list[_Pending] = []
        # Offers of merges found pending by a refold: sent again, in case a crash lost one.
        self._resend: list[Event] = []
        self._unfolded: Offsets = {}  # assigned, to fold up to these offsets in `step`
        self._consumer: Consumer | None = None
        self.lag = LagMeter(log, "routing-worker")
        self.dead_letters = dead_letters or DeadLetters("routing-worker")
        self.snapshots, self.snapshot_every = snapshots, max(1, snapshot_every)
        self.snapshot_chunk = max(1, snapshot_chunk)  # demands written after one batch, at most
        self._snapshotting = False  # a snapshot is being written, a chunk after each batch
        self._fingerprint = fingerprint(rules) if snapshots is not None else ""
        self._since_snapshot = 0  # events folded since the last snapshot
        self._consistent = False  # every trigger folded is decided and its decisions appended
        self.restored_from: Offsets = {}  # partitions started from a snapshot, at its offset
        self.last_snapshot: tuple[int, float] | None = None  # demands written, seconds taken

    # -- catch-up -------------------------------------------------------------------------

    def _partition(self) -> PartitionState:
        demands = DemandTable() if self.snapshots is not None else {}
        return PartitionState(demands=demands, context=RoutingContext(rules=self.rules))

    def _restore(self, partition: int, end: int) -> int:
        """Set up the partition's state from its snapshot if it has a usable one, else from
        nothing; the offset to fold it from."""
        loaded = None
        if self.snapshots is not None and end > 0:
            loaded = self.snapshots.load(partition, self.log, end, self._fingerprint)
        if loaded is None:
            self.partitions[partition] = self._partition()
            return 0
        offset, self.partitions[partition] = loaded
        self.restored_from[partition] = offset
        return offset

    def _catch_up(self, assigned: list[int]) -> Offsets:
        """Called by the consumer on every assignment, from inside its poll: read newly
        assigned partitions live from their current end, and fold them up to it in `step`.
        The fold stays out of the callback: a Kafka consumer cannot heartbeat while its
        callback runs, and a fold longer than the session timeout would get the worker
        evicted, the group rebalanced and the fold restarted, over and over."""
        end_all = self.log.end_offsets()
        end = {p: end_all.get(p, 0) for p in assigned}
        self._unfolded.update(end)
        return end

    def _fold_assigned(self) -> bool:
        """Fold the partitions assigned since the last step to where they ended at their
        assignment, without deciding; remember the triggers not proven decided."""
        held = set(self._consumer.assignment()) if self._consumer else set()
        end = {p: o for p, o in self._unfolded.items() if p in held}
        self._unfolded = {}
        if not end:
            return False
        assigned = sorted(end)
        self._pending = [x for x in self._pending if x.partition not in end]
        backlogs = {p: _Backlog() for p in assigned}
        with cycle_collection_paused():  # a fold of a whole log: see services/heap.py
            start = {p: self._restore(p, end[p]) for p in assigned}
            self._fold_records(start, end, backlogs)
        pending = []
        for p in assigned:
            unfinished = backlogs[p].unfinished()
            if unfinished is not None:
                pending.append(unfinished)
            pending.extend(x for x in backlogs[p].items
                           if x.trigger.is_fact or not self.partitions[p].is_decided(x.trigger))
        self._pending.extend(pending)
        for p in assigned:
            self._resend.extend(self.partitions[p].resend_merges())
        self.position.update(end)
        logger.info("caught up on partitions %s at %s, folded from %s: %d triggers to decide",
                    assigned, end, start, len(pending), extra={"partitions": sorted(assigned)})
        return True

    def _fold_records(self, start: Offsets, end: Offsets,
                      backlogs: dict[int, _Backlog]) -> None:
        """Fold the records from `start` to `end` without deciding, noting in each
        partition's backlog the triggers met and the decisions that settle them."""
        for record in self.log.scan(start, end):
            if record.partition not in end:
                continue
            self._since_snapshot += 1
            part, event = self.partitions[record.partition], self.dead_letters.decode(record)
            if event is None:
                continue
            backlog = backlogs[record.partition]
            try:
                if event.is_decision:
                    for item in backlog.settle(event.causation_id):
                        if item.trigger.is_fact:
                            part.context.absorb(item.trigger)
                    part.fold(event)
                elif event.is_fact:
                    if is_routing_fact(event):
                        backlog.add(_Pending(record.partition, event, False, record))
                    else:
                        part.context.remember(event)
                else:
                    state = part.fold(event)
                    backlog.add(_Pending(record.partition, event, state is None, record))
            except SnapshotUnreadable:
                raise
            except Exception as exc:
                self.dead_letters.failed(record, exc)

    def _decide_pending(self) -> list[Event]:
        decisions, self._resend = self._resend, []
        for item in self._pending:
            part = self.partitions.get(item.partition)
            if part is None:
                continue
            try:
                if item.finish:
                    decisions.extend(part.finish(item.trigger))
                elif item.trigger.is_fact:
                    decisions.extend(part.decide(None, item.trigger))
                elif not part.is_decided(item.trigger):
                    state = None if item.unknown else part.demands.get(item.trigger.demand_id)
                    decisions.extend(part.decide(state, item.trigger))
            except SnapshotUnreadable:
                raise
            except Exception as exc:
                self.dead_letters.failed(
                    item.record or Record(item.partition, -1, encode(item.trigger)), exc)
        self._pending = []
        return decisions

    def warn_of_the_horizon(self) -> None:
        """Broadcast, once per rule set, that its calendar is within a year of its horizon
        (routing/facts.py: `horizon_warning`), judged by the stream's own time."""
        for part in self.partitions.values():
            warning = horizon_warning(part.context)
            if warning is not None:
                self.log.broadcast([warning])
                for other in self.partitions.values():
                    other.context.remember(warning)
                logger.warning("the calendar of rule set v%s knows holidays only until %s",
                               warning.payload["rule_set_version"], warning.payload["horizon"])
                return

    def tell_the_time(self) -> None:
        """Broadcast a tick if the clock says one is due (see routing/clock.py)."""
        if self.clock is None or not self.partitions:
            return
        seen = [p.context.now for p in self.partitions.values() if p.context.now]
        at = self.clock.due(max(seen, default=None))
        if at is not None:
            self.log.broadcast([tick(at)])

    def _publish_default_rules(self) -> None:
        """Publish the default rule set as version 1 if the stream has no rule set."""
        if not self.partitions or any(p.context.published for p in self.partitions.values()):
            return
        self.log.broadcast([rule_set_published(self.rules, now(), actor=SYSTEM_ROUTING,
                                               note="the default rule set")])
        logger.info("published the default rule set as version %d", self.rules.version)

    # -- the live stream ------------------------------------------------------------------

    def start(self) -> None:
        """Join the group (which runs the catch-up for the assigned partitions) and decide
        what the catch-up found undecided."""
        self.partitions, self.position, self._pending, self._unfolded = {}, {}, [], {}
        self._resend, self._since_snapshot, self._consistent = [], 0, False
        self._snapshotting = False
        self.restored_from = {}
        self._consumer = self.log.consumer(self.group, self._catch_up)
        self._fold_assigned()  # a log that assigns at once (SQLite) has been caught up
        self._write(self._decide_pending(), [], commit=True)
        if self.publish_default:
            self._publish_default_rules()
        self.lag.update(self.position, self.partitions, force=True)

    def step(self, timeout: float | None = None) -> int:
        """Poll one batch, decide it, append the decisions in one call, commit. Returns the
        number of records consumed."""
        if self._consumer is None:
            raise RuntimeError("start() the worker first")
        wait = self.poll_timeout if timeout is None else timeout
        records = self._consumer.poll(wait, self.max_records)
        self._consistent = False
        self._forget_revoked()
        # Partitions assigned during this poll: fold them first (the records start at their
        # end), and commit even if nothing else happens, so the group's committed offsets
        # (what lag monitors read) cover what the fold found already decided.
        caught_up = self._fold_assigned()
        decisions = self._decide_pending()  # from an assignment made during this poll
        for record in records:
            part = self.partitions.get(record.partition)
            if part is None:
                continue
            event = self.dead_letters.decode(record)
            if event is None:
                continue
            try:
                decisions.extend(part.handle(event))
            except SnapshotUnreadable:
                raise
            except Exception as exc:
                self.dead_letters.failed(record, exc)
        self._write(decisions, records, commit=bool(records or decisions or caught_up))
        if records:
            self.warn_of_the_horizon()
        self.lag.update(self.position, self.partitions)
        return len(records)

    def _write(self, decisions: list[Event], records: list[Record], *, commit: bool) -> None:
        """Append a batch's decisions in one call, then commit: a crash in between leaves
        decisions the next refold recognises."""
        if decisions:
            self.log.append(decisions)
            self.decisions_appended += len(decisions)
            record_decisions(decisions, self._district_of)
        self.position = advance(self.position, records)
        self._consistent = True
        self._since_snapshot += len(records)
        if self.snapshots is not None and (
                self._snapshotting or self._since_snapshot >= self.snapshot_every):
            self.save_snapshots(self.snapshot_chunk)
        if commit and self._consumer is not None and self.position:
            try:
                self._consumer.commit(self.position)
            except Exception:  # e.g. a rebalance began: the next commit will do
                logger.warning("committing %s failed", self.position, exc_info=True)

    def save_snapshots(self, limit: int | None = None) -> None:
        """Snapshot every partition at the worker's position, writing at most `limit` changed
        demands (None: all); what is left is written after the next batches. Only between
        batches, once the decisions of everything consumed are appended. A failure is
        logged, and a later snapshot writes what this one did not."""
        if self.snapshots is None or not self._consistent:
            return
        started, written, done = time.monotonic(), 0, True
        for p, part in self.partitions.items():
            offset = self.position.get(p, 0)
            if offset <= 0:
                continue
            budget = None if limit is None else max(limit - written, 0)
            try:
                n, complete = self.snapshots.save(p, offset, part, self.log, self._fingerprint,
                                                  budget)
            except Exception:
                logger.warning("writing the snapshot of partition %d failed", p, exc_info=True)
                continue
            written, done = written + n, done and complete
        self._snapshotting = not done
        self.last_snapshot = (written, time.monotonic() - started)
        if done:
            self._since_snapshot = 0
            logger.info("snapshot of partitions %s at %s: %d demands written in %.2fs",
                        sorted(self.partitions), self.position, written, self.last_snapshot[1])

    @property
    def snapshot_in_progress(self) -> bool:
        """A snapshot is being written, a chunk after each batch, and is not usable yet."""
        return self._snapshotting

    def close(self) -> None:
        """Stop following; a worker stopped cleanly between batches snapshots first."""
        if self._since_snapshot or self._snapshotting:
            self.save_snapshots()
        super().close()

    def _district_of(self, demand_id: str) -> int | None:
        for part in self.partitions.values():
            state = part.demands.get(demand_id)
            if state is not None:
                return state.district
        return None

    def _forget_revoked(self) -> None:
        assigned = set(self._consumer.assignment()) if self._consumer else set()
        for p in [p for p in self.partitions if p not in assigned]:
            del self.partitions[p]
            self.position.pop(p, None)

    def drain(self) -> None:
        """Process until a poll comes back empty: everything in the log is decided."""
        while self.step(timeout=0.0):
            pass

    def turn(self) -> None:
        """One pass of `run`: a step, then the time if it is due. After a failure `run`
        starts over, and the refold shows which decisions made it."""
        self.step()
        self.tell_the_time()


def main(settings: Settings) -> None:
    from services import jsonlog
    from services.eventlog import open_log
    from services.observability import serve_worker_metrics

    jsonlog.configure("routing-worker", settings.log_level)
    stop = stop_on_signals(logger)
    log = open_log(settings)
    stop_metrics = serve_worker_metrics(settings.metrics_host, settings.metrics_port)
    try:
        dead_letters = DeadLetters("routing-worker", FileSink(
            settings.data_dir / "dead-letters" / "routing-worker.jsonl"))
        snapshots = (SnapshotStore(settings.data_dir / FILE_NAME)
                     if settings.routing_snapshot_events else None)
        worker = RoutingWorker(log, publish_default=True, clock=Clock(settings.clock_seconds),
                               dead_letters=dead_letters, snapshots=snapshots,
                               snapshot_every=settings.routing_snapshot_events or 1)
        started = time.monotonic()
        worker.run(stop)
        logger.info("routing worker stopped after %.0fs, %d decisions appended",
                    time.monotonic() - started, worker.decisions_appended)
    finally:
        if stop_metrics is not None:
            stop_metrics()
        log.close()


if __name__ == "__main__":
    from services import config

    main(config.load())
