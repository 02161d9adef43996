"""Call-up: a higher rung takes a demand up to itself, past the rungs between."""

from __future__ import annotations

import pytest

from services.events.envelope import Actor
from tests.unit.streams import CENTRAL, HQ, MAYOR, MAYOR_OTHER_DISTRICT, STAFF, Router, Stream


def call_up(s: Stream, actor: Actor, reason: str = "macro_challenge"):
    return s.request("CallUpRequested", {"reason": reason, "note": "تصمیم جلسه"}, actor)


@pytest.mark.parametrize(("actor", "level"), [(MAYOR, "district_mayor"),
                                              (HQ, "headquarters"),
                                              (CENTRAL, "central_management")])
def test_a_higher_rung_takes_a_departments_demand_up_to_itself(actor, level):
    s, r = Stream(), Router()
    r.one(s.submit())
    up = r.one(call_up(s, actor))
    p = up.payload
    assert (up.type, p["from_level"], p["to_level"], p["trigger"]) == (
        "DemandEscalated", "department", level, "call_up")
    assert p["clock"]["level"] == level
    state = r.state()
    assert (state.level, state.status, state.escalations[-1]["trigger"]) == (
        level, "routed", "call_up")
    assert r.one(s.request("AcknowledgementRequested", {}, actor)).type == "DemandAcknowledged"


@pytest.mark.parametrize(("actor", "reason", "code"), [
    (STAFF, "macro_challenge", "not_your_level"),
    (MAYOR_OTHER_DISTRICT, "macro_challenge", "out_of_scope"),
    (HQ, "deadline_passed", "not_a_call_up_reason"),
    (HQ, "requester_appeal", "not_a_call_up_reason"),
])
def test_a_call_up_is_refused_to_the_wrong_person_or_reason(actor, reason, code):
    s, r = Stream(), Router()
    r.one(s.submit())
    assert r.one(call_up(s, actor, reason)).payload["code"] == code
    assert r.state().level == "department"


def test_nothing_is_called_down_or_called_up_closed():
    s, r = Stream(), Router()
    r.one(s.submit())
    r.one(call_up(s, HQ))
    assert r.one(call_up(s, MAYOR)).payload["code"] == "not_below"
    r.one(s.request("ResolutionReported", {"summary": "x"}, HQ))
    assert r.one(call_up(s, CENTRAL)).payload["code"] == "not_allowed_in_state"


def test_a_staff_supervision_decision_recorded_by_headquarters_starts_at_its_rung():
    s, r = Stream(), Router()
    routed = r.one(s.submit(actor=HQ, channel="staff_supervision", level="headquarters"))
    assert (routed.payload["level"], routed.payload["clock"]["level"]) == (
        "headquarters", "headquarters")
    state = r.state()
    assert (state.level, state.status, state.queue) == ("headquarters", "routed", "6/transport")
    assert r.one(s.request("AcknowledgementRequested", {}, HQ)).type == "DemandAcknowledged"


@pytest.mark.parametrize(("actor", "channel"), [
    (Actor("intake_clerk", "clerk-6", 6), "staff_supervision"),  # not the clerk's rung
    (HQ, "monday_public_meeting"),                                 # not a supervision session
])
def test_a_submission_starts_at_the_department_unless_headquarters_decided_it(actor, channel):
    s, r = Stream(), Router()
    routed = r.one(s.submit(actor=actor, channel=channel, level="headquarters"))
    assert "level" not in routed.payload and r.state().level == "department"
