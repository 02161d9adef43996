"""Open311 as a third-party GeoReport v2 client meets it: plain HTTP over a real socket, no
token, `.xml` (the spec's default) and `.json` URLs. The reporting app is served by werkzeug
over a real SQLite log and a real SecantusDB, with the real projector; the XML is parsed and
checked element by element against the spec's names."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from werkzeug.serving import make_server

from intake.app import create_app as intake_app
from reporting.app import create_app
from reporting.projector import Projector
from sada.processes import free_port
from services import config
from services.eventlog.sqlite import SqliteEventLog
from services.events.envelope import Actor, Event, format_time, make
from services.events.ids import derived_id
from tests.auth_helpers import ENV, bearer
from tests.live import serving
from tests.sqlite_lock import locked

FORM = {
    "jurisdiction_id": "tehran.ir",
    "service_code": "transport",
    "attribute[district]": "21",
    "attribute[neighbourhood]": "ویلاشهر",
    "description": "چراغ راهنمایی تقاطع اصلی خاموش است",
    "first_name": "مریم",
    "last_name": "احمدی",
    "phone": "09121234567",
    "lat": "35.6892",
    "long": "51.3890",
}
PRIVATE = ("مریم", "احمدی", "09121234567", "35.6892", "51.389", "sealed", "requester",
           "intake_clerk")
CLERK = bearer("intake_clerk", 21)
# The spec's fields of a service request, in its order (GeoReport v2, GET Service Requests).
REQUEST_FIELDS = ["service_request_id", "status", "status_notes", "service_name",
                  "service_code", "description", "agency_responsible", "service_notice",
                  "requested_datetime", "updated_datetime", "expected_datetime", "address",
                  "address_id", "zipcode", "media_url"]


class Server:
    def __init__(self, app) -> None:
        self.httpd = make_server("127.0.0.1", 0, app, threaded=True)
        self.root = f"http://127.0.0.1:{self.httpd.server_port}/open311/v2"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def get(self, path: str, query: dict[str, str] | None = None,
            headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        url = f"{self.root}/{path}" + (f"?{urllib.parse.urlencode(query)}" if query else "")
        return self._send(urllib.request.Request(url, headers=headers or {}))

    def post(self, path: str, form: dict[str, str],
             headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        data = urllib.parse.urlencode(form).encode()
        return self._send(urllib.request.Request(f"{self.root}/{path}", data=data,
                                                 headers=headers or {}, method="POST"))

    @staticmethod
    def _send(req: urllib.request.Request) -> tuple[int, dict[str, str], bytes]:
        try:
            with urllib.request.urlopen(req, timeout=10) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()


@pytest.fixture
def log(tmp_path) -> Iterator[SqliteEventLog]:
    with SqliteEventLog(tmp_path / "events.sqlite3", synchronous="OFF") as log:
        yield log


def serve(log, mongo_db, **env: str) -> Iterator[Server]:
    """Reporting served for real, with intake listening where it sends posted requests."""
    port = free_port()
    settings = config.load({**ENV, "SADA_INTAKE_PORT": str(port),
                            "SADA_OPEN311_VISIBLE_SECONDS": "0", **env})
    with serving(lambda: intake_app(settings, log, mongo_db), port):
        server = Server(create_app(settings, log=log, db=mongo_db))
        try:
            yield server
        finally:
            server.httpd.shutdown()


@pytest.fixture
def server(log, mongo_db) -> Iterator[Server]:
    yield from serve(log, mongo_db)


def project(log, mongo_db) -> None:
    projector = Projector(log, mongo_db)
    projector.apply_batch(log.read(projector.start_offsets([0]), limit=10_000))


def submitted(server: Server, log, mongo_db) -> str:
    status, _, body = server.post("requests.json", FORM, CLERK)
    assert status == 201, body
    project(log, mongo_db)
    return json.loads(body)[0]["service_request_id"]


def xml(body: bytes, root: str) -> ET.Element:
    element = ET.fromstring(body)
    assert element.tag == root, body
    return element


def error_codes(status: int, headers: dict[str, str], body: bytes, fmt: str,
                code: int) -> list[str]:
    """The descriptions of an Open311 error answer, checked to be in the spec's shape."""
    assert status == code, body
    if fmt == "json":
        assert headers["Content-Type"].startswith("application/json")
        errors = json.loads(body)
        assert isinstance(errors, list) and errors
        assert all(set(e) == {"code", "description"} and e["code"] == code for e in errors)
        return [e["description"] for e in errors]
    assert headers["Content-Type"].startswith("text/xml")
    root = xml(body, "errors")
    assert [child.tag for child in root] == ["error"] * len(root) and len(root) > 0
    for error in root:
        assert [c.tag for c in error] == ["code", "description"]
        assert error.findtext("code") == str(code)
    return [error.findtext("description") or "" for error in root]


