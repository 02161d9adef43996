"""Citizens' supports and the priority score, and a meeting's follow-up list: pure, no I/O."""

from __future__ import annotations

from dataclasses import replace

import pytest
from marshmallow import ValidationError

from reporting.civic import follow_up, likely_duplicates
from routing.supporter import SupporterV1
from services.domain.demand import fold
from services.domain.priority import score
from services.events.envelope import Actor, from_dict, make
from services.events.ids import derived_id
from tests.unit.streams import (
    HQ,
    PERSON_A,
    PERSON_B,
    STAFF,
    T0,
    Router,
    Stream,
    supporting,
)

CLERK_A = Actor("intake_clerk", "clerk-a", 6)
CLERK_B = Actor("intake_clerk", "clerk-b", 6)


def test_the_score_grows_with_supporters_and_starts_from_the_priority() -> None:
    assert score("normal", 0) == 2.0
    assert score("normal", 1) == 4.0
    assert score("normal", 3) == 6.0
    assert score("urgent", 0) == 4.0
    assert [score("low", n) for n in range(5)] == sorted(score("low", n) for n in range(5))
    # three supporters lift a normal demand above an unsupported urgent one
    assert score("normal", 3) > score("urgent", 0) > score("normal", 0)
    with pytest.raises(ValueError):
        score("normal", -1)


def test_one_support_per_person_whoever_records_it_and_a_second_is_refused_visibly() -> None:
    s, r = Stream(), Router()
    r.one(s.submit())
    first = r.one(s.request("SupportRequested", supporting(PERSON_A), CLERK_A))
    assert first.type == "SupportRecorded" and first.version == 2
    assert first.payload == {"supporter": PERSON_A, "supporters": 1,
                             "anonymous_supporters": 0, "score": 4.0}
    # the same person through another clerk, with another free reference: not a second one
    again = r.one(s.request("SupportRequested",
                            {**supporting(PERSON_A), "on_behalf_of": "card-2"}, CLERK_B))
    assert again.type == "ActionRejected" and again.payload["code"] == "already_supported"
    second = r.one(s.request("SupportRequested", supporting(PERSON_B), CLERK_A))
    assert second.payload["supporters"] == 2
    state = r.state()
    assert (state.supporters, state.anonymous_supporters) == ([PERSON_A, PERSON_B], 0)
    # the fold of the log gives the same state, and folding a decision twice changes nothing
    assert fold(r.log).supporters == state.supporters
    assert fold(r.log + r.log).supporters == state.supporters


def test_a_support_naming_nobody_is_anonymous_counted_apart_and_outside_the_score() -> None:
    s, r = Stream(), Router()
    r.one(s.submit())
    r.one(s.request("SupportRequested", supporting(PERSON_A), CLERK_A))
    for ref in ("card-1", "card-2", None):  # a free reference identifies nobody
        out = r.one(s.request("SupportRequested", {"on_behalf_of": ref}, CLERK_A))
        assert out.type == "SupportRecorded" and out.payload["supporter"] is None
    assert out.payload == {"supporter": None, "supporters": 1, "anonymous_supporters": 3,
                           "score": 4.0}
    state = r.state()
    assert (state.supporters, state.anonymous_supporters) == ([PERSON_A], 3)
    assert fold(r.log + r.log).anonymous_supporters == 3


def test_a_support_from_a_log_before_supports_were_per_person_is_decided_as_then() -> None:
    """A version 1 SupportRequested named its supporter by the token's subject and a clerk's
    free reference: replaying it gives the supporter it gave then."""
    s, r = Stream(), Router()
    submitted = s.submit()
    r.one(submitted)
    old = [replace(s.request("SupportRequested", {"on_behalf_of": ref}, CLERK_A), version=1)
           for ref in (None, "card-1", "card-1")]
    decided = [r.one(e) for e in old]
    assert [d.payload.get("supporter") for d in decided[:2]] == ["clerk-a", "clerk-a/card-1"]
    assert decided[2].payload["code"] == "already_supported"
    # its version 1 decision still decodes, and folds to the supporter it named
    (recorded, *_) = decided
    legacy = from_dict({**recorded.to_dict(), "version": 1, "payload": {
        "supporter": "clerk-a", "supporters": 1, "score": 4.0}})
    assert fold([submitted, legacy]).supporters == ["clerk-a"]


def test_a_closed_demand_takes_no_support() -> None:
    s, r = Stream(), Router()
    r.one(s.submit())
    r.one(s.request("ResolutionReported", {"summary": "انجام شد"}, STAFF))
    refused = r.one(s.request("SupportRequested", supporting(PERSON_A), CLERK_A))
    assert refused.payload["code"] == "not_allowed_in_state"
    assert r.state().supporters == []


def test_a_meeting_is_a_fact_routing_and_the_fold_pass_by() -> None:
    meeting_id = derived_id(T0, "meeting", "1")
    event = make("MeetingRecorded", meeting_id, {
        "kind": "stakeholder_meeting", "district": 17, "held_on": "2026-11-18",
        "title": "شهر خوب، شهر ارتباطی", "attendees": {"prayer_leader": 3, "guild": 5},
        "minutes": "گزارش جلسه"}, actor=HQ, event_id=derived_id(T0, "e", "1"), recorded_at=T0)
    assert event.is_fact and not event.is_decision
    assert Router().send(event) == []
    assert fold([event]) is None


def _doc(i: int, **changes) -> dict:
    return {"demand_id": f"D{i}", "title": "t", "neighbourhood": "n", "category": "transport",
            "status": "routed", "level": "department", "department": "transport",
            "deadline": "2026-12-01T00:00:00.000Z", "open": True, "escalations": [],
            "supporters": [], **changes}


