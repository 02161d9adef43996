"""A demand's state as a left fold over its events.

Routing folds to decide; reporting folds to build read models: both use this one function, so
what routing decided on is exactly what reporting shows. Only *decisions* change state; a
request (DemandSubmitted aside) waits for routing's verdict. A decision whose cause was already
decided is a duplicate (a replayed append, a rebalance) and is ignored, which makes every
consumer idempotent without coordination.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from services.domain.vocabulary import CLOSED_STATUSES, LEVEL_CODES
from services.events.envelope import Event


@dataclass
class Demand:
    demand_id: str
    submitted_event_id: str
    submitted_at: str
    requester: dict[str, Any]
    channel: str
    district: int
    neighbourhood: str
    category: str
    title: str
    description: str
    priority: str
    meeting_id: str | None = None
    location: dict[str, Any] | None = None  # lat, long, address: when the requester said
    correlation_id: str = ""
    # Who recorded the submission (role, id, district): a citizen's own requests are judged
    # against it (routing/domain/scope.py).
    submitted_by: dict[str, Any] | None = None
    status: str = "submitted"
    level: str = "department"
    department: str | None = None
    queue: str | None = None
    deadline: str | None = None
    rule_id: str | None = None
    routed_at: str | None = None
    acknowledged_at: str | None = None
    resolved_at: str | None = None
    closed_at: str | None = None
    resolution: str | None = None
    closing_reason: str | None = None
    rejection_code: str | None = None  # why a rejection, as a code (REJECTION_CODES)
    escalations: list[dict[str, Any]] = field(default_factory=list)
    # The SLA clock of the current rung (services/events/families/routing.py, ClockSchema):
    # what the deadlines come from. `deadline` is the time to resolve; both deadlines are None
    # while the demand waits on its requester (the clock is paused).
    ack_deadline: str | None = None
    rule_version: int | None = None
    clock: dict[str, Any] | None = None
    waiting: dict[str, Any] | None = None
    waited: list[list[str]] = field(default_factory=list)  # [since, until] of each wait ended
    # The first answer of any rung (acknowledged, resolved or rejected) and the resolution,
    # each as routing measured it: {"at", "working_hours", "waited_working_hours"}.
    first_response: dict[str, Any] | None = None
    resolution_time: dict[str, Any] | None = None
    # Each rung's answer and whether it kept its deadline: {"level", "kind", "kept", "at"}.
    answers: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    sent_back: list[dict[str, Any]] = field(default_factory=list)
    # Every transfer to another queue: from and to (district, department), why, when.
    transfers: list[dict[str, Any]] = field(default_factory=list)
    recomputed: int = 0
    notes: int = 0
    reopened: int = 0
    rejected_actions: int = 0
    # Citizens' supports («من شهردارم»), one per person (the key store's id of a person; in
    # logs before supports were per person, a token subject): the priority score comes from
    # them (services/domain/priority.py). Supports naming nobody are counted apart.
    supporters: list[str] = field(default_factory=list)
    anonymous_supporters: int = 0
    # A duplicate merged into another demand points to it; the target lists what it took in.
    merged_into: str | None = None
    merged_from: list[str] = field(default_factory=list)
    # A merge proposed and not yet answered by its target (routing/domain/merge.py): into,
    # reason, the request it answers, its time and who asked. The duplicate stays open till then.
    merging: dict[str, Any] | None = None
    # The target's answers to the merge offers it decided, by offer id, so a copy of an offer
    # that arrives again is answered the same way.
    merge_answers: dict[str, dict[str, Any]] = field(default_factory=dict)
    last_event_at: str = ""
    events: int = 0
    # The fold's idempotency memory: requests that already have their decision, and requests
    # seen but not yet decided. A request or decision folded twice changes nothing.
    decided: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)

    @property
    def is_open(self) -> bool:
        return self.status not in CLOSED_STATUSES

    @property
    def level_index(self) -> int:
        return LEVEL_CODES.index(self.level)

    def to_doc(self) -> dict[str, Any]:
        """The state as plain data, sharing nothing with it (the fold goes on mutating its
        lists). What `dataclasses.asdict` gives, at a third of its cost: a replay writes a
        document for every demand each batch touches."""
        return {name: _plain(getattr(self, name)) for name in _FIELDS}

    def fields(self) -> dict[str, Any]:
        """The state as a dict that shares its lists and dicts: for encoding at once."""
        return {name: getattr(self, name) for name in _FIELDS}

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Demand:
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in doc.items() if k in names})


_FIELDS = tuple(f.name for f in fields(Demand))
_NESTED = (dict, list)


def _plain(value: Any) -> Any:
    """A copy of JSON-like data: dicts and lists copied all the way down, the rest shared
    (strings, numbers and None do not change)."""
    if isinstance(value, dict):
        return {k: _plain(v) if isinstance(v, _NESTED) else v for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) if isinstance(v, _NESTED) else v for v in value]
    return value


def apply(state: Demand | None, event: Event) -> Demand | None:
    """Fold one event into a demand's state (mutating and returning it)."""
    if event.is_fact:
        return state  # a fact about the stream (a seal) belongs to no demand
    if event.type == "DemandSubmitted":
        if state is not None:
            return state  # a retried or duplicated submission names the same demand
        p = event.payload
        state = Demand(
            demand_id=event.demand_id, submitted_event_id=event.event_id,
            submitted_at=event.recorded_at_text, requester=dict(p["requester"]),
            channel=p["channel"], district=p["district"], neighbourhood=p["neighbourhood"],
            category=p["category"], title=p["title"], description=p["description"],
            priority=p["priority"], meeting_id=p.get("meeting_id"), location=p.get("location"),
            correlation_id=event.correlation_id, pending=[event.event_id],
            submitted_by={"role": event.actor.role, "id": event.actor.id,
                          "district": event.actor.district},
        )
    elif state is None:
        return None
    elif event.is_decision:
        if event.causation_id in state.decided or is_unknown_demand(event):
            return state
        cause = event.causation_id or event.event_id
        state.decided.append(cause)
        if cause in state.pending:
            state.pending.remove(cause)
        was_waiting = state.waiting
        _DECISIONS[event.type](state, event)
        if was_waiting is not None and state.waiting is None:
            state.waited.append([was_waiting["since"], _at(event)])
    elif event.event_id in state.pending or event.event_id in state.decided:
        return state  # the same request stored twice (an append retried after a timeout)
    else:
        state.pending.append(event.event_id)
    state.events += 1
    state.last_event_at = event.recorded_at_text
    return state


