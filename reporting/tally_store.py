"""The `tallies` read model: per partition of the log, the sum of its demands' contributions
(`reporting/tallies.py`), the offset of the last event folded into it, and the stream's time
there (the last `ClockTicked`).

Exactly once, by the same rule as the demand documents: a tally is written before the demand
documents of its batch, and only if its stored position is still the one the batch was folded
from. A demand adds the difference between its contribution after the batch and as the tally
already holds it: as loaded, or after the batch's events at or below the tally's position (a
batch delivered again after a crash between the two writes). So a re-delivered event is never
counted twice, whatever was written before the crash.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pymongo import UpdateOne
from pymongo.collection import Collection
from pymongo.errors import BulkWriteError

from reporting.tallies import add, contribution
from services.domain.demand import Demand

TALLIES = "tallies"
DUPLICATE_KEY = 11000
NOTHING = -1  # the position of a tally nothing was folded into yet
# Above this many changed counters a tally is written whole: SecantusDB applies each dotted
# path of an update on its own (2 writes of a 50k-event replay took 7.3 of its 17.6 s).
FIELD_UPDATES = 64


@dataclass
class Tally:
    partition: int
    position: int = NOTHING
    clock: str | None = None  # the last ClockTicked's time in this partition
    counts: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Tally:
        return cls(int(doc["_id"]), doc["position"], doc.get("clock"), dict(doc["counts"]))


@dataclass
class TallyUpdate:
    """A tally moved on by a batch, not yet written."""

    before: int  # the position the batch was folded from
    tally: Tally  # as it will be
    changed: dict[str, int]  # keys the batch changed, with their new counts (0: gone)


class TallyStore:
    def __init__(self, collection: Collection) -> None:
        self.collection = collection

    def load(self, partitions: Iterable[int]) -> dict[int, Tally]:
        """The tallies of `partitions` as stored (new, empty ones where there are none)."""
        wanted = sorted(set(partitions))
        out = {p: Tally(p) for p in wanted}
        if wanted:
            for doc in self.collection.find({"_id": {"$in": [str(p) for p in wanted]}}):
                out[int(doc["_id"])] = Tally.from_doc(doc)
        return out

    def write(self, updates: Iterable[TallyUpdate]) -> bool:
        """Write each update only where its tally is still at `before`; False if another
        writer moved some on first (the batch is folded again)."""
        ops = []
        for u in updates:
            t = u.tally
            where: dict[str, Any] = {"_id": str(t.partition), "position": u.before}
            change: dict[str, Any] = {"$set": {"position": t.position, "clock": t.clock}}
            if len(u.changed) > FIELD_UPDATES:  # a replay's batch: the counts whole
                change["$set"]["counts"] = t.counts
            else:
                change["$set"].update({f"counts.{k}": n for k, n in u.changed.items() if n})
                gone = {f"counts.{k}": "" for k, n in u.changed.items() if not n}
                if gone:
                    change["$unset"] = gone
            # The first write creates it; a second first write collides on the id.
            ops.append(UpdateOne(where, change, upsert=u.before == NOTHING))
        if not ops:
            return True
        try:
            result = self.collection.bulk_write(ops, ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if errors and all(e.get("code") == DUPLICATE_KEY for e in errors):
                return False
            raise
        return result.matched_count + len(result.upserted_ids) == len(ops)

    def read_all(self) -> list[Tally]:
        return [Tally.from_doc(d) for d in self.collection.find()]

    def positions(self) -> dict[int, tuple[int, str | None]]:
        return {int(d["_id"]): (d["position"], d.get("clock"))
                for d in self.collection.find({}, {"position": 1, "clock": 1})}

    def build_missing(self, demands: Collection, checkpoint: Mapping[int, int],
                      partitions: Iterable[int]) -> list[int]:
        """Tallies for partitions that have none while their demands are stored (read models
        from before tallies existed): summed from the stored demands, at the position before
        the checkpoint (every event below it is in them). Returns the partitions built."""
        built = []
        have = {int(d["_id"]) for d in self.collection.find({}, {"_id": 1})}
        for p in sorted(set(partitions) - have):
            counts: Counter[str] = Counter()
            for doc in demands.find({"position.partition": p}):
                counts.update(contribution(Demand.from_doc(doc)))
            if not counts and p not in checkpoint:
                continue
            tally = Tally(p, checkpoint.get(p, 0) - 1)
            add(tally.counts, counts)
            self.collection.update_one(
                {"_id": str(p)}, {"$setOnInsert": {"position": tally.position, "clock": None,
                                                   "counts": tally.counts}}, upsert=True)
            built.append(p)
        return built


class TallyReader:
    """The tallies a page reads: all partitions summed, read again only when one moved."""

    def __init__(self, store: TallyStore) -> None:
        self.store = store
        self._seen: dict[int, tuple[int, str | None]] | None = None
        self._counts: dict[str, int] = {}
        self._clock: str | None = None

    def current(self) -> tuple[dict[str, int], str | None]:
        """(every partition's counts summed, the stream's time: the latest tick seen)."""
        if self.store.positions() != self._seen:
            tallies = self.store.read_all()
            counts: Counter[str] = Counter()
            for t in tallies:
                counts.update(t.counts)
            clocks = [t.clock for t in tallies if t.clock]
            self._counts, self._clock = dict(counts), max(clocks) if clocks else None
            self._seen = {t.partition: (t.position, t.clock) for t in tallies}
        return self._counts, self._clock
