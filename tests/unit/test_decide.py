"""Fold and decide: a demand's whole life, and every way an action can be refused."""

from __future__ import annotations

from datetime import timedelta

import pytest

from routing.domain.decide import decide
from services.domain.calendar import WorkingCalendar
from services.domain.demand import apply, fold
from services.domain.rules import DEFAULT_RULES
from services.events.envelope import SYSTEM_ROUTING, format_time, make
from services.events.ids import derived_id
from tests.unit.streams import (
    ADMIN,
    AUDITOR,
    CENTRAL,
    CITIZEN,
    CLERK,
    DEMAND_ID,
    HQ,
    MAYOR,
    MAYOR_OTHER_DISTRICT,
    STAFF,
    STAFF_OTHER_DEPARTMENT,
    STAFF_OTHER_DISTRICT,
    T0,
    Router,
    Stream,
    encoded,
)


@pytest.fixture
def s() -> Stream:
    return Stream()


@pytest.fixture
def r() -> Router:
    return Router()


def routed(s: Stream, r: Router, **changes):
    sub = s.submit(**changes)
    return sub, r.one(sub)


def hours_after(event, hours: float) -> str:
    return format_time(event.recorded_at + timedelta(hours=hours))


WORKING = WorkingCalendar(DEFAULT_RULES.calendar)


def working_hours_after(event, hours: float) -> str:
    """The deadline `hours` working hours (Tehran municipal calendar) after `event`."""
    return format_time(WORKING.add(event.recorded_at, hours))


def assert_rejected(decision, request, code: str) -> None:
    assert decision.type == "ActionRejected", decision
    assert decision.causation_id == request.event_id
    assert decision.payload["code"] == code
    assert decision.payload["request_type"] == request.type


# -- the happy path ---------------------------------------------------------------------------

def test_submit_route_acknowledge_note_resolve(s, r):
    sub, route = routed(s, r)
    assert route.type == "DemandRouted"
    # Monday 10:10 in Tehran plus 35 working hours (5 days of 07:30-14:30, Thursday and
    # Friday off) is the next Monday 10:10; acknowledging has 14 hours, to Wednesday 10:10.
    assert {k: v for k, v in route.payload.items() if k not in ("clock", "explanation")} == {
        "department": "transport", "district": 6, "queue": "6/transport",
        "deadline": "2025-03-10T06:40:00.000Z", "ack_deadline": "2025-03-05T06:40:00.000Z",
        "rule_id": "transport", "rule_version": 1, "priority": "normal", "triage": False}
    assert route.payload["deadline"] == working_hours_after(sub, 35)
    assert route.payload["clock"]["policy"] == "standard"
    explanation = route.payload["explanation"]
    assert explanation["rule"]["conditions"] == {"category": "transport"}
    assert explanation["deadlines"]["resolve"] == "2025-03-10T06:40:00.000Z"  # UTC, not Jalali
    assert route.causation_id == sub.event_id
    assert route.correlation_id == sub.correlation_id
    assert route.recorded_at == sub.recorded_at
    assert route.actor == SYSTEM_ROUTING
    assert r.state().status == "routed"

    ack = s.request("AcknowledgementRequested", {"note": "بررسی شد"}, STAFF)
    assert r.one(ack).type == "DemandAcknowledged"
    assert r.state().status == "acknowledged"
    assert r.state().acknowledged_at == format_time(ack.recorded_at)

    note = s.request("ProgressNoteSubmitted", {"note": "پیمانکار تعیین شد"}, STAFF)
    assert r.one(note).payload == {"note": "پیمانکار تعیین شد"}
    assert r.state().notes == 1 and r.state().status == "acknowledged"

    done = s.request("ResolutionReported", {"summary": "چراغ نصب شد"}, STAFF)
    assert r.one(done).type == "DemandResolved"
    state = r.state()
    assert (state.status, state.resolution) == ("resolved", "چراغ نصب شد")
    assert state.resolved_at == state.closed_at == format_time(done.recorded_at)
    assert not state.is_open
    assert state.decided == [sub.event_id, ack.event_id, note.event_id, done.event_id]
    # what reporting folds from the log is what routing decided on
    assert fold(r.log).to_doc() == state.to_doc()


