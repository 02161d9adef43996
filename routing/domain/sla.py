"""A demand's SLA clock at one rung of the ladder, and the deadlines it gives.

A clock starts when a demand reaches a rung (routed, escalated, sent back, reopened). It records
the SLA policy's working hours (scaled by priority), the rule and rule-set version they came
from, and its pauses while the demand waits on the requester. The deadlines are a pure function
of the clock and the calendar (`with_deadlines`), so recomputing them after the calendar or the
rules change gives exactly what routing the history afresh would have given.
"""

from __future__ import annotations

from typing import Any

from services.domain.calendar import MS_PER_HOUR, Span, WorkingCalendar, from_ms, hours_to_ms, to_ms
from services.domain.context import RoutingContext
from services.domain.demand import Demand
from services.domain.rules import TRIAGE_RULE_ID, Inputs, Rule
from services.events.envelope import format_time, parse_time

Clock = dict[str, Any]
DEADLINE_FIELDS = ("ack_deadline", "ack_warn_at", "deadline", "warn_at")


def inputs_of(state: Demand) -> Inputs:
    return Inputs(state.category, state.district, state.requester.get("kind"), state.channel,
                  state.priority)


def rule_for(ctx: RoutingContext, state: Demand) -> Rule:
    """The rule the demand's clocks run under: the one its inputs match or, once transferred,
    the receiving department's (`RuleSet.for_department`)."""
    i = inputs_of(state)
    if state.transfers and state.department is not None:
        return ctx.rules.for_department(state.department, i)
    return ctx.rules.match(i.category, i.district, i.requester_kind, i.channel)


def start_clock(ctx: RoutingContext, state: Demand, level: str, at: str, *,
                fixed_hours: float | None = None, pauses: list | None = None) -> Clock:
    """A clock for `level` counting from `at`, under the rule set in force."""
    rules = ctx.rules
    rule = rule_for(ctx, state)
    name = rules.policy_name(level, rule)
    policy = rules.policies[name]
    priority = rules.effective_priority(state.priority, rule)
    factor = rules.priority_factor[priority]
    clock: Clock = {
        "level": level, "policy": name, "priority": priority, "factor": factor, "started": at,
        "ack_hours": round(policy.acknowledge_hours * factor, 6),
        "resolve_hours": fixed_hours or round(policy.resolve_hours * factor, 6),
        "warn_hours": round(policy.warn_hours * factor, 6), "fixed_hours": fixed_hours,
        "pauses": [list(p) for p in pauses or []], "rule_id": rule.rule_id,
        "rule_version": rules.version, "calendar": rules.calendar.name,
        "district": ctx.district_for(level, state.district),
    }
    return with_deadlines(ctx, clock)


def rebuilt(ctx: RoutingContext, state: Demand, clock: Clock) -> Clock:
    """The same clock (rung, start, pauses, fixed hours) under the rules and calendar in force."""
    return start_clock(ctx, state, clock["level"], clock["started"],
                       fixed_hours=clock.get("fixed_hours"), pauses=clock.get("pauses"))


def _pause_spans(clock: Clock) -> list[Span] | None:
    """The pauses in milliseconds; None while one is still open (the clock is stopped)."""
    spans: list[Span] = []
    for start, end in clock.get("pauses") or []:
        if end is None:
            return None
        spans.append((to_ms(parse_time(start)), to_ms(parse_time(end))))
    return spans


def calendar_of(ctx: RoutingContext, clock: Clock) -> WorkingCalendar:
    return ctx.calendar(clock.get("district"))


def with_deadlines(ctx: RoutingContext, clock: Clock) -> Clock:
    """The clock with its deadlines and warning moments computed (all None while paused)."""
    out = dict(clock)
    pauses = _pause_spans(clock)
    if pauses is None:
        return out | dict.fromkeys(DEADLINE_FIELDS)
    ack, resolve = hours_to_ms(clock["ack_hours"]), hours_to_ms(clock["resolve_hours"])
    warn = hours_to_ms(clock["warn_hours"])
    durations = [ack, resolve]
    if warn > 0:
        durations += [ack - min(warn, ack // 2), resolve - min(warn, resolve // 2)]
    start = to_ms(parse_time(clock["started"]))
    found = [format_time(from_ms(ms)) for ms in
             calendar_of(ctx, clock).add_many_ms(start, durations, pauses)]
    out["ack_deadline"], out["deadline"] = found[0], found[1]
    out["ack_warn_at"], out["warn_at"] = (found[2], found[3]) if warn > 0 else (None, None)
    return out


def pause(clock: Clock, since: str) -> Clock:
    return clock | {"pauses": [*clock.get("pauses", []), [since, None]]} | \
        dict.fromkeys(DEADLINE_FIELDS)


def resume(ctx: RoutingContext, clock: Clock, at: str) -> tuple[Clock, float]:
    """The clock running again from `at`, and the working hours the pause lasted."""
    pauses = [list(p) for p in clock.get("pauses", [])]
    since = pauses[-1][0]
    pauses[-1][1] = at
    paused = calendar_of(ctx, clock).between(parse_time(since), parse_time(at))
    return with_deadlines(ctx, clock | {"pauses": pauses}), round(paused, 6)


def paused_hours(ctx: RoutingContext, clock: Clock) -> float:
    spans = _pause_spans(clock) or []
    cal = calendar_of(ctx, clock)
    return round(sum(cal.between_ms(a, b) for a, b in spans) / MS_PER_HOUR, 6)


def deadlines(clock: Clock) -> dict[str, Any]:
    """What a recomputation compares: the deadlines and what they were computed from."""
    return {k: clock.get(k) for k in (*DEADLINE_FIELDS, "policy", "ack_hours", "resolve_hours",
                                      "rule_id", "rule_version", "calendar")}


def explain(ctx: RoutingContext, state: Demand, clock: Clock, **why: Any) -> dict[str, Any]:
    """Why these deadlines: the rule and its inputs, the SLA policy, the calendar, the hours."""
    rules = ctx.rules
    rule = rule_for(ctx, state)
    policy = rules.policies[clock["policy"]]
    out: dict[str, Any] = {
        "rule": {"rule_id": rule.rule_id, "version": rules.version,
                 "conditions": rule.conditions(), "department": rule.department,
                 "priority_floor": rule.priority, "triage": rule.rule_id == TRIAGE_RULE_ID,
                 "inputs": inputs_of(state).to_dict()},
        "sla": {"policy": clock["policy"], "level": clock["level"],
                "acknowledge_hours": policy.acknowledge_hours,
                "resolve_hours": policy.resolve_hours, "warn_hours": policy.warn_hours,
                "priority": clock["priority"], "factor": clock["factor"],
                "fixed_hours": clock.get("fixed_hours")},
        "calendar": calendar_of(ctx, clock).describe(),
        "counted_from": clock["started"],
        "working_hours": {"acknowledge": clock["ack_hours"], "resolve": clock["resolve_hours"],
                          "paused": paused_hours(ctx, clock)},
        "deadlines": {"acknowledge": clock["ack_deadline"], "resolve": clock["deadline"]},
    }
    if rule.rule_id == TRIAGE_RULE_ID:
        # A code, not a sentence: the pages say it in the reader's language.
        out["rule"]["why"] = "no_rule_matched"
    out.update({k: v for k, v in why.items() if v is not None})
    return out
