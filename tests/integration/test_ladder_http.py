"""The escalation ladder end to end over HTTP: intake, routing and reporting (Flask test
clients) on one real SQLite log, the real routing worker deciding and the real projector
building the read models on SecantusDB. Time is a simulated clock: `POST /clock/ticks`."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from intake.app import create_app as intake_app
from reporting.app import create_app as reporting_app
from reporting.projector import Projector
from routing.app import create_app as routing_app
from routing.worker import RoutingWorker
from services.config import Settings
from services.domain.calendar import WorkingCalendar
from services.domain.rules import DEFAULT_RULES, from_document
from services.eventlog.sqlite import SqliteEventLog
from services.events import envelope
from services.events.envelope import format_time, parse_time
from tests.auth_helpers import MASTER_KEY, SECRET, bearer

TEHRAN = ZoneInfo("Asia/Tehran")
ADMIN = bearer("administrator")
HQ = bearer("headquarters")
CENTRAL = bearer("central_management")
DEMAND = {"requester": {"kind": "neighbourhood_trustee"}, "channel": "staff_supervision",
          "district": 21, "neighbourhood": "ویلاشهر", "category": "transport",
          "title": "ترافیک ورودی تهرانسر", "description": "صف خودروها تا بزرگراه می‌رسد."}


def staff(district: int = 21, department: str = "transport") -> dict[str, str]:
    return bearer("department_staff", district, department)


def mayor(district: int = 21) -> dict[str, str]:
    return bearer("district_mayor", district)


def clerk(district: int = 21) -> dict[str, str]:
    return bearer("intake_clerk", district)


class Sada:
    """The three services, the worker and the projector over one log; `settle()` runs the
    worker and the projector until both have consumed everything."""

    def __init__(self, tmp_path, db) -> None:
        self.log = SqliteEventLog(tmp_path / "events.sqlite3")
        settings = Settings(data_dir=tmp_path, auth_secret=SECRET, master_key=MASTER_KEY,
                            rate_limit_per_minute=0)
        self.intake = intake_app(settings, self.log, db).test_client()
        self.routing = routing_app(settings, self.log, db=db).test_client()
        self.reporting = reporting_app(settings, self.log, db=db).test_client()
        self.worker = RoutingWorker(self.log)
        self.worker.start()
        self.projector = Projector(self.log, db)
        self.projector.models.ensure_indexes()

    def settle(self) -> None:
        while True:
            self.worker.drain()
            records = self.log.read(self.projector.start_offsets([0]), limit=10_000)
            if not records:
                return
            self.projector.apply_batch(records)

    def submit(self, **changes: Any) -> dict[str, Any]:
        body = {**DEMAND, **changes}
        r = self.intake.post("/demands", json=body, headers=clerk(body["district"]))
        assert r.status_code == 202, r.get_json()
        self.settle()
        return self.demand(r.get_json()["demand_id"])

    def act(self, demand_id: str, action: str, body: dict[str, Any],
            headers: dict[str, str]) -> dict[str, Any]:
        r = self.routing.post(f"/demands/{demand_id}/{action}", json=body, headers=headers)
        assert r.status_code == 202, r.get_json()
        self.settle()
        return self.demand(demand_id)

    def tick(self, at: datetime | str) -> None:
        when = parse_time(at) if isinstance(at, str) else at
        r = self.routing.post("/clock/ticks", json={"at": when.isoformat()}, headers=ADMIN)
        assert r.status_code == 202, r.get_json()
        self.settle()

    def get(self, path: str, headers: dict[str, str] = HQ) -> dict[str, Any]:
        r = self.reporting.get(path, headers=headers)
        assert r.status_code == 200, r.get_json()
        return r.get_json()

    def demand(self, demand_id: str) -> dict[str, Any]:
        return self.get(f"/demands/{demand_id}")

    def history(self, demand_id: str) -> list[dict[str, Any]]:
        return self.get(f"/demands/{demand_id}/history")["events"]

    def decisions(self, demand_id: str, type_: str) -> list[dict[str, Any]]:
        return [e for e in self.history(demand_id) if e["type"] == type_]


@pytest.fixture
def sada(tmp_path, mongo_db) -> Iterator[Sada]:
    s = Sada(tmp_path, mongo_db)
    yield s
    s.worker.close()
    s.log.close()


class Wall:
    """The wall clock requests take their time from, set by the test: the people act at set
    moments, so what a test checks does not hang on the hour it runs."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def wall(monkeypatch) -> Wall:
    """Half an hour after the offices open on a working day."""
    day = _next_working_day(date(2026, 11, 28))
    clock = Wall(datetime.combine(day, DEFAULT_RULES.calendar.opens, tzinfo=TEHRAN)
                 + timedelta(minutes=30))
    monkeypatch.setattr(envelope, "now", clock)
    return clock


