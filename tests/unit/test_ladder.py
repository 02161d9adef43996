"""The escalation ladder on a simulated clock: deadlines in working hours, warnings, automatic
and requested escalation, send-back, appeals, pauses, and recomputation when the rules or the
calendar change. Pure: the clock is ClockTicked events with chosen times."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from routing.facts import office_closed, rule_set_published, tick
from services.domain.calendar import Closure, WorkingCalendar
from services.domain.rules import DEFAULT_RULES, SlaPolicy
from services.events.envelope import SYSTEM_ROUTING, Actor, Event, format_time, parse_time
from services.events.families.routing import ROUTING_STREAM_ID
from tests.unit.streams import (
    CENTRAL,
    CLERK,
    HQ,
    MAYOR,
    STAFF,
    Router,
    Stream,
    encoded,
)

TEHRAN = ZoneInfo("Asia/Tehran")
WORKING = WorkingCalendar(DEFAULT_RULES.calendar)
ADMIN = Actor("administrator", "admin-1")
POLICY = DEFAULT_RULES.policies


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=TEHRAN)


def shown(text: str) -> str:
    return parse_time(text).astimezone(TEHRAN).strftime("%a %Y-%m-%d %H:%M")


def submitted_at(r: Router, at: datetime, **changes) -> tuple[Stream, Event]:
    """A transport demand of district 6 submitted at `at`, and its DemandRouted."""
    s = Stream(start=at - timedelta(minutes=10))
    return s, r.one(s.submit(**changes))


def ticked(r: Router, at: datetime | str) -> list[Event]:
    when = parse_time(at) if isinstance(at, str) else at
    return r.send(tick(when, source="manual"))


def just_before(text: str) -> datetime:
    return parse_time(text) - timedelta(milliseconds=1)


# -- automatic escalation ---------------------------------------------------------------------

def test_deadlines_pass_and_the_demand_climbs_all_four_rungs_across_holidays_and_a_friday():
    r = Router()
    # Tuesday 3 June 2025, 10:00 in Tehran. Wednesday 4 (Imam Khomeini's death) and Thursday 5
    # (15 Khordad) are holidays, Friday 6 is Eid al-Adha: acknowledging within 14 working
    # hours means by Sunday 8 June, 10:00; resolving within 35, by Wednesday 11 June, 10:00.
    s, route = submitted_at(r, local(2025, 6, 3, 10, 0))
    clock = route.payload["clock"]
    assert shown(clock["ack_deadline"]) == "Sun 2025-06-08 10:00"
    assert shown(clock["ack_warn_at"]) == "Sat 2025-06-07 10:00"  # 7 working hours before
    assert shown(clock["deadline"]) == "Wed 2025-06-11 10:00"

    assert ticked(r, local(2025, 6, 7, 9, 59)) == []
    warn_tick = tick(local(2025, 6, 7, 10, 0))
    [warning] = r.send(warn_tick)
    assert (warning.type, warning.causation_id, warning.actor) == \
        ("DeadlineWarning", warn_tick.event_id, SYSTEM_ROUTING)
    assert {k: warning.payload[k] for k in ("level", "kind", "stage", "working_hours_left")} == \
        {"level": "department", "kind": "acknowledge", "stage": "approaching",
         "working_hours_left": 7}
    assert ticked(r, local(2025, 6, 7, 12, 0)) == []  # warned once

    for from_level, to_level in (("department", "district_mayor"),
                                 ("district_mayor", "headquarters"),
                                 ("headquarters", "central_management")):
        due = r.state().ack_deadline
        early = ticked(r, just_before(due))
        assert {d.type for d in early} <= {"DeadlineWarning"}
        assert r.state().level == from_level
        [escalated] = ticked(r, due)
        p = escalated.payload
        assert (escalated.type, p["from_level"], p["to_level"], p["reason"], p["trigger"]) == \
            ("DemandEscalated", from_level, to_level, "deadline_passed", "deadline")
        # facts only: no sentence, no local time; the pages render them
        assert p["note"] is None
        assert p["explanation"]["deadline_passed"]["kind"] == "acknowledge"
        assert p["explanation"]["deadline_passed"]["deadline"] == due
        assert escalated.recorded_at == parse_time(due)
        # the new rung's clock starts at the tick, under its own policy
        assert p["clock"]["started"] == due
        assert p["clock"]["policy"] == DEFAULT_RULES.level_sla[to_level]
        new = POLICY[p["clock"]["policy"]]
        assert p["ack_deadline"] == format_time(WORKING.add(parse_time(due),
                                                            new.acknowledge_hours))
    assert r.state().level == "central_management"
    assert [e["trigger"] for e in r.state().escalations] == ["deadline"] * 3

    # the top of the ladder: a passed deadline is recorded once, nothing climbs further
    due = r.state().ack_deadline
    [missed] = ticked(r, parse_time(due) + timedelta(minutes=5))
    assert (missed.type, missed.payload["stage"], missed.payload["kind"]) == \
        ("DeadlineWarning", "missed", "acknowledge")
    assert ticked(r, parse_time(due) + timedelta(hours=1)) == []
    assert r.state().level == "central_management"

    # ... and the deadline to resolve is still kept: warned before, recorded when missed
    resolve = r.state().deadline
    warn_at = r.state().clock["warn_at"]
    [warning] = ticked(r, warn_at)
    assert (warning.payload["stage"], warning.payload["kind"]) == ("approaching", "resolve")
    [missed] = ticked(r, parse_time(resolve) + timedelta(minutes=5))
    assert (missed.type, missed.payload["stage"], missed.payload["kind"]) == \
        ("DeadlineWarning", "missed", "resolve")
    assert ticked(r, parse_time(resolve) + timedelta(hours=2)) == []


def test_an_acknowledged_demand_escalates_when_the_time_to_resolve_runs_out():
    r = Router()
    s, route = submitted_at(r, local(2025, 5, 10, 8, 0))  # Saturday
    r.one(s.request("AcknowledgementRequested", {}, STAFF))
    deadline = route.payload["deadline"]
    assert deadline == format_time(WORKING.add(local(2025, 5, 10, 8, 0), 35))
    ticked(r, parse_time(route.payload["ack_deadline"]) + timedelta(hours=1))
    assert r.state().level == "department"  # acknowledged in time: the first deadline is met
    [warning] = ticked(r, parse_time(route.payload["clock"]["warn_at"]))
    assert (warning.payload["kind"], warning.payload["stage"]) == ("resolve", "approaching")
    [escalated] = ticked(r, deadline)
    assert (escalated.payload["to_level"], escalated.payload["reason"]) == \
        ("district_mayor", "deadline_passed")
    assert escalated.payload["explanation"]["deadline_passed"]["kind"] == "resolve"
    assert r.state().status == "routed"  # the mayor must acknowledge it in turn


def test_a_tick_that_does_not_move_the_clock_forward_changes_nothing():
    r = Router()
    s, route = submitted_at(r, local(2025, 5, 10, 8, 0))
    late = parse_time(route.payload["ack_deadline"])
    assert ticked(r, late)
    assert ticked(r, late) == []  # the same tick again (stored twice)
    assert ticked(r, late - timedelta(days=1)) == []  # a clock running late
    assert r.state().level == "district_mayor"


def test_a_demand_routed_before_clocks_existed_still_escalates_on_its_deadline():
    r = Router()
    s = Stream(start=local(2025, 5, 10, 8, 0))
    sub = s.submit()
    r.part.fold(sub)
    old = Event(event_id="01JTQ4CZ000000000000000000", demand_id=sub.demand_id,
                type="DemandRouted", recorded_at=sub.recorded_at, actor=SYSTEM_ROUTING,
                correlation_id=sub.correlation_id, causation_id=sub.event_id, version=1,
                payload={"department": "transport", "district": 6, "queue": "6/transport",
                         "deadline": "2025-05-15T08:00:00.000Z", "rule_id": "transport"})
    r.part.fold(old)
    assert r.state().clock is None
    assert ticked(r, "2025-05-15T07:59:00.000Z") == []
    [escalated] = ticked(r, "2025-05-15T08:00:00.000Z")
    assert escalated.payload["to_level"] == "district_mayor"
    assert r.state().clock["level"] == "district_mayor"


# -- waiting on the requester -------------------------------------------------------------

def test_the_clock_stops_while_the_requester_is_asked_and_runs_again_after():
    r = Router()
    s, route = submitted_at(r, local(2025, 5, 10, 8, 0))
    asked = s.request("RequesterInfoRequested", {"question": "نشانی دقیق؟"}, STAFF, minutes=50)
    waiting = r.one(asked)
    assert waiting.type == "WaitingOnRequester"
    assert r.state().waiting == {"question": "نشانی دقیق؟", "since": format_time(asked.recorded_at),
                                 "until": format_time(WORKING.add(asked.recorded_at, 70))}
    assert (r.state().deadline, r.state().ack_deadline) == (None, None)
    assert ticked(r, parse_time(route.payload["deadline"]) + timedelta(days=3)) == []
    again = s.request("RequesterInfoRequested", {"question": "x"}, STAFF)
    assert r.one(again).payload["code"] == "already_waiting"
    wrong = s.request("RequesterResponded", {"answer": "x"}, STAFF)
    assert r.one(wrong).payload["code"] == "not_requester"

    answered = Stream(demand_id=s.demand_id, start=local(2025, 5, 24, 9, 50))
    resumed = r.one(answered.request("RequesterResponded", {"answer": "کوچه ۱۲"}, CLERK))
    assert resumed.type == "DemandResumed"
    paused = WORKING.between(asked.recorded_at, local(2025, 5, 24, 10, 0))
    assert resumed.payload["paused_hours"] == pytest.approx(paused)
    assert r.state().deadline == format_time(WORKING.add(local(2025, 5, 10, 8, 0), 35 + paused))
    assert r.state().waiting is None
    no_longer = answered.request("RequesterResponded", {"answer": "x"}, CLERK)
    assert r.one(no_longer).payload["code"] == "not_waiting"


def test_a_wait_without_an_answer_is_bounded_and_the_clock_runs_again():
    """Asking the requester cannot park a demand: after the rule set's wait (70 working hours
    by default) a tick records WaitExpired and the deadlines come back, moved by the pause."""
    r = Router()
    s, route = submitted_at(r, local(2025, 5, 10, 8, 0))
    asked = s.request("RequesterInfoRequested", {"question": "نشانی دقیق؟"}, STAFF, minutes=50)
    r.one(asked)
    until = r.state().waiting["until"]
    assert ticked(r, just_before(until)) == []
    [expired] = ticked(r, until)
    assert (expired.type, expired.payload["until"]) == ("WaitExpired", until)
    assert expired.payload["paused_hours"] == pytest.approx(70)
    state = r.state()
    assert state.waiting is None
    assert state.deadline == format_time(WORKING.add(local(2025, 5, 10, 8, 0), 35 + 70))
    late = s.request("RequesterResponded", {"answer": "دیر"}, CLERK, minutes=60 * 24 * 30)
    assert r.one(late).payload["code"] == "not_waiting"


def test_a_rejection_can_be_appealed_within_the_window_and_reopens_one_rung_up():
    r = Router()
    s, _ = submitted_at(r, local(2025, 5, 10, 8, 0))
    rejected = s.request("RejectionRequested", {"reason": "خارج از وظایف"}, STAFF)
    r.one(rejected)
    appeal = s.request("EscalationRequested", {"reason": "requester_appeal", "note": "نادرست"},
                       CLERK)
    up = r.one(appeal)
    assert (up.type, up.payload["to_level"], up.payload["reopens"]) == (
        "DemandEscalated", "district_mayor", True)
    state = r.state()
    assert (state.status, state.level, state.closed_at, state.closing_reason) == (
        "routed", "district_mayor", None, None)


def test_a_rejection_appealed_too_late_is_refused():
    r = Router()
    s, _ = submitted_at(r, local(2025, 5, 10, 8, 0))
    r.one(s.request("RejectionRequested", {"reason": "خارج از وظایف"}, STAFF))
    late = s.request("EscalationRequested", {"reason": "requester_appeal", "note": "x"}, CLERK,
                     minutes=60 * 24 * 30)
    assert r.one(late).payload["code"] == "appeal_window_closed"
    assert r.state().status == "rejected"


# -- escalation on request ------------------------------------------------------------------

@pytest.mark.parametrize("reason", ["beyond_authority", "beyond_budget", "cross_district",
                                    "macro_challenge"])
def test_an_escalation_on_request_records_why(reason):
    r = Router()
    s, _ = submitted_at(r, local(2025, 5, 10, 8, 0))
    req = s.request("EscalationRequested", {"reason": reason, "note": "دلیل"}, STAFF)
    escalated = r.one(req)
    assert (escalated.payload["reason"], escalated.payload["note"],
            escalated.payload["trigger"]) == (reason, "دلیل", "request")
    assert escalated.payload["explanation"]["escalation"]["reason"] == reason
    assert r.state().escalations[-1]["reason"] == reason
    assert r.state().deadline == format_time(WORKING.add(req.recorded_at, 35))


def test_a_requester_appeal_reopens_the_demand_one_rung_up():
    r = Router()
    s, _ = submitted_at(r, local(2025, 5, 10, 8, 0))
    open_appeal = s.request("EscalationRequested", {"reason": "requester_appeal"}, CLERK)
    assert r.one(open_appeal).payload["code"] == "not_allowed_in_state"
    r.one(s.request("ResolutionReported", {"summary": "انجام شد"}, STAFF))
    by_staff = s.request("EscalationRequested", {"reason": "requester_appeal"}, STAFF)
    assert r.one(by_staff).payload["code"] == "not_requester"
    appeal = s.request("EscalationRequested",
                       {"reason": "requester_appeal", "note": "چراغ هنوز خاموش است"}, CLERK)
    escalated = r.one(appeal)
    assert (escalated.type, escalated.payload["reopens"], escalated.payload["to_level"]) == \
        ("DemandEscalated", True, "district_mayor")
    state = r.state()
    assert (state.status, state.level, state.reopened, state.resolution, state.closed_at) == \
        ("routed", "district_mayor", 1, None, None)
    assert state.escalations[-1]["reason"] == "requester_appeal"


def test_an_appeal_against_central_managements_resolution_is_refused():
    r = Router()
    s, _ = submitted_at(r, local(2025, 5, 10, 8, 0))
    for actor in (STAFF, MAYOR, HQ):
        r.one(s.request("EscalationRequested", {"reason": "beyond_budget"}, actor))
    r.one(s.request("ResolutionReported", {"summary": "x"}, CENTRAL))
    appeal = s.request("EscalationRequested", {"reason": "requester_appeal"}, CLERK)
    assert r.one(appeal).payload["code"] == "top_of_ladder"


# -- send-back ------------------------------------------------------------------------------

def test_headquarters_sends_a_demand_back_down_with_instructions_and_a_new_deadline():
    r = Router()
    s, _ = submitted_at(r, local(2025, 5, 10, 8, 0))
    r.one(s.request("EscalationRequested", {"reason": "beyond_authority"}, STAFF))
    too_low = s.request("SendBackRequested", {"to_level": "department", "instructions": "x"},
                        MAYOR)
    assert r.one(too_low).payload["code"] == "not_allowed_at_level"
    r.one(s.request("EscalationRequested", {"reason": "macro_challenge"}, MAYOR))
    not_lower = s.request("SendBackRequested",
                          {"to_level": "headquarters", "instructions": "x"}, HQ)
    assert r.one(not_lower).payload["code"] == "not_lower"
    back = s.request("SendBackRequested", {"to_level": "department", "resolve_hours": 14,
                                           "instructions": "با پیمانکار منطقه اجرا شود"}, HQ)
    sent = r.one(back)
    assert sent.type == "DemandSentBack"
    assert (sent.payload["from_level"], sent.payload["to_level"]) == \
        ("headquarters", "department")
    assert sent.payload["deadline"] == format_time(WORKING.add(back.recorded_at, 14))
    state = r.state()
    assert (state.level, state.status, state.department, state.queue) == \
        ("department", "routed", "transport", "6/transport")
    assert state.sent_back[-1]["instructions"] == "با پیمانکار منطقه اجرا شود"
    assert r.one(s.request("AcknowledgementRequested", {}, STAFF)).type == "DemandAcknowledged"


# -- recomputation ----------------------------------------------------------------------------

def closed(at: datetime, start: datetime, end: datetime, district: int | None = None) -> Event:
    return office_closed(f"c-{start:%m%d}-{district}", start, end, at, actor=ADMIN,
                         reason="آلودگی هوا", district=district, kind="pollution")


def test_an_office_closure_moves_open_deadlines_and_says_before_and_after():
    r = Router()
    s, route = submitted_at(r, local(2025, 5, 10, 8, 0))  # district 6
    other = Stream(demand_id="01JTQ4CZ000000000000000001", start=local(2025, 5, 10, 8, 0))
    r.one(other.submit(district=7))
    announced = local(2025, 5, 12, 20, 0)
    nothing = r.send(closed(announced, local(2025, 5, 13, 7, 30), local(2025, 5, 13, 14, 30),
                            district=9))
    assert nothing == []
    [moved] = r.send(closed(announced, local(2025, 5, 13, 7, 30), local(2025, 5, 13, 14, 30),
                            district=6))
    assert moved.type == "DeadlineRecomputed" and moved.demand_id == s.demand_id
    assert moved.payload["before"]["deadline"] == route.payload["deadline"]
    assert moved.payload["after"]["deadline"] == format_time(WorkingCalendar(
        DEFAULT_RULES.calendar, (Closure("x", local(2025, 5, 13, 7, 30),
                                         local(2025, 5, 13, 14, 30)),)).add(
        local(2025, 5, 10, 8, 0), 35))
    assert moved.payload["cause"]["type"] == "OfficeClosed"
    assert moved.payload["cause"]["district"] == 6
    assert r.state().deadline == moved.payload["after"]["deadline"]
    assert r.state().recomputed == 1
    both = r.send(closed(announced, local(2025, 5, 14, 7, 30), local(2025, 5, 14, 14, 30)))
    assert {d.demand_id for d in both} == {s.demand_id, other.demand_id}


def test_headquarters_does_not_close_with_a_district_office():
    r = Router()
    s, _ = submitted_at(r, local(2025, 5, 10, 8, 0))
    for actor in (STAFF, MAYOR):
        r.one(s.request("EscalationRequested", {"reason": "beyond_budget"}, actor))
    assert r.state().level == "headquarters"
    assert r.send(closed(local(2025, 5, 10, 20, 0), local(2025, 5, 11, 7, 30),
                         local(2025, 5, 11, 14, 30), district=6)) == []


def test_a_new_rule_set_recomputes_what_it_changes_and_nothing_else():
    r = Router()
    s, route = submitted_at(r, local(2025, 5, 10, 8, 0))  # transport: policy "standard"
    social = Stream(demand_id="01JTQ4CZ000000000000000002", start=local(2025, 5, 10, 8, 0))
    r.one(social.submit(category="social"))
    v2 = replace(DEFAULT_RULES, version=2, policies={
        **DEFAULT_RULES.policies, "standard": SlaPolicy(14, 70, 7)})
    published = rule_set_published(v2, local(2025, 5, 11, 9, 0), actor=ADMIN, note="دو برابر")
    [moved] = r.send(published)
    assert moved.demand_id == s.demand_id
    before, after = moved.payload["before"], moved.payload["after"]
    assert (before["resolve_hours"], after["resolve_hours"]) == (35, 70)
    assert (before["rule_version"], after["rule_version"]) == (1, 2)
    assert after["deadline"] == format_time(WORKING.add(local(2025, 5, 10, 8, 0), 70))
    assert moved.payload["explanation"]["rule"]["version"] == 2
    assert r.state().rule_version == 2
    # the same publication again, or an older version, changes nothing
    assert r.send(published) == []
    assert r.send(rule_set_published(DEFAULT_RULES, local(2025, 5, 11, 10, 0),
                                     actor=ADMIN)) == []
    # and a new demand is routed under it
    late = Stream(demand_id="01JTQ4CZ000000000000000003", start=local(2025, 5, 12, 8, 0))
    assert r.one(late.submit()).payload["rule_version"] == 2


def test_publishing_the_default_changes_no_decision():
    """Version 1 in the stream is the built-in default: deciding with or without it gives the
    same bytes."""
    implicit, explicit = Router(), Router()
    explicit.send(rule_set_published(DEFAULT_RULES, local(2025, 5, 1, 8, 0),
                                     actor=SYSTEM_ROUTING))
    s = Stream(start=local(2025, 5, 10, 8, 0))
    s.submit()
    s.request("EscalationRequested", {"reason": "beyond_budget"}, STAFF)
    events = [*s.requests, tick(local(2025, 6, 30, 8, 0))]
    assert encoded(implicit.run(events)) == encoded(explicit.run(events))


def test_facts_belong_to_the_routing_stream():
    fact = tick(local(2025, 5, 10, 8, 0))
    assert fact.demand_id == ROUTING_STREAM_ID and fact.is_fact and not fact.is_decision
    r = Router()
    assert r.send(fact) == []
    assert ROUTING_STREAM_ID not in r.part.demands


def test_a_rejection_carries_its_reason_as_a_code():
    r = Router()
    s, _ = submitted_at(r, local(2025, 5, 10, 8, 0))
    rejected = r.one(s.request("RejectionRequested", {"reason": "در حیطه شهرداری نیست",
                                                      "code": "not_municipal"}, STAFF))
    assert (rejected.payload["code"], r.state().rejection_code) == ("not_municipal",
                                                                    "not_municipal")
    other = Router()
    s2, _ = submitted_at(other, local(2025, 5, 10, 8, 0))
    plain = other.one(s2.request("RejectionRequested", {"reason": "x"}, STAFF))
    assert plain.payload["code"] == "other"  # a request without a code, as before
