"""Routing's decision function for requests: (demand state, request, context) -> decisions.

Pure and deterministic: a decision's time is its request's time, its id is derived from the
request's id, and the rules and calendar it uses come from the stream (`RoutingContext`), so
deciding the same stream twice gives byte-identical events. Decisions on the stream's facts
(ticks, rule sets, closures) are in `routing.domain.timekeeping`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from routing.domain import merge
from routing.domain.elapsed import elapsed
from routing.domain.scope import out_of_scope
from routing.domain.sla import explain, pause, resume, rule_for, start_clock
from services.domain.context import RoutingContext, as_context
from services.domain.demand import Demand
from services.domain.priority import score as priority_score
from services.domain.rules import TRIAGE_DEPARTMENT, TRIAGE_RULE_ID, RuleSet
from services.domain.vocabulary import LEVEL_CODES, ROLE_FOR_LEVEL, Level, Role
from services.events import envelope
from services.events.envelope import SYSTEM_ROUTING, Event, format_time, parse_time
from services.events.ids import derived_id

# Roles that speak for the requester: they may withdraw, answer, appeal or ask to reopen.
REQUESTER_SIDE = ("citizen", "intake_clerk")
TOP = len(LEVEL_CODES) - 1
# The rungs that may send a demand back down the ladder.
SENDS_BACK = (Level.HEADQUARTERS, Level.CENTRAL_MANAGEMENT)


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


def _not_in_state(request: Event, state: Demand) -> list[Event]:
    return _reject(request, "not_allowed_in_state",
                   f"{request.type} is not allowed while the demand is {state.status}")


def _acts_for_level(state: Demand, request: Event) -> str | None:
    """Why the actor may not act on the demand at its current rung, or None if it may."""
    actor = request.actor
    if actor.role in ("administrator", "system"):
        return None
    needed = ROLE_FOR_LEVEL[Level(state.level_index)]
    if (needed == Role.DEPARTMENT_STAFF and state.department == TRIAGE_DEPARTMENT
            and actor.role == Role.DISTRICT_MAYOR):
        needed = Role.DISTRICT_MAYOR  # the district mayor works the triage desk
    if actor.role != needed:
        return f"the demand is at level {state.level}; only {needed} may act on it"
    district_bound = needed in ("department_staff", "district_mayor")
    if district_bound and actor.district not in (None, state.district):
        return f"the demand belongs to district {state.district}"
    if needed == "department_staff" and actor.department not in (None, state.department):
        return f"the demand is in the queue of {state.department}"
    return None


def decide(state: Demand | None, request: Event,
           rules: RoutingContext | RuleSet) -> list[Event]:
    """The decisions a request leads to. `state` already includes the request if it is a
    submission (the fold creates the demand), and never includes the request's decisions.
    `rules` is the routing context (or, for a fixed rule set without facts, a RuleSet)."""
    if request.is_decision or request.is_fact:
        return []
    if state is None:
        refused = _reject(request, "unknown_demand", "no demand with this id has been submitted")
        if request.type == "MergeOffered" and request.actor == SYSTEM_ROUTING:
            code, reason = "unknown_demand", refused[0].payload["reason"]
            return [*refused, merge.answer(request, False, code, reason)]
        return refused
    if request.event_id in state.decided:
        return []
    handler = _HANDLERS.get(request.type)
    if handler is None:
        return _reject(request, "not_routable", f"routing does not decide {request.type}")
    why = out_of_scope(state, request)
    if why:
        return _reject(request, "out_of_scope", why)
    if state.merging and request.type in merge.BLOCKED_WHILE_MERGING:
        return _reject(request, "merge_pending",
                       f"the demand is being merged into {state.merging['into']}")
    return handler(state, request, as_context(rules))


def _submitted(state: Demand, request: Event, ctx: RoutingContext) -> list[Event]:
    if state.submitted_event_id != request.event_id:
        return _reject(request, "duplicate_submission", "this demand was already submitted")
    rule = rule_for(ctx, state)
    level = _starting_level(request)
    clock = start_clock(ctx, state, level, request.recorded_at_text)
    routed = {
        "department": rule.department, "district": state.district,
        "queue": f"{state.district}/{rule.department}", "deadline": clock["deadline"],
        "ack_deadline": clock["ack_deadline"], "rule_id": rule.rule_id,
        "rule_version": ctx.rules.version, "priority": clock["priority"],
        "triage": rule.rule_id == TRIAGE_RULE_ID, "clock": clock,
        "explanation": explain(ctx, state, clock),
    }
    if level != LEVEL_CODES[0]:
        routed["level"] = level
    return [_decision(request, "DemandRouted", routed)]


def _starting_level(request: Event) -> str:
    """The department, unless headquarters or central management recorded the demand at a
    staff-supervision session at their own rung (intake checks it; so does routing)."""
    level = request.payload.get("level")
    if (level and level == request.actor.role
            and request.payload.get("channel") == "staff_supervision"):
        return level
    return LEVEL_CODES[0]


# Answers that say how long the city took (routing/domain/elapsed.py).
_TIMED = ("DemandAcknowledged", "DemandResolved", "DemandRejected")


def _level_action(type_: str, allowed: tuple[str, ...], payload_of):
    def handle(state: Demand, request: Event, ctx: RoutingContext) -> list[Event]:
        if state.status not in allowed:
            return _not_in_state(request, state)
        why = _acts_for_level(state, request)
        if why:
            return _reject(request, "not_your_level", why)
        payload = payload_of(request)
        if type_ in _TIMED:
            due = state.ack_deadline if type_ == "DemandAcknowledged" else state.deadline
            payload["elapsed"] = elapsed(ctx, state, request.recorded_at_text, due)
        return [_decision(request, type_, payload)]
    return handle


def escalation(ctx: RoutingContext, state: Demand, at: str, *, reason: str,
               note: str | None, trigger: str, reopens: bool = False, to: str | None = None,
               **why: Any) -> dict[str, Any]:
    """The payload of an escalation at `at` (one rung, unless `to` names a higher one), with
    the new rung's clock."""
    to = to or LEVEL_CODES[state.level_index + 1]
    clock = start_clock(ctx, state, to, at)
    return {"from_level": state.level, "to_level": to, "reason": reason, "note": note,
            "deadline": clock["deadline"], "ack_deadline": clock["ack_deadline"],
            "trigger": trigger, "reopens": reopens, "clock": clock,
            "explanation": explain(ctx, state, clock, escalation={
                "reason": reason, "trigger": trigger, "from_level": state.level,
                "to_level": to, "reopens": reopens}, **why)}