def minus(at: str, **delta: float) -> datetime:
    return parse_time(at) - timedelta(**delta)


# -- triage -----------------------------------------------------------------------------------

def test_a_category_with_no_rule_lands_on_the_mayors_triage_desk_visibly(sada):
    demand = sada.submit(category="other", title="بازارچه خیریه نوروزی")
    assert (demand["department"], demand["queue"], demand["rule_id"], demand["status"]) == \
        ("mayor_triage", "21/mayor_triage", "triage", "routed")
    queue = sada.get("/queues/21/mayor_triage", headers=mayor())
    assert [d["demand_id"] for d in queue["items"]] == [demand["demand_id"]]
    why = sada.get(f"/demands/{demand['demand_id']}/explanation", headers=mayor())
    [routed] = why["decisions"]
    assert routed["summary"].endswith("no rule: triage")
    rule = routed["explanation"]["rule"]
    assert (rule["triage"], rule["version"], rule["inputs"]["category"]) == (True, 1, "other")
    assert rule["why"] == "no_rule_matched"  # a code: pages say it in words
    assert why["deadlines"]["resolve"]["jalali"].startswith("14")  # a Jalali year, 14xx
    assert why["deadlines"]["resolve"]["utc"] == demand["deadline"]


# -- the clock escalates ------------------------------------------------------------------------

def _next_working_day(after: date) -> date:
    day = after + timedelta(days=1)
    while not DEFAULT_RULES.calendar.is_working_day(day):
        day += timedelta(days=1)
    return day


def test_passed_deadlines_carry_a_demand_up_all_four_rungs_across_a_holiday_and_a_friday(
        sada, wall):
    # A holiday declared in the rule set: the next working day in Tehran.
    today = wall().astimezone(TEHRAN).date()
    holiday = _next_working_day(today)
    doc = sada.routing.get("/rules", headers=ADMIN).get_json()["rule_set"]
    holidays = [*doc["calendar"]["holidays"], {"date": holiday.isoformat(),
                                               "name": "تعطیلی رسمی (آزمایشی)"}]
    published = sada.routing.post("/rules", headers=ADMIN, json={
        "rule_set": {"calendar": {"holidays": holidays}}, "note": "تعطیلی اعلام‌شده"})
    assert published.status_code == 202, published.get_json()
    assert published.get_json()["version"] == 2
    sada.settle()

    demand = sada.submit()
    submitted = parse_time(demand["submitted_at"])
    rules = sada.routing.get("/rules", headers=ADMIN).get_json()
    assert rules["version"] == 2 and rules["published"] is True
    cal = WorkingCalendar(from_document(rules["rule_set"], 2).calendar)
    without = WorkingCalendar(DEFAULT_RULES.calendar)
    assert demand["ack_deadline"] == format_time(cal.add(submitted, 14))
    assert demand["ack_deadline"] != format_time(without.add(submitted, 14))  # it skipped it

    ladder = ["department", "district_mayor", "headquarters", "central_management"]
    for from_level, to_level in zip(ladder, ladder[1:], strict=False):
        due = sada.demand(demand["demand_id"])["ack_deadline"]
        sada.tick(minus(due, minutes=1))
        assert sada.demand(demand["demand_id"])["level"] == from_level
        sada.tick(due)
        now = sada.demand(demand["demand_id"])
        assert (now["level"], now["status"]) == (to_level, "routed")
        assert now["escalations"][-1]["reason"] == "deadline_passed"
    last = parse_time(sada.demand(demand["demand_id"])["ack_deadline"])
    fridays = [submitted.date() + timedelta(days=d)
               for d in range((last.date() - submitted.date()).days + 1)
               if (submitted.date() + timedelta(days=d)).weekday() == 4]
    assert fridays and submitted.date() < holiday < last.date()

    sada.tick(last + timedelta(minutes=1))
    history = sada.history(demand["demand_id"])
    escalated = [e for e in history if e["type"] == "DemandEscalated"]
    assert [(e["payload"]["to_level"], e["payload"]["trigger"]) for e in escalated] == \
        [(level, "deadline") for level in ladder[1:]]
    assert all(e["payload"]["explanation"]["rule"]["version"] == 2 for e in escalated)
    warnings = [e["payload"] for e in history if e["type"] == "DeadlineWarning"]
    assert {(w["level"], w["stage"]) for w in warnings} >= {
        ("department", "approaching"), ("central_management", "missed")}
    board = sada.get("/escalations?level=central_management")
    assert demand["demand_id"] in [d["demand_id"] for d in board["items"]]


