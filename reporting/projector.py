"""The reporting projector: folds every event of the log into the MongoDB read models.

The cost is per batch, not per event: the whole batch is folded in memory, then each demand
it touched is written once, and its events go to history as one chunk per demand.

Exactly-once without transactions. A batch is written in four steps, each idempotent:
0. the tallies headquarters' figures are read from (`reporting/tally_store.py`), one document
   per partition, each written only if still at the position the batch was folded from; a
   demand adds the difference its events made, from the state the tally already holds;
1. demand documents (one unordered `bulk_write`), each carrying the position of the last event
   folded into it: an event at or below that position is skipped when it is seen again. Each
   is written only if it is still as loaded; where another projector moved it on meanwhile
   (two owners overlap in a rebalance), the batch is folded again over what is stored now;
2. history (one unordered insert of chunks, `reporting/history.py`), each keyed by its demand,
   partition, first and last offset: a second insert is a duplicate-key no-op, and an event
   that a re-delivery put in two chunks is read once;
3. the checkpoint, moved forward only.
A record that cannot be decoded, is of an unknown type or version, or whose fold raises is
parked in `dead_letters` with the reason (`services.deadletter`) and left out of the read
models; the checkpoint moves past it. A crash anywhere in between leaves the checkpoint
behind; the restarted projector reads the same events again and every step recognises what
it already did.

Run it with `python -m reporting.projector` (SADA_* settings, see `services.config`).
"""

from __future__ import annotations

import argparse
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bson.raw_bson import RawBSONDocument
from pymongo import MongoClient
from pymongo.database import Database

from reporting import provenance
from reporting.civic import meeting_doc, write_meetings
from reporting.readmodels import ReadModels, encoded_demand, stored_position
from reporting.tallies import add, contribution, difference
from reporting.tally_store import TALLIES, Tally, TallyStore, TallyUpdate
from services import config, jsonlog
from services.deadletter import DeadLetters, MongoSink
from services.domain.demand import Demand, apply
from services.eventlog import open_log
from services.eventlog.port import Consumer, EventLog, Offsets, Position, Record, advance
from services.events.envelope import Event
from services.events.families.civic import MEETING
from services.events.families.routing import TICK
from services.observability import LagMeter, serve_worker_metrics
from services.signals import stop_on_signals

log = logging.getLogger(__name__)

PROJECTION = "reporting"
RETRY_SECONDS = 1.0
WRITE_ATTEMPTS = 5  # folds of one batch that other writers may overtake


Positions = dict[str, "Position | None"]


@dataclass
class Plan:
    """A batch folded and not yet written (`Projector.plan`, then `Projector.commit`)."""

    records: list[Record]
    good: list[tuple[Record, Event]]
    docs: dict[str, RawBSONDocument]  # the touched demands' documents to write, by id
    loaded: Positions  # the position each demand was folded from (None: new)
    parked: set[int]  # ids of the records parked as poison
    tallies: list[TallyUpdate]  # the partitions' tallies moved on by the batch


