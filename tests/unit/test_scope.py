"""Scope is judged on routing's own fold: every role × request type × own/other district.

No read model is involved here, so these hold however far behind the projector is: a request
from outside the actor's scope is an `ActionRejected` `out_of_scope` and changes nothing.
"""

from __future__ import annotations

import pytest

from routing.domain.decide import decide
from services.domain.context import RoutingContext
from services.domain.demand import fold
from services.domain.rules import DEFAULT_RULES
from services.events.envelope import Actor
from tests.unit.streams import CITIZEN, Stream

CTX = RoutingContext(rules=DEFAULT_RULES)
OWN, OTHER = 6, 7

REQUESTS = {
    "AcknowledgementRequested": {},
    "ProgressNoteSubmitted": {"note": "x"},
    "ResolutionReported": {"summary": "x"},
    "RejectionRequested": {"reason": "x"},
    "EscalationRequested": {"reason": "beyond_budget"},
    "WithdrawalRequested": {"reason": "x"},
    "ReopenRequested": {"reason": "x"},
    "RequesterInfoRequested": {"question": "x"},
    "RequesterResponded": {"answer": "x"},
    "SendBackRequested": {"to_level": "department", "instructions": "x"},
    "SupportRequested": {},
    "MergeRequested": {"into": "01JQ0000000000000000000000", "reason": "x"},
}


def actor(role: str, district: int | None) -> Actor:
    department = "transport" if role == "department_staff" else None
    return Actor(role, f"{role}-{district}", district, department)


DISTRICT_BOUND = ["intake_clerk", "department_staff", "district_mayor"]
CLERK_OWN = Actor("intake_clerk", "clerk-6", OWN)


def routed_state(submitter: Actor = CLERK_OWN):
    s = Stream()
    sub = s.submit(actor=submitter)
    state = fold([sub])
    (routing,) = decide(state, sub, CTX)
    return s, fold([sub, routing])


@pytest.mark.parametrize("request_type", REQUESTS)
@pytest.mark.parametrize("role", DISTRICT_BOUND)
def test_another_districts_actor_is_refused_for_every_request(role, request_type):
    s, state = routed_state()
    req = s.request(request_type, REQUESTS[request_type], actor(role, OTHER))
    (decision,) = decide(state, req, CTX)
    assert decision.type == "ActionRejected"
    assert decision.payload["code"] == "out_of_scope"
    assert "district 6" in decision.payload["reason"]


@pytest.mark.parametrize("request_type", REQUESTS)
@pytest.mark.parametrize("role", DISTRICT_BOUND + ["headquarters", "central_management",
                                                   "administrator", "auditor"])
def test_an_actor_within_scope_is_never_refused_for_scope(role, request_type):
    district = OWN if role in DISTRICT_BOUND else None
    s, state = routed_state()
    req = s.request(request_type, REQUESTS[request_type], actor(role, district))
    for decision in decide(state, req, CTX):
        assert decision.payload.get("code") != "out_of_scope", decision.payload


@pytest.mark.parametrize("request_type", REQUESTS)
def test_another_departments_staff_is_refused_for_every_request(request_type):
    s, state = routed_state()
    social = Actor("department_staff", "staff-6-social", OWN, "social")
    (decision,) = decide(state, s.request(request_type, REQUESTS[request_type], social), CTX)
    assert decision.payload["code"] == "out_of_scope"


@pytest.mark.parametrize("request_type", sorted(set(REQUESTS) - {"SupportRequested"}))
def test_a_citizen_acts_only_on_their_own_demand(request_type):
    s, state = routed_state(submitter=CITIZEN)
    stranger = Actor("citizen", "citizen-2")
    (decision,) = decide(state, s.request(request_type, REQUESTS[request_type], stranger), CTX)
    assert decision.payload["code"] == "out_of_scope"
    own = s.request(request_type, REQUESTS[request_type], CITIZEN)
    assert all(d.payload.get("code") != "out_of_scope" for d in decide(state, own, CTX))


def test_any_citizen_may_support_any_demand():
    s, state = routed_state()
    req = s.request("SupportRequested", {}, Actor("citizen", "citizen-9"))
    (decision,) = decide(state, req, CTX)
    assert decision.type == "SupportRecorded"


def test_another_districts_clerk_cannot_withdraw_a_demand_just_submitted():
    """The reproduced attack: another district's clerk withdraws at once after submission."""
    s, state = routed_state()
    attack = s.request("WithdrawalRequested", {"reason": "x"}, Actor("intake_clerk", "c-21", 21))
    (decision,) = decide(state, attack, CTX)
    assert (decision.type, decision.payload["code"]) == ("ActionRejected", "out_of_scope")
    assert state.status == "routed"
