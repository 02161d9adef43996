"""Routing's action API over HTTP (Flask test client) against a real SQLite event log."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from pymongo import MongoClient

from routing.app import create_app
from sada.processes import free_port
from services.config import Settings
from services.domain.rules import DEFAULT_RULES, Rule
from services.eventlog.sqlite import SqliteEventLog
from services.events.ids import new_id
from tests.auth_helpers import MASTER_KEY, SECRET, authorize, bearer
from tests.integration.test_reporting_stream import Desk
from tests.projected import project
from tests.sqlite_lock import locked

DEMAND_ID = new_id()
STAFF = bearer("department_staff", 21, "transport", subject="staff-21-transport")

ACTIONS = [
    ("acknowledge", {"note": "بررسی شد"}, "AcknowledgementRequested"),
    ("notes", {"note": "پیمانکار تعیین شد"}, "ProgressNoteSubmitted"),
    ("resolution", {"summary": "چراغ نصب شد"}, "ResolutionReported"),
    ("escalation", {"reason": "beyond_budget", "note": "بودجه ندارد"}, "EscalationRequested"),
    ("rejection", {"reason": "در حیطه شهرداری نیست"}, "RejectionRequested"),
    ("withdrawal", {"reason": "حل شد"}, "WithdrawalRequested"),
    ("reopen", {"reason": "دوباره خراب شد"}, "ReopenRequested"),
]


@pytest.fixture
def log(tmp_path) -> Iterator[SqliteEventLog]:
    with SqliteEventLog(tmp_path / "events.sqlite3") as log:
        yield log


def settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path, auth_secret=SECRET, master_key=MASTER_KEY)


@pytest.fixture
def client(tmp_path, log, mongo_db):
    """District 21's transport staff, unless a request sends its own token. The read model
    (mongo_db) is empty unless a test projects demands into it."""
    app = create_app(settings(tmp_path), log, db=mongo_db)
    return authorize(app.test_client(), "department_staff", 21, "transport",
                     subject="staff-21-transport")


def events(log: SqliteEventLog):
    return [r.event for r in log.scan()]


@pytest.mark.parametrize(("path", "body", "type_"), ACTIONS)
def test_each_action_is_recorded_as_a_request(client, log, path, body, type_):
    # The requester's side withdraws; the department does the rest.
    actor = (("intake_clerk", "clerk-21", 21, None) if path == "withdrawal"
             else ("department_staff", "staff-21-transport", 21, "transport"))
    r = client.post(f"/demands/{DEMAND_ID}/{path}", json=body,
                    headers=bearer(actor[0], actor[2], actor[3], subject=actor[1]))
    assert r.status_code == 202, r.get_json()
    answer = r.get_json()
    [event] = events(log)
    assert answer["links"]["decision"].endswith(
        f"/demands/{DEMAND_ID}?decided={event.event_id}")
    del answer["links"]
    assert answer == {"request_id": event.event_id, "demand_id": DEMAND_ID, "position": "0:0"}
    assert (event.type, event.demand_id) == (type_, DEMAND_ID)
    assert not event.is_decision
    assert {k: v for k, v in event.payload.items() if v is not None} == body
    assert event.actor.to_dict() == dict(zip(("role", "id", "district", "department"), actor,
                                             strict=True))


def test_acknowledge_needs_no_body_and_ids_are_case_insensitive(client, log):
    r = client.post(f"/demands/{DEMAND_ID.lower()}/acknowledge",
                    headers=bearer("district_mayor", 21, subject="mayor-21"))
    assert r.status_code == 202, r.get_json()
    [event] = events(log)
    assert event.demand_id == DEMAND_ID
    assert event.payload == {"note": None}
    assert (event.actor.role, event.actor.id, event.actor.district) == \
        ("district_mayor", "mayor-21", 21)


@pytest.mark.parametrize(("path", "request_kw", "location", "field"), [
    ("notes", {"json": {}}, "json", "note"),
    ("notes", {"json": {"note": ""}}, "json", "note"),
    ("resolution", {"json": {"summary": "x", "cost": 10}}, "json", "cost"),
    ("escalation", {"json": {"reason": "feeling_like_it"}}, "json", "reason"),
    ("escalation", {"json": {"note": "x"}}, "json", "reason"),
    ("rejection", {"json": {"reason": "  "}}, "json", "reason"),
    ("withdrawal", {"json": ["reason"]}, "json", "_schema"),
    ("reopen", {"data": "reason=x"}, "json", "_schema"),
    ("reopen", {"data": "{", "content_type": "application/json"}, "json", "_schema"),
    ("acknowledge", {"json": {}, "headers": {"Idempotency-Key": "\u0645"}}, "headers",
     "Idempotency-Key"),
])
def test_a_bad_action_is_a_422_naming_the_field_and_records_nothing(client, log, path,
                                                                    request_kw, location, field):
    admin = bearer("administrator")  # admitted to every action: only the input is at fault
    headers = {k: v for k, v in {**admin, **request_kw.pop("headers", {})}.items()
               if v is not None}
    r = client.post(f"/demands/{DEMAND_ID}/{path}", headers=headers, **request_kw)
    assert r.status_code == 422, r.get_json()
    assert field in r.get_json()["errors"][location], r.get_json()
    assert log.end_offsets() == {0: 0}


@pytest.mark.parametrize("demand_id", ["42", "not-a-demand", DEMAND_ID + "0", DEMAND_ID[:-1]
                                       + "U", "8" + DEMAND_ID[1:]])
def test_a_demand_id_that_is_not_a_ulid_is_a_422(client, log, demand_id):
    r = client.post(f"/demands/{demand_id}/acknowledge", json={}, headers=STAFF)
    assert r.status_code == 422
    assert "demand_id" in r.get_json()["errors"]["path"]
    assert log.end_offsets() == {0: 0}


def test_an_idempotency_key_makes_a_retry_the_same_request(client, log):
    headers = {**STAFF, "Idempotency-Key": "ack-1"}
    first = client.post(f"/demands/{DEMAND_ID}/acknowledge", json={}, headers=headers)
    again = client.post(f"/demands/{DEMAND_ID}/acknowledge", json={}, headers=headers)
    assert first.status_code == again.status_code == 202
    assert first.get_json() == again.get_json()
    # the same key on another action or another demand names another request
    note = client.post(f"/demands/{DEMAND_ID}/notes", json={"note": "x"}, headers=headers)
    other = client.post(f"/demands/{new_id()}/acknowledge", json={}, headers=headers)
    ids = {first.get_json()["request_id"], note.get_json()["request_id"],
           other.get_json()["request_id"]}
    assert len(ids) == 3
    assert [e.event_id for e in events(log)] == [first.get_json()["request_id"],
                                                 note.get_json()["request_id"],
                                                 other.get_json()["request_id"]]


def test_two_callers_with_one_key_make_two_requests(client, log):
    colleague = bearer("department_staff", 21, "transport", subject="staff-21-transport-2")
    note = {"note": "پیمانکار تعیین شد"}
    mine = client.post(f"/demands/{DEMAND_ID}/notes", json=note,
                       headers={**STAFF, "Idempotency-Key": "note-1"})
    theirs = client.post(f"/demands/{DEMAND_ID}/notes", json=note,
                         headers={**colleague, "Idempotency-Key": "note-1"})
    assert mine.status_code == theirs.status_code == 202
    assert mine.get_json()["request_id"] != theirs.get_json()["request_id"]
    assert [e.actor.id for e in events(log)] == ["staff-21-transport", "staff-21-transport-2"]


def test_a_key_reused_with_another_body_is_a_422_and_records_nothing(client, log):
    headers = {**STAFF, "Idempotency-Key": "note-1"}
    first = client.post(f"/demands/{DEMAND_ID}/notes", json={"note": "x"}, headers=headers)
    assert first.status_code == 202
    r = client.post(f"/demands/{DEMAND_ID}/notes", json={"note": "y"}, headers=headers)
    assert r.status_code == 422, r.get_json()
    assert "another request" in r.get_json()["errors"]["headers"]["Idempotency-Key"][0]
    assert log.end_offsets() == {0: 1}
    assert client.post(f"/demands/{DEMAND_ID}/notes", json={"note": "x"},
                       headers=headers).get_json() == first.get_json()
    assert log.end_offsets() == {0: 1}


def test_an_unavailable_log_is_a_503_and_records_nothing(client, log):
    headers = {**STAFF, "Idempotency-Key": "resolve-1"}
    with locked(log):
        r = client.post(f"/demands/{DEMAND_ID}/resolution", json={"summary": "x"},
                        headers=headers)
    assert r.status_code == 503
    assert "retry with the same Idempotency-Key" in r.get_json()["message"]
    assert log.end_offsets() == {0: 0}
    ok = client.post(f"/demands/{DEMAND_ID}/resolution", json={"summary": "x"}, headers=headers)
    assert ok.status_code == 202
    assert log.end_offsets() == {0: 1}


def test_rules_shows_the_active_table(tmp_path, log, client):
    body = client.get("/rules").get_json()
    assert (body["version"], body["published"]) == (1, False)  # the default, until published
    doc = body["rule_set"]
    assert [r["rule_id"] for r in doc["rules"]] == [r.rule_id for r in DEFAULT_RULES.rules]
    assert doc["triage"] == {"sla": "triage"}
    assert doc["levels"]["headquarters"] == "headquarters"
    assert doc["priority_factor"]["urgent"] == 0.25
    assert doc["calendar"]["timezone"] == "Asia/Tehran"

    table = replace(DEFAULT_RULES, rules=(
        Rule("t-22", "transport", "civil_works", "standard", district=22),))
    custom = authorize(create_app(settings(tmp_path), log, rules=table).test_client(),
                       "auditor")
    assert custom.get("/rules").get_json()["rule_set"]["rules"] == [
        {"rule_id": "t-22", "category": "transport", "district": 22, "requester_kind": None,
         "channel": None, "department": "civil_works", "priority": None, "sla": "standard"}]


def test_openapi_documents_every_action(client):
    paths = client.get("/openapi.json").get_json()["paths"]
    for path, _, _ in ACTIONS:
        assert "202" in paths[f"/demands/{{demand_id}}/{path}"]["post"]["responses"]
    assert "/rules" in paths


# -- scope: the read model says where a demand is ------------------------------------------
@pytest.fixture
def known(tmp_path, mongo_db) -> dict[str, str]:
    """Demands the read model knows: transport of 21 and of 4, civil works of 21."""
    desk = Desk()
    ids = {"transport-21": desk.submit(district=21, category="transport"),
           "transport-4": desk.submit(district=4, category="transport"),
           "civil-21": desk.submit(district=21, category="civil_works"),
           "unknown": new_id()}
    desk.flush()
    project(desk.events, mongo_db, tmp_path / "projected.sqlite3")
    return ids


@pytest.mark.parametrize(("token", "action", "demand", "status"), [
    (("department_staff", 21, "transport"), "acknowledge", "transport-21", 202),
    (("department_staff", 21, "transport"), "acknowledge", "transport-4", 403),
    (("department_staff", 21, "transport"), "resolution", "civil-21", 403),
    (("department_staff", 4, "transport"), "notes", "transport-4", 202),
    (("department_staff", 21, "transport"), "acknowledge", "unknown", 202),  # decide() judges
    (("district_mayor", 21, None), "escalation", "civil-21", 202),
    (("district_mayor", 21, None), "escalation", "transport-4", 403),
    (("intake_clerk", 21, None), "withdrawal", "transport-21", 202),
    (("intake_clerk", 21, None), "withdrawal", "transport-4", 403),
    (("intake_clerk", 21, None), "acknowledge", "transport-21", 403),  # not a clerk's action
    (("intake_clerk", 21, None), "reopen", "civil-21", 202),
    (("headquarters", None, None), "escalation", "transport-4", 202),
    (("central_management", None, None), "rejection", "civil-21", 202),
    (("administrator", None, None), "withdrawal", "transport-4", 202),
    (("auditor", None, None), "notes", "transport-21", 403),
    (("auditor", None, None), "withdrawal", "unknown", 403),
])
def test_an_action_outside_the_tokens_scope_is_a_403_and_records_nothing(
        client, log, known, token, action, demand, status):
    body = {"acknowledge": {}, "notes": {"note": "x"}, "resolution": {"summary": "x"},
            "escalation": {"reason": "beyond_budget"}, "rejection": {"reason": "x"},
            "withdrawal": {"reason": "x"}, "reopen": {"reason": "x"}}[action]
    r = client.post(f"/demands/{known[demand]}/{action}", json=body, headers=bearer(*token))
    assert r.status_code == status, r.get_json()
    if status == 202:
        [event] = events(log)
        assert (event.actor.role, event.actor.district, event.actor.department) == token
    else:
        assert log.end_offsets() == {0: 0}
        assert r.get_json()["code"] == 403 and token[0] in r.get_json()["message"]


def test_an_unreachable_read_model_stops_no_action_routing_judges_the_scope(tmp_path, log):
    """The early check is a courtesy: without it the request is recorded, and routing's own
    fold decides whether the actor's scope covers the demand."""
    dead = MongoClient(f"mongodb://127.0.0.1:{free_port()}", serverSelectionTimeoutMS=200)
    client = create_app(settings(tmp_path), log, db=dead["sada"]).test_client()
    r = client.post(f"/demands/{DEMAND_ID}/acknowledge", json={}, headers=STAFF)
    assert r.status_code == 202, r.get_json()
    hq = client.post(f"/demands/{DEMAND_ID}/escalation", json={"reason": "beyond_budget"},
                     headers=bearer("headquarters"))
    assert hq.status_code == 202, hq.get_json()
    assert [e.type for e in events(log)] == ["AcknowledgementRequested", "EscalationRequested"]
    dead.close()