def _escalation(state: Demand, request: Event, ctx: RoutingContext) -> list[Event]:
    reason, note = request.payload["reason"], request.payload.get("note")
    if reason == "requester_appeal":
        return _appeal(state, request, ctx)
    if not state.is_open:
        return _not_in_state(request, state)
    why = _acts_for_level(state, request)
    if why:
        return _reject(request, "not_your_level", why)
    if state.level_index == TOP:
        return _reject(request, "top_of_ladder", "central management is the top of the ladder")
    return [_decision(request, "DemandEscalated", escalation(
        ctx, state, request.recorded_at_text, reason=reason, note=note,
        trigger="request"))]


# Who may call a demand up, and to which rung: their own.
CALLS_UP = {Role.DISTRICT_MAYOR: Level.DISTRICT_MAYOR, Role.HEADQUARTERS: Level.HEADQUARTERS,
            Role.CENTRAL_MANAGEMENT: Level.CENTRAL_MANAGEMENT}
# Reasons only the clock or the requester give.
NOT_CALLED_UP_FOR = ("deadline_passed", "requester_appeal")


def _call_up(state: Demand, request: Event, ctx: RoutingContext) -> list[Event]:
    """A higher rung takes an open demand up to itself, past the rungs between: headquarters
    or central management for a macro challenge of a staff-supervision session, the district
    mayor taking over a department's demand."""
    if not state.is_open:
        return _not_in_state(request, state)
    reason = request.payload["reason"]
    if reason in NOT_CALLED_UP_FOR:
        return _reject(request, "not_a_call_up_reason",
                       f"{reason} is given by the clock or the requester, not by a call-up")
    level = CALLS_UP.get(Role(request.actor.role)) if request.actor.role in CALLS_UP else None
    if level is None:
        return _reject(request, "not_your_level", "only the district mayor, headquarters or "
                                                  "central management call a demand up")
    if level <= state.level_index:
        return _reject(request, "not_below", f"the demand is already at {state.level}")
    return [_decision(request, "DemandEscalated", escalation(
        ctx, state, request.recorded_at_text, reason=reason,
        note=request.payload.get("note"), trigger="call_up", to=LEVEL_CODES[level]))]