def test_a_meetings_follow_up_counts_what_became_of_its_demands() -> None:
    docs = [_doc(1), _doc(2, status="resolved", open=False),
            _doc(3, level="district_mayor", escalations=[{"to": "district_mayor"}]),
            _doc(4, deadline="2026-11-01T00:00:00.000Z", supporters=["a", "b"]),
            _doc(5, escalations=[{"to": "district_mayor", "trigger": "deadline"}])]
    out = follow_up(docs, "2026-11-20T00:00:00.000Z")
    assert out["counts"] == {"raised": 5, "open": 4, "resolved": 1, "escalated": 2,
                             "overdue": 2}
    assert [i["overdue"] for i in out["items"]] == [False, False, False, True, True]
    assert out["items"][3]["supporters_count"] == 2
    assert follow_up([], "2026-11-20T00:00:00.000Z")["counts"]["raised"] == 0


def _demand(i: int, title: str, **changes) -> dict:
    return {"demand_id": f"D{i}", "title": title, "description": "", "district": 21,
            "neighbourhood": "ویلاشهر", "category": "transport", "status": "routed",
            "open": True, "submitted_at": f"2026-11-0{i}T00:00:00.000Z", **changes}


def test_likely_duplicates_are_alike_open_and_of_the_same_place_and_category() -> None:
    new = _demand(9, "ترافیک ورودی تهرانسر")
    others = [_demand(1, "ترافیک شدید ورودی تهرانسر"), _demand(2, "چراغ راهنمایی"),
              _demand(3, "ترافیک ورودی تهرانسر", open=False),
              _demand(4, "ترافیک ورودی تهرانسر", neighbourhood="دیگر"),
              _demand(5, "ترافیک ورودی تهرانسر", category="social"),
              _demand(6, "ترافیک ورودی تهرانسر"), new]
    found = likely_duplicates(new, others, limit=10)
    assert [f["demand_id"] for f in found] == ["D6", "D1", "D2"]
    assert found[0]["similarity"] == 1.0 and found[2]["similarity"] == 0.0
    assert [f["demand_id"] for f in likely_duplicates(new, others, limit=1)] == ["D6"]


def test_a_merge_closes_the_duplicate_and_the_target_takes_its_supporters() -> None:
    target_id, dup_id = derived_id(T0, "demand", "t"), derived_id(T0, "demand", "d")
    target, dup, r = Stream(target_id), Stream(dup_id), Router()
    r.one(target.submit())
    r.one(dup.submit())
    r.one(target.request("SupportRequested", supporting(PERSON_A), CLERK_A))
    r.one(dup.request("SupportRequested", supporting(PERSON_A), CLERK_B))
    r.one(dup.request("SupportRequested", supporting(PERSON_B), CLERK_B))
    proposed, offer = r.send(dup.request("MergeRequested",
                                         {"into": target_id, "reason": "همان"}, STAFF))
    assert (proposed.type, proposed.demand_id, offer.type, offer.demand_id) == (
        "MergeProposed", dup_id, "MergeOffered", target_id)
    assert not offer.is_decision and offer.causation_id == proposed.causation_id
    absorbed, accepted = r.send(offer)
    assert absorbed.type == "DemandAbsorbed"
    assert absorbed.payload["supporters_added"] == [PERSON_B]
    assert (accepted.type, accepted.demand_id) == ("MergeAccepted", dup_id)
    assert r.one(accepted).type == "DemandMerged"
    d, t = r.state(dup_id), r.state(target_id)
    assert (d.status, d.merged_into, d.is_open) == ("merged", target_id, False)
    assert (t.merged_from, t.supporters) == ([dup_id], [PERSON_A, PERSON_B])
    # both histories stay, and the log folds to the same states
    assert fold([e for e in r.log if e.demand_id == dup_id]).merged_into == target_id
    assert fold([e for e in r.log if e.demand_id == target_id]).merged_from == [dup_id]
    # a merged demand takes no more actions
    assert r.one(dup.request("SupportRequested", {}, CLERK_B)).payload["code"] == \
        "not_allowed_in_state"


def test_a_merge_is_refused_into_itself_or_by_a_person_posing_as_routing() -> None:
    s, r = Stream(), Router()
    r.one(s.submit())
    same = r.one(s.request("MergeRequested", {"into": s.demand_id, "reason": "x"}, STAFF))
    assert same.payload["code"] == "merge_into_itself"
    forged = r.one(s.request("MergeOffered", {"from_demand": derived_id(T0, "x", "1"),
                                              "district": 6, "title": "t",
                                              "supporters": ["z"]}, HQ))
    assert forged.payload["code"] == "not_routable" and r.state().supporters == []


@pytest.mark.parametrize("given, loaded", [
    ({"phone": "۰۹۱۲ ۳۴۵-۶۷۸۹"}, {"phone": "09123456789", "national_id": None}),
    ({"phone": "+98 912 345 6789"}, {"phone": "+989123456789", "national_id": None}),
    ({"national_id": "۰۴۹۹۳۷۰۸۹۹"}, {"phone": None, "national_id": "0499370899"}),
    ({"national_id": "049-937089-9"}, {"phone": None, "national_id": "0499370899"}),
])
def test_a_supporters_phone_and_national_code_are_read_however_they_are_written(
        given, loaded) -> None:
    assert SupporterV1().load(given) == loaded


@pytest.mark.parametrize("given, field", [
    ({}, "_schema"), ({"phone": None, "national_id": None}, "_schema"),
    ({"national_id": "0499370898"}, "national_id"), ({"phone": "call me"}, "phone"),
    ({"name": "مریم"}, "name"),
])
def test_a_supporter_names_a_valid_national_code_or_phone_and_nothing_else(given, field) -> None:
    with pytest.raises(ValidationError) as refused:
        SupporterV1().load(given)
    assert field in refused.value.messages
