"""The state of the read models at a cut of the log. Pure.

A cut keeps, per partition, a prefix of the log: every record below `limit[p]`, and, when
asked as of a moment, only up to the first record recorded after it (so a moment is a
position too: the cut falls before the first event of each partition recorded later).

`Frontier` is the state at a cut: every open demand (closed ones are looked up only when a
later event touches them), the position of the last event folded into each, how far each
partition was read, and the latest time seen. It starts empty (offset 0) or from a snapshot
and is extended with `take` (which records fall inside the cut), `strangers` (demands to
look up first) and `fold`, the shared demand fold exactly as the projector applies it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from reporting.readmodels import demand_doc
from services.domain.demand import Demand, apply
from services.eventlog.port import Offsets, Position, Record
from services.events.envelope import Event, from_dict


@dataclass
class Frontier:
    """Demands in their stored form (`docs`, as a snapshot holds them); those an event touched
    are held as folded `Demand` states instead (`states`, `positions`), and turned back into
    the stored form only when shown: the stored form costs more to make than a fold step."""

    docs: dict[str, dict[str, Any]] = field(default_factory=dict)
    states: dict[str, Demand] = field(default_factory=dict)
    positions: dict[str, Position] = field(default_factory=dict)
    reached: Offsets = field(default_factory=dict)  # per partition, the next offset
    max_at: str = ""  # the latest `recorded_at` in the cut ("" when empty)

    @classmethod
    def from_docs(cls, docs: Iterable[dict[str, Any]], reached: Offsets,
                  max_at: str) -> Frontier:
        return cls(docs={d["_id"]: d for d in docs}, reached=dict(reached), max_at=max_at)

    def holds(self, demand_id: str) -> bool:
        return demand_id in self.states or demand_id in self.docs

    def state(self, demand_id: str) -> Demand | None:
        """The demand as a state to fold into (taken out of its stored form if need be)."""
        state = self.states.get(demand_id)
        if state is None and demand_id in self.docs:
            doc = self.docs.pop(demand_id)
            state = self.states[demand_id] = Demand.from_doc(doc)
            pos = doc["position"]
            self.positions[demand_id] = Position(pos["partition"], pos["offset"])
        return state

    def doc(self, demand_id: str) -> dict[str, Any]:
        """The demand's stored form, as the read models would hold it at the cut."""
        if demand_id in self.docs:
            return self.docs[demand_id]
        return demand_doc(self.states[demand_id], self.positions[demand_id])

    def summaries(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """(id, the fields a queue or the board selects and sorts on) for every demand."""
        yield from self.docs.items()
        for demand_id, s in self.states.items():
            yield demand_id, {"open": s.is_open, "escalated": s.level_index > 0,
                              "level_index": s.level_index, "level": s.level,
                              "queue": s.queue, "deadline": s.deadline,
                              "district": s.district, "department": s.department}

    def open_docs(self) -> list[dict[str, Any]]:
        """Every open demand in its stored form (a snapshot's content), by id."""
        return [self.doc(d) for d, v in sorted(self.summaries()) if v["open"]]

    def forget_closed(self) -> None:
        for demand_id, _ in [x for x in self.summaries() if not x[1]["open"]]:
            self.docs.pop(demand_id, None)
            self.states.pop(demand_id, None)
            self.positions.pop(demand_id, None)


def event(record: Record) -> Event:
    """The record's event, decoded once (as `Record.event`, with a faster JSON parser: an
    answer decodes up to a snapshot interval of records)."""
    cached = record.__dict__.get("event")
    if cached is None:
        cached = record.__dict__["event"] = from_dict(orjson.loads(record.raw),
                                                      validate_payload=False)
    return cached


def take(records: Iterable[Record], limit: Offsets,
         until: str | None = None) -> tuple[list[Record], Offsets]:
    """The records inside the cut, in order, and the cut itself (per partition of `limit`,
    the first offset left out). A partition's records stop at `limit[p]` and, if `until` is
    given, at its first record recorded after `until`. Reading stops once every partition
    of `limit` is done."""
    inside: list[Record] = []
    cuts = dict(limit)
    stopped: set[int] = set()
    for record in records:
        p = record.partition
        if p in stopped or p not in limit:
            continue
        if record.offset >= limit[p] or (
                until is not None and event(record).recorded_at_text > until):
            stopped.add(p)
            cuts[p] = min(limit[p], record.offset)
            if stopped >= set(limit):
                break
            continue
        inside.append(record)
    return inside, cuts


def strangers(front: Frontier, records: Iterable[Record]) -> dict[str, Position]:
    """Demands the records touch that the frontier does not hold and that they do not
    submit: closed ones (or never submitted). Each with the position of its first record,
    before which its state has to be looked up."""
    seen: set[str] = set()
    out: dict[str, Position] = {}
    for record in records:
        e = event(record)
        if e.demand_id in seen or front.holds(e.demand_id):
            continue
        seen.add(e.demand_id)
        if e.type != "DemandSubmitted" and not e.is_fact:
            out[e.demand_id] = record.position
    return out


def fold(front: Frontier, records: Iterable[Record]) -> int:
    """Fold the records into the frontier, as the projector does; returns how many."""
    n = 0
    for record in records:
        e = event(record)
        n += 1
        p = record.partition
        front.reached[p] = max(front.reached.get(p, 0), record.offset + 1)
        at = e.recorded_at_text
        if at > front.max_at:
            front.max_at = at
        state = apply(front.state(e.demand_id), e)
        if state is None:
            continue
        front.states[e.demand_id] = state
        front.positions[e.demand_id] = record.position
    return n


# -- what the read API shows -------------------------------------------------------------
def _deadline(doc: dict[str, Any]) -> tuple[int, str]:
    return (0, "") if doc.get("deadline") is None else (1, doc["deadline"])


def queue(front: Frontier, district: int, department: str) -> list[str]:
    """A district department's open demands, oldest deadline first (as `ReadModels.queue`)."""
    name = f"{district}/{department}"
    found = [(_deadline(v), d) for d, v in front.summaries()
             if v["open"] and not v["escalated"] and v["queue"] == name]
    return [d for _, d in sorted(found)]


def board(front: Frontier, district: int | None = None, level: str | None = None,
          department: str | None = None) -> list[str]:
    """Open demands above the department, highest rung first, then oldest deadline (as
    `ReadModels.escalations`; `department`: only those it escalated)."""
    found = [(-v["level_index"], _deadline(v), d) for d, v in front.summaries()
             if v["open"] and v["escalated"]
             and (district is None or v["district"] == district)
             and (department is None or v["department"] == department)
             and (level is None or v["level"] == level)]
    return [d for *_, d in sorted(found)]