def _appeal(state: Demand, request: Event, ctx: RoutingContext) -> list[Event]:
    """The requester, unsatisfied with a resolution or a rejection, appeals: the demand reopens
    one rung above the one that closed it. A rejection may be appealed within the rule set's
    window (`RuleSet.appeal_hours` working hours)."""
    if state.status not in ("resolved", "rejected"):
        return _reject(request, "not_allowed_in_state",
                       f"an appeal is against a resolution or a rejection; the demand is "
                       f"{state.status}")
    if request.actor.role not in REQUESTER_SIDE + ("administrator",):
        return _reject(request, "not_requester", "only the requester's side may appeal")
    if state.level_index == TOP:
        return _reject(request, "top_of_ladder", f"central management {state.status} it, the "
                                                 "top of the ladder: ask to reopen instead")
    if state.status == "rejected" and state.closed_at:
        closes = ctx.calendar(state.district).add(parse_time(state.closed_at),
                                                   ctx.rules.appeal_hours)
        if request.recorded_at > closes:
            return _reject(request, "appeal_window_closed",
                           f"a rejection may be appealed until {format_time(closes)}")
    return [_decision(request, "DemandEscalated", escalation(
        ctx, state, request.recorded_at_text, reason="requester_appeal",
        note=request.payload.get("note"), trigger="request", reopens=True))]


def _withdrawal(state: Demand, request: Event, ctx: RoutingContext) -> list[Event]:
    if not state.is_open:
        return _not_in_state(request, state)
    if request.actor.role not in REQUESTER_SIDE + ("administrator",):
        return _reject(request, "not_requester", "only the requester's side may withdraw")
    return [_decision(request, "DemandWithdrawn", {"reason": request.payload["reason"]})]


def _reopen(state: Demand, request: Event, ctx: RoutingContext) -> list[Event]:
    if state.status != "resolved":
        return _reject(request, "not_allowed_in_state",
                       f"only a resolved demand can be reopened; it is {state.status}")
    if request.actor.role not in REQUESTER_SIDE and _acts_for_level(state, request):
        return _reject(request, "not_your_level", _acts_for_level(state, request) or "")
    clock = start_clock(ctx, state, state.level, request.recorded_at_text)
    return [_decision(request, "DemandReopened", {
        "reason": request.payload["reason"], "deadline": clock["deadline"],
        "ack_deadline": clock["ack_deadline"], "clock": clock,
        "explanation": explain(ctx, state, clock)})]


def _requester_info(state: Demand, request: Event, ctx: RoutingContext) -> list[Event]:
    """Ask the requester for more: the SLA clock stops until they answer."""
    if state.status not in _OPEN:
        return _not_in_state(request, state)
    why = _acts_for_level(state, request)
    if why:
        return _reject(request, "not_your_level", why)
    if state.waiting:
        return _reject(request, "already_waiting",
                       f"the demand already waits on its requester since "
                       f"{state.waiting['since']}")
    at = request.recorded_at_text
    clock = state.clock or start_clock(ctx, state, state.level, state.routed_at or at)
    until = ctx.calendar(clock.get("district")).add(request.recorded_at, ctx.rules.wait_hours)
    return [_decision(request, "WaitingOnRequester", {
        "question": request.payload["question"], "since": at, "clock": pause(clock, at),
        "until": format_time(until)})]