# -- escalation on request, send-back, appeal -------------------------------------------------

@pytest.mark.parametrize("reason", ["beyond_authority", "beyond_budget", "cross_district",
                                    "macro_challenge"])
def test_an_escalation_on_request_records_its_reason(sada, reason):
    demand = sada.submit()
    after = sada.act(demand["demand_id"], "escalation", {"reason": reason, "note": "چرا"},
                     staff())
    assert (after["level"], after["escalations"][-1]["reason"]) == ("district_mayor", reason)
    [escalated] = sada.decisions(demand["demand_id"], "DemandEscalated")
    assert (escalated["payload"]["reason"], escalated["payload"]["note"],
            escalated["payload"]["trigger"]) == (reason, "چرا", "request")
    why = sada.get(f"/demands/{demand['demand_id']}/explanation")
    assert why["decisions"][-1]["explanation"]["escalation"]["reason"] == reason


def test_headquarters_sends_a_demand_back_down_with_instructions(sada):
    demand = sada.submit()
    sada.act(demand["demand_id"], "escalation", {"reason": "beyond_authority"}, staff())
    sada.act(demand["demand_id"], "escalation", {"reason": "macro_challenge"}, mayor())
    refused = sada.routing.post(f"/demands/{demand['demand_id']}/send-back", headers=mayor(),
                                json={"to_level": "department", "instructions": "x"})
    assert refused.status_code == 403
    r = sada.routing.post(f"/demands/{demand['demand_id']}/send-back", headers=HQ, json={
        "to_level": "department", "instructions": "طرح اجرایی با پیمانکار منطقه",
        "resolve_hours": 21})
    assert r.status_code == 202, r.get_json()
    sada.settle()
    back = sada.demand(demand["demand_id"])
    assert (back["level"], back["status"], back["queue"]) == ("department", "routed",
                                                              "21/transport")
    [sent] = sada.decisions(demand["demand_id"], "DemandSentBack")
    at = parse_time(sent["recorded_at"])
    assert back["deadline"] == format_time(WorkingCalendar(DEFAULT_RULES.calendar).add(at, 21))
    assert sent["payload"]["instructions"] == "طرح اجرایی با پیمانکار منطقه"
    queue = sada.get("/queues/21/transport", headers=staff())
    assert demand["demand_id"] in [d["demand_id"] for d in queue["items"]]
    assert sada.act(demand["demand_id"], "acknowledge", {}, staff())["status"] == "acknowledged"


def test_an_unsatisfied_requester_appeals_and_the_demand_reopens_one_rung_up(sada):
    demand = sada.submit()
    sada.act(demand["demand_id"], "resolution", {"summary": "چراغ نصب شد"}, staff())
    assert sada.routing.post(f"/demands/{demand['demand_id']}/appeal", headers=staff(),
                             json={"note": "x"}).status_code == 403
    appealed = sada.act(demand["demand_id"], "appeal", {"note": "چراغ هنوز کار نمی‌کند"},
                        clerk())
    assert (appealed["status"], appealed["level"], appealed["reopened"]) == \
        ("routed", "district_mayor", 1)
    assert appealed["resolution"] is None
    [escalated] = sada.decisions(demand["demand_id"], "DemandEscalated")
    assert (escalated["payload"]["reason"], escalated["payload"]["reopens"]) == \
        ("requester_appeal", True)
    # the mayor resolves it; the requester, still unsatisfied, asks to reopen it there
    sada.act(demand["demand_id"], "resolution", {"summary": "پیمانکار تعویض شد"}, mayor())
    reopened = sada.act(demand["demand_id"], "reopen", {"reason": "باز هم خاموش"}, clerk())
    assert (reopened["status"], reopened["level"], reopened["reopened"]) == \
        ("routed", "district_mayor", 2)