def test_priority_scales_the_deadline(s, r):
    sub, route = routed(s, r, priority="urgent")
    assert route.payload["deadline"] == working_hours_after(sub, 35 * 0.25)
    assert route.payload["clock"]["factor"] == 0.25


def test_an_unknown_category_is_routed_to_the_mayors_triage_desk(s, r):
    sub, route = routed(s, r, category="other")
    assert route.payload["department"] == "mayor_triage"
    assert route.payload["queue"] == "6/mayor_triage"
    assert route.payload["triage"] is True
    triage = DEFAULT_RULES.policies[DEFAULT_RULES.triage_sla]
    assert route.payload["deadline"] == working_hours_after(sub, triage.resolve_hours)
    assert route.payload["explanation"]["rule"]["why"] == "no_rule_matched"


def test_a_resolved_demand_can_be_reopened_by_the_requester_side(s, r):
    routed(s, r, actor=CITIZEN)
    r.one(s.request("ResolutionReported", {"summary": "انجام شد"}, STAFF))
    again = s.request("ReopenRequested", {"reason": "چراغ کار نمی‌کند"}, CITIZEN)
    reopened = r.one(again)
    assert reopened.type == "DemandReopened"
    assert reopened.payload["deadline"] == working_hours_after(again, 35)
    state = r.state()
    assert (state.status, state.reopened, state.resolved_at, state.resolution) == \
        ("routed", 1, None, None)
    # and worked on again
    assert r.one(s.request("ResolutionReported", {"summary": "تعمیر شد"}, STAFF)).type == \
        "DemandResolved"


def test_the_department_may_reopen_its_own_resolution_but_not_a_stranger(s, r):
    routed(s, r)
    r.one(s.request("ResolutionReported", {"summary": "انجام شد"}, STAFF))
    stranger = s.request("ReopenRequested", {"reason": "x"}, STAFF_OTHER_DISTRICT)
    assert_rejected(r.one(stranger), stranger, "out_of_scope")
    assert r.one(s.request("ReopenRequested", {"reason": "x"}, STAFF)).type == "DemandReopened"


# -- the escalation ladder --------------------------------------------------------------------

def test_each_escalation_step_up_to_central_management(s, r):
    routed(s, r)
    ladder = [(STAFF, "department", "district_mayor", 35),
              (MAYOR, "district_mayor", "headquarters", 70),
              (HQ, "headquarters", "central_management", 140)]
    for actor, from_level, to_level, hours in ladder:
        req = s.request("EscalationRequested", {"reason": "beyond_budget", "note": "بودجه"}, actor)
        decision = r.one(req)
        assert decision.type == "DemandEscalated"
        payload = decision.payload
        assert {k: payload[k] for k in ("from_level", "to_level", "reason", "note", "deadline",
                                        "trigger", "reopens")} == {
            "from_level": from_level, "to_level": to_level, "reason": "beyond_budget",
            "note": "بودجه", "deadline": working_hours_after(req, hours), "trigger": "request",
            "reopens": False}
        assert payload["explanation"]["escalation"]["reason"] == "beyond_budget"
        assert (r.state().level, r.state().status) == (to_level, "routed")
    assert [e["to"] for e in r.state().escalations] == \
        ["district_mayor", "headquarters", "central_management"]

    top = s.request("EscalationRequested", {"reason": "macro_challenge"}, CENTRAL)
    assert_rejected(r.one(top), top, "top_of_ladder")
    assert r.state().level == "central_management"

    no = s.request("RejectionRequested", {"reason": "خارج از اختیارات شهرداری"}, CENTRAL)
    assert r.one(no).type == "DemandRejected"
    state = r.state()
    assert (state.status, state.closing_reason) == ("rejected", "خارج از اختیارات شهرداری")
    assert state.rejected_actions == 1


