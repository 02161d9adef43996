"""Routing's rules, calendar and clock in the running system (`sada run` with its demo
history), over HTTP only. The demo publishes version 2 of the rules in week 6 and closes the
city's offices for air pollution in week 7, on an hourly clock; routing decided all of it."""

from __future__ import annotations

from tests.e2e.conftest import wait_for


def test_the_demo_history_brings_its_rules_calendar_and_clock(stack, http):
    headers = stack.bearer("district_mayor", 21)
    rules = http.get(stack.url("routing", "/rules"), headers=headers).json()
    assert (rules["version"], rules["published"]) == (2, True)
    assert "planning-investors" in [r["rule_id"] for r in rules["rule_set"]["rules"]]
    calendar = http.get(stack.url("routing", "/calendar"), headers=headers).json()
    assert [c["kind"] for c in calendar["closures"]] == ["pollution"]
    assert calendar["clock"]["now"] is not None
    assert calendar["calendar"]["working_days"][0] == "saturday"


def test_rule_and_calendar_changes_are_reported_demand_by_demand(stack, http):
    headers = stack.bearer("headquarters")
    changes = wait_for(lambda: http.get(stack.url("reporting", "/deadline-changes"),
                                        headers=headers).json()["items"], timeout=60)
    kinds = {c["type"] for c in changes}
    assert kinds == {"RuleSetPublished", "OfficeClosed"}
    moved = [c for c in changes if c["demands_changed"]]
    assert moved
    report = http.get(stack.url("reporting", f"/deadline-changes/{moved[0]['event_id']}"),
                      headers=headers).json()
    assert report["count"] == moved[0]["demands_changed"]
    for item in report["items"]:
        assert item["before"] != item["after"]
        assert item["shown"]["after"]["resolve"] is None or \
            item["shown"]["after"]["resolve"]["jalali"]


def test_a_demand_the_clock_escalated_explains_why(stack, http):
    headers = stack.bearer("headquarters")
    board = http.get(stack.url("reporting", "/escalations"), headers=headers).json()["items"]
    by_clock = [d for d in board if any(e.get("trigger") == "deadline" for e in d["escalations"])]
    assert by_clock
    why = http.get(stack.url("reporting", f"/demands/{by_clock[0]['demand_id']}/explanation"),
                   headers=headers).json()
    passed = [d for d in why["decisions"]
              if d["type"] == "DemandEscalated" and "deadline_passed" in d["explanation"]]
    assert passed
    assert passed[0]["explanation"]["deadline_passed"]["working_hours_counted"] > 0
    assert passed[0]["explanation"]["calendar"]["timezone"] == "Asia/Tehran"


def test_the_clock_never_goes_back(stack, http):
    before = http.get(stack.url("reporting", "/status"), headers=stack.bearer("auditor")).json()
    r = http.post(stack.url("routing", "/clock/ticks"), json={"at": "2020-01-01T10:00:00+03:30"},
                  headers=stack.bearer("administrator"))
    assert r.status_code == 409
    assert "at" in r.json()["errors"]["json"]
    after = http.get(stack.url("reporting", "/status"), headers=stack.bearer("auditor")).json()
    assert after["end_offsets"] == before["end_offsets"]
