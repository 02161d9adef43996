"""Transfer: a misrouted demand reaches the right queue, and the triage desk is no dead end."""

from __future__ import annotations

import pytest

from services.domain.calendar import WorkingCalendar
from services.domain.rules import DEFAULT_RULES
from services.events.envelope import Actor, format_time
from tests.unit.streams import HQ, MAYOR, STAFF, STAFF_OTHER_DEPARTMENT, Router, Stream

WORKING = WorkingCalendar(DEFAULT_RULES.calendar)
SOCIAL_STAFF = STAFF_OTHER_DEPARTMENT  # district 6, social
CIVIL_STAFF = Actor("department_staff", "staff-6-civil", 6, "civil_works")


def transfer(s: Stream, actor: Actor, to: str, reason: str = "misrouted", **more):
    return s.request("TransferRequested", {"to_department": to, "reason": reason, **more},
                     actor)


def test_a_misrouted_demand_goes_to_the_right_department_with_that_departments_clock():
    s, r = Stream(), Router()
    r.one(s.submit())  # transport, "standard": 14 h to acknowledge, 35 h to resolve
    req = transfer(s, STAFF, "civil_works", note="کار عمرانی است")
    moved = r.one(req)
    assert moved.type == "DemandTransferred"
    p = moved.payload
    assert (p["from_department"], p["to_department"], p["queue"], p["rule_id"]) == (
        "transport", "civil_works", "6/civil_works", "civil-works")
    works = DEFAULT_RULES.policies["works"]
    assert p["deadline"] == format_time(WORKING.add(req.recorded_at, works.resolve_hours))
    state = r.state()
    assert (state.department, state.queue, state.level, state.status) == (
        "civil_works", "6/civil_works", "department", "routed")
    assert state.transfers[0]["reason"] == "misrouted"
    # the receiving department works it; the sender no longer can
    old = s.request("AcknowledgementRequested", {}, STAFF)
    assert r.one(old).payload["code"] == "out_of_scope"
    assert r.one(s.request("AcknowledgementRequested", {}, CIVIL_STAFF)).type == \
        "DemandAcknowledged"


def test_the_district_mayor_works_the_triage_desk_and_sends_a_demand_to_a_department():
    s, r = Stream(), Router()
    routed = r.one(s.submit(category="other"))
    assert routed.payload["queue"] == "6/mayor_triage"
    moved = r.one(transfer(s, MAYOR, "social", reason="triage"))
    assert (moved.type, moved.payload["queue"]) == ("DemandTransferred", "6/social")
    assert r.one(s.request("AcknowledgementRequested", {}, SOCIAL_STAFF)).type == \
        "DemandAcknowledged"


def test_the_mayor_may_acknowledge_and_resolve_at_the_triage_desk():
    s, r = Stream(), Router()
    r.one(s.submit(category="other"))
    assert r.one(s.request("AcknowledgementRequested", {}, MAYOR)).type == "DemandAcknowledged"
    assert r.one(s.request("ResolutionReported", {"summary": "x"}, MAYOR)).type == \
        "DemandResolved"


def test_headquarters_sends_an_escalated_demand_to_another_districts_department():
    s, r = Stream(), Router()
    r.one(s.submit())
    r.one(s.request("EscalationRequested", {"reason": "cross_district"}, STAFF))
    r.one(s.request("EscalationRequested", {"reason": "cross_district"}, MAYOR))
    moved = r.one(transfer(s, HQ, "transport", reason="cross_district", to_district=7))
    assert moved.payload["from_level"] == "headquarters"
    state = r.state()
    assert (state.district, state.queue, state.level) == (7, "7/transport", "department")
    seven = Actor("department_staff", "staff-7", 7, "transport")
    assert r.one(s.request("AcknowledgementRequested", {}, seven)).type == "DemandAcknowledged"


@pytest.mark.parametrize(("actor", "code"), [(MAYOR, "not_your_level"),
                                             (SOCIAL_STAFF, "out_of_scope"),
                                             (STAFF, "same_queue")])
def test_a_transfer_is_refused_to_the_wrong_rung_or_to_the_same_queue(actor, code):
    s, r = Stream(), Router()
    r.one(s.submit())
    req = transfer(s, actor, "transport")
    assert r.one(req).payload["code"] == code
    assert r.state().queue == "6/transport"


def test_a_closed_demand_is_not_transferred():
    s, r = Stream(), Router()
    r.one(s.submit())
    r.one(s.request("ResolutionReported", {"summary": "x"}, STAFF))
    assert r.one(transfer(s, STAFF, "social")).payload["code"] == "not_allowed_in_state"