def test_after_escalation_only_the_new_level_may_act(s, r):
    routed(s, r)
    r.one(s.request("EscalationRequested", {"reason": "beyond_authority"}, STAFF))
    late = s.request("ResolutionReported", {"summary": "x"}, STAFF)
    assert_rejected(r.one(late), late, "not_your_level")
    other = s.request("AcknowledgementRequested", {}, MAYOR_OTHER_DISTRICT)
    assert_rejected(r.one(other), other, "out_of_scope")
    assert r.one(s.request("AcknowledgementRequested", {}, MAYOR)).type == "DemandAcknowledged"


# -- refusals ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("actor", "code"), [
    (STAFF_OTHER_DISTRICT, "out_of_scope"), (STAFF_OTHER_DEPARTMENT, "out_of_scope"),
    (MAYOR, "not_your_level"), (HQ, "not_your_level"), (CITIZEN, "out_of_scope"),
    (CLERK, "not_your_level"), (AUDITOR, "not_your_level")])
def test_the_wrong_level_or_queue_is_refused(s, r, actor, code):
    routed(s, r)
    req = s.request("AcknowledgementRequested", {}, actor)
    assert_rejected(r.one(req), req, code)
    assert r.state().status == "routed"
    assert r.state().rejected_actions == 1


def test_an_administrator_may_act_at_any_level(s, r):
    routed(s, r)
    assert r.one(s.request("AcknowledgementRequested", {}, ADMIN)).type == "DemandAcknowledged"


@pytest.mark.parametrize(("first", "then"), [
    (("AcknowledgementRequested", {}), ("AcknowledgementRequested", {})),
    (("ResolutionReported", {"summary": "x"}), ("ProgressNoteSubmitted", {"note": "x"})),
    (("ResolutionReported", {"summary": "x"}), ("ResolutionReported", {"summary": "x"})),
    (("ResolutionReported", {"summary": "x"}), ("EscalationRequested",
                                                {"reason": "deadline_passed"})),
    (("RejectionRequested", {"reason": "x"}), ("AcknowledgementRequested", {})),
    (("RejectionRequested", {"reason": "x"}), ("ReopenRequested", {"reason": "x"})),
    (("ProgressNoteSubmitted", {"note": "x"}), ("ReopenRequested", {"reason": "x"})),
])
def test_an_action_in_the_wrong_state_is_refused(s, r, first, then):
    routed(s, r)
    r.one(s.request(*first, STAFF))
    status = r.state().status
    req = s.request(*then, STAFF)
    assert_rejected(r.one(req), req, "not_allowed_in_state")
    assert r.state().status == status


def test_only_the_requester_side_may_withdraw(s, r):
    routed(s, r, actor=CITIZEN)
    for actor in (STAFF, MAYOR, HQ):
        req = s.request("WithdrawalRequested", {"reason": "x"}, actor)
        assert_rejected(r.one(req), req, "not_requester")
    assert r.state().is_open
    out = s.request("WithdrawalRequested", {"reason": "مشکل خودبه‌خود حل شد"}, CITIZEN)
    assert r.one(out).type == "DemandWithdrawn"
    assert (r.state().status, r.state().closing_reason) == ("withdrawn", "مشکل خودبه‌خود حل شد")
    twice = s.request("WithdrawalRequested", {"reason": "x"}, CLERK)
    assert_rejected(r.one(twice), twice, "not_allowed_in_state")


def test_an_action_on_an_unknown_demand_is_refused(s, r):
    ghost = derived_id(T0, "ghost")
    req = s.request("AcknowledgementRequested", {}, STAFF, demand_id=ghost)
    decision = r.one(req)
    assert_rejected(decision, req, "unknown_demand")
    assert decision.demand_id == ghost
    assert ghost not in r.part.demands
    assert r.send(req) == []  # and it is not decided twice


# -- duplicates -------------------------------------------------------------------------------

def test_a_duplicate_decision_is_ignored_by_the_fold(s, r):
    sub, route = routed(s, r)
    ack = s.request("AcknowledgementRequested", {}, STAFF)
    decided = r.one(ack)
    before = r.state().to_doc()
    for again in (route, decided, route):
        apply(r.state(), again)
    assert r.state().to_doc() == before
    assert fold([*r.log, route, decided]).to_doc() == fold(r.log).to_doc()