class Projector:
    def __init__(self, log: EventLog, db: Database, name: str = PROJECTION, *,
                 remember: bool = False) -> None:
        """`remember`: the only writer of fresh read models (a replay) keeps each open
        demand's state between batches instead of loading it back; a demand it never wrote
        is new. Should a write find a demand moved on after all, it forgets and loads."""
        self.log = log
        self.name = name
        self.models = ReadModels(db)
        # Where this process is in each partition it was assigned: reset to the checkpoint on
        # every assignment, so a partition held before and assigned again never reports (or
        # commits) the stale offset of its earlier tenure.
        self.position: Offsets = {}
        self._assigned = False  # partitions were assigned since the last commit
        self.lag = LagMeter(log, "reporting-projector")
        self.dead_letters = DeadLetters("reporting-projector", MongoSink(db))
        self._known: dict[str, tuple[Demand, Position]] | None = {} if remember else None
        self._written: set[str] = set()  # demands written while remembering
        self._closing: set[str] = set()  # closed by the last batch folded: let go next
        self.tally_store = TallyStore(db[TALLIES])
        # The tallies as this process last wrote them (a replay: as last planned).
        self._tallies: dict[int, Tally] = {}

    def start_offsets(self, partitions: list[int]) -> Offsets:
        """Where to resume in newly assigned partitions: the read models' own checkpoint."""
        done = self.models.checkpoint(self.name)
        start = {p: done.get(p, 0) for p in partitions}
        self.position.update(start)
        self._assigned = True
        return start

    def apply_batch(self, records: Sequence[Record]) -> Offsets:
        """Fold `records` (in log order) into the read models; returns the offsets after them."""
        return self.commit(self.plan(records))

    def plan(self, records: Sequence[Record]) -> Plan:
        """Decode and fold a batch over its demands as known now, writing nothing. A replay
        folds the next batch while the last one's plan is committed: each demand is written
        only if still at the position the fold started from, so a plan folded over what was
        not written after all is caught by `commit` and folded again."""
        good = [(r, e) for r in records if (e := self.dead_letters.decode(r)) is not None]
        fold = self._fold(good, self._known, records)
        return Plan(list(records), good, *fold)

    def commit(self, plan: Plan) -> Offsets:
        """Write a planned batch: demands, meetings, history, then the checkpoint."""
        if not plan.records:
            return {}
        parked = plan.parked
        attempts = 1
        while not (self.tally_store.write(plan.tallies)
                   and self.models.write_demands(plan.docs, loaded=plan.loaded)):
            self._tallies = {}
            if self._known is not None:  # another writer after all: no more guessing
                log.warning("another writer moved demands on under a replay; loading them")
                self._known = None
            if attempts == WRITE_ATTEMPTS:
                raise RuntimeError(f"read models moved on under the batch "
                                   f"{WRITE_ATTEMPTS} times")
            attempts += 1
            log.info("read models moved on under the batch; folding it again")
            plan.docs, plan.loaded, parked, plan.tallies = self._fold(plan.good, None,
                                                                      plan.records)
        good = plan.good
        write_meetings(self.models.db, (meeting_doc(e) for _, e in good if e.type == MEETING))
        self.models.write_history([(r, e) for r, e in good if id(r) not in parked])
        offsets = advance({}, plan.records)
        self.models.advance_checkpoint(self.name, offsets)
        return offsets

    def _fold(self, good: list[tuple[Record, Event]],
              known: dict[str, tuple[Demand, Position]] | None, records: Sequence[Record]
              ) -> tuple[dict[str, RawBSONDocument], Positions, set[int], list[TallyUpdate]]:
        """Fold the events into their demands (`known` ones from memory, the rest as stored
        now): the demand documents to write, the positions they were at, the ids of the
        records parked as poison, and the tallies moved on."""
        partitions = {r.partition for r in records}
        # The tallies as this process last planned them, else as stored: a tally another
        # writer moved meanwhile fails its conditional write, and the batch is folded again
        # over what is stored (`commit`), so the cache costs no round trip and risks nothing.
        tallies = {p: self._tallies[p] for p in partitions & self._tallies.keys()}
        tallies.update(self.tally_store.load(partitions - tallies.keys()))
        counted = {p: t.position for p, t in tallies.items()}
        before: dict[str, Counter[str]] = {}  # each demand as its tally holds it
        clocks = {p: t.clock for p, t in tallies.items()}
        states: dict[str, Demand | None] = {}
        positions: dict[str, Position | None] = {}
        ids = {e.demand_id for _, e in good}
        if known is not None:
            for demand_id in ids & known.keys():
                states[demand_id], positions[demand_id] = known[demand_id]
            ids = {i for i in ids if i in self._written and i not in known}
        for demand_id, doc in self.models.load_demands(ids).items():
            states[demand_id] = Demand.from_doc(doc)
            positions[demand_id] = stored_position(doc)
        loaded = dict(positions)
        touched: set[str] = set()
        parked: set[int] = set()
        for record, event in good:
            at = positions.get(event.demand_id)
            if at is not None and at.partition == record.partition and record.offset <= at.offset:
                continue  # folded before a crash or a re-delivery
            if event.type == TICK:
                tick = event.recorded_at_text
                clock = clocks.get(record.partition)
                clocks[record.partition] = tick if clock is None or tick > clock else clock
            if event.demand_id not in before:
                before[event.demand_id] = contribution(states.get(event.demand_id))
            try:
                state = apply(states.get(event.demand_id), event)
            except Exception as exc:  # poison: park it, fold the rest
                self.dead_letters.failed(record, exc)
                parked.add(id(record))
                continue
            if state is None:
                continue  # no such demand (e.g. a rejected action on an unknown id): history only
            states[event.demand_id] = state
            positions[event.demand_id] = record.position
            touched.add(event.demand_id)
            if record.offset <= counted[record.partition]:
                before[event.demand_id] = contribution(state)  # the tally has this already
        docs = {d: encoded_demand(states[d], positions[d])  # type: ignore[arg-type]
                for d in sorted(touched)}
        if known is not None:
            self._remember(known, touched, states, positions)
        return docs, loaded, parked, self._tally(tallies, records, touched, states,
                                                 positions, before, clocks)

    def _tally(self, tallies: dict[int, Tally], records: Sequence[Record], touched: set[str],
               states: dict[str, Demand | None], positions: dict[str, Position | None],
               before: dict[str, Counter[str]], clocks: dict[int, str | None]
               ) -> list[TallyUpdate]:
        """Each partition's tally moved on by the batch: its demands' differences added, its
        position at the batch's last offset there (untouched where the batch is all old)."""
        deltas: dict[int, Counter[str]] = {p: Counter() for p in tallies}
        for demand_id in touched:
            at = positions[demand_id]
            assert at is not None
            deltas[at.partition].update(difference(contribution(states[demand_id]),
                                                   before[demand_id]))
        last = {p: max(r.offset for r in records if r.partition == p) for p in tallies}
        updates = []
        for p, old in tallies.items():
            if last[p] <= old.position:
                continue
            new = Tally(p, last[p], clocks[p], dict(old.counts))
            changed = add(new.counts, deltas[p])
            updates.append(TallyUpdate(old.position, new, changed))
            self._tallies[p] = new
        return updates

    def _remember(self, known: dict[str, tuple[Demand, Position]], touched: set[str],
                  states: dict[str, Demand | None], positions: dict[str, Position | None]
                  ) -> None:
        """Keep the demands a fold left (as they will be once written). Closed ones rarely
        move again and are let go one batch later (then loaded back if one does): by then the
        batch that closed them is written, even when the next was folded meanwhile."""
        self._written |= touched
        for demand_id in self._closing:
            if demand_id not in touched:
                known.pop(demand_id, None)
        self._closing = set()
        for demand_id in touched:
            state, at = states[demand_id], positions[demand_id]
            if state is not None and at is not None:
                known[demand_id] = (state, at)
                if not state.is_open:
                    self._closing.add(demand_id)

    def run(self, stop: threading.Event, batch: int = 500, poll_timeout: float = 0.5,
            linger: float = 0.0) -> None:
        """Consume until `stop` is set, finishing the batch in hand. A failed batch is not
        skipped: the consumer is rebuilt and resumes from the checkpoint. `linger`: seconds
        to wait, once a batch's first events are in, for more to join it."""
        while not stop.is_set():
            try:
                consumer = self.log.consumer(self.name, self.start_offsets)
            except Exception:
                log.exception("cannot join the consumer group; retrying")
                stop.wait(RETRY_SECONDS)
                continue
            try:
                self._consume(consumer, stop, batch, poll_timeout, linger)
            except Exception:
                log.exception("projection batch failed; resuming from the checkpoint")
                stop.wait(RETRY_SECONDS)
            finally:
                consumer.close()

    def _consume(self, consumer: Consumer, stop: threading.Event, batch: int,
                 poll_timeout: float, linger: float = 0.0) -> None:
        while not stop.is_set():
            records = gather(consumer, batch, poll_timeout, linger)
            mine = set(consumer.assignment())
            if records:
                self.apply_batch(records)
                self.position = advance(self.position, records)
            # After an assignment too: the group's offsets may lag the checkpoint (an owner
            # that died between the two), and nothing else may arrive to move them.
            if records or self._assigned:
                self._assigned = False
                try:  # the log's copy of our progress is for lag monitoring only
                    consumer.commit({p: o for p, o in self.position.items() if p in mine})
                except Exception:
                    log.warning("could not commit offsets to the log", exc_info=True)
            self.lag.update(self.position, mine)