def is_unknown_demand(event: Event) -> bool:
    """A rejection of a request made before its demand existed. It never changes the demand,
    even when a copy of it lands after the submission (a retried append)."""
    return event.type == "ActionRejected" and event.payload.get("code") == "unknown_demand"


def _at(event: Event) -> str:
    return event.recorded_at_text


def _routed(s: Demand, e: Event) -> None:
    p = e.payload
    s.status, s.level = "routed", p.get("level") or "department"
    s.department, s.queue = p["department"], p["queue"]
    s.deadline, s.rule_id = p["deadline"], p["rule_id"]
    s.routed_at = _at(e)
    _set_clock(s, p)


def _set_clock(s: Demand, p: dict[str, Any]) -> None:
    """Take a decision's level clock (payload version 2 on); version 1 had a deadline only."""
    clock = p.get("clock")
    if clock is None:
        return
    s.clock = clock
    s.deadline, s.ack_deadline = clock["deadline"], clock["ack_deadline"]
    s.rule_version = clock["rule_version"]


def _answered_at(s: Demand, e: Event) -> dict[str, Any] | None:
    """When a rung answered and how long that took, as routing measured it (None in
    decisions made before routing measured it)."""
    elapsed = e.payload.get("elapsed")
    return None if elapsed is None else {"at": _at(e), **elapsed}


def _first_response(s: Demand, e: Event) -> None:
    if s.first_response is None:
        s.first_response = _answered_at(s, e) or {"at": _at(e)}
    elapsed = e.payload.get("elapsed") or {}
    if "kept" in elapsed:
        kind = "acknowledge" if e.type == "DemandAcknowledged" else "resolve"
        s.answers.append({"level": elapsed["level"], "kind": kind, "kept": elapsed["kept"],
                          "at": _at(e)})


def _acknowledged(s: Demand, e: Event) -> None:
    s.status, s.acknowledged_at = "acknowledged", _at(e)
    _first_response(s, e)


def _noted(s: Demand, e: Event) -> None:
    s.notes += 1


def _resolved(s: Demand, e: Event) -> None:
    s.status, s.resolved_at, s.closed_at = "resolved", _at(e), _at(e)
    s.resolution, s.waiting = e.payload["summary"], None
    _first_response(s, e)
    s.resolution_time = _answered_at(s, e)


def _escalated(s: Demand, e: Event) -> None:
    p = e.payload
    s.level, s.deadline, s.status = p["to_level"], p["deadline"], "routed"
    s.escalations.append({"from": p["from_level"], "to": p["to_level"], "reason": p["reason"],
                          "note": p.get("note"), "at": _at(e),
                          "trigger": p.get("trigger", "request")})
    _set_clock(s, p)
    s.waiting = None
    if p.get("reopens"):  # a requester's appeal against the resolution or rejection
        s.reopened += 1
        s.resolved_at = s.closed_at = s.resolution = s.closing_reason = None
        s.resolution_time = None


def _transferred(s: Demand, e: Event) -> None:
    p = e.payload
    s.transfers.append({"from_district": p["from_district"],
                        "from_department": p["from_department"],
                        "from_level": p["from_level"], "to_district": p["to_district"],
                        "to_department": p["to_department"], "reason": p["reason"],
                        "note": p.get("note"), "at": _at(e)})
    s.district, s.department, s.queue = p["to_district"], p["to_department"], p["queue"]
    s.level, s.status, s.waiting, s.rule_id = "department", "routed", None, p["rule_id"]
    s.acknowledged_at = None
    _set_clock(s, p)