# -- the clock stops while the requester is asked ---------------------------------------------

def test_waiting_on_the_requester_stops_the_clock(sada, wall):
    cal = WorkingCalendar(DEFAULT_RULES.calendar)
    demand = sada.submit()
    wall.at += timedelta(minutes=10)
    waiting = sada.act(demand["demand_id"], "requester-info",
                       {"question": "عکس محل را بفرستید"}, staff())
    assert waiting["waiting"]["question"] == "عکس محل را بفرستید"
    assert (waiting["deadline"], waiting["ack_deadline"]) == (None, None)
    # past the deadline it had, within the longest wait the rule set allows: nothing moves
    last = parse_time(waiting["waiting"]["until"]) - timedelta(minutes=1)
    assert last > parse_time(demand["deadline"])
    sada.tick(last)
    assert sada.demand(demand["demand_id"])["level"] == "department"
    wall.at = cal.add(wall.at, 5)  # five working hours later
    resumed = sada.act(demand["demand_id"], "requester-response", {"answer": "ارسال شد"},
                       clerk())
    assert resumed["waiting"] is None
    [answer] = sada.decisions(demand["demand_id"], "DemandResumed")
    assert answer["payload"]["paused_hours"] == pytest.approx(5)
    assert resumed["deadline"] == format_time(cal.add(parse_time(demand["deadline"]), 5))


# -- rule and calendar changes, with their before/after report ---------------------------------

def test_a_rule_change_recomputes_open_deadlines_and_reports_before_and_after(sada):
    first = sada.submit()
    second = sada.submit(title="ایمن‌سازی گذرگاه مدرسه")
    social = sada.submit(category="social", title="فضای فرهنگی نوجوانان")
    elsewhere = sada.submit(district=4, neighbourhood="تهرانپارس")
    done = sada.submit(title="حل‌شده")
    sada.act(done["demand_id"], "resolution", {"summary": "x"}, staff())

    policies = sada.routing.get("/rules", headers=ADMIN).get_json()["rule_set"]["sla_policies"]
    policies["standard"] = {**policies["standard"], "resolve_hours": 70}
    r = sada.routing.post("/rules", headers=ADMIN, json={
        "rule_set": {"sla_policies": policies}, "note": "زمان حل ترافیک دو برابر شد"})
    assert r.status_code == 202, r.get_json()
    published = r.get_json()
    assert published["version"] == 2
    assert published["links"]["deadline_changes"].endswith(
        f"/deadline-changes/{published['event_id']}")
    sada.settle()

    report = sada.get(f"/deadline-changes/{published['event_id']}")
    assert (report["cause"]["type"], report["cause"]["version"], report["cause"]["note"]) == \
        ("RuleSetPublished", 2, "زمان حل ترافیک دو برابر شد")
    changed = {i["demand_id"]: i for i in report["items"]}
    assert set(changed) == {first["demand_id"], second["demand_id"], elsewhere["demand_id"]}
    cal = WorkingCalendar(DEFAULT_RULES.calendar)
    for demand in (first, second, elsewhere):
        item = changed[demand["demand_id"]]
        assert item["before"]["deadline"] == demand["deadline"]
        assert item["after"]["deadline"] == format_time(
            cal.add(parse_time(demand["submitted_at"]), 70))
        assert (item["before"]["rule_version"], item["after"]["rule_version"]) == (1, 2)
        assert item["shown"]["after"]["resolve"]["jalali"]
        assert sada.demand(demand["demand_id"])["deadline"] == item["after"]["deadline"]
    assert sada.demand(social["demand_id"])["rule_version"] == 1  # its policy did not change

    # a district sees its own demands only
    scoped = sada.get(f"/deadline-changes/{published['event_id']}", headers=mayor(4))
    assert [i["demand_id"] for i in scoped["items"]] == [elsewhere["demand_id"]]
    listing = sada.get("/deadline-changes")
    assert [(c["event_id"], c["demands_changed"]) for c in listing["items"]] == \
        [(published["event_id"], 3)]
    rules = sada.routing.get("/rules", headers=staff()).get_json()
    assert (rules["version"], rules["publication"]["note"]) == (2, "زمان حل ترافیک دو برابر شد")


