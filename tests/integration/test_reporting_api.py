"""The reporting API on a real SecantusDB, over read models projected from a real log."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from reporting.app import create_app
from reporting.projector import Projector
from services import config
from services.eventlog.sqlite import SqliteEventLog
from tests.auth_helpers import ENV, authorize
from tests.integration.test_reporting_stream import Desk, append_all, staff


@dataclass
class City:
    desk: Desk
    log: SqliteEventLog
    projector: Projector
    ids: dict[str, str]

    def project(self) -> None:
        records = self.log.read(self.projector.start_offsets([0]), limit=10_000)
        if records:
            self.projector.apply_batch(records)

    def append(self, start: int) -> int:
        """Append the desk's events from index `start`; returns the next index."""
        append_all(self.log, self.desk.events[start:])
        return len(self.desk.events)


@pytest.fixture
def city(tmp_path, mongo_db) -> Iterator[City]:
    desk = Desk()
    ids = {
        "late": desk.submit(district=3, category="transport", priority="low",
                            title="ترافیک سنگین در تقاطع"),
        "soon": desk.submit(district=3, category="transport", priority="urgent"),
        "park": desk.submit(district=3, category="green_space", priority="normal"),
        "mayor": desk.submit(district=5, category="civil_works"),
        "hq": desk.submit(district=3, category="social"),
        "done": desk.submit(district=5, category="transport"),
    }
    desk.escalate(ids["mayor"])
    desk.escalate(ids["hq"])
    desk.escalate(ids["hq"])
    desk.acknowledge(ids["soon"])
    desk.note(ids["soon"], "اکیپ اعزام شد")
    desk.resolve(ids["done"])
    ids["ghost"] = desk.unknown().demand_id
    desk.flush()
    with SqliteEventLog(tmp_path / "events.sqlite3", synchronous="OFF") as log:
        append_all(log, desk.events)
        projector = Projector(log, mongo_db)
        projector.models.ensure_indexes()
        c = City(desk, log, projector, ids)
        c.project()
        yield c


@pytest.fixture
def client(city, mongo_db):
    app = create_app(config.load(ENV), log=city.log, db=mongo_db)
    app.testing = True
    return authorize(app.test_client(), "headquarters")


def error(response, code: int) -> dict:
    assert response.status_code == code, response.get_data(as_text=True)
    assert response.is_json
    body = response.get_json()
    assert body["code"] == code and body["message"]
    return body


# -- demands ----------------------------------------------------------------------------
def test_a_demand_in_persian_with_its_labels(client, city) -> None:
    r = client.get(f"/demands/{city.ids['soon']}")
    assert r.status_code == 200
    body = r.get_json()
    assert body["demand_id"] == city.ids["soon"]
    assert (body["status"], body["level"], body["notes"]) == ("acknowledged", "department", 1)
    assert body["queue"] == "3/transport" and body["department"] == "transport"
    assert body["labels"]["status"] == {"fa": "در دست اقدام", "en": "In progress"}
    assert body["labels"]["department"]["fa"] == "معاونت حمل‌ونقل و ترافیک"
    assert body["requester"]["kind"] == "citizen"
    assert body["overdue"] is True  # its deadline is in March 2025
    stored = city.projector.models.demand(city.ids["soon"])
    assert body["position"] == f"0:{stored['position']['offset']}"
    assert "_id" not in body and "open" not in body
    # Persian is sent as UTF-8, not \\u escapes.
    assert "ترافیک".encode() in client.get(f"/demands/{city.ids['late']}").data
    assert b"\\u" not in r.data


def test_an_unknown_demand_is_a_json_404(client) -> None:
    body = error(client.get("/demands/01JNOTADEMANDATALL00000000"), 404)
    assert "01JNOTADEMANDATALL00000000" in body["message"]
    error(client.get("/demands/01JNOTADEMANDATALL00000000/history"), 404)


def test_history_lists_every_event_in_log_order(client, city) -> None:
    body = client.get(f"/demands/{city.ids['hq']}/history").get_json()
    expected = [e for e in city.desk.events if e.demand_id == city.ids["hq"]]
    assert body["count"] == len(expected)
    assert [e["event_id"] for e in body["events"]] == [e.event_id for e in expected]
    offsets = [int(e["position"].split(":")[1]) for e in body["events"]]
    assert offsets == sorted(offsets)
    assert [e["type"] for e in body["events"]] == [
        "DemandSubmitted", "DemandRouted", "EscalationRequested", "DemandEscalated",
        "EscalationRequested", "DemandEscalated"]
    assert body["events"][1]["decision"] is True
    assert body["events"][1]["causation_id"] == body["events"][0]["event_id"]
    assert body["events"][0]["actor"]["role"] == "intake_clerk"
    assert body["events"][3]["payload"]["to_level"] == "district_mayor"


