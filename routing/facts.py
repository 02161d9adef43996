"""Building routing's facts (ticks, rule sets, office closures) and putting them in the log.

A fact is broadcast: the same event, with one id, to every partition (`EventLog.broadcast`),
so every partition's worker decides on it in order with its own demands. `append_in_order`
writes a mixed history (the demo's) so that each partition sees it in the given order.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from services.domain.context import RoutingContext
from services.domain.rules import RuleSet, document
from services.eventlog.port import EventLog, Position
from services.events import envelope
from services.events.envelope import SYSTEM_ROUTING, Actor, Event, format_time, parse_time
from services.events.families.routing import CLOSURE, HORIZON, ROUTING_STREAM_ID, RULES, TICK
from services.events.ids import derived_id

CLOCK = Actor(role="system", id="clock")
APPEND_CHUNK = 500


def tick(at: datetime, source: str = "clock") -> Event:
    """The clock says it is `at` (a simulated clock chooses `at`)."""
    return envelope.make(TICK, ROUTING_STREAM_ID, {"source": source}, actor=CLOCK,
                         event_id=derived_id(at, "tick"), recorded_at=at)


def rule_set_published(rules: RuleSet, at: datetime, *, actor: Actor,
                       note: str | None = None) -> Event:
    return envelope.make(RULES, ROUTING_STREAM_ID,
                         {"version": rules.version, "rule_set": document(rules), "note": note},
                         actor=actor, event_id=derived_id(at, "rule-set", str(rules.version)),
                         recorded_at=at)


# How long before its horizon a calendar is warned about.
HORIZON_WARNING_DAYS = 365


def horizon_warning(ctx: RoutingContext) -> Event | None:
    """`CalendarHorizonNear` if the stream's time is within a year of the horizon of the
    calendar in force and routing has not said so for this rule set yet; else None."""
    horizon = ctx.rules.calendar.horizon
    if ctx.now is None or horizon is None or ctx.rules.version in ctx.horizon_warned:
        return None
    at = parse_time(ctx.now)
    left = (horizon - at.date()).days
    if left > HORIZON_WARNING_DAYS:
        return None
    return envelope.make(HORIZON, ROUTING_STREAM_ID,
                         {"rule_set_version": ctx.rules.version, "horizon": horizon.isoformat(),
                          "days_left": left}, actor=SYSTEM_ROUTING,
                         event_id=derived_id(at, "horizon", str(ctx.rules.version)),
                         recorded_at=at)


def office_closed(closure_id: str, start: datetime, end: datetime, at: datetime, *,
                  actor: Actor, reason: str, district: int | None = None,
                  kind: str = "other") -> Event:
    payload: dict[str, Any] = {"closure_id": closure_id, "district": district,
                               "start": format_time(start), "end": format_time(end),
                               "kind": kind, "reason": reason}
    return envelope.make(CLOSURE, ROUTING_STREAM_ID, payload, actor=actor,
                         event_id=derived_id(at, "closure", closure_id), recorded_at=at)


def append_in_order(log: EventLog, events: Sequence[Event]) -> list[Position]:
    """Append `events` in order: facts broadcast to every partition, the rest to their
    demand's partition, in chunks."""
    positions: list[Position] = []
    if log.partitions == 1:  # a broadcast is an append: write it all in big chunks
        for i in range(0, len(events), APPEND_CHUNK):
            positions.extend(log.append(events[i:i + APPEND_CHUNK], partition=0))
        return positions
    run: list[Event] = []
    facts: list[Event] = []

    def flush() -> None:
        for i in range(0, len(run), APPEND_CHUNK):
            positions.extend(log.append(run[i:i + APPEND_CHUNK]))
        run.clear()
        if facts:
            positions.extend(log.broadcast(facts))
            facts.clear()

    for event in events:
        if event.is_fact:
            if run:
                flush()
            facts.append(event)
        else:
            if facts:
                flush()
            run.append(event)
    flush()
    return positions
