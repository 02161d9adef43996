"""Merges that never destroy: the duplicate closes only once the target has taken it in.

Routing's messages between two demands' streams (an offer, its answer) are delivered here as
the worker would deliver them: appended to the log and decided by the receiving stream.
"""

from __future__ import annotations

from services.domain.demand import fold
from services.events.envelope import Actor, Event
from services.events.ids import derived_id
from tests.unit.streams import (
    CLERK,
    PERSON_A,
    PERSON_B,
    PERSON_C,
    STAFF,
    T0,
    Router,
    Stream,
    encoded,
    supporting,
)

CLERK_A = Actor("intake_clerk", "clerk-a", 6)
CLERK_B = Actor("intake_clerk", "clerk-b", 6)
TARGET_ID, DUP_ID = derived_id(T0, "demand", "t"), derived_id(T0, "demand", "d")


def deliver(r: Router, events: list[Event]) -> list[Event]:
    """Decide every message among `events` (and the messages those lead to), in order."""
    out, queue = list(events), [e for e in events if not e.is_decision]
    while queue:
        more = r.send(queue.pop(0))
        out.extend(more)
        queue.extend(e for e in more if not e.is_decision)
    return out


def two_demands(r: Router, **target) -> tuple[Stream, Stream]:
    t, d = Stream(TARGET_ID), Stream(DUP_ID)
    r.one(t.submit(**target))
    r.one(d.submit())
    r.one(t.request("SupportRequested", supporting(PERSON_A), CLERK_A))
    r.one(d.request("SupportRequested", supporting(PERSON_A), CLERK_B))
    r.one(d.request("SupportRequested", supporting(PERSON_B), CLERK_B))
    return t, d


def merge(r: Router, s: Stream, into: str, actor: Actor = STAFF) -> list[Event]:
    return deliver(r, r.send(s.request("MergeRequested", {"into": into, "reason": "همان"},
                                       actor)))


def assert_untouched_duplicate(r: Router, code: str, events: list[Event]) -> None:
    d = r.state(DUP_ID)
    assert (d.status, d.merged_into, d.is_open) == ("routed", None, True)
    assert d.supporters == [PERSON_A, PERSON_B]
    refusals = [e for e in events if e.demand_id == DUP_ID and e.type == "ActionRejected"]
    assert [e.payload["code"] for e in refusals] == [code]


def test_a_merge_closes_the_duplicate_once_the_target_took_it_in() -> None:
    r = Router()
    _, d = two_demands(r)
    events = merge(r, d, TARGET_ID)
    assert [e.type for e in events] == ["MergeProposed", "MergeOffered", "DemandAbsorbed",
                                        "MergeAccepted", "DemandMerged"]
    dup, target = r.state(DUP_ID), r.state(TARGET_ID)
    assert (dup.status, dup.merged_into) == ("merged", TARGET_ID)
    assert (target.merged_from, target.supporters) == ([DUP_ID], [PERSON_A, PERSON_B])


def test_a_merge_into_a_resolved_demand_leaves_the_duplicate_as_it_was() -> None:
    r = Router()
    t, d = two_demands(r)
    r.one(t.request("ResolutionReported", {"summary": "انجام شد"}, STAFF))
    events = merge(r, d, TARGET_ID)
    assert_untouched_duplicate(r, "not_allowed_in_state", events)
    assert r.state(TARGET_ID).supporters == [PERSON_A]


def test_a_merge_into_an_unknown_demand_leaves_the_duplicate_as_it_was() -> None:
    r = Router()
    _, d = two_demands(r)
    events = merge(r, d, derived_id(T0, "demand", "ghost"))
    assert_untouched_duplicate(r, "unknown_demand", events)


def test_a_merge_into_another_districts_demand_leaves_the_duplicate_as_it_was() -> None:
    r = Router()
    _, d = two_demands(r, district=7)
    events = merge(r, d, TARGET_ID)
    assert_untouched_duplicate(r, "other_district", events)


def test_a_merge_into_another_departments_demand_is_outside_the_actors_scope() -> None:
    r = Router()
    _, d = two_demands(r, category="social")
    events = merge(r, d, TARGET_ID)
    assert_untouched_duplicate(r, "out_of_scope", events)


