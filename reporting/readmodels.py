"""The MongoDB read models: `demands`, `history` and `checkpoints`.

`demands` holds one document per demand: the shared fold's state (the projector encodes it to
BSON as it folds: `encoded_demand`), the log position of the last event folded into it (so a
re-delivered event is recognised and skipped) and a few derived fields that exist only so the
indexes can answer the questions people ask: a department's queue (open, by deadline),
headquarters' escalation board (open and above the department, highest rung first) and a
newest-first search.

`tallies` holds headquarters' figures as counters, one document per partition
(`reporting/tally_store.py`). `history` holds every event in compact chunks, one per demand
and batch (`reporting/history.py`), read as if it held one document per event.
`checkpoints` holds, per projection, the next offset to read in each partition.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

import bson
from bson.raw_bson import RawBSONDocument
from pymongo import ASCENDING, DESCENDING, InsertOne, ReplaceOne
from pymongo.database import Database
from pymongo.errors import BulkWriteError

from reporting.history import HISTORY, EventHistory
from reporting.tallies import deadline_bound, id_bound, queue_dues, queue_heads
from reporting.tally_store import TALLIES, TallyReader, TallyStore
from services.domain.calendar import from_ms
from services.domain.demand import Demand
from services.domain.priority import score as priority_score
from services.domain.vocabulary import LEVEL_CODES
from services.eventlog.port import Offsets, Position, Record
from services.events.envelope import Event, format_time, now

DEMANDS, CHECKPOINTS = "demands", "checkpoints"
MEETINGS = "meetings"  # written by the projector through reporting/civic.py
COLLECTIONS = (DEMANDS, HISTORY, CHECKPOINTS, MEETINGS, TALLIES)
DUPLICATE_KEY = 11000
# Ids per `$in` when loading demands. SecantusDB's `$in` costs O(ids x matches): 5000 ids in
# one query took 17 s, in chunks of 32 about 0.3 s. Real MongoDB is indifferent to the split.
IN_CHUNK = 32
SEARCH_WINDOW_DAYS = (1, 7, 30, 365, None)
# Demands past the queue's page read beyond the bound the tallies give (`ReadModels.queue`).
QUEUE_MARGIN = 16

_INDEXES: dict[str, list[tuple[str, list[tuple[str, int]]]]] = {
    DEMANDS: [
        # A district department's queue: open demands of "<district>/<department>" not
        # escalated, oldest deadline first; and what a department escalated. SecantusDB
        # scans the whole collection when a filter names a field its index lacks, so every
        # field these queries filter or sort on is in it.
        ("queue_board", [("queue", ASCENDING), ("open", ASCENDING), ("escalated", ASCENDING),
                         ("deadline", ASCENDING), ("_id", ASCENDING)]),
        # Headquarters' escalation board: open and above the department, highest rung first.
        ("escalation_board", [("open", ASCENDING), ("escalated", ASCENDING),
                              ("level_index", DESCENDING), ("deadline", ASCENDING)]),
        ("escalation_board_by_district", [("district", ASCENDING), ("open", ASCENDING),
                                          ("escalated", ASCENDING), ("level_index", DESCENDING),
                                          ("deadline", ASCENDING)]),
        # Newest first, searched in widening windows of time (see `search`); district, status
        # and category filter within the window. Every index costs each write (SecantusDB:
        # about 0.2 ms per document and index), so there is no index per filter.
        ("submitted", [("submitted_at", DESCENDING), ("_id", DESCENDING)]),
        # A district's annual-plan priorities and a meeting's follow-up (reporting/civic.py).
        ("district_priorities", [("district", ASCENDING), ("open", ASCENDING),
                                 ("priority_score", DESCENDING)]),
        ("meeting", [("meeting_id", ASCENDING)]),
    ],
    # Chunks: a demand's (or stream's) in log order, and the chunks holding a request's
    # decisions (`causations`: an entry per cause, not per event). An event is looked up by
    # its id within its demand's chunks; an index on every event id would cost as much again.
    HISTORY: [
        ("demand_log_order", [("demand_id", ASCENDING), ("partition", ASCENDING),
                              ("offset", ASCENDING)]),
        ("chunk_causations", [("causations", ASCENDING)]),
    ],
}
# Indexes an earlier version built, dropped when the projector starts.
_RETIRED_INDEXES: dict[str, set[str]] = {DEMANDS: {"queue_open_deadline"}}


def demand_doc(state: Demand, position: Position) -> dict[str, Any]:
    """The stored form of a demand: its state, where it was folded to, and index fields."""
    return _stored(state.to_doc(), state, position)


def encoded_demand(state: Demand, position: Position) -> RawBSONDocument:
    """`demand_doc` as the bytes the driver sends, encoded straight from the state: the fold
    goes on changing the state, and encoding it at once spares the deep copy a document
    kept as a dict needs (a replay writes one per demand each batch touches)."""
    return RawBSONDocument(bson.encode(_stored(state.fields(), state, position)))


def _stored(doc: dict[str, Any], state: Demand, position: Position) -> dict[str, Any]:
    doc["_id"] = state.demand_id
    doc["position"] = {"partition": position.partition, "offset": position.offset}
    doc["open"] = state.is_open
    doc["level_index"] = state.level_index
    doc["escalated"] = state.level_index > 0
    doc["supporters_count"] = len(state.supporters)  # people; anonymous ones apart
    doc["priority_score"] = priority_score(state.priority, len(state.supporters))
    return doc


def stored_position(doc: dict[str, Any]) -> Position | None:
    pos = doc.get("position")
    return Position(pos["partition"], pos["offset"]) if pos else None



def _only_duplicates(exc: BulkWriteError) -> bool:
    errors = exc.details.get("writeErrors", [])
    return (bool(errors) and all(e.get("code") == DUPLICATE_KEY for e in errors)
            and not exc.details.get("writeConcernErrors"))


class ReadModels:
    """All reads and writes of the reporting collections go through here."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.demands = db[DEMANDS]
        self.history = EventHistory(db[HISTORY])
        self.checkpoints = db[CHECKPOINTS]
        self.tallies = TallyReader(TallyStore(db[TALLIES]))  # headquarters' counters

    # -- lifecycle ------------------------------------------------------------------------
    def ensure_indexes(self) -> None:
        for collection, indexes in _INDEXES.items():
            have = set(self.db[collection].index_information())
            for name in have & _RETIRED_INDEXES.get(collection, set()):
                self.db[collection].drop_index(name)
            for name, keys in indexes:
                self.db[collection].create_index(keys, name=name)

    def drop(self) -> None:
        for name in COLLECTIONS:
            self.db.drop_collection(name)

    # -- projector writes ---------------------------------------------------------------
    def load_demands(self, demand_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        ids = sorted(set(demand_ids))
        found: dict[str, dict[str, Any]] = {}
        for i in range(0, len(ids), IN_CHUNK):
            for doc in self.demands.find({"_id": {"$in": ids[i:i + IN_CHUNK]}}):
                found[doc["_id"]] = doc
        return found

    def write_demands(self, docs: Mapping[str, Mapping[str, Any]],
                      loaded: Mapping[str, Position | None]) -> bool:
        """Write demand documents (by demand id) in one bulk write, each only if it is still
        as it was loaded: a replace where its stored position is still `loaded[id]`, an insert
        (a third as costly) where none was loaded. False if another writer got to some first —
        a projector that lost its partitions in a rebalance and does not know it yet, or the
        new owner — whose documents stay as that writer left them: the caller folds its batch
        again over what is stored now. So a document only ever moves forward in the log."""
        replaces, inserts = [], []
        for demand_id, d in docs.items():
            if demand_id in loaded:
                at = loaded[demand_id]
                where: dict[str, Any] = {"_id": demand_id}
                if at is not None:
                    where.update({"position.partition": at.partition,
                                  "position.offset": at.offset})
                replaces.append(ReplaceOne(where, d))
            else:
                inserts.append(InsertOne(d))
        if not replaces and not inserts:
            return True
        try:
            result = self.demands.bulk_write([*replaces, *inserts], ordered=False)
        except BulkWriteError as exc:
            if not _only_duplicates(exc):
                raise
            return False  # a new one was there after all
        return result.matched_count == len(replaces)

    def write_history(self, pairs: list[tuple[Record, Event]]) -> None:
        """Store the batch's events (log order) in history chunks; a chunk already there (a
        re-delivery) is not an error."""
        self.history.write_records(pairs)

    def advance_checkpoint(self, name: str, offsets: Offsets) -> None:
        """Move the checkpoint forward (never back: `$max`) to `offsets`."""
        if offsets:
            self.checkpoints.update_one(
                {"_id": name},
                {"$max": {f"offsets.{p}": o for p, o in offsets.items()}}, upsert=True)

    def checkpoint(self, name: str) -> Offsets:
        doc = self.checkpoints.find_one({"_id": name}) or {}
        return {int(p): o for p, o in doc.get("offsets", {}).items()}

    # -- queries ------------------------------------------------------------------------
    def demand(self, demand_id: str) -> dict[str, Any] | None:
        return self.demands.find_one({"_id": demand_id})

    def has_demand(self, demand_id: str) -> bool:
        return self.demands.find_one({"_id": demand_id}, {"_id": 1}) is not None

    def demand_history(self, demand_id: str) -> list[dict[str, Any]]:
        return list(self.history.find({"demand_id": demand_id})
                    .sort([("partition", ASCENDING), ("offset", ASCENDING)]))

    @staticmethod
    def _queue_filter(district: int, department: str) -> dict[str, Any]:
        # Escalated demands have left the department's hands: they are on the board instead.
        return {"queue": f"{district}/{department}", "open": True, "escalated": False}

    def queue_page(self, district: int, department: str, limit: int
                   ) -> tuple[list[dict[str, Any]], int]:
        """A queue's first `limit` demands (those waiting on their requester, with no
        deadline, first; then by deadline) and how many it holds, from one reading of the
        tallies. SecantusDB reads every index entry in range before it applies a limit, so a
        backlog of thousands would cost a read of each on every view: the tallies count when
        each open demand of the queue falls due, so they give the queue's size and the
        deadline by which the first `limit` fall due, and only that range is read (with a
        margin, as the tallies are written a moment before the demands); of the demands due
        at that deadline itself, only the ids of the earliest seconds that hold enough."""
        where = self._queue_filter(district, department)

        def first(query: dict[str, Any], n: int) -> list[dict[str, Any]]:
            # limit(0) is no limit at all in MongoDB: a count alone reads no page
            return list(self.demands.find(query).sort(order).limit(n)) if n > 0 else []

        order = [("deadline", ASCENDING), ("_id", ASCENDING)]
        waiting = first({**where, "deadline": None}, limit)
        waiting_total = (len(waiting) if len(waiting) < limit else
                         self.demands.count_documents({**where, "deadline": None}))
        counts, _ = self.tallies.current()
        if not counts:  # no tallies yet: the demands themselves, unbounded
            return first(where, limit), self.demands.count_documents(where)
        dues = queue_dues(counts, district, department)
        dated_total = sum(n for _, n in dues)
        wanted = limit - len(waiting)
        if wanted <= 0 or not dues:
            return waiting, waiting_total + dated_total
        bound = deadline_bound(dues, wanted + QUEUE_MARGIN)
        assert bound is not None  # there are dues
        last = format_time(from_ms(bound))
        rest = first({**where, "deadline": {"$gt": "", "$lt": last}}, wanted)
        if len(rest) < wanted:
            # Those due at `bound` itself, by id: a working day's demands often share one
            # deadline, so only the earliest seconds' ids that hold enough are read.
            at_bound: dict[str, Any] = {**where, "deadline": last}
            need = wanted - len(rest)
            above = id_bound(queue_heads(counts, district, department, bound),
                             need + QUEUE_MARGIN)
            if above is not None:
                at_bound["_id"] = {"$lt": above}
            rest += first(at_bound, need)
        if len(rest) < min(wanted, dated_total):  # more were written since: read on
            rest = first({**where, "deadline": {"$gt": ""}}, wanted)
        return waiting + rest, waiting_total + dated_total

    def queue(self, district: int, department: str, limit: int) -> list[dict[str, Any]]:
        return self.queue_page(district, department, limit)[0]

    def queue_size(self, district: int, department: str) -> int:
        """Open demands in the queue (`queue_page`'s count, without the page)."""
        return self.queue_page(district, department, 0)[1]

    def escalations(self, district: int | None, level: str | None,
                    limit: int, department: str | None = None) -> list[dict[str, Any]]:
        """Open demands above the department, highest rung first, then oldest deadline.
        Each filter is said in fields of an index (`_INDEXES`): a rung by its index, a
        district's department by its queue."""
        query: dict[str, Any] = {"open": True, "escalated": True}
        if district is not None and department is not None:
            query["queue"] = f"{district}/{department}"
        elif district is not None:
            query["district"] = district
        elif department is not None:
            query["department"] = department
        if level is not None:
            query["level_index"] = LEVEL_CODES.index(level)
        return list(self.demands.find(query).sort(
            [("level_index", DESCENDING), ("deadline", ASCENDING), ("_id", ASCENDING)])
            .limit(limit))

    def search(self, *, district: int | None, status: str | None, category: str | None,
               limit: int, department: str | None = None) -> list[dict[str, Any]]:
        """The newest `limit` matching demands. SecantusDB reads every index entry in range
        before applying a limit, so the last day is searched first, then wider windows: the
        newest matches of a window are the newest overall once it holds `limit` of them."""
        query: dict[str, Any] = {}
        for key, value in (("district", district), ("status", status), ("category", category),
                           ("department", department)):
            if value is not None:
                query[key] = value
        newest_first = [("submitted_at", DESCENDING), ("_id", DESCENDING)]
        moment = now()
        for days in SEARCH_WINDOW_DAYS:
            window = dict(query)
            if days is not None:
                window["submitted_at"] = {"$gte": format_time(moment - timedelta(days=days))}
            docs = list(self.demands.find(window).sort(newest_first).limit(limit))
            if len(docs) >= limit or days is None:
                return docs
        return []

    def is_decided(self, demand_id: str, request_id: str) -> bool:
        """Whether routing's decision on a request has been projected: the demand lists it
        as decided, or (a rejection of an unknown demand has no demand) history holds an
        event it caused."""
        doc = self.demands.find_one({"_id": demand_id}, {"decided": 1})
        if doc is not None and request_id in doc.get("decided", []):
            return True
        return self.history.find_one({"causation_id": request_id}, {"_id": 1}) is not None