def test_services_and_definitions_are_public_in_xml_and_json(server) -> None:
    status, headers, body = server.get("services.xml")
    assert status == 200 and headers["Content-Type"].startswith("text/xml"), body
    services = xml(body, "services")
    assert {s.tag for s in services} == {"service"}
    transport = next(s for s in services if s.findtext("service_code") == "transport")
    assert [c.tag for c in transport] == ["service_code", "service_name", "description",
                                          "metadata", "type", "keywords", "group"]
    assert transport.findtext("service_name") == "حمل‌ونقل و ترافیک"
    assert transport.findtext("metadata") == "true" and transport.findtext("type") == "realtime"
    status, _, body = server.get("services.json")
    assert status == 200
    assert {s["service_code"] for s in json.loads(body)} == \
        {s.findtext("service_code") for s in services}

    status, _, body = server.get("services/transport.xml")
    assert status == 200, body
    definition = xml(body, "service_definition")
    assert definition.findtext("service_code") == "transport"
    attributes = {a.findtext("code"): a for a in definition.find("attributes")}
    district = attributes["district"]
    assert district.findtext("datatype") == "singlevaluelist"
    assert district.findtext("required") == "true" and district.findtext("variable") == "true"
    values = [(v.findtext("key"), v.findtext("name")) for v in district.find("values")]
    assert values[0] == ("1", "منطقه ۱") and values[-1] == ("22", "منطقه ۲۲")
    assert [k for k, _ in values] == [str(d) for d in range(1, 23)]
    assert attributes["neighbourhood"].findtext("datatype") == "string"
    kind = attributes["requester_kind"]
    assert kind.findtext("datatype") == "singlevaluelist"
    assert "citizen" in [v.findtext("key") for v in kind.find("values")]
    status, _, body = server.get("services/transport.json")
    assert status == 200
    assert [a["code"] for a in json.loads(body)["attributes"]] == list(attributes)


def test_requests_are_public_without_the_requesters_data(server, log, mongo_db) -> None:
    request_id = submitted(server, log, mongo_db)
    status, _, body = server.get(f"requests/{request_id}.xml")
    assert status == 200, body
    [one] = xml(body, "service_requests")
    assert one.tag == "request"
    assert [c.tag for c in one] == REQUEST_FIELDS
    assert one.findtext("service_request_id") == request_id
    assert one.findtext("status") == "open"
    assert one.findtext("status_notes") == "ثبت‌شده"  # Persian unless asked otherwise
    assert one.findtext("description") == FORM["description"]
    assert one.findtext("address") == "منطقه 21، ویلاشهر"
    assert one.findtext("requested_datetime")
    status, _, body = server.get(f"requests/{request_id}.json",
                                 headers={"Accept-Language": "en-GB,en;q=0.8"})
    [english] = json.loads(body)
    assert status == 200 and list(english) == REQUEST_FIELDS
    assert english["status_notes"] == "Submitted"
    assert english["service_name"] == "Transport and traffic"
    for path in (f"requests/{request_id}.xml", f"requests/{request_id}.json",
                 "requests.xml", "requests.json"):
        status, _, body = server.get(path)
        assert status == 200 and request_id in body.decode(), path
        text = body.decode()
        assert not [p for p in PRIVATE if p in text], (path, text)
    status, _, body = server.get("requests.xml", {"service_code": "transport",
                                                  "status": "open"})
    assert [r.findtext("service_request_id") for r in xml(body, "service_requests")] == \
        [request_id]
    status, _, body = server.get("requests.json", {"status": "closed"})
    assert (status, json.loads(body)) == (200, [])
    status, _, body = server.get("requests.json", {"service_request_id": request_id})
    assert [r["service_request_id"] for r in json.loads(body)] == [request_id]
    status, _, body = server.get("requests.json", {"end_date": "2020-01-01T00:00:00Z"})
    assert (status, json.loads(body)) == (200, [])
    # With a token, what the token's scope may see, as before.
    status, _, body = server.get(f"requests/{request_id}.json", headers=CLERK)
    assert status == 200 and json.loads(body)[0]["lat"] == 35.6892
    # The Sada-only history of a request still needs a token.
    status, headers, body = server.get(f"requests/{request_id}/events.json")
    assert error_codes(status, headers, body, "json", 401)


