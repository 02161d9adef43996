"""Routing's action API over HTTP (Flask test client) against a real SQLite event log."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from routing.app import create_app
from routing.domain.rules import DEFAULT_RULES, Rule, RuleTable
from services.config import Settings
from services.eventlog.sqlite import SqliteEventLog
from services.events.ids import new_id

DEMAND_ID = new_id()
STAFF = {"X-Sada-Role": "department_staff", "X-Sada-User": "staff-21-transport",
         "X-Sada-District": "21", "X-Sada-Department": "transport"}

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


@pytest.fixture
def client(tmp_path, log):
    return create_app(Settings(data_dir=tmp_path), log).test_client()


def events(log: SqliteEventLog):
    return [r.event for r in log.scan()]


@contextmanager
def locked(log: SqliteEventLog, wait_ms: int = 100) -> Iterator[None]:
    """Another process holds the log's write lock, and appends give up after `wait_ms`."""
    log._connect().execute(f"PRAGMA busy_timeout = {wait_ms}")
    holder = sqlite3.connect(log.path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        holder.execute("ROLLBACK")
        holder.close()


@pytest.mark.parametrize(("path", "body", "type_"), ACTIONS)
def test_each_action_is_recorded_as_a_request(client, log, path, body, type_):
    r = client.post(f"/demands/{DEMAND_ID}/{path}", json=body, headers=STAFF)
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
    assert event.actor.to_dict() == {"role": "department_staff", "id": "staff-21-transport",
                                     "district": 21, "department": "transport"}


def test_acknowledge_needs_no_body_and_ids_are_case_insensitive(client, log):
    r = client.post(f"/demands/{DEMAND_ID.lower()}/acknowledge",
                    headers={"X-Sada-Role": "district_mayor"})
    assert r.status_code == 202, r.get_json()
    [event] = events(log)
    assert event.demand_id == DEMAND_ID
    assert event.payload == {"note": None}
    assert (event.actor.role, event.actor.id, event.actor.district) == \
        ("district_mayor", "anonymous", None)


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
    ("acknowledge", {"json": {}, "headers": {"X-Sada-Role": None}}, "headers", "X-Sada-Role"),
    ("acknowledge", {"json": {}, "headers": {"X-Sada-Role": "king"}}, "headers", "X-Sada-Role"),
    ("acknowledge", {"json": {}, "headers": {"X-Sada-Role": "system"}}, "headers",
     "X-Sada-Role"),
    ("acknowledge", {"json": {}, "headers": {"X-Sada-District": "0"}}, "headers",
     "X-Sada-District"),
    ("acknowledge", {"json": {}, "headers": {"X-Sada-Department": "fun"}}, "headers",
     "X-Sada-Department"),
    ("acknowledge", {"json": {}, "headers": {"Idempotency-Key": "\u0645"}}, "headers",
     "Idempotency-Key"),
])
def test_a_bad_action_is_a_422_naming_the_field_and_records_nothing(client, log, path,
                                                                    request_kw, location, field):
    headers = {k: v for k, v in {**STAFF, **request_kw.pop("headers", {})}.items()
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
    assert [r["rule_id"] for r in body["rules"]] == [r.rule_id for r in DEFAULT_RULES.rules]
    assert body["triage"] == {"department": "mayor_triage", "resolve_hours": 48}
    assert body["level_hours"]["headquarters"] == 120
    assert body["priority_factor"]["urgent"] == 0.25

    table = RuleTable((Rule("t-22", "transport", "civil_works", 24, district=22),))
    custom = create_app(Settings(data_dir=tmp_path), log, rules=table).test_client()
    assert custom.get("/rules").get_json()["rules"] == [
        {"rule_id": "t-22", "category": "transport", "district": 22,
         "department": "civil_works", "resolve_hours": 24}]


def test_openapi_documents_every_action(client):
    paths = client.get("/openapi.json").get_json()["paths"]
    for path, _, _ in ACTIONS:
        assert "202" in paths[f"/demands/{{demand_id}}/{path}"]["post"]["responses"]
    assert "/rules" in paths
