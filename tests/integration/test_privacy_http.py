"""Personal data over HTTP: sealed by intake before the log, shown by reporting only to the
roles that work with requesters, erased by an administrator; and a lost master key stops the
services at start-up."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from intake.app import create_app as intake_app
from reporting.app import create_app as reporting_app
from sada.processes import free_port
from services.events.envelope import decode
from services.events.families.privacy import ERASED, PRIVACY_STREAM_ID
from services.privacy.crypto import MasterKeyError, new_master_key
from services.privacy.keystore import KEYS, LOOKUPS
from tests.auth_helpers import bearer
from tests.live import serving
from tests.privacy_world import (
    ADMIN,
    CLERK,
    NATIONAL_ID,
    PERSON,
    World,
    plaintext_in,
    settings,
    world,
)

ROLES = {  # (role, district, department): what the requester's personal data shows as
    ("intake_clerk", 21, None): "shown", ("department_staff", 21, "transport"): "shown",
    ("district_mayor", 21, None): "shown", ("headquarters", None, None): "shown",
    ("central_management", None, None): "shown", ("auditor", None, None): "shown",
    ("administrator", None, None): "withheld",
}


@pytest.fixture
def sada(tmp_path, mongo_db) -> Iterator[World]:
    w = world(tmp_path, mongo_db)
    yield w
    w.log.close()


def test_the_log_never_holds_personal_data_in_clear(sada) -> None:
    first = sada.submit(PERSON)
    second = sada.submit({**PERSON, "name": None, "national_id": None}, category="social")
    named = sada.submit({"kind": "prayer_leader", "name": "حجت‌الاسلام کریمی"})
    nobody = sada.submit({"kind": "investor"})
    sada.settle()
    assert plaintext_in(sada.log_bytes()) == []
    assert "کریمی" not in sada.log_bytes().decode("utf-8", errors="replace")
    events = {r.event.demand_id: r.event for r in sada.log.scan()
              if r.event.type == "DemandSubmitted"}
    requesters = {d: decode(r.raw, validate_payload=True).payload["requester"]
                  for d, r in ((r.event.demand_id, r) for r in sada.log.scan()
                               if r.event.type == "DemandSubmitted")}
    assert {e.version for e in events.values()} == {3}
    # One person (the same phone) is one requester with one key across demands.
    assert requesters[first]["requester_id"] == requesters[second]["requester_id"]
    assert requesters[named]["requester_id"] not in (None, requesters[first]["requester_id"])
    assert requesters[nobody] == {"kind": "investor", "requester_id": None, "sealed": None}
    # Nor do the read models or the key store (its lookups are HMACs, its keys wrapped).
    for db in (sada.db, sada.db.client[f"{sada.db.name}_keys"]):
        for name in db.list_collection_names():
            assert plaintext_in(str(list(db[name].find()))) == [], f"{db.name}.{name}"
    assert sada.db.client[f"{sada.db.name}_keys"][LOOKUPS].count_documents({}) == 3


def test_personal_data_is_shown_only_to_roles_that_work_with_requesters(sada) -> None:
    demand_id = sada.submit(PERSON)
    sada.settle()
    for (role, district, department), shown in ROLES.items():
        headers = bearer(role, district, department)
        requester = sada.requester(demand_id, headers)
        assert requester["personal"] == shown, role
        assert requester["kind"] == "citizen" and requester["requester_id"]
        assert "sealed" not in requester
        history = sada.reporting.get(f"/demands/{demand_id}/history", headers=headers)
        submitted = history.get_json()["events"][0]["payload"]["requester"]
        assert submitted == requester, role
        body = sada.reporting.get(f"/demands/{demand_id}", headers=headers).get_data()
        if shown == "shown":
            assert (requester["name"], requester["phone"], requester["national_id"]) == (
                "مریم احمدی", "09123456789", NATIONAL_ID)
        else:
            assert plaintext_in(body) == [] and "name" not in requester
    # Scope still holds: another district's clerk sees nothing at all.
    assert sada.reporting.get(f"/demands/{demand_id}",
                              headers=bearer("intake_clerk", 4)).status_code == 403


def test_the_demand_page_shows_personal_data_to_the_clerk_only_while_the_key_lives(sada):
    demand_id = sada.submit(PERSON)
    sada.settle()
    html = {"Accept": "text/html"}
    page = sada.reporting.get(f"/demands/{demand_id}", headers={**CLERK, **html})
    assert page.status_code == 200 and "مریم احمدی" in page.get_data(as_text=True)
    admin_page = sada.reporting.get(f"/demands/{demand_id}", headers={**ADMIN, **html})
    assert plaintext_in(admin_page.get_data()) == []
    requester_id = sada.requester(demand_id, CLERK)["requester_id"]
    assert sada.intake.post(f"/requesters/{requester_id}/erasure",
                            headers=ADMIN).status_code == 200
    page = sada.reporting.get(f"/demands/{demand_id}", headers={**CLERK, **html})
    text = page.get_data(as_text=True)
    assert plaintext_in(text) == [] and 'data-personal="erased"' in text


def test_an_administrator_erases_a_requester_everywhere_at_once(sada) -> None:
    first, second = sada.submit(PERSON), sada.submit(PERSON, title="تقاطع دوم")
    other = sada.submit({"kind": "citizen", "phone": "09351112233"})
    sada.settle()
    requester_id = sada.requester(first, CLERK)["requester_id"]
    url = f"/requesters/{requester_id}/erasure"
    for headers in (CLERK, bearer("headquarters"), bearer("auditor")):
        assert sada.intake.post(url, headers=headers).status_code == 403
    before = sada.log.end_offsets()[0]

    r = sada.intake.post(url, headers=ADMIN)
    assert r.status_code == 200, r.get_json()
    done = r.get_json()
    assert done["requester_id"] == requester_id and done["already_erased"] is False
    assert done["position"] == f"0:{before}"
    [record] = sada.log.read({0: before})
    event = decode(record.raw, validate_payload=True)
    assert (event.type, event.demand_id, event.event_id) == (ERASED, PRIVACY_STREAM_ID,
                                                             done["event_id"])
    assert event.payload == {"requester_id": requester_id}
    assert event.actor.role == "administrator"
    again = sada.intake.post(url, headers=ADMIN).get_json()
    assert again["already_erased"] is True and again["position"] is None
    assert again["event_id"] == done["event_id"] and sada.log.end_offsets()[0] == before + 1

    sada.project()
    for demand_id in (first, second):
        for (role, district, department), shown in ROLES.items():
            requester = sada.requester(demand_id, bearer(role, district, department))
            assert requester["personal"] == ("erased" if shown == "shown" else shown)
            assert "name" not in requester and "phone" not in requester
    assert sada.requester(other, CLERK)["phone"] == "09351112233"  # nobody else's
    keys = sada.db.client[f"{sada.db.name}_keys"]
    tomb = keys[KEYS].find_one({"_id": requester_id})
    assert "wrapped" not in tomb and tomb["recorded"] is True
    assert keys[LOOKUPS].count_documents({"requester_id": requester_id}) == 0
    # The same person coming back is a new requester with a new key.
    back = sada.submit(PERSON)
    sada.settle()
    assert sada.requester(back, CLERK)["requester_id"] != requester_id
    assert sada.requester(back, CLERK)["personal"] == "shown"
    assert sada.intake.post("/requesters/01JQ8Z3W2N5X7Y9B1C3D5F7H9K/erasure",
                            headers=ADMIN).status_code == 404
    assert sada.intake.post("/requesters/nope/erasure", headers=ADMIN).status_code == 404


@pytest.mark.parametrize(("national_id", "status"), [
    ("0499370899", 202), ("۰۴۹۹-۳۷۰۸۹۹", 202), ("0499370898", 422), ("1111111111", 422),
    ("049937089", 422),
])
def test_a_national_code_must_carry_its_check_digit(sada, national_id, status) -> None:
    r = sada.intake.post("/demands", headers=CLERK, json={
        "requester": {"kind": "citizen", "national_id": national_id}, "channel": "web",
        "district": 21, "neighbourhood": "ویلاشهر", "category": "transport", "title": "t",
        "description": "d"})
    assert r.status_code == status, r.get_json()
    if status == 422:
        assert "national_id" in r.get_json()["errors"]["json"]["requester"]


def test_open311_requests_are_sealed_too(sada, tmp_path) -> None:
    """Reporting sends an Open311 request on to intake, which seals it as any demand."""
    form = {"service_code": "transport", "attribute[district]": "21",
            "attribute[neighbourhood]": "ویلاشهر", "description": "چراغ خاموش است",
            "first_name": "مریم", "last_name": "احمدی", "phone": "09123456789"}
    port = free_port()
    with serving(lambda: intake_app(settings(tmp_path), sada.log, sada.db), port):
        reporting = reporting_app(settings(tmp_path, intake_port=port), sada.log,
                                  sada.db).test_client()
        r = reporting.post("/open311/v2/requests.json", data=form, headers=CLERK)
    assert r.status_code == 201, r.get_data(as_text=True)
    demand_id = r.get_json()[0]["service_request_id"]
    sada.settle()
    assert plaintext_in(sada.log_bytes()) == []
    requester = sada.requester(demand_id, CLERK)
    assert (requester["name"], requester["phone"]) == ("مریم احمدی", "09123456789")


def test_a_service_without_its_master_key_refuses_to_start(tmp_path, sada) -> None:
    sada.submit(PERSON)  # the key store exists, made with the test master key
    for key in ("", "too-short"):
        for create in (lambda s: intake_app(s, sada.log, sada.db),
                       lambda s: reporting_app(s, sada.log, sada.db)):
            with pytest.raises(MasterKeyError, match="SADA_MASTER_KEY"):
                create(settings(tmp_path, master_key=key))
    lost = settings(tmp_path, master_key=new_master_key())  # a new key is not the lost one
    for create in (lambda s: intake_app(s, sada.log, sada.db),
                   lambda s: reporting_app(s, sada.log, sada.db)):
        with pytest.raises(MasterKeyError, match="does not open the key store"):
            create(lost)
