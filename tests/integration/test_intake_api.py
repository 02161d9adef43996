"""Intake over HTTP (Flask test client) against a real SQLite event log."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from intake.app import create_app
from services.config import Settings
from services.domain import vocabulary
from services.eventlog.kafka import KafkaEventLog
from services.eventlog.memory import MemoryEventLog
from services.eventlog.sqlite import SqliteEventLog
from services.events.envelope import decode
from tests import servers
from tests.auth_helpers import MASTER_KEY, SECRET, authorize, bearer
from tests.sqlite_lock import locked

DEMAND = {
    "requester": {"kind": "neighbourhood_trustee", "name": "معتمد محله ویلاشهر",
                  "phone": "۰۹۱۲ ۳۴۵-۶۷۸۹"},
    "channel": "staff_supervision",
    "district": 21,
    "neighbourhood": "ویلاشهر",
    "category": "transport",
    "title": "ترافیک ورودی تهرانسر",
    "description": "صف خودروها هر صبح تا بزرگراه کشیده می‌شود.",
    "meeting_id": None,
}
CLERK = bearer("intake_clerk", 21, subject="clerk-21")


@pytest.fixture
def log(tmp_path) -> Iterator[SqliteEventLog]:
    with SqliteEventLog(tmp_path / "events.sqlite3") as log:
        yield log


def settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path, auth_secret=SECRET, master_key=MASTER_KEY)


@pytest.fixture
def client(tmp_path, log, mongo_db):
    """Every request carries district 21's clerk token unless it sends its own. The key
    store of personal data sits beside `mongo_db`."""
    return authorize(create_app(settings(tmp_path), log, mongo_db).test_client(),
                     "intake_clerk", 21, subject="clerk-21")


def events(log: SqliteEventLog):
    return [r.event for r in log.scan()]


def test_a_submission_is_recorded_and_answered_with_its_position(client, log):
    r = client.post("/demands", json=DEMAND, headers=CLERK)
    assert r.status_code == 202, r.get_json()
    body = r.get_json()
    [event] = events(log)
    assert body["demand_id"] == event.demand_id
    assert body["event_id"] == event.event_id
    assert body["position"] == "0:0"
    assert body["links"]["demand"].endswith(f"/demands/{event.demand_id}?after=0:0")
    assert body["links"]["routed"].endswith(f"/demands/{event.demand_id}?decided={event.event_id}")
    assert event.type == "DemandSubmitted"
    assert event.actor.to_dict() == {"role": "intake_clerk", "id": "clerk-21", "district": 21,
                                     "department": None}
    assert event.correlation_id == event.event_id and event.causation_id is None
    requester = event.payload.pop("requester")
    assert event.payload == {k: v for k, v in DEMAND.items() if k != "requester"} | {
        "priority": "normal"}
    # The requester's name and phone are sealed: only the kind is in clear.
    assert requester["kind"] == "neighbourhood_trustee" and requester["sealed"].startswith("v1.")
    assert set(requester) == {"kind", "requester_id", "sealed"}


def test_the_actor_is_the_tokens_and_positions_advance(client, log):
    hq = bearer("headquarters", subject="hq-7")
    # Headers claiming another identity are ignored: only the signed token counts.
    spoof = {**hq, "X-Sada-Role": "intake_clerk", "X-Sada-User": "someone", "X-Sada-District": "3"}
    first = client.post("/demands", json={**DEMAND, "district": 5}, headers=spoof).get_json()
    second = client.post("/demands", json={**DEMAND, "priority": "urgent"}).get_json()
    assert (first["position"], second["position"]) == ("0:0", "0:1")
    assert first["demand_id"] != second["demand_id"]
    a, b = events(log)
    assert a.actor.to_dict() == {"role": "headquarters", "id": "hq-7", "district": None,
                                 "department": None}
    assert (b.actor.role, b.actor.id, b.actor.district) == ("intake_clerk", "clerk-21", 21)
    assert b.payload["priority"] == "urgent"


@pytest.mark.parametrize(("role", "district", "department", "status"), [
    ("intake_clerk", 21, None, 202), ("intake_clerk", 4, None, 403),
    ("district_mayor", 21, None, 202), ("district_mayor", 4, None, 403),
    ("headquarters", None, None, 202), ("central_management", None, None, 202),
    ("department_staff", 21, "transport", 403), ("auditor", None, None, 403),
    ("administrator", None, None, 403),
])
def test_who_may_submit_for_district_21(client, log, role, district, department, status):
    r = client.post("/demands", json=DEMAND, headers=bearer(role, district, department))
    assert r.status_code == status, r.get_json()
    assert log.end_offsets() == {0: 1 if status == 202 else 0}
    if status == 403:
        body = r.get_json()
        assert body["code"] == 403 and body["message"]
        assert role in body["message"]
    if role == "intake_clerk" and status == 403:
        assert "district" in r.get_json()["errors"]["json"]


@pytest.mark.parametrize("authorization", [
    None, "", "Bearer", "Basic dXNlcjpwYXNz", "Bearer not.a.token", "Bearer " + "x" * 5000,
])
def test_a_submission_without_a_valid_token_is_a_401_and_records_nothing(
        tmp_path, log, mongo_db, authorization):
    client = create_app(settings(tmp_path), log, mongo_db).test_client()
    headers = {} if authorization is None else {"Authorization": authorization}
    r = client.post("/demands", json=DEMAND, headers=headers)
    assert r.status_code == 401, r.get_json()
    assert "Authorization" in r.get_json()["errors"]["headers"]
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    assert log.end_offsets() == {0: 0}


def _without(field):
    return {k: v for k, v in DEMAND.items() if k != field}


@pytest.mark.parametrize(("request_kw", "location", "field"), [
    ({"json": _without("title")}, "json", "title"),
    ({"json": _without("requester")}, "json", "requester"),
    ({"json": {**DEMAND, "channel": "fax"}}, "json", "channel"),
    ({"json": {**DEMAND, "category": "weather"}}, "json", "category"),
    ({"json": {**DEMAND, "priority": "whenever"}}, "json", "priority"),
    ({"json": {**DEMAND, "colour": "blue"}}, "json", "colour"),
    ({"json": {**DEMAND, "district": 0}}, "json", "district"),
    ({"json": {**DEMAND, "district": 23}}, "json", "district"),
    ({"json": {**DEMAND, "district": "5"}}, "json", "district"),
    ({"json": {**DEMAND, "district": 5.5}}, "json", "district"),
    ({"json": {**DEMAND, "title": "   "}}, "json", "title"),
    ({"json": {**DEMAND, "description": "x" * 4001}}, "json", "description"),
    ({"json": {**DEMAND, "requester": {"kind": "alien"}}}, "json", "requester"),
    ({"json": {**DEMAND, "requester": {"kind": "citizen", "age": 40}}}, "json", "requester"),
    ({"json": {**DEMAND, "requester": {"kind": "citizen", "phone": "call me"}}}, "json",
     "requester"),
    ({"data": "district=5&title=x"}, "json", "_schema"),
    ({"data": json.dumps(DEMAND)}, "json", "_schema"),  # JSON, but not declared as JSON
    ({"data": "{not json", "content_type": "application/json"}, "json", "_schema"),
    ({"json": [DEMAND]}, "json", "_schema"),
    ({"json": "a string"}, "json", "_schema"),
    ({"json": DEMAND, "headers": {"Idempotency-Key": "k" * 129}}, "headers", "Idempotency-Key"),
])
def test_a_bad_request_is_a_422_naming_the_field_and_records_nothing(client, log, request_kw,
                                                                     location, field):
    r = client.post("/demands", **request_kw)
    assert r.status_code == 422, r.get_json()
    body = r.get_json()
    assert body["code"] == 422
    assert field in body["errors"][location], body
    assert log.end_offsets() == {0: 0}


def test_an_empty_body_names_every_missing_field(client, log):
    r = client.post("/demands")
    assert r.status_code == 422
    assert set(r.get_json()["errors"]["json"]) == \
        {"requester", "channel", "district", "neighbourhood", "category", "title", "description"}
    assert log.end_offsets() == {0: 0}


def test_a_retry_with_the_same_idempotency_key_makes_no_second_demand(client, log):
    headers = {**CLERK, "Idempotency-Key": "clerk-21/1403-12-05/7"}
    first = client.post("/demands", json=DEMAND, headers=headers)
    again = client.post("/demands", json=DEMAND, headers=headers)
    assert first.status_code == again.status_code == 202
    assert first.get_json() == again.get_json()
    other = client.post("/demands", json=DEMAND, headers={**CLERK, "Idempotency-Key": "other"})
    assert other.get_json()["demand_id"] != first.get_json()["demand_id"]
    submitted = [e for e in events(log) if e.type == "DemandSubmitted"]
    assert [e.demand_id for e in submitted] == [first.get_json()["demand_id"],
                                                other.get_json()["demand_id"]]


def test_an_idempotent_demand_id_survives_a_restart_of_intake(tmp_path, log, mongo_db):
    headers = {**CLERK, "Idempotency-Key": "same-key"}
    one = create_app(settings(tmp_path), log, mongo_db).test_client()
    two = create_app(settings(tmp_path), log, mongo_db).test_client()
    assert one.post("/demands", json=DEMAND, headers=headers).get_json() == \
        two.post("/demands", json=DEMAND, headers=headers).get_json()
    assert log.end_offsets() == {0: 1}


def test_a_retry_appends_nothing_and_gets_the_first_answer(tmp_path, mongo_db):
    """On a log that stores every append (as Kafka does), a retry must not append again."""
    log = MemoryEventLog(partitions=2)
    client = create_app(settings(tmp_path), log, mongo_db).test_client()
    headers = {**CLERK, "Idempotency-Key": "item-7"}
    first = client.post("/demands", json=DEMAND, headers=headers)
    again = client.post("/demands", json=DEMAND, headers=headers)
    assert first.status_code == again.status_code == 202
    assert first.get_json() == again.get_json()
    assert sum(log.end_offsets().values()) == 1


CLERK_5 = bearer("intake_clerk", 5, subject="clerk-5")
GARBAGE = {**DEMAND, "category": "urban_services", "title": "جمع‌آوری زباله",
           "description": "زباله‌ها سه روز است جمع نشده."}


def test_two_callers_with_one_key_make_two_demands(client, log):
    lights = client.post("/demands", json={**DEMAND, "district": 5},
                         headers={**CLERK_5, "Idempotency-Key": "item-7"})
    garbage = client.post("/demands", json=GARBAGE, headers={**CLERK, "Idempotency-Key": "item-7"})
    assert lights.status_code == garbage.status_code == 202, garbage.get_json()
    assert lights.get_json()["demand_id"] != garbage.get_json()["demand_id"]
    submitted = {e.demand_id: e.payload for e in events(log)}
    assert submitted[garbage.get_json()["demand_id"]]["title"] == "جمع‌آوری زباله"
    assert submitted[lights.get_json()["demand_id"]]["district"] == 5


def test_a_key_reused_with_another_body_is_a_422_and_records_nothing(client, log):
    headers = {**CLERK, "Idempotency-Key": "item-7"}
    first = client.post("/demands", json=DEMAND, headers=headers)
    assert first.status_code == 202
    r = client.post("/demands", json=GARBAGE, headers=headers)
    assert r.status_code == 422, r.get_json()
    reason = r.get_json()["errors"]["headers"]["Idempotency-Key"][0]
    assert "another request" in reason and "nothing was recorded" in reason
    assert log.end_offsets() == {0: 1}
    # the same body is still the first demand, and the body is compared normalised
    spaced = {**DEMAND, "title": f"  {DEMAND['title']}"}
    assert client.post("/demands", json=spaced, headers=headers).get_json() == first.get_json()
    assert log.end_offsets() == {0: 1}


def test_one_key_raced_with_many_bodies_in_one_process_records_one(tmp_path, log, mongo_db):
    app = create_app(settings(tmp_path), log, mongo_db)
    headers = {**CLERK, "Idempotency-Key": "item-7"}

    def send(n: int) -> int:
        body = {**DEMAND, "title": f"درخواست {n}"}
        return app.test_client().post("/demands", json=body, headers=headers).status_code

    with ThreadPoolExecutor(8) as pool:
        codes = sorted(pool.map(send, range(16)))
    assert codes == [202] + [422] * 15
    assert log.end_offsets() == {0: 1}


def test_a_key_stays_bound_to_its_body_across_a_restart(tmp_path, mongo_db):
    """The first process appended and died before answering; the next one reads the binding
    back from the log (a log that stores every append, as Kafka does)."""
    log = MemoryEventLog(partitions=3)
    headers = {**CLERK, "Idempotency-Key": "item-7"}
    one = create_app(settings(tmp_path), log, mongo_db).test_client()
    first = one.post("/demands", json=DEMAND, headers=headers)
    assert first.status_code == 202
    two = create_app(settings(tmp_path), log, mongo_db).test_client()
    r = two.post("/demands", json=GARBAGE, headers=headers)
    assert r.status_code == 422, r.get_json()
    assert "Idempotency-Key" in r.get_json()["errors"]["headers"]
    assert two.post("/demands", json=DEMAND, headers=headers).get_json() == first.get_json()
    assert sum(log.end_offsets().values()) == 1


def test_a_meetings_key_is_its_callers_and_bound_to_its_body(client, log):
    meeting = {"kind": "stakeholder_meeting", "district": 21, "held_on": "2026-11-18",
               "title": "نشست هفتگی", "minutes": "ترافیک ورودی تهرانسر مطرح شد."}
    mayor = {**bearer("district_mayor", 21, subject="mayor-21"), "Idempotency-Key": "m-1"}
    clerk = {**CLERK, "Idempotency-Key": "m-1"}
    first = client.post("/meetings", json=meeting, headers=mayor)
    by_clerk = client.post("/meetings", json={**meeting, "title": "جلسه دیگر"}, headers=clerk)
    assert first.status_code == by_clerk.status_code == 202, by_clerk.get_json()
    assert first.get_json()["meeting_id"] != by_clerk.get_json()["meeting_id"]
    reused = client.post("/meetings", json={**meeting, "minutes": "دیگر"}, headers=mayor)
    assert reused.status_code == 422, reused.get_json()
    assert "Idempotency-Key" in reused.get_json()["errors"]["headers"]
    assert client.post("/meetings", json=meeting, headers=mayor).get_json() == first.get_json()
    assert [e.payload["title"] for e in events(log)] == ["نشست هفتگی", "جلسه دیگر"]


def _meeting(client, district: int) -> str:
    r = client.post("/meetings", headers=bearer("headquarters"), json={
        "kind": "staff_supervision", "district": district, "held_on": "2026-11-18",
        "title": "نظارت ستادی", "minutes": "چالش‌های کلان منطقه مطرح شد."})
    assert r.status_code == 202, r.get_json()
    return r.get_json()["meeting_id"]


def test_a_demand_names_a_recorded_meeting_of_its_own_district(client, log):
    other = _meeting(client, 5)
    ours = _meeting(client, 21)
    for meeting_id, why in [("staff-supervision-1403-12", "a ULID"),
                            ("01JDZZZZZZZZZZZZZZZZZZZZZZ", "No meeting"),
                            (other, "district 5")]:
        r = client.post("/demands", json={**DEMAND, "meeting_id": meeting_id})
        assert r.status_code == 422, r.get_json()
        assert why in r.get_json()["errors"]["json"]["meeting_id"][0]
        assert log.end_offsets() == {0: 2}  # the two meetings, nothing more
    r = client.post("/demands", json={**DEMAND, "meeting_id": ours.lower()})
    assert r.status_code == 202, r.get_json()
    assert events(log)[-1].payload["meeting_id"] == ours


def test_an_unavailable_log_is_a_503_and_the_retry_records_once(client, log):
    headers = {"Idempotency-Key": "retry-me"}
    with locked(log):
        r = client.post("/demands", json=DEMAND, headers=headers)
    assert r.status_code == 503
    assert r.get_json()["message"] == \
        "could not record durably, retry with the same Idempotency-Key"
    assert r.headers["Retry-After"] == "1"
    assert log.end_offsets() == {0: 0}
    retry = client.post("/demands", json=DEMAND, headers=headers)
    again = client.post("/demands", json=DEMAND, headers=headers)
    assert retry.status_code == again.status_code == 202
    assert retry.get_json()["demand_id"] == again.get_json()["demand_id"]
    assert log.end_offsets() == {0: 1}


def test_a_meeting_the_log_does_not_take_is_a_503_and_the_retry_records_once(client, log):
    meeting = {"kind": "stakeholder_meeting", "district": 21, "held_on": "2026-11-18",
               "title": "نشست هفتگی شهر خوب، شهر ارتباطی", "attendees": {"guild": 3},
               "minutes": "ترافیک ورودی تهرانسر مطرح شد."}
    headers = {**bearer("district_mayor", 21, subject="mayor-21"), "Idempotency-Key": "m-1"}
    with locked(log):
        r = client.post("/meetings", json=meeting, headers=headers)
    assert r.status_code == 503, r.get_json()
    assert r.headers["Retry-After"] == "1"
    assert log.end_offsets() == {0: 0}
    retry = client.post("/meetings", json=meeting, headers=headers)
    again = client.post("/meetings", json=meeting, headers=headers)
    assert retry.status_code == again.status_code == 202, retry.get_json()
    assert retry.get_json()["meeting_id"] == again.get_json()["meeting_id"]
    assert [e.type for e in events(log)] == ["MeetingRecorded"]


def test_a_kafka_log_whose_broker_died_is_a_503(tmp_path, mongo_db):
    broker = servers.noida(tmp_path).start()
    try:
        log = KafkaEventLog(f"127.0.0.1:{broker.port}", "intake-test", partitions=2, timeout=1.0)
        client = authorize(create_app(settings(tmp_path), log, mongo_db).test_client(),
                           "intake_clerk", 21)
        assert client.post("/demands", json=DEMAND).status_code == 202
        broker.kill()  # kill -9: the broker is gone
        r = client.post("/demands", json=DEMAND, headers={"Idempotency-Key": "k"})
        assert r.status_code == 503
        assert "retry with the same Idempotency-Key" in r.get_json()["message"]
        log.close()
    finally:
        broker.kill()


def test_vocabulary_lists_every_code_with_both_labels(client):
    r = client.get("/vocabulary")
    assert r.status_code == 200
    assert "شهروند".encode() in r.data  # Persian is sent as UTF-8, not escaped
    body = r.get_json()
    expected = {"channels": vocabulary.CHANNELS, "requester_kinds": vocabulary.REQUESTER_KINDS,
                "categories": vocabulary.CATEGORIES, "departments": vocabulary.DEPARTMENTS,
                "priorities": vocabulary.PRIORITIES, "levels": vocabulary.LEVELS,
                "escalation_reasons": vocabulary.ESCALATION_REASONS}
    for name, labels in expected.items():
        assert body[name] == [{"code": c, "fa": fa, "en": en} for c, (fa, en) in labels.items()]
    assert body["districts"] == list(range(1, 23))


def test_health_and_openapi(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    spec = client.get("/openapi.json").get_json()
    assert {"/demands", "/vocabulary"} <= set(spec["paths"])
    assert "202" in spec["paths"]["/demands"]["post"]["responses"]


def test_the_recorded_bytes_are_canonical(client, log):
    client.post("/demands", json=DEMAND)
    [record] = list(log.scan())
    assert decode(record.raw, validate_payload=True).payload["neighbourhood"] == "ویلاشهر"
    assert "ویلاشهر".encode() in record.raw


def test_only_headquarters_or_central_record_a_demand_at_their_rung(client, log):
    """A staff-supervision session's macro challenge, recorded as decided: at headquarters."""
    hq = bearer("headquarters", subject="deputy-coordination")
    ok = client.post("/demands", json={**DEMAND, "level": "headquarters"}, headers=hq)
    assert ok.status_code == 202, ok.get_json()
    assert events(log)[0].payload["level"] == "headquarters"
    refused = [
        ({**DEMAND, "level": "headquarters"}, CLERK),                       # not the clerk's
        ({**DEMAND, "level": "central_management"}, hq),                    # not hq's rung
        ({**DEMAND, "level": "headquarters", "channel": "line_137"}, hq),   # not a session
        ({**DEMAND, "level": "department"}, hq),                            # not a choice
    ]
    for body, token in refused:
        r = client.post("/demands", json=body, headers=token)
        assert r.status_code == 422 and "level" in r.get_json()["errors"]["json"], body
    assert len(events(log)) == 1