def test_an_office_closure_moves_the_deadlines_of_that_districts_open_demands(sada):
    here = sada.submit()
    there = sada.submit(district=4, neighbourhood="حکیمیه")
    day = _next_working_day(parse_time(here["submitted_at"]).astimezone(TEHRAN).date())
    opens = datetime.combine(day, DEFAULT_RULES.calendar.opens, tzinfo=TEHRAN)
    closes = datetime.combine(day, DEFAULT_RULES.calendar.closes, tzinfo=TEHRAN)
    r = sada.routing.post("/closures", headers=ADMIN, json={
        "district": 21, "start": opens.isoformat(), "end": closes.isoformat(),
        "kind": "pollution", "reason": "تعطیلی منطقه ۲۱ برای آلودگی هوا"})
    assert r.status_code == 202, r.get_json()
    sada.settle()
    report = sada.get(f"/deadline-changes/{r.get_json()['event_id']}")
    [item] = report["items"]
    assert item["demand_id"] == here["demand_id"]
    assert (report["cause"]["closure_id"], report["cause"]["district"]) == \
        (r.get_json()["closure_id"], 21)
    assert parse_time(item["after"]["deadline"]) > parse_time(item["before"]["deadline"])
    assert sada.demand(there["demand_id"])["deadline"] == there["deadline"]
    calendar = sada.routing.get("/calendar", headers=staff()).get_json()
    assert [c["closure_id"] for c in calendar["closures"]] == [r.get_json()["closure_id"]]


# -- bad input --------------------------------------------------------------------------------

@pytest.mark.parametrize(("path", "body", "location"), [
    ("/clock/ticks", {"at": "2030-01-01T10:00:00"}, ["json", "at"]),
    ("/clock/ticks", {"at": "tomorrow"}, ["json", "at"]),
    ("/clock/ticks", {"at": "2030-01-01T10:00:00+03:30", "speed": 2}, ["json", "speed"]),
    ("/rules", {"rule_set": {"rules": [{"rule_id": "t", "category": "transport",
                                        "department": "transport", "sla": "nope"}]}},
     ["json", "rule_set", "rules", "0", "sla"]),
    ("/rules", {"rule_set": {"colour": "green"}}, ["json", "rule_set", "colour"]),
    ("/rules", {"rule_set": {"calendar": {"timezone": "Mars/Olympus"}}},
     ["json", "rule_set", "calendar", "timezone"]),
    ("/rules", {"rule_set": {"calendar": {"holidays": "ZZ"}}},
     ["json", "rule_set", "calendar", "holidays"]),
    ("/rules", {"rule_set": []}, ["json", "rule_set"]),
    ("/closures", {"start": "2030-01-02T07:30:00+03:30", "end": "2030-01-01T07:30:00+03:30",
                   "reason": "x"}, ["json", "end"]),
    ("/closures", {"start": "2030-01-02T07:30:00+03:30", "end": "2030-01-02T14:30:00+03:30",
                   "reason": "x", "district": 23}, ["json", "district"]),
])
def test_bad_rules_closures_and_ticks_are_a_422_naming_the_field_and_write_nothing(
        sada, path, body, location):
    before = sada.log.end_offsets()
    r = sada.routing.post(path, json=body, headers=ADMIN)
    assert r.status_code == 422, r.get_json()
    found = r.get_json()["errors"]
    for key in location:
        assert key in found, (key, r.get_json())
        found = found[key]
    assert sada.log.end_offsets() == before


def test_only_the_administrator_changes_rules_closures_and_the_clock(sada):
    before = sada.log.end_offsets()
    for path, body in (("/clock/ticks", {}), ("/rules", {"rule_set": {}}),
                       ("/closures", {"start": "2030-01-02T07:30:00+03:30",
                                      "end": "2030-01-02T14:30:00+03:30", "reason": "x"})):
        for headers in (staff(), mayor(), HQ, bearer("auditor")):
            assert sada.routing.post(path, json=body, headers=headers).status_code == 403
    assert sada.log.end_offsets() == before


def test_a_tick_must_move_the_clock_forward(sada):
    sada.tick("2030-01-01T10:00:00.000Z")
    r = sada.routing.post("/clock/ticks", json={"at": "2030-01-01T13:30:00+03:30"},
                          headers=ADMIN)
    assert r.status_code == 409
    assert "at" in r.get_json()["errors"]["json"]
    assert "2030-01-01T10:00:00.000Z" in r.get_json()["message"]