def _requester_response(state: Demand, request: Event, ctx: RoutingContext) -> list[Event]:
    if not state.waiting or not state.is_open or state.clock is None:
        return _reject(request, "not_waiting", "the demand is not waiting on its requester")
    if request.actor.role not in REQUESTER_SIDE + ("administrator",):
        return _reject(request, "not_requester", "only the requester's side may answer")
    clock, paused = resume(ctx, state.clock, request.recorded_at_text)
    return [_decision(request, "DemandResumed", {
        "answer": request.payload["answer"], "paused_hours": paused, "clock": clock,
        "explanation": explain(ctx, state, clock)})]


def _send_back(state: Demand, request: Event, ctx: RoutingContext) -> list[Event]:
    """Headquarters (or central management) sends a demand down with instructions."""
    if state.status not in _OPEN:
        return _not_in_state(request, state)
    why = _acts_for_level(state, request)
    if why:
        return _reject(request, "not_your_level", why)
    if state.level_index not in SENDS_BACK:
        return _reject(request, "not_allowed_at_level",
                       "only headquarters or central management sends a demand back down")
    to = request.payload["to_level"]
    if LEVEL_CODES.index(to) >= state.level_index:
        return _reject(request, "not_lower", f"{to} is not below {state.level}")
    clock = start_clock(ctx, state, to, request.recorded_at_text,
                        fixed_hours=request.payload.get("resolve_hours"))
    return [_decision(request, "DemandSentBack", {
        "from_level": state.level, "to_level": to,
        "instructions": request.payload["instructions"], "deadline": clock["deadline"],
        "clock": clock, "explanation": explain(ctx, state, clock, sent_back={
            "from_level": state.level, "to_level": to,
            "instructions": request.payload["instructions"]})})]


def _transfer(state: Demand, request: Event, ctx: RoutingContext) -> list[Event]:
    """The rung holding a demand sends it to another queue (a department, the triage desk, or
    another district's): it starts there at the department rung with the receiving queue's
    own clock, from the rule set in force."""
    if state.status not in _OPEN:
        return _not_in_state(request, state)
    why = _acts_for_level(state, request)
    if why:
        return _reject(request, "not_your_level", why)
    p = request.payload
    to_district = p.get("to_district") or state.district
    to_department = p["to_department"]
    if (to_district, to_department, state.level_index) == (
            state.district, state.department, 0):
        return _reject(request, "same_queue", f"the demand is already in {state.queue}")
    at = request.recorded_at_text
    moved = replace(state, district=to_district, department=to_department,
                    transfers=[*state.transfers, {"to_department": to_department}])
    clock = start_clock(ctx, moved, LEVEL_CODES[0], at)
    transfer = {"from_level": state.level, "from_district": state.district,
                "from_department": state.department, "to_district": to_district,
                "to_department": to_department, "reason": p["reason"], "note": p.get("note")}
    return [_decision(request, "DemandTransferred", {
        **transfer, "queue": f"{to_district}/{to_department}",
        "rule_id": rule_for(ctx, moved).rule_id, "deadline": clock["deadline"],
        "ack_deadline": clock["ack_deadline"], "clock": clock,
        "explanation": explain(ctx, moved, clock, transfer=transfer)})]


def _support(state: Demand, request: Event, ctx: RoutingContext) -> list[Event]:
    """A citizen's support («من شهردارم»): one per person per demand, whoever records it; a
    second one is a visible ActionRejected `already_supported`, so the supporter learns it did
    not count. A support naming no person is anonymous: counted apart, never as a person, and
    never in the score."""
    if not state.is_open:
        return _not_in_state(request, state)
    supporter = _supporter(request)
    if supporter is not None and supporter in state.supporters:
        return _reject(request, "already_supported",
                       f"{supporter} already supports this demand")
    people = len(state.supporters) + (supporter is not None)
    return [_decision(request, "SupportRecorded", {
        "supporter": supporter, "supporters": people,
        "anonymous_supporters": state.anonymous_supporters + (supporter is None),
        "score": priority_score(state.priority, people)})]


