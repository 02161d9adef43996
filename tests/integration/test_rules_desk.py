"""The administrator's rules page reads the rules from routing and sends a change, or an
office closure, to routing's own API: the change is in the log, a bad one comes back with
routing's reasons, and no one else may use it."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import requests
from werkzeug.serving import make_server

from reporting.app import create_app as reporting_app
from routing import rules_api
from routing.app import create_app as routing_app
from sada.cli import load_demo
from sada.processes import free_port
from services import config
from services.eventlog.sqlite import SqliteEventLog
from tests.auth_helpers import ENV, MASTER_KEY, authorize, bearer


@pytest.fixture
def desk(tmp_path, mongo_db) -> Iterator[tuple[object, SqliteEventLog]]:
    port = free_port()
    env = {**ENV, "SADA_ROUTING_PORT": str(port), "SADA_MASTER_KEY": MASTER_KEY,
           "SADA_DATA_DIR": str(tmp_path)}
    with SqliteEventLog(tmp_path / "events.sqlite3") as log:
        settings = config.load(env)
        server = make_server("127.0.0.1", port, routing_app(settings, log, db=mongo_db),
                             threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            yield reporting_app(settings, log=log, db=mongo_db), log
        finally:
            server.shutdown()


def test_an_administrator_reads_changes_the_rules_and_closes_offices(desk):
    app, log = desk
    admin = authorize(app.test_client(), "administrator")
    page = admin.get("/rules").get_data(as_text=True)
    assert 'data-rule="transport"' in page and 'name="changes"' in page
    done = admin.post("/rules/publish", data={
        "changes": "lifecycle:\n  wait_hours: 35\n", "note": "پاسخ در پنج روز", "key": "k1"})
    assert done.status_code == 303 and "done=published" in done.headers["Location"]
    [published] = [r.event for r in log.scan()]
    assert published.type == "RuleSetPublished"
    assert published.payload["rule_set"]["lifecycle"]["wait_hours"] == 35
    assert published.payload["note"] == "پاسخ در پنج روز"
    closed = admin.post("/rules/closures", data={
        "district": "21", "start": "2026-12-06T07:30", "end": "2026-12-06T14:30",
        "kind": "pollution", "reason": "آلودگی هوا", "key": "k2"})
    assert closed.status_code == 303 and "done=closed" in closed.headers["Location"]
    closure = [r.event for r in log.scan()][-1]
    assert (closure.type, closure.payload["district"], closure.payload["start"]) == (
        "OfficeClosed", 21, "2026-12-06T04:00:00.000Z")  # 07:30 in Tehran


def test_a_bad_change_comes_back_with_the_reason_and_records_nothing(desk):
    app, log = desk
    admin = authorize(app.test_client(), "administrator")
    unparsable = admin.post("/rules/publish", data={"changes": "rules: [", "key": "k3"})
    assert unparsable.status_code == 400
    refused = admin.post("/rules/publish", data={"changes": "lifecycle: {wait_hours: -1}",
                                                 "key": "k4"})
    page = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "wait_hours" in page
    assert "lifecycle: {wait_hours: -1}" in page  # the change as typed
    assert list(log.scan()) == []


def test_only_the_administrator(desk):
    app, log = desk
    hq = authorize(app.test_client(), "headquarters")
    assert hq.get("/rules").status_code == 403
    assert hq.post("/rules/publish", data={"changes": "lifecycle: {wait_hours: 35}"}
                   ).status_code == 403
    assert list(log.scan()) == []


TRANSPORT_TO_CIVIL_WORKS = """\
rules:
  - {rule_id: urban-planning, category: urban_planning, department: urban_planning, sla: planning}
  - {rule_id: transport, category: transport, department: civil_works, sla: standard}
  - {rule_id: urban-services, category: urban_services, department: urban_services, sla: services}
  - {rule_id: green-space, category: green_space, department: urban_services, sla: standard}
  - {rule_id: social, category: social, department: social, sla: social}
  - {rule_id: civil-works, category: civil_works, department: civil_works, sla: works}
"""


def test_a_proposal_is_tried_on_the_history_from_the_page_and_nothing_is_written(desk):
    app, log = desk
    assert load_demo(log) > 1000
    end = log.end_offsets()
    admin = authorize(app.test_client(), "administrator")
    tried = admin.post("/rules/what-if", data={"changes": TRANSPORT_TO_CIVIL_WORKS, "key": "w1"})
    page = tried.get_data(as_text=True)
    assert tried.status_code == 200, page
    assert 'data-table="load"' in page and 'data-key="civil_works"' in page
    assert 'data-table="routed"' in page
    assert page.count("rule_id: transport, category: transport, department: civil_works") == 2
    assert log.end_offsets() == end  # tried, not recorded

    refused = admin.post("/rules/what-if", data={"changes": "lifecycle: {wait_hours: -1}"})
    assert refused.status_code == 422 and "wait_hours" in refused.get_data(as_text=True)
    hq = authorize(app.test_client(), "headquarters")
    assert hq.post("/rules/what-if", data={"changes": "lifecycle: {wait_hours: 35}"}
                   ).status_code == 403
    assert log.end_offsets() == end


def test_routings_what_if_api_answers_the_comparison(desk, monkeypatch):
    app, log = desk
    load_demo(log)
    routing = app.extensions["sada.web"].routing_url
    body = {"rule_set": {"calendar": {"opens": "07:30", "closes": "09:30"}}}
    report = requests.post(f"{routing}/rules/what-if", json=body, timeout=30,
                           headers=bearer("administrator")).json()
    assert report["demands"] == 80 and report["proposed_version"] == report["version"] + 1
    passed = {r["key"]: r for r in report["deadlines"]}["escalated for a passed deadline"]
    assert passed["proposed"] < passed["actual"]  # the same hours take more days
    assert requests.post(f"{routing}/rules/what-if", json=body, timeout=30,
                         headers=bearer("headquarters")).status_code == 403
    bad = requests.post(f"{routing}/rules/what-if", json={"rule_set": {"rules": "x"}},
                        timeout=30, headers=bearer("administrator"))
    assert bad.status_code == 422 and "rule_set" in bad.json()["errors"]["json"]
    # A log too long to replay while a worker waits: refused, with the command that does it.
    monkeypatch.setattr(rules_api, "WHAT_IF_MAX_EVENTS", 1000)
    long = requests.post(f"{routing}/rules/what-if", json=body, timeout=30,
                         headers=bearer("administrator"))
    assert long.status_code == 409 and "sada what-if" in long.json()["message"]