def gather(consumer: Consumer, batch: int, poll_timeout: float, linger: float,
           clock: Callable[[], float] = time.monotonic) -> list[Record]:
    """The next batch: what the first poll brings, then whatever arrives within `linger`
    of it, up to `batch` records. Each demand a batch touches costs a write of its document
    and a history chunk, so a submission and its decision written together cost half; a
    full batch or a quiet log does not wait."""
    records = consumer.poll(timeout=poll_timeout, max_records=batch)
    if not records or linger <= 0:
        return records
    until = clock() + linger
    while len(records) < batch and (left := until - clock()) > 0:
        records += consumer.poll(timeout=left, max_records=batch - len(records))
    return records


def main(settings: config.Settings | None = None, batch: int = 500) -> None:
    """Run the projector until SIGTERM or SIGINT, then finish the current batch and exit."""
    settings = settings or config.load()
    jsonlog.configure("reporting-projector", settings.log_level)
    stop = stop_on_signals(log)
    client: MongoClient = MongoClient(settings.mongo_url)
    event_log = open_log(settings)
    stop_metrics = serve_worker_metrics(settings.metrics_host, settings.metrics_port)
    try:
        provenance.stamp(client[settings.mongo_db], event_log)  # never another log's models
        projector = Projector(event_log, client[settings.mongo_db])
        moved = projector.models.history.upgrade()
        if moved:
            log.info("history: %d events kept one document each moved into chunks", moved)
        projector.models.ensure_indexes()
        built = projector.tally_store.build_missing(
            projector.models.demands, projector.models.checkpoint(projector.name),
            range(event_log.partitions))
        if built:
            log.info("tallies summed from the stored demands for partitions %s", built)
        log.info("projecting into database %s from %s", settings.mongo_db,
                 projector.start_offsets(list(range(event_log.partitions))))
        projector.run(stop, batch=batch, linger=settings.projector_linger_ms / 1000)
    finally:
        if stop_metrics is not None:
            stop_metrics()
        event_log.close()
        client.close()
    log.info("stopped")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Project the event log into MongoDB.")
    parser.add_argument("--batch", type=int, default=500, help="events per batch")
    main(batch=parser.parse_args().batch)
