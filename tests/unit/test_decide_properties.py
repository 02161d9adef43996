"""Properties of fold + decide over random request streams."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from routing.worker import PartitionState
from services.domain.demand import fold
from services.domain.vocabulary import (
    CATEGORIES,
    CLOSED_STATUSES,
    ESCALATION_REASONS,
    LEVEL_CODES,
    PRIORITIES,
    STATUSES,
)
from services.events.envelope import Actor, Event
from services.events.ids import derived_id
from tests.unit import streams
from tests.unit.streams import T0, Router, Stream, encoded

# "fit" stands for whoever may act at the demand's current level; the rest may not, mostly.
FIT = {"department": streams.STAFF, "district_mayor": streams.MAYOR,
       "headquarters": streams.HQ, "central_management": streams.CENTRAL}
ACTORS = ["fit"] * 14 + [streams.CITIZEN] * 2 + [
    streams.CLERK, streams.STAFF, streams.STAFF_OTHER_DISTRICT, streams.STAFF_OTHER_DEPARTMENT,
    streams.MAYOR, streams.MAYOR_OTHER_DISTRICT, streams.HQ, streams.CENTRAL, streams.ADMIN,
    streams.AUDITOR]
SUCCESS = {
    "DemandSubmitted": "DemandRouted",
    "AcknowledgementRequested": "DemandAcknowledged",
    "ProgressNoteSubmitted": "ProgressNoted",
    "ResolutionReported": "DemandResolved",
    "EscalationRequested": "DemandEscalated",
    "RejectionRequested": "DemandRejected",
    "WithdrawalRequested": "DemandWithdrawn",
    "ReopenRequested": "DemandReopened",
}
DEMANDS = [streams.DEMAND_ID, derived_id(T0, "demand", "2")]
_text = st.sampled_from(["x", "بررسی شد", "انجام شد"])
_reason = st.sampled_from(list(ESCALATION_REASONS))
_submission = st.tuples(
    st.just("DemandSubmitted"),
    st.fixed_dictionaries({"category": st.sampled_from(list(CATEGORIES)),
                           "priority": st.sampled_from(list(PRIORITIES))}))
_actions = [
    ("AcknowledgementRequested", {"note": st.none() | _text}),
    ("ProgressNoteSubmitted", {"note": _text}),
    ("ResolutionReported", {"summary": _text}),
    ("EscalationRequested", {"reason": _reason, "note": st.none() | _text}),
    ("RejectionRequested", {"reason": _text}),
    ("WithdrawalRequested", {"reason": _text}),
    ("ReopenRequested", {"reason": _text}),
]
_weights = {"AcknowledgementRequested": 3, "ProgressNoteSubmitted": 2, "ResolutionReported": 3,
            "EscalationRequested": 4, "ReopenRequested": 2}
_action = st.one_of(_submission, *[st.tuples(st.just(t), st.fixed_dictionaries(p))
                                   for t, p in _actions for _ in range(_weights.get(t, 1))])
_step = st.tuples(_action, st.sampled_from(ACTORS), st.sampled_from(DEMANDS[:1] * 5 + DEMANDS[1:]),
                  st.integers(0, 90), st.integers(0, 20))


@st.composite
def request_streams(draw) -> list[Event]:
    """Requests for up to two demands, usually starting with a submission; a stream may also
    act before submitting, and some requests are recorded twice (an at-least-once log)."""
    s, router = Stream(), Router()
    steps = draw(st.lists(_step, min_size=8, max_size=40))
    if draw(st.integers(0, 9)):
        steps.insert(0, (draw(_submission), streams.CLERK, DEMANDS[0], 0, 1))
    out: list[Event] = []
    for (type_, payload), actor, demand_id, minutes, dup in steps:
        if type_ == "DemandSubmitted":
            payload = {**streams.DEMAND, **payload}
        if actor == "fit":
            state = router.part.demands.get(demand_id)
            actor = FIT[state.level if state else "department"]
            if state is not None and state.level == "department":
                actor = Actor("department_staff", "staff", 6, state.department)
        out.append(s.request(type_, payload, actor, demand_id=demand_id, minutes=minutes))
        if dup == 0:
            out.append(out[draw(st.integers(0, len(out) - 1))])
        router.send(out[-1])
    return out


@settings(max_examples=300, deadline=None)
@given(request_streams())
def test_every_request_gets_exactly_one_decision_and_one_status(requests):
    router = Router()
    decisions = router.run(requests)

    unique = {r.event_id: r for r in requests}
    causes = Counter(d.causation_id for d in decisions)
    assert causes == Counter(list(unique))  # exactly one decision for each distinct request
    for d in decisions:
        assert d.type in ("ActionRejected", SUCCESS[unique[d.causation_id].type])
        assert d.demand_id == unique[d.causation_id].demand_id
        assert d.recorded_at == unique[d.causation_id].recorded_at

    for demand_id in DEMANDS:
        events = [e for e in router.log if e.demand_id == demand_id]
        state = fold(events)
        if state is None:
            assert demand_id not in router.part.demands
            continue
        assert state.status in STATUSES and state.status != "submitted"
        assert state.level in LEVEL_CODES
        assert (state.closed_at is not None) == (state.status in CLOSED_STATUSES)
        # the log folded afresh, even with every decision stored twice, is what routing saw
        assert state.to_doc() == router.part.demands[demand_id].to_doc()
        assert fold(events + [e for e in events if e.is_decision]).to_doc() == state.to_doc()


@settings(max_examples=150, deadline=None)
@given(request_streams())
def test_deciding_the_same_stream_again_gives_identical_bytes(requests):
    first, second = Router(), Router()
    assert encoded(first.run(requests)) == encoded(second.run(requests))
    # folding the whole log (as the worker's catch-up does) finds every request decided
    replay = PartitionState()
    for event in first.log:
        replay.fold(event)
    assert all(replay.is_decided(r) for r in requests)
    assert {k: v.to_doc() for k, v in replay.demands.items()} == \
        {k: v.to_doc() for k, v in first.part.demands.items()}