def _supporter(request: Event) -> str | None:
    """Who supports: the person the request names (payload version 2), or nobody. A version 1
    request, from a log written before supports were per person, named its supporter by the
    token's subject and a clerk's free reference; it is decided as it was then."""
    if request.version >= 2:
        return request.payload.get("supporter_id")
    behalf = request.payload.get("on_behalf_of")
    return request.actor.id if behalf is None else f"{request.actor.id}/{behalf}"


def _merge(state: Demand, request: Event, ctx: RoutingContext) -> list[Event]:
    """Propose closing a duplicate into another demand: it closes only once the target has
    taken it in (routing/domain/merge.py)."""
    if state.status not in _OPEN:
        return _not_in_state(request, state)
    why = _acts_for_level(state, request)
    if why:
        return _reject(request, "not_your_level", why)
    if request.payload["into"] == state.demand_id:
        return _reject(request, "merge_into_itself", "a demand cannot be merged into itself")
    return [_decision(request, "MergeProposed", merge.proposal(state, request)),
            merge.offer(state, merge.pending_merging(state, request))]


def _absorb(state: Demand, request: Event, ctx: RoutingContext) -> list[Event]:
    """The target decides an offer, and routing answers the duplicate's stream."""
    if request.actor != SYSTEM_ROUTING:
        return _reject(request, "not_routable", "only routing offers a merged demand")
    refused = merge.refusal(state, request)
    if refused:
        code, reason = refused
        return [_decision(request, "MergeRefused", {
                    "from_demand": request.payload["from_demand"], "code": code,
                    "reason": reason}),
                merge.answer(request, False, code, reason)]
    return [_decision(request, "DemandAbsorbed", merge.absorbed(state, request)),
            merge.answer(request, True)]


def _merge_answered(state: Demand, request: Event, ctx: RoutingContext) -> list[Event]:
    """The duplicate learns the target's answer: it closes, or stays as it was."""
    if request.actor != SYSTEM_ROUTING:
        return _reject(request, "not_routable", "only routing answers a merge offer")
    merging = state.merging
    if merging is None or merging["into"] != request.payload["into"] or not state.is_open:
        return _reject(request, "no_merge_pending",
                       f"no merge into {request.payload['into']} is pending")
    if request.type == "MergeDeclined":
        return _reject(request, request.payload["code"], request.payload["reason"])
    return [_decision(request, "DemandMerged", {
        "into": merging["into"], "reason": merging["reason"],
        "supporters": list(state.supporters),
        "anonymous_supporters": state.anonymous_supporters})]


_OPEN = ("routed", "acknowledged")
_HANDLERS = {
    "DemandSubmitted": _submitted,
    "AcknowledgementRequested": _level_action("DemandAcknowledged", ("routed",), lambda r: {}),
    "ProgressNoteSubmitted": _level_action(
        "ProgressNoted", _OPEN, lambda r: {"note": r.payload["note"]}),
    "ResolutionReported": _level_action(
        "DemandResolved", _OPEN, lambda r: {"summary": r.payload["summary"]}),
    "RejectionRequested": _level_action(
        "DemandRejected", _OPEN, lambda r: {"reason": r.payload["reason"],
                                             "code": r.payload.get("code") or "other"}),
    "EscalationRequested": _escalation,
    "WithdrawalRequested": _withdrawal,
    "ReopenRequested": _reopen,
    "RequesterInfoRequested": _requester_info,
    "RequesterResponded": _requester_response,
    "SendBackRequested": _send_back,
    "TransferRequested": _transfer,
    "CallUpRequested": _call_up,
    "SupportRequested": _support,
    "MergeRequested": _merge,
    "MergeOffered": _absorb,
    "MergeAccepted": _merge_answered,
    "MergeDeclined": _merge_answered,
}