def test_a_post_answers_in_xml(server, log) -> None:
    status, headers, body = server.post("requests.xml", FORM, CLERK)
    assert status == 201 and headers["Content-Type"].startswith("text/xml"), body
    [created] = xml(body, "service_requests")
    assert created.tag == "request" and created.findtext("service_request_id")
    assert [r.event.demand_id for r in log.read({})] == [created.findtext("service_request_id")]


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_every_error_is_an_open311_list_in_the_format_asked(server, log, fmt) -> None:
    def check(code: int, answer: tuple[int, dict[str, str], bytes], words: str) -> None:
        descriptions = error_codes(*answer, fmt, code)
        assert any(words in d for d in descriptions), descriptions

    check(404, server.get(f"services/potholes.{fmt}"), "service_code")
    check(404, server.get(f"requests/01JNOTADEMANDATALL00000000.{fmt}"), "service_request_id")
    check(404, server.get(f"services.{fmt}", {"jurisdiction_id": "paris.fr"}), "jurisdiction_id")
    check(400, server.get(f"requests.{fmt}", {"status": "pending"}), "status")
    check(400, server.post(f"requests.{fmt}", {**FORM, "attribute[district]": "23"}, CLERK),
          "attribute[district]")
    check(401, server.post(f"requests.{fmt}", FORM), "token")
    check(403, server.post(f"requests.{fmt}", FORM, bearer("intake_clerk", 5)), "district")
    key = {**CLERK, "Idempotency-Key": f"reuse-{fmt}"}
    assert server.post(f"requests.{fmt}", FORM, key)[0] == 201
    check(422, server.post(f"requests.{fmt}", {**FORM, "description": "دیگری"}, key),
          "Idempotency-Key")
    assert len(list(log.read({}))) == 1  # no error recorded anything


def test_a_jurisdiction_named_right_or_left_blank_is_accepted(server) -> None:
    for given in ("tehran.ir", "Tehran.IR", " tehran.ir ", ""):
        status, _, body = server.get("services.xml", {"jurisdiction_id": given})
        assert status == 200, (given, body)


def test_anonymous_reads_are_rate_limited_per_address(log, mongo_db) -> None:
    for server in serve(log, mongo_db, SADA_RATE_LIMIT_BURST="2",
                        SADA_RATE_LIMIT_PER_MINUTE="1"):
        assert [server.get("services.xml")[0] for _ in range(2)] == [200, 200]
        status, headers, body = server.get("services.xml")
        assert error_codes(status, headers, body, "xml", 429)
        assert int(headers["Retry-After"]) >= 1
        assert server.get("services.json", headers=CLERK)[0] == 200  # a token is not limited


def _settings(**env: Any) -> config.Settings:
    return config.load({**ENV, **env})


def test_the_jurisdiction_is_configured() -> None:
    assert _settings().open311_jurisdiction == "tehran.ir"
    assert _settings(SADA_OPEN311_JURISDICTION="karaj.ir").open311_jurisdiction == "karaj.ir"


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_a_log_that_does_not_acknowledge_is_an_open311_503(log, mongo_db, fmt) -> None:
    client = create_app(config.load(ENV), log=log, db=mongo_db).test_client()
    with locked(log):
        r = client.post(f"/open311/v2/requests.{fmt}", data=FORM, headers=CLERK)
    descriptions = error_codes(r.status_code, dict(r.headers), r.get_data(), fmt, 503)
    assert "retry" in descriptions[0] and r.headers["Retry-After"] == "1"
    assert log.end_offsets() == {0: 0}


