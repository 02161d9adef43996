"""Citizen priorities («من شهردارم») and meetings end to end over HTTP: intake, routing and
reporting on one real SQLite log, the real routing worker and projector on SecantusDB."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from routing.app import create_app as routing_app
from services.config import Settings
from services.eventlog.sqlite import SqliteEventLog
from services.events.envelope import parse_time
from services.privacy import nationalid
from services.privacy.crypto import MasterKeyError
from services.privacy.scan import Known, Matcher, Report, scan_database, scan_log
from tests.auth_helpers import SECRET, bearer
from tests.integration.test_ladder_http import HQ, Sada, clerk, mayor, staff


@pytest.fixture
def sada(tmp_path, mongo_db) -> Iterator[Sada]:
    s = Sada(tmp_path, mongo_db)
    yield s
    s.worker.close()


def person(n: int) -> dict[str, str]:
    """A supporter named by a national code (a valid one, the n-th)."""
    first_nine = f"{n + 100:09d}"
    return {"national_id": first_nine + nationalid.check_digit(first_nine)}


PHONE = "۰۹۱۲ ۳۴۵-۶۷۸۹"


def clerk_named(name: str, district: int = 21) -> dict[str, str]:
    """One of several clerks of a district, each with their own token subject."""
    return bearer("intake_clerk", district, subject=f"clerk-{name}")


def support(sada: Sada, demand_id: str, headers: dict[str, str],
            body: dict[str, Any] | None = None) -> None:
    r = sada.routing.post(f"/demands/{demand_id}/support", json=body or {}, headers=headers)
    assert r.status_code == 202, r.get_json()


def supports(sada: Sada, demand_id: str) -> tuple[int, int]:
    """(people, anonymous supports) as reporting shows the demand."""
    sada.settle()
    d = sada.demand(demand_id)
    return d["supporters_count"], d["anonymous_supporters"]


def refusals(sada: Sada, demand_id: str) -> list[str]:
    return [e["payload"]["code"] for e in sada.history(demand_id)
            if e["type"] == "ActionRejected"]


def ranking(sada: Sada, district: int = 21, headers: dict[str, str] = HQ) -> list[str]:
    return [i["demand_id"] for i in sada.get(f"/districts/{district}/priorities",
                                             headers)["items"]]


def test_supports_reorder_a_districts_priority_list(sada: Sada) -> None:
    urgent = sada.submit(title="آبگرفتگی زیرگذر", priority="urgent")["demand_id"]
    park = sada.submit(title="بوستان محله", category="green_space")["demand_id"]
    bus = sada.submit(title="ایستگاه اتوبوس")["demand_id"]
    sada.submit(title="منطقه دیگر", district=4)
    assert ranking(sada) == [urgent, park, bus]  # by priority, then oldest first

    for n in (1, 2, 3):
        support(sada, bus, clerk(), {"supporter": person(n)})
    support(sada, park, clerk(), {"supporter": person(1)})
    support(sada, bus, clerk(), {"supporter": person(1)})  # the same person does not count twice
    support(sada, park, clerk(), {"supporter": person(7), "on_behalf_of": "card-77"})
    support(sada, park, clerk(), {"on_behalf_of": "card-78"})  # anonymous: counted apart
    sada.settle()

    body = sada.get("/districts/21/priorities")
    assert [i["demand_id"] for i in body["items"]] == [bus, park, urgent]
    assert [(i["rank"], i["supporters_count"], i["anonymous_supporters"], i["priority_score"])
            for i in body["items"]] == [(1, 3, 0, 6.0), (2, 2, 1, 5.17), (3, 0, 0, 4.0)]
    assert {i["district"] for i in body["items"]} == {21}
    refused = [e for e in sada.history(bus) if e["type"] == "ActionRejected"]
    assert [e["payload"]["code"] for e in refused] == ["already_supported"]

    # a resolved demand leaves the plan's list
    sada.act(bus, "resolution", {"summary": "ایستگاه ساخته شد"}, staff())
    assert ranking(sada) == [park, urgent]
    # a district sees its own list only; a department its own demands in it
    assert ranking(sada, headers=mayor()) == [park, urgent]
    assert ranking(sada, headers=staff()) == [urgent]
    r = sada.reporting.get("/districts/4/priorities", headers=mayor())
    assert r.status_code == 403 and r.get_json()["errors"]["path"]["district"]
    r = sada.reporting.get("/districts/99/priorities", headers=HQ)
    assert r.status_code == 422 and r.get_json()["errors"]["path"]["district"]


def test_support_takes_no_unknown_field_and_a_clerk_only_its_district(sada: Sada) -> None:
    demand = sada.submit()["demand_id"]
    r = sada.routing.post(f"/demands/{demand}/support", json={"who": "x"}, headers=clerk())
    assert r.status_code == 422 and r.get_json()["errors"]["json"]["who"]
    r = sada.routing.post(f"/demands/{demand}/support", json={"on_behalf_of": "نام"},
                          headers=clerk())
    assert r.status_code == 422 and r.get_json()["errors"]["json"]["on_behalf_of"]
    r = sada.routing.post(f"/demands/{demand}/support", json={}, headers=clerk(4))
    assert r.status_code == 403


MEETING = {"kind": "stakeholder_meeting", "district": 21, "held_on": "2026-11-18",
           "title": "نشست هفتگی شهر خوب، شهر ارتباطی",
           "attendees": {"prayer_leader": 2, "neighbourhood_trustee": 6, "investor": 1,
                         "guild": 3, "charity": 2, "council_member": 4},
           "minutes": "ترافیک ورودی تهرانسر و بوستان محله مطرح شد."}


def test_a_meeting_with_its_follow_up_list(sada: Sada) -> None:
    r = sada.intake.post("/meetings", json=MEETING, headers={**mayor(), "Idempotency-Key": "m1"})
    assert r.status_code == 202, r.get_json()
    meeting_id = r.get_json()["meeting_id"]
    again = sada.intake.post("/meetings", json=MEETING,
                             headers={**mayor(), "Idempotency-Key": "m1"})
    assert again.get_json()["meeting_id"] == meeting_id
    raised = [sada.submit(title=t, channel="stakeholder_meeting", meeting_id=meeting_id,
                          category=c)["demand_id"]
              for t, c in (("ترافیک", "transport"), ("بوستان", "green_space"),
                           ("زیرگذر", "transport"))]
    sada.submit(title="جدا از جلسه")
    sada.act(raised[0], "resolution", {"summary": "انجام شد"}, staff())
    sada.act(raised[2], "escalation", {"reason": "beyond_budget"}, staff())
    # nobody acknowledged the park: its deadline passes, and routing's clock escalates it
    ack = sada.demand(raised[1])["ack_deadline"]
    sada.tick(parse_time(ack) + timedelta(hours=1))

    body = sada.get(f"/meetings/{meeting_id}/follow-up")
    assert body["meeting"]["attendees"] == MEETING["attendees"]
    assert body["meeting"]["kind"] == "stakeholder_meeting"
    assert [i["demand_id"] for i in body["items"]] == raised
    assert body["counts"]["raised"] == 3 and body["counts"]["resolved"] == 1
    counts, items = body["counts"], body["items"]
    assert (counts["raised"], counts["open"], counts["resolved"], counts["escalated"]) == (
        3, 2, 1, 2)
    assert [i["overdue"] for i in items][:2] == [False, True]
    assert counts["overdue"] == sum(i["overdue"] for i in items)
    missed = [e["trigger"] for e in sada.demand(raised[2])["escalations"]][1:]
    assert items[2]["overdue"] == ("deadline" in missed)
    assert [i["status"] for i in body["items"]][0] == "resolved"

    listing = sada.get("/meetings?district=21")
    assert [m["meeting_id"] for m in listing["items"]] == [meeting_id]
    assert sada.get("/meetings?district=4")["items"] == []
    assert sada.get(f"/meetings/{meeting_id}/follow-up", mayor())["counts"]["raised"] == 3
    assert sada.reporting.get(f"/meetings/{meeting_id}/follow-up",
                              headers=mayor(4)).status_code == 403
    assert sada.reporting.get("/meetings/nope/follow-up", headers=HQ).status_code == 422
    assert sada.reporting.get(f"/meetings/{raised[1]}/follow-up",
                              headers=HQ).status_code == 404


def test_a_meeting_with_bad_fields_is_refused_field_by_field(sada: Sada) -> None:
    bad = {**MEETING, "kind": "party", "attendees": {"astronaut": 1}, "held_on": "yesterday"}
    r = sada.intake.post("/meetings", json=bad, headers=mayor())
    assert r.status_code == 422
    errors = r.get_json()["errors"]["json"]
    assert {"kind", "attendees", "held_on"} <= set(errors)
    r = sada.intake.post("/meetings", json={**MEETING, "district": 4}, headers=mayor())
    assert r.status_code == 403
    assert sada.get("/meetings")["items"] == []  # nothing was recorded


def test_a_new_demand_shows_its_likely_duplicates(sada: Sada) -> None:
    first = sada.submit(title="ترافیک ورودی تهرانسر")["demand_id"]
    sada.submit(title="ترافیک ورودی تهرانسر", neighbourhood="شهرک دانشگاه")
    sada.submit(title="بوستان", category="green_space")
    new = sada.submit(title="ترافیک سنگین ورودی تهرانسر")["demand_id"]
    body = sada.get(f"/demands/{new}/likely-duplicates")
    assert [i["demand_id"] for i in body["items"]] == [first]
    assert 0 < body["items"][0]["similarity"] < 1
    assert sada.get(f"/demands/{first}/likely-duplicates", mayor())["items"][0][
        "demand_id"] == new
    assert sada.reporting.get(f"/demands/{new}/likely-duplicates",
                              headers=mayor(4)).status_code == 403


def test_a_merge_over_http(sada: Sada) -> None:
    target = sada.submit(title="ترافیک ورودی تهرانسر")["demand_id"]
    dup = sada.submit(title="ترافیک سنگین ورودی تهرانسر")["demand_id"]
    # one person supports both, through two clerks, by national code and phone then by
    # phone alone: after the merge the target counts them once
    support(sada, target, clerk_named("a"), {"supporter": {**person(1), "phone": PHONE}})
    support(sada, dup, clerk_named("b"), {"supporter": {"phone": "+98 912 345 6789"}})
    support(sada, dup, clerk_named("b"), {"supporter": person(2)})
    support(sada, dup, clerk_named("b"))  # and an anonymous one, which moves with it
    sada.settle()
    assert ranking(sada) == [dup, target]

    r = sada.routing.post(f"/demands/{dup}/merge", json={"into": "not-an-id", "reason": "x"},
                          headers=staff())
    assert r.status_code == 422 and r.get_json()["errors"]["json"]["into"]
    d = sada.act(dup, "merge", {"into": target, "reason": "همان درخواست"}, staff())
    assert d["status"] == "merged" and d["labels"]["status"]["en"].startswith("Merged")
    t = sada.demand(target)
    assert (t["status"], t["merged_from"], t["supporters_count"]) == ("routed", [dup], 2)
    assert t["anonymous_supporters"] == 1
    assert d["merged_into"] == target and d["supporters_count"] == 2
    body = sada.get("/districts/21/priorities")["items"]
    assert [(i["demand_id"], i["supporters_count"]) for i in body] == [(target, 2)]
    assert [e["type"] for e in sada.history(dup)][-1] == "DemandMerged"
    assert {"MergeOffered", "DemandAbsorbed"} <= {e["type"] for e in sada.history(target)}
    merged = sada.decisions(dup, "DemandMerged")[0]["payload"]
    absorbed = sada.decisions(target, "DemandAbsorbed")[0]["payload"]
    assert merged["into"] == target and len(merged["supporters"]) == 2
    # the person the target had already is not added again: only the other one
    assert absorbed["supporters_added"] == merged["supporters"][1:]
    assert (absorbed["anonymous_added"], absorbed["anonymous_supporters"]) == (1, 1)
    # another district's demand is out of a district staff's reach
    other = sada.submit(district=4)["demand_id"]
    r = sada.routing.post(f"/demands/{target}/merge", json={"into": other, "reason": "x"},
                          headers=staff())
    assert r.status_code == 403


def test_a_merge_the_target_refuses_leaves_the_duplicate_open_over_http(sada: Sada) -> None:
    """Into a resolved demand, and two crossed merges: nothing is destroyed, every refusal
    shows in the duplicate's history."""
    target = sada.submit(title="ترافیک ورودی تهرانسر")["demand_id"]
    dup = sada.submit(title="ترافیک سنگین ورودی تهرانسر")["demand_id"]
    support(sada, dup, clerk(), {"supporter": person(1)})
    sada.act(target, "resolution", {"summary": "انجام شد"}, staff())
    d = sada.act(dup, "merge", {"into": target, "reason": "همان درخواست"}, staff())
    assert (d["status"], d["merged_into"], d["supporters_count"]) == ("routed", None, 1)
    [refused] = sada.decisions(dup, "ActionRejected")
    assert refused["payload"]["code"] == "not_allowed_in_state"
    assert sada.demand(target)["merged_from"] == []

    other = sada.submit(title="ترافیک ورودی شهرک")["demand_id"]
    for a, b in ((dup, other), (other, dup)):
        r = sada.routing.post(f"/demands/{a}/merge", json={"into": b, "reason": "x"},
                              headers=staff())
        assert r.status_code == 202, r.get_json()
    sada.settle()
    assert [sada.demand(x)["status"] for x in (dup, other)] == ["routed", "routed"]