def test_a_rejected_action_on_an_unknown_demand_has_a_history_only(client, city) -> None:
    ghost = city.ids["ghost"]
    error(client.get(f"/demands/{ghost}"), 404)
    body = client.get(f"/demands/{ghost}/history").get_json()
    assert [e["type"] for e in body["events"]] == ["AcknowledgementRequested", "ActionRejected"]
    assert body["events"][1]["payload"]["code"] == "unknown_demand"


def test_search_is_newest_first_and_filters(client, city) -> None:
    body = client.get("/demands").get_json()
    assert body["count"] == 6
    assert [d["submitted_at"] for d in body["items"]] == sorted(
        (d["submitted_at"] for d in body["items"]), reverse=True)
    assert body["items"][0]["demand_id"] == city.ids["done"]
    district3 = client.get("/demands?district=3").get_json()["items"]
    assert {d["demand_id"] for d in district3} == {
        city.ids[k] for k in ("late", "soon", "park", "hq")}
    assert [d["demand_id"] for d in client.get(
        "/demands?status=resolved").get_json()["items"]] == [city.ids["done"]]
    assert [d["demand_id"] for d in client.get(
        "/demands?district=3&category=transport&limit=1").get_json()["items"]] == [
        city.ids["soon"]]
    assert "description" not in body["items"][0]  # a list shows summaries


@pytest.mark.parametrize("query, field", [
    ("district=23", "district"), ("district=abc", "district"), ("status=lost", "status"),
    ("category=weather", "category"), ("limit=0", "limit"), ("limit=501", "limit"),
])
def test_bad_search_parameters_are_named(client, query, field) -> None:
    body = error(client.get(f"/demands?{query}"), 422)
    assert field in body["errors"]["query"]


# -- queues and the escalation board ------------------------------------------------------------
def test_a_department_queue_is_oldest_deadline_first(client, city) -> None:
    body = client.get("/queues/3/transport").get_json()
    assert (body["queue"], body["district"], body["department"]) == ("3/transport", 3, "transport")
    assert body["labels"]["department"]["fa"] == "معاونت حمل‌ونقل و ترافیک"
    assert [d["demand_id"] for d in body["items"]] == [city.ids["soon"], city.ids["late"]]
    assert body["count"] == 2
    # green space goes to urban services; the resolved demand of district 5 is gone.
    assert [d["demand_id"] for d in client.get("/queues/3/urban_services").get_json()[
        "items"]] == [city.ids["park"]]
    assert client.get("/queues/5/transport").get_json()["items"] == []


@pytest.mark.parametrize("district", ["0", "23", "abc", "-1", "3.5"])
def test_a_queue_needs_a_district_from_1_to_22(client, district) -> None:
    body = error(client.get(f"/queues/{district}/transport"), 422)
    assert "district" in body["message"] and "district" in body["errors"]["path"]


def test_an_unknown_department_is_a_404_listing_the_departments(client) -> None:
    body = error(client.get("/queues/3/weather"), 404)
    assert "weather" in body["message"] and "urban_planning" in body["message"]


def test_the_escalation_board(client, city) -> None:
    body = client.get("/escalations").get_json()
    assert [d["demand_id"] for d in body["items"]] == [city.ids["hq"], city.ids["mayor"]]
    assert [d["level"] for d in body["items"]] == ["headquarters", "district_mayor"]
    assert body["items"][0]["escalations"][0]["from"] == "department"
    assert [d["demand_id"] for d in client.get("/escalations?district=5").get_json()[
        "items"]] == [city.ids["mayor"]]
    assert [d["demand_id"] for d in client.get("/escalations?level=headquarters").get_json()[
        "items"]] == [city.ids["hq"]]
    assert "level" in error(client.get("/escalations?level=department"), 422)["errors"]["query"]
    assert "district" in error(client.get("/escalations?district=0"), 422)["errors"]["query"]


# -- status and read-your-write -----------------------------------------------------------
def test_status_shows_the_lag(client, city) -> None:
    body = client.get("/status").get_json()
    end = len(city.desk.events)
    assert body == {"projection": "reporting", "checkpoint": {"0": end},
                    "end_offsets": {"0": end}, "lag": {"0": 0}, "total_lag": 0}
    city.desk.submit(district=9, category="social")
    city.append(end)
    body = client.get("/status").get_json()
    assert body["lag"] == {"0": 2} and body["total_lag"] == 2


def test_status_opens_the_log_from_settings(tmp_path, city, mongo_db) -> None:
    settings = config.load({**ENV, "SADA_SQLITE_PATH": str(city.log.path)})
    app = create_app(settings, db=mongo_db)
    assert authorize(app.test_client(), "auditor").get("/status").get_json()["end_offsets"] == {
        "0": len(city.desk.events)}


