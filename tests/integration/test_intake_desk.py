"""The intake desk's forms reach intake's own API, with the user's token and the form's key:
a demand raised at a meeting, a meeting with its attendees by group, and bad input refused
field by field with the form kept as typed."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from werkzeug.serving import make_server

from intake.app import create_app as intake_app
from reporting import civic
from reporting.app import create_app as reporting_app
from reporting.web import intake_desk
from sada.processes import free_port
from services import config
from services.eventlog.sqlite import SqliteEventLog
from tests.auth_helpers import ENV, MASTER_KEY, authorize

DEMAND_FORM = {"kind": "prayer_leader", "name": "حاج آقا رضایی", "phone": "09121234567",
               "channel": "stakeholder_meeting", "neighbourhood": "شهرک ولیعصر",
               "category": "social", "priority": "high", "title": "سرای محله",
               "description": "محله سرای محله ندارد.", "key": "form-1"}


@pytest.fixture
def desk(tmp_path, mongo_db, monkeypatch) -> Iterator[tuple[object, SqliteEventLog]]:
    """Reporting's pages, with intake really listening where they send the forms."""
    monkeypatch.setattr(intake_desk, "ROUTED_WAIT_SECONDS", 0.0)  # no routing worker here
    port = free_port()
    env = {**ENV, "SADA_INTAKE_PORT": str(port), "SADA_MASTER_KEY": MASTER_KEY,
           "SADA_DATA_DIR": str(tmp_path)}
    with SqliteEventLog(tmp_path / "events.sqlite3") as log:
        settings = config.load(env)
        server = make_server("127.0.0.1", port, intake_app(settings, log, mongo_db),
                             threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield reporting_app(settings, log=log, db=mongo_db), log
        finally:
            server.shutdown()


def test_a_clerk_records_a_demand_raised_at_a_meeting_from_the_page(desk, mongo_db):
    app, log = desk
    clerk = authorize(app.test_client(), "intake_clerk", 17, subject="clerk-17")
    page = clerk.get("/districts/17/intake")
    assert page.status_code == 200 and 'name="meeting_id"' in page.get_data(as_text=True)
    met = clerk.post("/districts/17/intake/meetings", data={
        "kind": "stakeholder_meeting", "held_on": "2026-11-24",
        "title": "شهر خوب، شهر ارتباطی", "attendees_prayer_leader": "۳",
        "attendees_investor": "2", "minutes": "صورت‌جلسه", "key": "m-1"})
    assert met.status_code == 303 and met.headers["Location"].endswith("/districts/17/meetings")
    [meeting] = [r.event for r in log.scan()]
    assert (meeting.type, meeting.payload["attendees"]) == (
        "MeetingRecorded", {"prayer_leader": 3, "investor": 2})
    civic.write_meetings(mongo_db, [{"_id": meeting.demand_id, "meeting_id": meeting.demand_id,
                                     "district": 17, **meeting.payload}])
    assert meeting.demand_id in clerk.get("/districts/17/intake").get_data(as_text=True)

    sent = clerk.post("/districts/17/intake/demands",
                      data={**DEMAND_FORM, "meeting_id": meeting.demand_id})
    assert sent.status_code == 303, sent.get_data(as_text=True)
    demand = [r.event for r in log.scan()][-1]
    assert sent.headers["Location"].endswith(f"/demands/{demand.demand_id}")
    assert (demand.type, demand.actor.id, demand.payload["meeting_id"]) == (
        "DemandSubmitted", "clerk-17", meeting.demand_id)
    assert demand.payload["requester"]["kind"] == "prayer_leader"
    assert "رضایی" not in str(demand.payload)  # sealed by intake, as through the API
    again = clerk.post("/districts/17/intake/demands",
                       data={**DEMAND_FORM, "meeting_id": meeting.demand_id})
    assert again.status_code == 303 and len(list(log.scan())) == 2  # the form's key: once


def test_bad_input_comes_back_with_intakes_reasons_and_the_form_as_typed(desk):
    app, log = desk
    clerk = authorize(app.test_client(), "intake_clerk", 17)
    refused = clerk.post("/districts/17/intake/demands",
                         data={**DEMAND_FORM, "title": "", "key": "form-2"})
    page = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "title" in page
    assert 'value="شهرک ولیعصر"' in page  # what was typed is kept
    assert list(log.scan()) == []


def test_another_districts_desk_is_refused(desk):
    app, log = desk
    clerk = authorize(app.test_client(), "intake_clerk", 17)
    assert clerk.get("/districts/21/intake").status_code == 403
    assert clerk.post("/districts/21/intake/demands", data=DEMAND_FORM).status_code == 403
    staff = authorize(app.test_client(), "department_staff", 17, "social")
    assert staff.get("/districts/17/intake").status_code == 403
    assert list(log.scan()) == []