def _submissions(start: datetime, n: int, seed: str) -> list[Event]:
    at = [start + timedelta(seconds=i) for i in range(n)]
    return [make("DemandSubmitted", derived_id(t, seed, "demand", str(i)), {
        "requester": {"kind": "citizen"}, "channel": "line_137", "district": 1 + i % 22,
        "neighbourhood": "زمزم", "category": "transport", "title": f"ترافیک تقاطع {i}",
        "description": "صف خودروها هر صبح تا بزرگراه کشیده می‌شود."},
        actor=Actor("intake_clerk", "clerk-7", 7),
        event_id=derived_id(t, seed, "submitted", str(i)), recorded_at=t)
        for i, t in enumerate(at)]


def test_the_anonymous_list_keeps_the_90_day_window_and_the_1000_cap(server, log,
                                                                      mongo_db) -> None:
    today = datetime.now(UTC)
    old = _submissions(today - timedelta(days=120), 2, "old")
    recent = _submissions(today - timedelta(days=3), 1001, "recent")
    log.append(old + recent)
    project(log, mongo_db)
    status, _, body = server.get("requests.json")
    listed = [r["service_request_id"] for r in json.loads(body)]
    assert status == 200 and len(listed) == 1000
    assert listed == [e.demand_id for e in reversed(recent)][:1000]  # newest first
    since = format_time(today - timedelta(days=130))
    until = format_time(today - timedelta(days=100))
    status, _, body = server.get("requests.xml", {"start_date": since, "end_date": until})
    assert [r.findtext("service_request_id") for r in xml(body, "service_requests")] == \
        [e.demand_id for e in reversed(old)]


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_a_token_names_its_request_and_opens_the_tracking_page(log, mongo_db, fmt) -> None:
    for server in serve(log, mongo_db):
        status, _, body = server.post("requests.json", FORM, CLERK)
        assert status == 201, body
        [created] = json.loads(body)
        token = created["token"]
        assert token == created["service_request_id"]
        project(log, mongo_db)
        status, _, body = server.get(f"tokens/{token}.{fmt}")  # no Sada token
        assert status == 200, body
        if fmt == "json":
            assert json.loads(body) == [{"service_request_id": token, "token": token}]
        else:
            request = ET.fromstring(body).find("request")
            assert request.findtext("service_request_id") == request.findtext("token") == token
        status, _, body = server.get(f"tokens/01ARZ3NDEKTSV4RRFFQ69G5FAV.{fmt}")
        assert status == 404
        page = urllib.request.urlopen(server.root.replace("/open311/v2", f"/track/{token}"))
        text = page.read().decode()
        assert page.status == 200 and all(p not in text for p in PRIVATE[:3])


def test_a_requesters_name_phone_and_national_code_are_nowhere_public(log, mongo_db,
                                                                      tmp_path) -> None:
    """Recorded at intake with all three, the demand shows none of them in any Open311
    answer, in either format, nor on the tracking page."""
    person = {"kind": "citizen", "name": "زهرا رضایی", "phone": "09127778899",
              "national_id": "0790419904"}
    settings = config.load({**ENV, "SADA_DATA_DIR": str(tmp_path)})
    intake = intake_app(settings, log, mongo_db).test_client()
    sent = intake.post("/demands", headers=CLERK, json={
        "requester": person, "channel": "line_137", "district": 21,
        "neighbourhood": "ویلاشهر", "category": "transport", "title": "ایستگاه بدون سایبان",
        "description": "ایستگاه اتوبوس سایبان ندارد."})
    assert sent.status_code == 202, sent.get_json()
    demand_id = sent.get_json()["demand_id"]
    project(log, mongo_db)
    secrets = ("زهرا", "رضایی", "09127778899", "0790419904")
    for server in serve(log, mongo_db):
        for path in (f"requests/{demand_id}.xml", f"requests/{demand_id}.json",
                     "requests.xml", "requests.json", f"tokens/{demand_id}.xml"):
            status, _, body = server.get(path)
            assert status == 200 and demand_id in body.decode(), path
            assert not [s for s in secrets if s in body.decode()], path
        page = urllib.request.urlopen(server.root.replace("/open311/v2", f"/track/{demand_id}"))
        text = page.read().decode()
        assert "ایستگاه بدون سایبان" in text and not [s for s in secrets if s in text]
