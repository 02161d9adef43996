"""Routing's decisions on the stream's facts: time passing, rules and the calendar changing.

- `ClockTicked`: for each open demand, a deadline that passed escalates it one rung (reason
  `deadline_passed`; at the top, a `DeadlineWarning` that it was missed), and a deadline that
  draws near gets one `DeadlineWarning` first. At most one decision per demand and tick: a
  demand whose next rung's deadline has passed too escalates again at the next tick.
- `RuleSetPublished`, `OfficeClosed`: every open demand's clock is rebuilt under the rules and
  calendar now in force; where its deadlines change, a `DeadlineRecomputed` records before and
  after. The past is not rewritten: an escalation already made stands.

A decision on a fact takes the fact's time, and its id is derived from the fact's id and the
demand's, so replaying the stream repeats it exactly.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from routing.domain.decide import TOP, escalation
from routing.domain.sla import calendar_of, deadlines, explain, rebuilt, resume, rule_for
from services.domain.context import RoutingContext, is_routing_fact
from services.domain.demand import Demand
from services.events import envelope
from services.events.envelope import SYSTEM_ROUTING, Event, parse_time
from services.events.families.routing import CLOSURE, RULES, TICK
from services.events.ids import derived_id


def on_fact(ctx: RoutingContext, demands: Iterable[Demand], fact: Event) -> list[Event]:
    """Take the fact into `ctx`, then decide for each open demand what it calls for."""
    if not is_routing_fact(fact) or not ctx.absorb(fact):
        return []
    return decide_fact(ctx, demands, fact)


def decide_fact(ctx: RoutingContext, demands: Iterable[Demand], fact: Event) -> list[Event]:
    """What a fact `ctx` has already taken in calls for on each open demand."""
    decide = on_tick if fact.type == TICK else recompute
    return [d for state in demands if state.is_open for d in decide(ctx, state, fact)]


def _decision(fact: Event, state: Demand, type_: str, payload: dict[str, Any]) -> Event:
    return envelope.make(
        type_, state.demand_id, payload, actor=SYSTEM_ROUTING,
        event_id=derived_id(fact.recorded_at, fact.event_id, state.demand_id, type_),
        recorded_at=fact.recorded_at, correlation_id=state.correlation_id,
        causation_id=fact.event_id)


def _warned(state: Demand, kind: str, deadline: str, stage: str) -> bool:
    return any(w["kind"] == kind and w["deadline"] == deadline and w["stage"] == stage
               for w in state.warnings)


def _due(state: Demand) -> list[tuple[str, str, str | None]]:
    """(kind, deadline, warn at) of the deadlines that still bind the demand."""
    clock = state.clock
    if clock is None:  # decided before clocks existed: its deadline to resolve only
        return [("resolve", state.deadline, None)] if state.deadline else []
    out = []
    if state.status == "routed" and clock["ack_deadline"]:
        out.append(("acknowledge", clock["ack_deadline"], clock["ack_warn_at"]))
    if clock["deadline"]:
        out.append(("resolve", clock["deadline"], clock["warn_at"]))
    return out


def on_tick(ctx: RoutingContext, state: Demand, tick: Event) -> list[Event]:
    now = ctx.now or ""
    if state.waiting:
        # The clock is stopped while the requester is asked, for a bounded time: once the
        # wait runs out, it runs again without the answer (nothing is parked for ever).
        until = state.waiting.get("until")
        if until and now >= until and state.clock is not None:
            clock, paused = resume(ctx, state.clock, until)
            return [_decision(tick, state, "WaitExpired", {
                "since": state.waiting["since"], "until": until, "paused_hours": paused,
                "clock": clock})]
        return []
    due = _due(state)
    for kind, deadline, _ in due:
        if now >= deadline:
            if state.level_index == TOP and _warned(state, kind, deadline, "missed"):
                continue  # recorded already: the next deadline still binds
            return _passed(ctx, state, tick, kind, deadline)
    for kind, deadline, warn_at in due:
        if (warn_at and warn_at <= now < deadline
                and not _warned(state, kind, deadline, "approaching")):
            left = _working_hours(ctx, state, now, deadline)
            return [_decision(tick, state, "DeadlineWarning", {
                "level": state.level, "kind": kind, "stage": "approaching",
                "deadline": deadline, "working_hours_left": left})]
    return []


def _working_hours(ctx: RoutingContext, state: Demand, start: str, end: str) -> float:
    cal = (calendar_of(ctx, state.clock) if state.clock
           else ctx.calendar(ctx.district_for(state.level, state.district)))
    return round(cal.between(parse_time(start), parse_time(end)), 6)


def _passed(ctx: RoutingContext, state: Demand, tick: Event, kind: str,
            deadline: str) -> list[Event]:
    now = ctx.now or ""
    if state.level_index < TOP:
        # Facts only (codes, UTC times, hours): pages say it in words, in the reader's
        # language and calendar, from `deadline_passed`.
        started = state.clock["started"] if state.clock else state.routed_at or deadline
        return [_decision(tick, state, "DemandEscalated", escalation(
            ctx, state, now, reason="deadline_passed", trigger="deadline", note=None,
            deadline_passed={"kind": kind, "deadline": deadline, "level": state.level,
                             "working_hours_counted": _working_hours(ctx, state, started, now)}
        ))]
    return [_decision(tick, state, "DeadlineWarning", {
        "level": state.level, "kind": kind, "stage": "missed", "deadline": deadline,
        "working_hours_left": 0.0})]


def _cause(fact: Event) -> dict[str, Any]:
    cause: dict[str, Any] = {"type": fact.type, "event_id": fact.event_id}
    if fact.type == RULES:
        cause["version"] = fact.payload["version"]
    elif fact.type == CLOSURE:
        cause.update({k: fact.payload.get(k) for k in
                      ("closure_id", "district", "start", "end", "kind", "reason")})
    return cause


def recompute(ctx: RoutingContext, state: Demand, fact: Event) -> list[Event]:
    if state.clock is None:
        return []
    new = rebuilt(ctx, state, state.clock)
    before, after = deadlines(state.clock), deadlines(new)
    keys = [k for k in before if k not in ("rule_version", "calendar")]
    if all(before[k] == after[k] for k in keys):
        return []
    stays = None
    rule = rule_for(ctx, state)
    if state.level == "department" and rule.department != state.department:
        # The new rules would route it elsewhere; it stays in its queue (a transfer moves it).
        stays = {"rule_id": rule.rule_id, "rule_version": ctx.rules.version,
                 "would_route_to": rule.department, "stays_in": state.department}
    return [_decision(fact, state, "DeadlineRecomputed", {
        "cause": _cause(fact), "before": before, "after": after, "clock": new,
        "explanation": explain(ctx, state, new, recomputed_because=_cause(fact),
                               stays_in_queue=stays)})]

