"""Properties of routing over random histories of requests, clock ticks, office closures and
rule sets: deadlines only ever fall on working moments, the same stream always yields the
same decisions, and recomputing after a calendar change equals routing afresh under it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import event, given, settings
from hypothesis import strategies as st

from routing.facts import office_closed, rule_set_published, tick
from services.domain.demand import fold
from services.domain.rules import DEFAULT_RULES, Rule, SlaPolicy
from services.domain.vocabulary import CATEGORIES, ESCALATION_REASONS, PRIORITIES
from services.events.envelope import Actor, Event, make, parse_time
from services.events.ids import derived_id
from tests.unit.streams import CENTRAL, CLERK, DEMAND, HQ, Router, encoded

ADMIN = Actor("administrator", "admin")
IDS = [derived_id(datetime(2025, 1, 1, tzinfo=UTC), "property", str(i)) for i in range(3)]
REASONS = [r for r in ESCALATION_REASONS if r != "requester_appeal"]
V2 = replace(DEFAULT_RULES, version=2, rules=(
    *DEFAULT_RULES.rules,
    Rule("transport-trustees", "transport", "civil_works", "fast",
         requester_kind="neighbourhood_trustee", priority="high")),
    policies={**DEFAULT_RULES.policies, "fast": SlaPolicy(3, 10, 2),
              "standard": SlaPolicy(10, 20, 4)})
REQUESTS = ["submit"] * 3 + ["ack"] * 3 + ["note", "resolve", "escalate", "escalate", "info",
                                           "respond", "sendback", "appeal", "reopen"]
FACTS = ["tick"] * 8 + ["closure", "rules"]


def _actor(state, step: str) -> Actor:
    if step in ("respond", "appeal", "reopen") or state is None:
        return CLERK
    if state.level == "department":
        return Actor("department_staff", "staff", state.district, state.department)
    if state.level == "district_mayor":
        return Actor("district_mayor", "mayor", state.district)
    return HQ if state.level == "headquarters" else CENTRAL


def _request(step: str, state, demand_id: str, at: datetime, n: int, choice: int) -> Event:
    payloads: dict[str, tuple[str, dict[str, Any]]] = {
        "submit": ("DemandSubmitted", {
            **DEMAND, "district": (6, 7)[choice % 2],
            "category": list(CATEGORIES)[choice % len(CATEGORIES)],
            "priority": list(PRIORITIES)[choice % len(PRIORITIES)],
            "requester": {"kind": ("citizen", "neighbourhood_trustee")[choice % 3 == 0]}}),
        "ack": ("AcknowledgementRequested", {}),
        "note": ("ProgressNoteSubmitted", {"note": "x"}),
        "resolve": ("ResolutionReported", {"summary": "x"}),
        "escalate": ("EscalationRequested", {"reason": REASONS[choice % len(REASONS)]}),
        "info": ("RequesterInfoRequested", {"question": "?"}),
        "respond": ("RequesterResponded", {"answer": "!"}),
        "sendback": ("SendBackRequested", {"to_level": ("department", "district_mayor")[
            choice % 2], "instructions": "x"}),
        "appeal": ("EscalationRequested", {"reason": "requester_appeal"}),
        "reopen": ("ReopenRequested", {"reason": "x"}),
    }
    type_, payload = payloads[step]
    return make(type_, demand_id, payload, actor=_actor(state, step),
                event_id=derived_id(at, "property", str(n)), recorded_at=at)


def _fact(step: str, at: datetime, n: int, choice: int) -> Event:
    if step == "tick":
        return tick(at)
    if step == "rules":
        return rule_set_published(V2, at, actor=ADMIN)
    opens = at + timedelta(hours=choice)
    return office_closed(f"closure-{n}", opens, opens + timedelta(hours=1 + choice % 30), at,
                         actor=ADMIN, reason="x", district=(None, 6, 7)[choice % 3])


@st.composite
def histories(draw, facts: list[str] = FACTS, min_size: int = 5,
              max_size: int = 35) -> list[Event]:
    """Requests by whoever may act (mostly), interleaved with facts, time moving forward."""
    at = draw(st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2026, 10, 1),
                           timezones=st.just(UTC))).replace(microsecond=0)
    gen, out = Router(), []
    for n in range(draw(st.integers(min_size, max_size))):
        step = draw(st.sampled_from(REQUESTS + facts))
        at += timedelta(minutes=draw(st.integers(0, 2500)))
        demand_id, choice = draw(st.sampled_from(IDS)), draw(st.integers(0, 60))
        if step in FACTS:
            event = _fact(step, at, n, choice)
        else:
            event = _request(step, gen.part.demands.get(demand_id), demand_id, at, n, choice)
        out.append(event)
        gen.send(event)
    return out


DEADLINES = ("ack_deadline", "ack_warn_at", "deadline", "warn_at")


@settings(max_examples=60, deadline=None)
@given(histories())
def test_no_deadline_ever_falls_on_a_non_working_moment(events):
    r = Router()
    for e in events:
        for d in r.send(e):
            clock = d.payload.get("clock")
            if clock is None:
                continue
            calendar = r.part.context.calendar(clock["district"])
            for name in DEADLINES:
                if clock[name] is not None:
                    assert calendar.is_working_moment(parse_time(clock[name])), (name, clock)
            if clock["deadline"] is not None:
                assert clock["ack_warn_at"] <= clock["ack_deadline"]
                assert clock["warn_at"] <= clock["deadline"]
                assert clock["started"] < clock["deadline"]


@settings(max_examples=40, deadline=None)
@given(histories())
def test_the_same_stream_always_yields_the_same_decisions(events):
    first, second = Router(), Router()
    decided = first.run(events)
    assert encoded(decided) == encoded(second.run(events))
    # every decision has its own id, and what reporting folds from the log is what routing saw
    assert len({d.event_id for d in decided}) == len(decided)
    for demand_id, state in first.part.demands.items():
        log = [e for e in first.log if e.demand_id == demand_id]
        assert fold(log).to_doc() == state.to_doc()


def _compared(state) -> dict[str, Any]:
    """What a recomputation must get right. (A warning given before the change names the
    deadline as it was then: the past is not rewritten, and the moved deadline gets its own.)"""
    return {"status": state.status, "level": state.level, "deadline": state.deadline,
            "ack_deadline": state.ack_deadline, "clock": state.clock,
            "escalations": state.escalations,
            "warned": [(w["level"], w["kind"], w["stage"], w["at"]) for w in state.warnings]}


@settings(max_examples=60, deadline=None)
@given(histories(facts=["tick"] * 4), st.integers(0, 60 * 24 * 3), st.integers(60, 60 * 24 * 4),
       st.sampled_from([None, 6, 7]))
def test_recomputing_after_a_closure_equals_routing_afresh_under_it(events, later, length,
                                                                    district):
    """A closure that starts after the history's last event (announced now, or a lunar
    holiday confirmed late): recomputing every open demand's deadlines gives exactly what
    routing the whole history with the closure known from the start gives."""
    end = max(e.recorded_at for e in events)
    opens = end + timedelta(minutes=later)
    closure = office_closed("late", opens, opens + timedelta(minutes=length), end, actor=ADMIN,
                            reason="تعطیلی", district=district)
    recomputed = Router()
    recomputed.run(events)
    moved = recomputed.send(closure)
    known = replace(closure, recorded_at=events[0].recorded_at - timedelta(days=1))
    afresh = Router()
    afresh.send(known)
    afresh.run(events)
    assert set(recomputed.part.demands) == set(afresh.part.demands)
    for demand_id, state in afresh.part.demands.items():
        again = recomputed.part.demands[demand_id]
        assert (again.status, again.level) == (state.status, state.level)
        if state.is_open:  # a closed demand keeps the deadlines it was closed under
            assert _compared(again) == _compared(state)
    event(f"deadlines moved: {'some' if moved else 'none'}")
    for d in moved:
        assert d.type == "DeadlineRecomputed"
        assert d.payload["before"] != d.payload["after"]
        assert d.payload["after"]["deadline"] is None or \
            d.payload["after"]["deadline"] >= d.payload["before"]["deadline"]