def _rejected(s: Demand, e: Event) -> None:
    _closed("rejected")(s, e)
    s.rejection_code = e.payload.get("code")
    _first_response(s, e)


def _closed(status: str):
    def close(s: Demand, e: Event) -> None:
        s.status, s.closed_at, s.closing_reason = status, _at(e), e.payload["reason"]
        s.waiting = None
    return close


def _reopened(s: Demand, e: Event) -> None:
    s.status, s.deadline, s.reopened = "routed", e.payload["deadline"], s.reopened + 1
    s.resolved_at = s.closed_at = s.resolution = None
    s.resolution_time = None
    _set_clock(s, e.payload)
    s.waiting = None


def _waiting(s: Demand, e: Event) -> None:
    s.waiting = {"question": e.payload["question"], "since": e.payload["since"]}
    if e.payload.get("until"):
        s.waiting["until"] = e.payload["until"]
    _set_clock(s, e.payload)


def _resumed(s: Demand, e: Event) -> None:
    s.waiting = None
    _set_clock(s, e.payload)


def _sent_back(s: Demand, e: Event) -> None:
    p = e.payload
    s.level, s.status, s.waiting = p["to_level"], "routed", None
    s.sent_back.append({"from": p["from_level"], "to": p["to_level"],
                        "instructions": p["instructions"], "at": _at(e)})
    _set_clock(s, p)


def _warned(s: Demand, e: Event) -> None:
    p = e.payload
    s.warnings.append({"level": p["level"], "kind": p["kind"], "stage": p["stage"],
                       "deadline": p["deadline"], "at": _at(e)})


def _recomputed(s: Demand, e: Event) -> None:
    s.recomputed += 1
    _set_clock(s, e.payload)


def _action_rejected(s: Demand, e: Event) -> None:
    s.rejected_actions += 1
    if e.payload.get("request_type") == "MergeDeclined":  # the target refused the merge
        s.merging = None


def _merge_proposed(s: Demand, e: Event) -> None:
    p = e.payload
    s.merging = {"into": p["into"], "reason": p["reason"], "request_id": e.causation_id,
                 "at": _at(e), "correlation_id": e.correlation_id,
                 "requested_by": p["requested_by"], "supporters": list(p["supporters"]),
                 "anonymous_supporters": p.get("anonymous_supporters", 0)}


def _merged(s: Demand, e: Event) -> None:
    s.status, s.closed_at, s.closing_reason = "merged", _at(e), e.payload["reason"]
    s.merged_into, s.waiting, s.merging = e.payload["into"], None, None


def _answered(s: Demand, e: Event, accepted: bool) -> None:
    p = e.payload
    s.merge_answers[e.causation_id or ""] = {
        "to": p["from_demand"], "accepted": accepted, "code": p.get("code"),
        "reason": p.get("reason"), "at": _at(e), "correlation_id": e.correlation_id}


def _absorbed(s: Demand, e: Event) -> None:
    if e.payload["from_demand"] not in s.merged_from:
        s.merged_from.append(e.payload["from_demand"])
    s.supporters.extend(x for x in e.payload["supporters_added"] if x not in s.supporters)
    s.anonymous_supporters += e.payload.get("anonymous_added", 0)
    _answered(s, e, accepted=True)


def _merge_refused(s: Demand, e: Event) -> None:
    _answered(s, e, accepted=False)


def _supported(s: Demand, e: Event) -> None:
    supporter = e.payload["supporter"]
    if supporter is None:
        s.anonymous_supporters += 1
    elif supporter not in s.supporters:
        s.supporters.append(supporter)


_DECISIONS = {
    "DemandRouted": _routed,
    "DemandAcknowledged": _acknowledged,
    "ProgressNoted": _noted,
    "DemandResolved": _resolved,
    "DemandEscalated": _escalated,
    "DemandRejected": _rejected,
    "DemandWithdrawn": _closed("withdrawn"),
    "DemandReopened": _reopened,
    "ActionRejected": _action_rejected,
    "SupportRecorded": _supported,
    "MergeProposed": _merge_proposed,
    "DemandMerged": _merged,
    "DemandAbsorbed": _absorbed,
    "MergeRefused": _merge_refused,
    "WaitingOnRequester": _waiting,
    "DemandResumed": _resumed,
    "WaitExpired": _resumed,
    "DemandSentBack": _sent_back,
    "DemandTransferred": _transferred,
    "DeadlineWarning": _warned,
    "DeadlineRecomputed": _recomputed,
}


def fold(events, state: Demand | None = None) -> Demand | None:
    for event in events:
        state = apply(state, event)
    return state
