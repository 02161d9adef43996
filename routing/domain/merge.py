"""Merging a duplicate into another demand, without ever destroying either.

The two demands may live on different partitions, so the merge is a short conversation between
their streams, each step decided by the stream it lands on:

1. the duplicate decides MergeRequested: `MergeProposed` (it stays open, marked `merging`) and
   a `MergeOffered` message on the target's stream;
2. the target decides the offer: `DemandAbsorbed` and a `MergeAccepted` message back, or
   `MergeRefused` and a `MergeDeclined` message back (closed, unknown, another district,
   outside the asker's scope, itself being merged — which also breaks crossed merges);
3. the duplicate decides the answer: `DemandMerged` (closed), or a visible `ActionRejected`
   and it stays exactly as it was.

Every message has an id derived from what caused it, so a copy is recognised. If a crash loses
a message between two partitions' appends, a refold finds the merge still pending and sends the
same offer again (`resend_offers`); a target that already decided it answers the copy the same
way again (`answer_again`), and the duplicate, already answered, ignores the second answer.
"""

from __future__ import annotations

from typing import Any

from routing.domain.scope import actor_out_of_scope
from services.domain.demand import Demand
from services.domain.priority import score as priority_score
from services.events import envelope
from services.events.envelope import SYSTEM_ROUTING, Actor, Event, parse_time
from services.events.ids import derived_id

# While a merge is pending, the duplicate takes no action that would close it or start
# another, and no support: the offer carries the supporters it had, so one recorded after it
# would be lost with the merge.
BLOCKED_WHILE_MERGING = ("ResolutionReported", "RejectionRequested", "WithdrawalRequested",
                         "MergeRequested", "SupportRequested")


def proposal(state: Demand, request: Event) -> dict[str, Any]:
    """The MergeProposed payload for a merge request the duplicate accepts to propose."""
    return {"into": request.payload["into"], "reason": request.payload["reason"],
            "requested_by": request.actor.to_dict(), "supporters": list(state.supporters),
            "anonymous_supporters": state.anonymous_supporters}


def offer(state: Demand, merging: dict[str, Any]) -> Event:
    """The MergeOffered message on the target's stream, identical however often it is built."""
    at = parse_time(merging["at"])
    request_id = merging["request_id"]
    return envelope.make(
        "MergeOffered", merging["into"],
        {"from_demand": state.demand_id, "district": state.district, "title": state.title,
         "supporters": list(merging["supporters"]),
         "anonymous_supporters": merging.get("anonymous_supporters", 0),
         "reason": merging["reason"],
         "requested_by": merging["requested_by"]},
        actor=SYSTEM_ROUTING, recorded_at=at, correlation_id=merging["correlation_id"],
        event_id=derived_id(at, request_id, "MergeOffered", "0"), causation_id=request_id)


def pending_merging(state: Demand, request: Event) -> dict[str, Any]:
    """What the fold will remember of a proposal about to be decided (to build its offer)."""
    return {**proposal(state, request), "request_id": request.event_id,
            "at": request.recorded_at_text,
            "correlation_id": request.correlation_id}


def answer(offer_event: Event, accepted: bool, code: str | None = None,
           reason: str | None = None) -> Event:
    """The message back to the duplicate's stream: MergeAccepted or MergeDeclined."""
    type_ = "MergeAccepted" if accepted else "MergeDeclined"
    payload: dict[str, Any] = {"into": offer_event.demand_id}
    if not accepted:
        payload.update(code=code, reason=reason)
    return envelope.make(
        type_, offer_event.payload["from_demand"], payload, actor=SYSTEM_ROUTING,
        recorded_at=offer_event.recorded_at, correlation_id=offer_event.correlation_id,
        event_id=derived_id(offer_event.recorded_at, offer_event.event_id, type_, "0"),
        causation_id=offer_event.event_id)


def refusal(state: Demand | None, offer_event: Event) -> tuple[str, str] | None:
    """Why the target cannot take the duplicate in, as (code, reason), or None if it can."""
    p = offer_event.payload
    if state is None:
        return "unknown_demand", "no demand with this id has been submitted"
    if not state.is_open:
        return "not_allowed_in_state", f"the target demand is {state.status}"
    if p["district"] != state.district:
        return ("other_district", f"a demand of district {p['district']} cannot merge into "
                                  f"district {state.district}'s")
    if state.merging is not None:
        return ("target_merging", f"the target is itself being merged into "
                                  f"{state.merging['into']}")
    by = p.get("requested_by")
    if by is not None:
        why = actor_out_of_scope(state, Actor(**by), "MergeRequested")
        if why:
            return "out_of_scope", why
    return None


def absorbed(state: Demand, offer_event: Event) -> dict[str, Any]:
    """The target takes the duplicate's people it does not have (one support per person) and
    its anonymous supports (nobody to tell apart: each moves once, with the merge)."""
    p = offer_event.payload
    added = [x for x in dict.fromkeys(p["supporters"]) if x not in state.supporters]
    count = len(state.supporters) + len(added)
    anonymous = p.get("anonymous_supporters", 0)
    return {"from_demand": p["from_demand"], "supporters_added": added, "supporters": count,
            "anonymous_added": anonymous,
            "anonymous_supporters": state.anonymous_supporters + anonymous,
            "score": priority_score(state.priority, count)}


def answer_again(state: Demand | None, offer_event: Event) -> list[Event]:
    """The answer to a copy of an offer the target already decided: the same message."""
    if offer_event.actor != SYSTEM_ROUTING:
        return []
    if state is None:
        code, reason = "unknown_demand", "no demand with this id has been submitted"
        return [answer(offer_event, False, code, reason)]
    given = state.merge_answers.get(offer_event.event_id)
    if given is None:
        return []
    return [answer(offer_event, given["accepted"], given["code"], given["reason"])]


def resend_offers(states: list[Demand]) -> list[Event]:
    """The offers of every merge still pending: after a refold, in case one was lost."""
    return [offer(s, s.merging) for s in states if s.merging is not None and s.is_open]
