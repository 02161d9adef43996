"""Snapshots for time travel: every `every` offsets of each partition, every open demand of
that partition as of that offset, written by a worker that follows the projector.

A snapshot at offset b of partition p is the fold of p's records below b, keeping the open
demands (closed ones do not change unless an event touches them, and then their history
says what they were). It is stored compressed in chunks (`asof_snapshots`), then its mark
(`asof_marks`: partition, offset, the latest `recorded_at` below it, how many demands) says
it is complete. Snapshots sit at fixed offsets, so rebuilding them gives the same ones; the
next snapshot is the previous one plus `every` records, so the worker's cost per event is
flat, and so is an answer: the nearest snapshot, plus at most `every` records of tail.

The audit worker (`reporting/audit_worker.py`) runs it beside the sealer.
"""

from __future__ import annotations

import logging
import threading
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import orjson
from bson import Binary
from pymongo import ASCENDING, DESCENDING
from pymongo.database import Database

from reporting.history import HISTORY, EventHistory
from reporting.projector import PROJECTION
from reporting.readmodels import IN_CHUNK, ReadModels, demand_doc
from reporting.timetravel import cut
from reporting.timetravel.cut import Frontier
from services.domain.demand import Demand, apply
from services.eventlog.port import EventLog, Position, Record
from services.events.envelope import Event, from_dict

logger = logging.getLogger("reporting.timetravel.snapshots")

SNAPSHOTS, MARKS = "asof_snapshots", "asof_marks"
COLLECTIONS = (SNAPSHOTS, MARKS)
EVERY = 5000
CHUNK = 2000  # demands per stored chunk (each well below MongoDB's 16 MB per document)
IDLE_SECONDS = 2.0


@dataclass(frozen=True)
class Mark:
    partition: int
    offset: int  # the snapshot holds the fold of every record below this offset
    max_at: str  # the latest recorded_at among those records ("" if none)
    demands: int
    chunks: int

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Mark:
        return cls(doc["partition"], doc["offset"], doc["max_at"], doc["demands"],
                   doc["chunks"])


def _key(partition: int, offset: int) -> str:
    return f"{partition}:{offset:015d}"


class SnapshotStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.snapshots, self.marks = db[SNAPSHOTS], db[MARKS]

    def ensure_indexes(self) -> None:
        self.marks.create_index([("partition", ASCENDING), ("offset", ASCENDING)],
                                name="partition_offset")

    def drop(self) -> None:
        for name in COLLECTIONS:
            self.db.drop_collection(name)

    # -- reading --------------------------------------------------------------------------
    def nearest(self, partition: int, *, below: int | None = None,
                until: str | None = None) -> Mark | None:
        """The latest snapshot of `partition` at or below offset `below` whose records were
        all recorded by `until`."""
        query: dict[str, Any] = {"partition": partition}
        if below is not None:
            query["offset"] = {"$lte": below}
        if until is not None:
            query["max_at"] = {"$lte": until}
        doc = self.marks.find_one(query, sort=[("offset", DESCENDING)])
        return Mark.from_doc(doc) if doc else None

    def latest(self, partition: int) -> Mark | None:
        return self.nearest(partition)

    def load(self, mark: Mark) -> list[dict[str, Any]]:
        docs: list[dict[str, Any]] = []
        for k in range(mark.chunks):
            chunk = self.snapshots.find_one({"_id": f"{_key(mark.partition, mark.offset)}:{k}"})
            if chunk is None:
                raise LookupError(f"snapshot {mark.partition}:{mark.offset} lacks chunk {k}")
            docs.extend(orjson.loads(zlib.decompress(chunk["data"])))
        return docs

    # -- writing --------------------------------------------------------------------------
    def save(self, partition: int, offset: int, max_at: str,
             docs: list[dict[str, Any]]) -> Mark:
        """Store the chunks, then the mark: a snapshot without its mark is never read."""
        key = _key(partition, offset)
        chunks = [docs[i:i + CHUNK] for i in range(0, len(docs), CHUNK)] or [[]]
        for k, part in enumerate(chunks):
            data = zlib.compress(orjson.dumps(part), 1)
            self.snapshots.replace_one({"_id": f"{key}:{k}"}, {
                "_id": f"{key}:{k}", "partition": partition, "offset": offset,
                "data": Binary(data)}, upsert=True)
        mark = {"_id": key, "partition": partition, "offset": offset, "max_at": max_at,
                "demands": len(docs), "chunks": len(chunks)}
        self.marks.replace_one({"_id": key}, mark, upsert=True)
        return Mark.from_doc(mark)