def test_two_clerks_recording_one_national_code_count_one_supporter(sada: Sada) -> None:
    demand = sada.submit()["demand_id"]
    support(sada, demand, clerk_named("a"), {"supporter": person(1)})
    support(sada, demand, clerk_named("b"), {"supporter": person(1)})
    assert supports(sada, demand) == (1, 0)
    assert refusals(sada, demand) == ["already_supported"]


def test_one_clerk_changing_the_free_reference_still_counts_one_person(sada: Sada) -> None:
    demand = sada.submit()["demand_id"]
    for ref in ("card-1", "card-2", "card-3"):
        support(sada, demand, clerk(), {"supporter": {"phone": "09123456789"},
                                        "on_behalf_of": ref})
    assert supports(sada, demand) == (1, 0)
    assert refusals(sada, demand) == ["already_supported"] * 2


def test_one_person_however_their_phone_or_national_code_is_written(sada: Sada) -> None:
    """Persian digits, spaces, dashes, +98 and 0098 are one number; a national code in
    Persian digits is the national code; and a person who gave both once (here as the
    requester of another demand, at intake) is found again by either."""
    sada.submit(requester={"kind": "citizen", "phone": PHONE, "national_id": "0499370899"})
    demand = sada.submit(title="بوستان محله", category="green_space")["demand_id"]
    ways = [{"phone": "09123456789"}, {"phone": "+98 912 345 6789"},
            {"phone": "0098-912-345-6789"}, {"phone": PHONE},
            {"national_id": "۰۴۹۹۳۷۰۸۹۹"}, {"national_id": "049-937089-9"},
            {"national_id": "0499370899", "phone": "9891-2345-6789"}]
    for i, way in enumerate(ways):
        support(sada, demand, clerk_named(str(i)), {"supporter": way})
    assert supports(sada, demand) == (1, 0)
    assert refusals(sada, demand) == ["already_supported"] * (len(ways) - 1)
    # someone else is someone else
    support(sada, demand, clerk(), {"supporter": {"phone": "09351112233"}})
    assert supports(sada, demand) == (2, 0)


