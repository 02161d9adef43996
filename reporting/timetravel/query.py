"""Answering "as of": the nearest snapshot at or before the cut, plus the log's tail after it.

A queue or the escalation board needs every partition: each starts from its nearest snapshot
(or from offset 0) and folds at most the records up to its cut. One demand needs only its own
history, folded up to the cut of its partition. A cut asked by moment is found the same way:
the latest snapshot whose records were all recorded by then, then the tail up to the first
record after it. Only what the projector has projected is answered (closed demands are looked
up in the projected history); the caller waits for a cut beyond that.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pymongo.database import Database

from reporting.history import HISTORY, EventHistory
from reporting.readmodels import ReadModels, demand_doc
from reporting.timetravel import cut
from reporting.timetravel.cut import Frontier
from reporting.timetravel.moments import AsOf, AtMoment, AtPositions
from reporting.timetravel.snapshots import (
    SnapshotStore,
    event_from_history,
    extend,
    read_partition,
)
from services.domain.demand import Demand, apply
from services.eventlog.port import EventLog, Offsets, Position


class NotYet(Exception):
    """The cut reaches beyond what the read models hold (the projector is behind)."""


class OutOfRange(ValueError):
    """The cut names a partition or offset the log does not have."""


@dataclass
class Answer:
    front: Frontier
    cut: Offsets  # per partition, the first offset left out
    snapshots: Offsets = field(default_factory=dict)  # per partition, the snapshot used
    tail: int = 0  # records folded after the snapshots

    def moment(self, at: AsOf) -> str:
        return at.moment if isinstance(at, AtMoment) else self.front.max_at


class TimeTravel:
    def __init__(self, db: Database, log: Callable[[], EventLog], projection: str) -> None:
        self.db, self.log, self.projection = db, log, projection
        self.models = ReadModels(db)
        self.store = SnapshotStore(db)

    def projected(self) -> Offsets:
        return self.models.checkpoint(self.projection)

    def check(self, at: AsOf, partitions: list[int] | None = None) -> None:
        """Raise OutOfRange for a position the log cannot have, NotYet for one the read
        models do not hold yet."""
        if not isinstance(at, AtPositions):
            return
        log = self.log()
        ends = log.end_offsets()
        for p in sorted(at.last):
            if not 0 <= p < log.partitions:
                raise OutOfRange(f"the log has no partition {p} (it has {log.partitions})")
        wanted = partitions if partitions is not None else list(range(log.partitions))
        missing = [p for p in wanted if p not in at.last]
        if missing:
            raise OutOfRange("give a position for every partition of the log; missing: "
                             + ", ".join(str(p) for p in missing))
        for p in wanted:
            if at.last[p] >= ends.get(p, 0):
                raise OutOfRange(f"partition {p} has no offset {at.last[p]} yet "
                                 f"(its last is {ends.get(p, 0) - 1})")
        done = self.projected()
        if any(at.last[p] >= done.get(p, 0) for p in wanted):
            raise NotYet(f"the read models have not yet reached {at.describe()}")

    # -- a whole cut: queues and the board -------------------------------------------------
    def frontier(self, at: AsOf) -> Answer:
        log = self.log()
        self.check(at)
        done = self.projected()
        partitions = list(range(log.partitions))
        limit = {p: at.cut[p] for p in partitions} if isinstance(at, AtPositions) \
            else {p: done.get(p, 0) for p in partitions}
        until = at.moment if isinstance(at, AtMoment) else None
        answer = Answer(Frontier(), dict(limit))
        for p in partitions:
            mark = self.store.nearest(p, below=limit[p], until=until)
            start = 0
            if mark is not None:
                answer.front.docs.update((d["_id"], d) for d in self.store.load(mark))
                answer.front.max_at = max(answer.front.max_at, mark.max_at)
                start = answer.snapshots[p] = mark.offset
            answer.front.reached[p] = start
            records, cuts = cut.take(read_partition(log, p, start, limit[p]),
                                     {p: limit[p]}, until)
            answer.tail += extend(self.db, answer.front, records)
            answer.cut[p] = cuts[p]
        return answer

    # -- one demand --------------------------------------------------------------------------
    def demand(self, demand_id: str, at: AsOf) -> tuple[dict[str, Any] | None, Answer | None]:
        """The demand's stored form as of the cut (None if it did not exist then), or
        (None, None) if the log has no event of it at all."""
        docs = list(EventHistory(self.db[HISTORY]).find({"demand_id": demand_id}))
        if not docs:
            return None, None
        docs.sort(key=lambda d: (d["partition"], d["offset"]))
        p = docs[0]["partition"]
        self.check(at, [p])
        limit = at.cut[p] if isinstance(at, AtPositions) else self._moment_cut(p, at.moment)
        state: Demand | None = None
        last: Position | None = None
        max_at = ""
        for doc in docs:
            if doc["partition"] != p or doc["offset"] >= limit:
                continue
            folded = apply(state, event_from_history(doc))
            if folded is not None:
                state, last = folded, Position(p, doc["offset"])
                max_at = max(max_at, doc["recorded_at"])
        front = Frontier(reached={p: limit}, max_at=max_at)
        answer = Answer(front, {p: limit})
        if state is None or last is None:
            return None, answer
        return demand_doc(state, last), answer

    def _moment_cut(self, p: int, until: str) -> int:
        """Partition p's cut for a moment: before its first record recorded after it."""
        limit = self.projected().get(p, 0)
        mark = self.store.nearest(p, below=limit, until=until)
        start = mark.offset if mark else 0
        _, cuts = cut.take(read_partition(self.log(), p, start, limit), {p: limit}, until)
        return cuts[p]