# -- a demand's state before an offset, from its history ----------------------------------
def event_from_history(doc: dict[str, Any]) -> Event:
    """The event a history document holds (validated when it was first decoded)."""
    return from_dict({**doc, "event_id": doc["_id"]}, validate_payload=False)


def states_before(db: Database, wanted: dict[str, Position]
                  ) -> dict[str, tuple[Demand, Position]]:
    """Each wanted demand folded from its history up to (not including) the given position;
    demands that did not exist then are left out."""
    out: dict[str, tuple[Demand, Position]] = {}
    ids = sorted(wanted)
    history = EventHistory(db[HISTORY])
    for i in range(0, len(ids), IN_CHUNK):
        by_demand: dict[str, list[dict[str, Any]]] = {}
        for doc in history.find({"demand_id": {"$in": ids[i:i + IN_CHUNK]}}):
            by_demand.setdefault(doc["demand_id"], []).append(doc)
        for demand_id, docs in by_demand.items():
            before = wanted[demand_id]
            state: Demand | None = None
            last: Position | None = None
            for doc in sorted(docs, key=lambda d: (d["partition"], d["offset"])):
                if (doc["partition"], doc["offset"]) >= (before.partition, before.offset):
                    break
                folded = apply(state, event_from_history(doc))
                if folded is not None:
                    state, last = folded, Position(doc["partition"], doc["offset"])
            if state is not None and last is not None:
                out[demand_id] = (state, last)
    return out


def extend(db: Database, front: Frontier, records: list[Record]) -> int:
    """Fold `records` (already cut) into `front`, looking up the closed demands they touch."""
    for demand_id, (state, position) in states_before(db, cut.strangers(front, records)).items():
        front.docs[demand_id] = demand_doc(state, position)
    return cut.fold(front, records)


def read_partition(log: EventLog, partition: int, start: int, end: int) -> Iterable[Record]:
    """Records of one partition from `start` up to `end`, leaving the others unread."""
    ends = log.end_offsets()
    begin = {p: (start if p == partition else o) for p, o in ends.items()}
    begin.setdefault(partition, start)
    return log.scan(begin, {partition: end})


# -- the worker -------------------------------------------------------------------------
class Snapshotter:
    """Writes every snapshot that is due: each `every` offsets of each partition, as far as
    the projector has projected (a closed demand is looked up in its projected history)."""

    def __init__(self, log: EventLog, db: Database, *, every: int = EVERY,
                 projection: str = PROJECTION) -> None:
        self.log, self.db, self.every, self.projection = log, db, every, projection
        self.store = SnapshotStore(db)
        self.models = ReadModels(db)
        self._fronts: dict[int, Frontier] = {}  # the state at each partition's last snapshot

    def catch_up(self, progress: Callable[[Mark], None] | None = None,
                 partitions: Iterable[int] | None = None) -> int:
        """Write the snapshots that are due (of `partitions`, default all); returns how many
        were written."""
        done = self.models.checkpoint(self.projection)
        wanted = set(done) if partitions is None else set(partitions) & set(done)
        written = 0
        for partition in sorted(wanted):
            front = self._front(partition)
            at = front.reached.get(partition, 0)
            while at + self.every <= done[partition]:
                records = list(read_partition(self.log, partition, at, at + self.every))
                extend(self.db, front, records)
                front.reached[partition] = at = at + self.every
                front.forget_closed()
                mark = self.store.save(partition, at, front.max_at, front.open_docs())
                written += 1
                if progress:
                    progress(mark)
        return written

    def _front(self, partition: int) -> Frontier:
        front = self._fronts.get(partition)
        mark = self.store.latest(partition)
        if front is not None and mark is not None and \
                front.reached.get(partition) == mark.offset:
            return front
        if mark is None:
            front = Frontier(reached={partition: 0})
        else:
            front = Frontier.from_docs(self.store.load(mark), {partition: mark.offset},
                                       mark.max_at)
        self._fronts[partition] = front
        return front

    def run(self, stop: threading.Event, idle: float = IDLE_SECONDS,
            partitions: Callable[[], Iterable[int] | None] = lambda: None) -> None:
        """Write snapshots as they fall due until `stop`; `partitions` says which (None: all)."""
        while not stop.is_set():
            try:
                if not self.catch_up(partitions=partitions()):
                    stop.wait(idle)
            except Exception:
                logger.exception("writing snapshots failed; retrying")
                self._fronts.clear()
                stop.wait(idle)