def test_a_support_naming_nobody_is_anonymous_and_counted_apart(sada: Sada) -> None:
    demand = sada.submit()["demand_id"]
    support(sada, demand, clerk(), {"supporter": person(1)})
    for body in ({}, {"on_behalf_of": "card-1"}, {"on_behalf_of": "card-1"},
                 {"supporter": None}):
        support(sada, demand, clerk(), body)
    assert supports(sada, demand) == (1, 4)
    assert refusals(sada, demand) == []
    [item] = sada.get("/districts/21/priorities")["items"]
    assert (item["supporters_count"], item["anonymous_supporters"], item["priority_score"]) == (
        1, 4, 4.0)  # the score counts the one person, not the anonymous supports
    r = sada.routing.post(f"/demands/{demand}/support", json={"supporter": {}},
                          headers=clerk())
    assert r.status_code == 422 and r.get_json()["errors"]["json"]["supporter"]["_schema"]
    r = sada.routing.post(f"/demands/{demand}/support",
                          json={"supporter": {"national_id": "0499370898"}}, headers=clerk())
    assert r.status_code == 422 and r.get_json()["errors"]["json"]["supporter"]["national_id"]


def test_a_supporters_identity_is_never_in_clear_in_the_log_or_the_read_models(
        sada: Sada) -> None:
    """The privacy scan's matcher, told the supporter's values, finds them nowhere: not in
    the log, the read models or the key store (which keeps keyed hashes of them only)."""
    demand = sada.submit()["demand_id"]
    support(sada, demand, clerk(), {"supporter": {"phone": PHONE, "national_id": "0499370899"}})
    support(sada, demand, clerk_named("b"), {"supporter": {"phone": "+98 912 345 6789"}})
    assert supports(sada, demand) == (1, 0)
    known = Known()
    known.add({"phone": "09123456789", "national_id": "0499370899"})
    report = Report()
    matcher = Matcher(known)
    scan_log(matcher, sada.log.scan(), report)
    db = sada.projector.models.db
    for database in (db, db.client[f"{db.name}_keys"]):
        scan_database(matcher, database, report)
    assert report.records > 0 and report.documents > 0
    assert report.findings == []
    raw = b"".join(r.raw for r in sada.log.scan()).decode()
    assert all(v not in raw for v in ("9123456789", "0499370899", "۰۹۱۲"))


def test_routing_refuses_to_start_without_the_key_stores_master_key(tmp_path, mongo_db) -> None:
    """Routing names supporters through the key store: without its master key it cannot."""
    with SqliteEventLog(tmp_path / "events.sqlite3") as log:
        for key in ("", "too-short"):
            with pytest.raises(MasterKeyError, match="SADA_MASTER_KEY"):
                routing_app(Settings(data_dir=tmp_path, auth_secret=SECRET, master_key=key),
                            log, db=mongo_db)