def test_crossed_merges_destroy_neither_demand() -> None:
    r = Router()
    t, d = two_demands(r)
    first = r.send(d.request("MergeRequested", {"into": TARGET_ID, "reason": "x"}, STAFF))
    second = r.send(t.request("MergeRequested", {"into": DUP_ID, "reason": "x"}, STAFF))
    deliver(r, first + second)
    states = [r.state(DUP_ID), r.state(TARGET_ID)]
    assert all(s.is_open and s.merged_into is None and s.merging is None for s in states)
    assert [s.supporters for s in states] == [[PERSON_A, PERSON_B], [PERSON_A]]


def test_a_merged_into_demand_cannot_be_merged_again_while_the_offer_is_out() -> None:
    r = Router()
    t, d = two_demands(r)
    r.send(d.request("MergeRequested", {"into": TARGET_ID, "reason": "x"}, STAFF))
    again = r.one(d.request("MergeRequested", {"into": TARGET_ID, "reason": "x"}, STAFF))
    closing = r.one(d.request("ResolutionReported", {"summary": "x"}, STAFF))
    support = r.one(d.request("SupportRequested", supporting(PERSON_C), CLERK))
    assert [again.payload["code"], closing.payload["code"], support.payload["code"]] == [
        "merge_pending"] * 3


def test_a_lost_offer_is_sent_again_after_a_restart_and_decided_once() -> None:
    """A crash between the duplicate's decision and the offer on the target's partition: the
    refold finds the merge pending and sends the same offer again; a copy that arrives twice
    is decided once, and its answer is given again so the duplicate always learns it."""
    r = Router()
    _, d = two_demands(r)
    proposed, offer = r.send(d.request("MergeRequested", {"into": TARGET_ID, "reason": "x"},
                                       STAFF))
    assert proposed.type == "MergeProposed"
    # the offer never reached the log; a restarted worker refolds and resends it
    (again,) = r.part.resend_merges()
    assert encoded([again]) == encoded([offer])
    absorbed, accepted = r.send(again)
    assert absorbed.type == "DemandAbsorbed"
    # the same offer again (a retried append): no second absorption, the same answer
    (answer,) = r.send(again)
    assert encoded([answer]) == encoded([accepted])
    (merged,) = r.send(accepted)
    assert merged.type == "DemandMerged"
    assert r.send(answer) == []  # the duplicate has its answer already
    assert r.part.resend_merges() == []
    assert r.state(TARGET_ID).supporters == [PERSON_A, PERSON_B]


def test_a_clerk_cannot_take_routings_part_in_a_merge() -> None:
    r = Router()
    _, d = two_demands(r)
    forged = r.one(d.request("MergeAccepted", {"into": TARGET_ID}, CLERK))
    assert forged.payload["code"] == "not_routable" and r.state(DUP_ID).is_open


def test_supporters_move_once_and_stay_per_person_across_a_merge() -> None:
    """PERSON_A supports both demands (through two clerks): after the merge the target counts
    them once. The duplicate's anonymous supports move exactly once, however often the offer
    and its answer arrive, and the log folds to the same counts."""
    r = Router()
    t, d = two_demands(r)
    r.one(t.request("SupportRequested", supporting(None), CLERK_A))
    for _ in range(2):
        r.one(d.request("SupportRequested", supporting(None), CLERK_B))
    proposed, offer = r.send(d.request("MergeRequested", {"into": TARGET_ID, "reason": "x"},
                                       STAFF))
    assert proposed.payload["anonymous_supporters"] == 2
    absorbed, accepted = r.send(offer)
    assert r.send(offer)[0].type == "MergeAccepted"  # a copy: answered again, not absorbed
    (merged,) = r.send(accepted)
    assert (absorbed.payload["supporters_added"], absorbed.payload["supporters"]) == (
        [PERSON_B], 2)
    assert (absorbed.payload["anonymous_added"], absorbed.payload["anonymous_supporters"]) == (
        2, 3)
    assert merged.payload["anonymous_supporters"] == 2
    target = r.state(TARGET_ID)
    assert (target.supporters, target.anonymous_supporters) == ([PERSON_A, PERSON_B], 3)
    assert absorbed.payload["score"] == 5.17  # from the two people, never the anonymous
    refolded = fold(e for e in r.log + r.log if e.demand_id == TARGET_ID)
    assert (refolded.supporters, refolded.anonymous_supporters) == ([PERSON_A, PERSON_B], 3)
    # the person already counted on the target cannot support it again, by any clerk
    again = r.one(t.request("SupportRequested", supporting(PERSON_B), CLERK))
    assert again.payload["code"] == "already_supported"
