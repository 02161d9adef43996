"""Open311 GeoReport v2 as a client speaks it: the service list, a form-encoded submission
(jurisdiction_id and all), reading it back, and errors as Open311 arrays. On the reporting
app over a real SQLite log and a real SecantusDB, with the real projector."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import pytest

from intake.app import create_app as intake_app
from reporting.app import create_app
from reporting.projector import Projector
from sada.processes import free_port
from services import config
from services.eventlog.sqlite import SqliteEventLog
from services.events.envelope import decode
from tests.auth_helpers import ENV, bearer
from tests.live import serving

FORM = {
    "jurisdiction_id": "tehran.ir",
    "service_code": "transport",
    "attribute[district]": "21",
    "attribute[neighbourhood]": "ویلاشهر",
    "description": "چراغ راهنمایی تقاطع اصلی خاموش است\nاز دیروز عصر.",
    "first_name": "مریم",
    "last_name": "احمدی",
    "phone": "۰۹۱۲ ۱۲۳ ۴۵۶۷",
    "lat": "35.6892",
    "long": "51.3890",
    "api_key": "ignored",
}
CLERK = bearer("intake_clerk", 21)


@pytest.fixture
def log(tmp_path) -> Iterator[SqliteEventLog]:
    with SqliteEventLog(tmp_path / "events.sqlite3", synchronous="OFF") as log:
        yield log


@contextlib.contextmanager
def reporting_client(log, mongo_db, tmp_path, visible_seconds: str = "0"):
    """Reporting's app, with intake listening where it sends posted requests. Posts answer at
    once (no projector runs here) unless `visible_seconds` says to wait for one."""
    port = free_port()
    settings = config.load({**ENV, "SADA_INTAKE_PORT": str(port), "SADA_DATA_DIR": str(tmp_path),
                            "SADA_OPEN311_VISIBLE_SECONDS": visible_seconds})
    with serving(lambda: intake_app(settings, log, mongo_db), port):
        app = create_app(settings, log=log, db=mongo_db)
        app.testing = True
        yield app.test_client()


@pytest.fixture
def client(log, mongo_db, tmp_path):
    with reporting_client(log, mongo_db, tmp_path) as client:
        yield client


@pytest.fixture
def waiting_client(log, mongo_db, tmp_path):
    with reporting_client(log, mongo_db, tmp_path, visible_seconds="10") as client:
        yield client


def project(log, mongo_db) -> None:
    projector = Projector(log, mongo_db)
    projector.apply_batch(log.read(projector.start_offsets([0]), limit=10_000))


def test_a_posted_request_can_be_read_back_at_once(waiting_client, log, mongo_db) -> None:
    """A GeoReport client reads the request it posted straight after the 201: the answer
    waits for the projector (here it starts late, and polls slowly), so the read finds it."""
    stop = threading.Event()
    projector = Projector(log, mongo_db)
    late = threading.Timer(0.5, projector.run, args=(stop,), kwargs={"poll_timeout": 0.2})
    late.start()
    try:
        for attempt in range(3):
            r = waiting_client.post("/open311/v2/requests.json", data=FORM, headers=CLERK)
            assert r.status_code == 201, r.get_data(as_text=True)
            [created] = r.get_json()
            assert created["service_notice"].endswith("routing follows shortly")
            read = waiting_client.get(f"/open311/v2/requests/{created['service_request_id']}"
                                      ".json", headers=CLERK)
            assert read.status_code == 200, (attempt, read.get_data(as_text=True))
    finally:
        stop.set()
        late.cancel()
        late.join()


def test_a_post_the_read_models_do_not_reach_in_time_still_names_its_request(
        log, mongo_db, tmp_path) -> None:
    """No projector runs: after its wait the answer still names the request, and says it
    can be read in a few moments."""
    with reporting_client(log, mongo_db, tmp_path, "0.2") as client:
        r = client.post("/open311/v2/requests.json", data=FORM, headers=CLERK)
    assert r.status_code == 201, r.get_data(as_text=True)
    [created] = r.get_json()
    assert created["service_request_id"] and created["token"] == created["service_request_id"]
    assert "read back in a few moments" in created["service_notice"]


def open311_error(response, code: int) -> list[str]:
    assert response.status_code == code, response.get_data(as_text=True)
    body = response.get_json()
    assert isinstance(body, list) and all(e["code"] == code for e in body)
    return [e["description"] for e in body]


def test_the_service_list_and_a_definition(client) -> None:
    services = client.get("/open311/v2/services.json", headers=CLERK).get_json()
    codes = {s["service_code"] for s in services}
    assert {"transport", "urban_planning", "green_space"} <= codes
    transport = next(s for s in services if s["service_code"] == "transport")
    assert transport["service_name"] == "حمل‌ونقل و ترافیک" and transport["metadata"] is True
    assert transport["type"] == "realtime"
    definition = client.get("/open311/v2/services/transport.json", headers=CLERK).get_json()
    district = next(a for a in definition["attributes"] if a["code"] == "district")
    assert district["required"] is True and len(district["values"]) == 22
    assert open311_error(client.get("/open311/v2/services/potholes.json", headers=CLERK), 404)


def test_a_form_encoded_request_is_recorded_as_a_demand_and_read_back(client, log,
                                                                       mongo_db) -> None:
    r = client.post("/open311/v2/requests.json", data=FORM, headers=CLERK)
    assert r.status_code == 201, r.get_data(as_text=True)
    [created] = r.get_json()
    request_id = created["service_request_id"]
    [record] = log.read({})
    event = decode(record.raw, validate_payload=True)
    assert (event.type, event.demand_id, event.version) == ("DemandSubmitted", request_id, 3)
    assert event.actor.role == "intake_clerk" and event.actor.district == 21
    p = event.payload
    assert (p["district"], p["category"], p["channel"]) == (21, "transport", "web")
    assert p["title"] == "چراغ راهنمایی تقاطع اصلی خاموش است"
    # Name and phone are sealed before the log (tests/integration/test_privacy_http.py).
    assert p["requester"]["kind"] == "citizen" and p["requester"]["sealed"].startswith("v1.")
    assert "مریم" not in record.raw.decode() and "09121234567" not in record.raw.decode()
    assert p["location"] == {"lat": 35.6892, "long": 51.389, "address": None}

    project(log, mongo_db)
    [back] = client.get(f"/open311/v2/requests/{request_id}.json", headers=CLERK).get_json()
    assert back["service_request_id"] == request_id and back["status"] == "open"
    assert back["service_code"] == "transport" and back["description"] == FORM["description"]
    assert (back["lat"], back["long"]) == (35.6892, 51.389)
    assert back["requested_datetime"] == event.to_dict()["recorded_at"]
    assert back["address"] == "منطقه 21، ویلاشهر"
    listed = client.get("/open311/v2/requests.json", headers=CLERK,
                        query_string={"jurisdiction_id": "tehran.ir", "status": "open",
                                      "service_code": "transport,green_space"}).get_json()
    assert [x["service_request_id"] for x in listed] == [request_id]
    assert client.get("/open311/v2/requests.json", headers=CLERK,
                      query_string={"status": "closed"}).get_json() == []
    events = client.get(f"/open311/v2/requests/{request_id}/events.json",
                        headers=CLERK).get_json()
    assert [e["type"] for e in events] == ["DemandSubmitted"]
    assert events[0]["position"] == "0:0"


def test_json_is_accepted_too_and_a_retry_names_the_same_request(client, log) -> None:
    body = {k: v for k, v in FORM.items() if k not in ("lat", "long")}
    body["address_string"] = "بلوار اصلی، نبش کوچه ۳"
    del body["attribute[neighbourhood]"]
    key = {"Idempotency-Key": "open311-retry-1"}
    first = client.post("/open311/v2/requests.json", json=body, headers={**CLERK, **key})
    again = client.post("/open311/v2/requests.json", json=body, headers={**CLERK, **key})
    assert first.status_code == again.status_code == 201
    assert first.get_json() == again.get_json()
    [record] = log.read({})
    assert record.event.payload["neighbourhood"] == "بلوار اصلی، نبش کوچه ۳"
    assert record.event.payload["location"]["address"] == "بلوار اصلی، نبش کوچه ۳"


def test_a_key_is_the_callers_and_bound_to_the_body(client, log) -> None:
    key = {"Idempotency-Key": "item-7"}
    first = client.post("/open311/v2/requests.json", data=FORM, headers={**CLERK, **key})
    assert first.status_code == 201, first.get_json()
    other = {**FORM, "description": "زباله‌ها جمع نشده است."}
    assert open311_error(client.post("/open311/v2/requests.json", data=other,
                                     headers={**CLERK, **key}), 422) == [
        "Idempotency-Key: This Idempotency-Key was already used by the same caller for another "
        "request (a different body); nothing was recorded. Send a new key for a new request."]
    colleague = bearer("intake_clerk", 21, subject="clerk-21-b")
    second = client.post("/open311/v2/requests.json", data=other, headers={**colleague, **key})
    assert second.status_code == 201, second.get_json()
    assert second.get_json()[0]["service_request_id"] != \
        first.get_json()[0]["service_request_id"]
    assert [r.event.payload["description"] for r in log.read({})] == [
        FORM["description"], other["description"]]


@pytest.mark.parametrize("change, field", [
    ({"attribute[district]": None}, "attribute[district]"),
    ({"attribute[district]": "23"}, "attribute[district]"),
    ({"attribute[district]": "بیست"}, "attribute[district]"),
    ({"service_code": "potholes"}, "service_code"),
    ({"service_code": None}, "service_code"),
    ({"description": None}, "description"),
    ({"description": "   "}, "description"),
    ({"attribute[neighbourhood]": None}, "attribute[neighbourhood] or address_string"),
    ({"lat": "north"}, "lat"),
    ({"long": "200"}, "long"),
    ({"phone": "call me"}, "phone"),
    ({"attribute[priority]": "asap"}, "attribute[priority]"),
    ({"attribute[requester_kind]": "alien"}, "attribute[requester_kind]"),
])
def test_bad_requests_are_open311_errors_naming_the_field(client, log, change, field) -> None:
    form = {k: v for k, v in {**FORM, **change}.items() if v is not None}
    r = client.post("/open311/v2/requests.json", data=form, headers=CLERK)
    descriptions = open311_error(r, 400)
    assert any(d.startswith(f"{field}: ") for d in descriptions), descriptions
    assert log.end_offsets() == {0: 0}  # nothing recorded


@pytest.mark.parametrize("query, field", [
    ({"status": "pending"}, "status"),
    ({"start_date": "yesterday"}, "start_date"),
    ({"end_date": "0:5"}, "end_date"),
    ({"service_code": "potholes"}, "service_code"),
    ({"district": "x"}, "district"),
])
def test_bad_queries_are_open311_errors_naming_the_parameter(client, query, field) -> None:
    descriptions = open311_error(client.get("/open311/v2/requests.json", headers=CLERK,
                                            query_string=query), 400)
    assert any(d.startswith(f"{field}: ") for d in descriptions), descriptions


def test_an_unknown_request_is_an_open311_404(client) -> None:
    r = client.get("/open311/v2/requests/01JNOTADEMANDATALL00000000.json", headers=CLERK)
    assert "service_request_id" in open311_error(r, 404)[0]


def test_scope_and_roles_hold_for_open311(client, log, mongo_db) -> None:
    other = bearer("intake_clerk", 5)
    r = client.post("/open311/v2/requests.json", data=FORM, headers=other)
    assert r.status_code == 403  # a district-5 clerk does not submit for district 21
    r = client.post("/open311/v2/requests.json", data=FORM,
                    headers=bearer("department_staff", 21, "transport"))
    assert r.status_code == 403
    created = client.post("/open311/v2/requests.json", data=FORM, headers=CLERK).get_json()
    project(log, mongo_db)
    request_id = created[0]["service_request_id"]
    assert client.get(f"/open311/v2/requests/{request_id}.json", headers=other).status_code == 403
    assert client.get("/open311/v2/requests.json", headers=other).get_json() == []
    r = client.get(f"/open311/v2/requests/{request_id}/events.json")  # no token
    assert "Authorization" in open311_error(r, 401)[0]


def test_the_openapi_document_lists_open311(client) -> None:
    paths = client.get("/openapi.json").get_json()["paths"]
    post = paths["/open311/v2/requests.{fmt}"]["post"]
    assert "application/x-www-form-urlencoded" in post["requestBody"]["content"]
    for path in ("/open311/v2/services.{fmt}", "/open311/v2/services/{code}.{fmt}",
                 "/open311/v2/requests/{request_id}.{fmt}",
                 "/open311/v2/requests/{request_id}/events.json"):
        assert "get" in paths[path], path