def test_a_demand_not_yet_routed_is_judged_by_its_district_only(client, log, tmp_path,
                                                                  mongo_db):
    desk = Desk()
    demand = desk.submit(district=21, category="civil_works", lag=5)  # no decision yet
    project(desk.events, mongo_db, tmp_path / "projected.sqlite3")
    assert mongo_db.demands.find_one({"_id": demand})["department"] is None
    ok = client.post(f"/demands/{demand}/acknowledge", json={})  # transport staff of 21
    assert ok.status_code == 202, ok.get_json()  # decide() will judge the department
    other = client.post(f"/demands/{demand}/acknowledge", json={},
                        headers=bearer("department_staff", 4, "civil_works"))
    assert other.status_code == 403
    assert log.end_offsets() == {0: 1}


def test_a_transfer_is_recorded_and_a_bad_one_is_refused_field_by_field(client, log):
    ok = client.post(f"/demands/{DEMAND_ID}/transfer",
                     json={"to_department": "civil_works", "reason": "misrouted",
                           "note": "کار عمرانی است"})
    assert ok.status_code == 202, ok.get_json()
    [event] = events(log)
    assert (event.type, event.payload["to_department"], event.payload["to_district"]) == (
        "TransferRequested", "civil_works", None)
    for body, field in [({"to_department": "nowhere", "reason": "misrouted"}, "to_department"),
                        ({"to_department": "social", "reason": "whim"}, "reason"),
                        ({"to_department": "social", "reason": "triage", "to_district": 23},
                         "to_district"),
                        ({"to_department": "social", "reason": "triage", "to_district": "7"},
                         "to_district")]:
        bad = client.post(f"/demands/{DEMAND_ID}/transfer", json=body)
        assert bad.status_code == 422 and field in bad.get_json()["errors"]["json"], body
    assert len(events(log)) == 1


def test_a_rejection_names_its_reason_as_a_code_or_is_refused(client, log):
    ok = client.post(f"/demands/{DEMAND_ID}/rejection",
                     json={"reason": "مغایر طرح تفصیلی", "code": "against_regulations"})
    assert ok.status_code == 202, ok.get_json()
    assert events(log)[0].payload == {"reason": "مغایر طرح تفصیلی", "code": "against_regulations"}
    bad = client.post(f"/demands/{DEMAND_ID}/rejection", json={"reason": "x", "code": "whim"})
    assert bad.status_code == 422 and "code" in bad.get_json()["errors"]["json"]
    assert len(events(log)) == 1