def test_a_different_decision_for_an_already_decided_request_is_ignored(s, r):
    sub, route = routed(s, r)
    other = make("ActionRejected", DEMAND_ID,
                 {"request_type": "DemandSubmitted", "code": "x", "reason": "x"},
                 actor=SYSTEM_ROUTING, event_id=derived_id(T0, "other"), recorded_at=T0,
                 causation_id=sub.event_id)
    before = r.state().to_doc()
    apply(r.state(), other)
    assert r.state().to_doc() == before


def test_a_request_decided_once_is_not_decided_again(s, r):
    sub, _ = routed(s, r)
    assert decide(r.state(), sub, DEFAULT_RULES) == []
    ack = s.request("AcknowledgementRequested", {}, STAFF)
    r.one(ack)
    assert decide(r.state(), ack, DEFAULT_RULES) == []
    assert r.send(ack) == [] and r.send(sub) == []


def test_a_second_submission_of_the_same_demand_is_refused(s, r):
    first, _ = routed(s, r)
    second = s.submit(title="عنوان دیگر", category="social")
    assert_rejected(r.one(second), second, "duplicate_submission")
    state = r.state()
    assert (state.title, state.category, state.submitted_event_id) == \
        (first.payload["title"], "transport", first.event_id)
    assert state.department == "transport"


def test_decisions_are_deterministic(s):
    routed(s, Router(), actor=CITIZEN)
    s.request("AcknowledgementRequested", {}, STAFF)
    s.request("EscalationRequested", {"reason": "cross_district"}, STAFF)
    s.request("EscalationRequested", {"reason": "requester_appeal"}, MAYOR)
    s.request("ResolutionReported", {"summary": "حل شد"}, HQ)
    s.request("ReopenRequested", {"reason": "نه"}, CITIZEN)
    s.request("WithdrawalRequested", {"reason": "بس است"}, CLERK)
    first, second = Router().run(s.requests), Router().run(s.requests)
    assert len(first) == len(s.requests)
    assert encoded(first) == encoded(second)
    assert len({d.event_id for d in first}) == len(first)


# -- concurrent actions -----------------------------------------------------------------------

def test_resolve_and_escalate_back_to_back_exactly_one_applies(s):
    routed(s, Router())
    resolve = s.request("ResolutionReported", {"summary": "حل شد"}, STAFF, minutes=0)
    escalate = s.request("EscalationRequested", {"reason": "beyond_budget"}, STAFF, minutes=0)

    r = Router()
    first, second = r.run(s.requests)[1:]
    assert first.type == "DemandResolved"
    assert_rejected(second, escalate, "not_allowed_in_state")
    assert r.state().status == "resolved" and r.state().level == "department"

    r = Router()
    r.run([s.requests[0], escalate, resolve])
    first, second = r.log[3], r.log[5]
    assert first.type == "DemandEscalated"
    assert_rejected(second, resolve, "not_your_level")
    assert r.state().status == "routed" and r.state().level == "district_mayor"


def test_two_departments_racing_to_acknowledge_one_wins(s, r):
    routed(s, r)
    a = s.request("AcknowledgementRequested", {}, STAFF, minutes=0)
    b = s.request("AcknowledgementRequested", {"note": "من هم"}, ADMIN, minutes=0)
    assert r.one(a).type == "DemandAcknowledged"
    assert_rejected(r.one(b), b, "not_allowed_in_state")


def test_an_unknown_demand_rejection_landing_after_the_submission_changes_nothing(s, r):
    early = s.request("AcknowledgementRequested", {}, STAFF)  # before the demand exists
    rejection = r.one(early)
    assert_rejected(rejection, early, "unknown_demand")
    routed(s, r)
    before = r.state().to_doc()
    apply(r.state(), rejection)  # a copy of the rejection, appended again later
    assert r.state().to_doc() == before
    assert r.send(early) == []