def test_after_a_position_already_projected_answers_at_once(client, city) -> None:
    last = len(city.desk.events) - 1
    started = time.monotonic()
    assert client.get(f"/demands/{city.ids['soon']}?after=0:{last}").status_code == 200
    assert client.get(f"/queues/3/transport?after=0:{last}").status_code == 200
    assert time.monotonic() - started < 1


def test_after_waits_for_the_projector(client, city) -> None:
    start = len(city.desk.events)
    new = city.desk.submit(district=14, category="urban_planning", title="درخواست ایجاد پارک محله")
    city.append(start)
    position = f"0:{len(city.desk.events) - 1}"
    projecting = threading.Timer(0.3, city.project)
    projecting.start()
    try:
        started = time.monotonic()
        r = client.get(f"/demands/{new}?after={position}&wait=5")
        waited = time.monotonic() - started
    finally:
        projecting.join()
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.get_json()["status"] == "routed"
    assert 0.25 <= waited < 3


@pytest.mark.parametrize("path", [
    "/demands/{soon}", "/demands/{soon}/history", "/demands", "/queues/3/transport",
    "/escalations",
])
def test_after_gives_504_when_the_projector_is_behind(client, city, path) -> None:
    beyond = len(city.desk.events) + 5
    started = time.monotonic()
    body = error(client.get(f"{path.format(**city.ids)}?after=0:{beyond}&wait=0.2"), 504)
    assert 0.2 <= time.monotonic() - started < 2
    assert f"0:{beyond}" in body["message"]


@pytest.mark.parametrize("query, field", [
    ("after=abc", "after"), ("after=0", "after"), ("after=0:-1", "after"), ("after=:", "after"),
    ("wait=31", "wait"), ("wait=-1", "wait"), ("wait=nan", "wait"), ("wait=soon", "wait"),
    ("decided=not-an-id", "decided"),
])
def test_malformed_freshness_parameters_are_named(client, city, query, field) -> None:
    body = error(client.get(f"/demands/{city.ids['soon']}?{query}"), 422)
    assert field in body["errors"]["query"]


def test_decided_waits_for_routings_decision(client, city, mongo_db) -> None:
    demand = city.ids["park"]
    start = len(city.desk.events)
    request = city.desk.acknowledge(demand, lag=1)  # its decision is not in the log yet
    city.append(start)
    city.project()
    body = error(client.get(f"/demands/{demand}?decided={request.event_id}&wait=0.1"), 504)
    assert request.event_id in body["message"]

    def decide_later() -> None:
        city.desk.flush()
        city.append(start + 1)
        city.project()

    deciding = threading.Timer(0.3, decide_later)
    deciding.start()
    try:
        r = client.get(f"/demands/{demand}?decided={request.event_id}&wait=5")
    finally:
        deciding.join()
    assert r.status_code == 200
    assert r.get_json()["status"] == "acknowledged"
    assert request.event_id in r.get_json()["decided"]


def test_decided_on_a_rejected_action_for_an_unknown_demand(client, city) -> None:
    start = len(city.desk.events)
    rejected = city.desk.unknown()
    city.append(start)
    city.project()
    body = error(client.get(f"/demands/{rejected.demand_id}?decided={rejected.event_id}"), 404)
    assert rejected.demand_id in body["message"]


def test_a_refused_action_is_decided_too(client, city) -> None:
    start = len(city.desk.events)
    refused = city.desk.acknowledge(city.ids["late"], actor=staff(4, "transport"))
    city.append(start)
    city.project()
    r = client.get(f"/demands/{city.ids['late']}?decided={refused.event_id}&wait=1")
    assert r.status_code == 200 and r.get_json()["rejected_actions"] == 1


@pytest.mark.parametrize("url", [
    "/demands/%00", "/demands/" + "x" * 5000, "/demands?limit=99999999999999999999",
    "/demands?district=1e3", "/queues/99999999999999999999/transport", "/queues/3/%2e%2e",
    "/escalations?level=" + "ب" * 300, "/demands?after=0:" + "9" * 40 + "&wait=0",
    "/demands/x?decided=01JABCDEFGHJKMNPQRSTVWXYZ0&wait=0",
    "/status?after=zzz", "/openapi.json",
])
def test_odd_input_never_gives_a_500(client, url) -> None:
    r = client.get(url)
    assert r.status_code < 500 or r.status_code == 504, r.get_data(as_text=True)
    assert r.is_json


def test_the_openapi_document_lists_the_endpoints(client) -> None:
    spec = client.get("/openapi.json").get_json()
    for path in ("/demands", "/demands/{demand_id}", "/demands/{demand_id}/history",
                 "/queues/{district}/{department}", "/escalations", "/status"):
        assert path in spec["paths"], path
