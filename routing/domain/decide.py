"""Routing's decision function: (demand state, request) -> decisions.

Pure and deterministic: a decision's time is its request's time, and its id is derived from
the request's id, so deciding the same stream twice gives byte-identical events.
"""

from __future__ import annotations

from datetime import timedelta

from routing.domain.rules import PRIORITY_FACTOR, RuleTable
from services.domain.demand import Demand
from services.domain.vocabulary import LEVEL_CODES, ROLE_FOR_LEVEL, Level
from services.events import envelope
from services.events.envelope import SYSTEM_ROUTING, Event, format_time
from services.events.ids import derived_id

# Roles that speak for the requester: they may withdraw or ask to reopen.
REQUESTER_SIDE = ("citizen", "intake_clerk")


def _decision(request: Event, type_: str, payload: dict, n: int = 0) -> Event:
    return envelope.make(
        type_, request.demand_id, payload, actor=SYSTEM_ROUTING,
        event_id=derived_id(request.recorded_at, request.event_id, type_, str(n)),
        recorded_at=request.recorded_at, correlation_id=request.correlation_id,
        causation_id=request.event_id,
    )


def _reject(request: Event, code: str, reason: str) -> list[Event]:
    return [_decision(request, "ActionRejected",
                      {"request_type": request.type, "code": code, "reason": reason})]


def _deadline(request: Event, hours: float) -> str:
    return format_time(request.recorded_at + timedelta(hours=hours))


def _acts_for_level(state: Demand, request: Event) -> str | None:
    """Why the actor may not act on the demand at its current rung, or None if it may."""
    actor = request.actor
    if actor.role in ("administrator", "system"):
        return None
    needed = ROLE_FOR_LEVEL[Level(state.level_index)]
    if actor.role != needed:
        return f"the demand is at level {state.level}; only {needed} may act on it"
    district_bound = needed in ("department_staff", "district_mayor")
    if district_bound and actor.district not in (None, state.district):
        return f"the demand belongs to district {state.district}"
    if needed == "department_staff" and actor.department not in (None, state.department):
        return f"the demand is in the queue of {state.department}"
    return None


def decide(state: Demand | None, request: Event, rules: RuleTable) -> list[Event]:
    """The decisions a request leads to. `state` already includes the request if it is a
    submission (the fold creates the demand), and never includes the request's decisions."""
    if request.is_decision:
        return []
    if state is None:
        return _reject(request, "unknown_demand", "no demand with this id has been submitted")
    if request.event_id in state.decided:
        return []
    handler = _HANDLERS[request.type]
    return handler(state, request, rules)


def _submitted(state: Demand, request: Event, rules: RuleTable) -> list[Event]:
    if state.submitted_event_id != request.event_id:
        return _reject(request, "duplicate_submission", "this demand was already submitted")
    rule = rules.match(state.category, state.district)
    hours = rule.resolve_hours * PRIORITY_FACTOR[state.priority]
    return [_decision(request, "DemandRouted", {
        "department": rule.department, "district": state.district,
        "queue": f"{state.district}/{rule.department}", "deadline": _deadline(request, hours),
        "rule_id": rule.rule_id,
    })]


def _level_action(type_: str, allowed: tuple[str, ...], payload_of):
    def handle(state: Demand, request: Event, rules: RuleTable) -> list[Event]:
        if state.status not in allowed:
            return _reject(request, "not_allowed_in_state",
                           f"{request.type} is not allowed while the demand is {state.status}")
        why = _acts_for_level(state, request)
        if why:
            return _reject(request, "not_your_level", why)
        return [_decision(request, type_, payload_of(request))]
    return handle


def _escalation(state: Demand, request: Event, rules: RuleTable) -> list[Event]:
    if not state.is_open:
        return _reject(request, "not_allowed_in_state",
                       f"{request.type} is not allowed while the demand is {state.status}")
    why = _acts_for_level(state, request)
    if why:
        return _reject(request, "not_your_level", why)
    if state.level_index == len(LEVEL_CODES) - 1:
        return _reject(request, "top_of_ladder", "central management is the top of the ladder")
    to = state.level_index + 1
    return [_decision(request, "DemandEscalated", {
        "from_level": state.level, "to_level": LEVEL_CODES[to],
        "reason": request.payload["reason"], "note": request.payload.get("note"),
        "deadline": _deadline(request, rules.level_hours[to]),
    })]


def _withdrawal(state: Demand, request: Event, rules: RuleTable) -> list[Event]:
    if not state.is_open:
        return _reject(request, "not_allowed_in_state",
                       f"{request.type} is not allowed while the demand is {state.status}")
    if request.actor.role not in REQUESTER_SIDE + ("administrator",):
        return _reject(request, "not_requester", "only the requester's side may withdraw")
    return [_decision(request, "DemandWithdrawn", {"reason": request.payload["reason"]})]


def _reopen(state: Demand, request: Event, rules: RuleTable) -> list[Event]:
    if state.status != "resolved":
        return _reject(request, "not_allowed_in_state",
                       f"only a resolved demand can be reopened; it is {state.status}")
    if request.actor.role not in REQUESTER_SIDE and _acts_for_level(state, request):
        return _reject(request, "not_your_level", _acts_for_level(state, request) or "")
    hours = rules.level_hours[state.level_index] or rules.match(
        state.category, state.district).resolve_hours
    return [_decision(request, "DemandReopened", {
        "reason": request.payload["reason"], "deadline": _deadline(request, hours)})]


_OPEN = ("routed", "acknowledged")
_HANDLERS = {
    "DemandSubmitted": _submitted,
    "AcknowledgementRequested": _level_action("DemandAcknowledged", ("routed",), lambda r: {}),
    "ProgressNoteSubmitted": _level_action(
        "ProgressNoted", _OPEN, lambda r: {"note": r.payload["note"]}),
    "ResolutionReported": _level_action(
        "DemandResolved", _OPEN, lambda r: {"summary": r.payload["summary"]}),
    "RejectionRequested": _level_action(
        "DemandRejected", _OPEN, lambda r: {"reason": r.payload["reason"]}),
    "EscalationRequested": _escalation,
    "WithdrawalRequested": _withdrawal,
    "ReopenRequested": _reopen,
}
