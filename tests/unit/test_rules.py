"""The rule set: which department gets a demand, under which SLA policy and priority."""

from __future__ import annotations

from dataclasses import replace

import pytest
from marshmallow import ValidationError

from services.domain.rules import (
    DEFAULT_RULES,
    TRIAGE_DEPARTMENT,
    Rule,
    RuleSet,
    document,
    from_document,
)
from services.domain.vocabulary import CATEGORIES, DEPARTMENTS
from services.events.families.routing import RuleSetSchema

CITY = Rule("transport", "transport", "transport", "standard")
DISTRICT_22 = Rule("transport-22", "transport", "civil_works", "standard", district=22)
INVESTORS = Rule("planning-investors", "urban_planning", "urban_planning", "planning",
                 requester_kind="investor", priority="high")
MONDAYS = Rule("planning-monday", "urban_planning", "urban_planning", "planning",
               channel="monday_public_meeting")
PLANNING = Rule("planning", "urban_planning", "urban_planning", "planning")


def table(*rules: Rule) -> RuleSet:
    return replace(DEFAULT_RULES, rules=rules)


def test_a_district_rule_beats_the_city_wide_rule_in_either_order():
    for rules in (table(CITY, DISTRICT_22), table(DISTRICT_22, CITY)):
        assert rules.match("transport", 22) == DISTRICT_22
        assert rules.match("transport", 21) == CITY


def test_a_district_rule_does_not_apply_elsewhere():
    rules = table(DISTRICT_22)
    assert rules.match("transport", 22) == DISTRICT_22
    assert rules.match("transport", 1).department == TRIAGE_DEPARTMENT


def test_the_rule_naming_more_of_the_demand_wins_then_district_then_kind():
    rules = table(PLANNING, MONDAYS, INVESTORS)
    assert rules.match("urban_planning", 17, "investor", "web") == INVESTORS
    assert rules.match("urban_planning", 17, "citizen", "monday_public_meeting") == MONDAYS
    assert rules.match("urban_planning", 17, "citizen", "web") == PLANNING
    # both name one thing: the requester kind outranks the channel
    assert rules.match("urban_planning", 17, "investor", "monday_public_meeting") == INVESTORS
    both = Rule("both", "urban_planning", "social", "social", requester_kind="investor",
                channel="monday_public_meeting")
    assert table(INVESTORS, both).match("urban_planning", 3, "investor",
                                        "monday_public_meeting") == both


def test_a_priority_floor_raises_but_never_lowers():
    assert DEFAULT_RULES.effective_priority("normal", INVESTORS) == "high"
    assert DEFAULT_RULES.effective_priority("urgent", INVESTORS) == "urgent"
    assert DEFAULT_RULES.effective_priority("low", PLANNING) == "low"


def test_an_unknown_category_goes_to_triage_visibly():
    rule = DEFAULT_RULES.match("other", 6)
    assert rule.department == TRIAGE_DEPARTMENT == "mayor_triage"
    assert rule.rule_id == "triage"
    assert rule.sla == DEFAULT_RULES.triage_sla
    assert DEFAULT_RULES.match("no_such_category", 6).department == TRIAGE_DEPARTMENT


def test_default_rules_route_every_category_to_a_real_department():
    for category in CATEGORIES:
        for district in (1, 22):
            rule = DEFAULT_RULES.match(category, district)
            assert rule.department in DEPARTMENTS
            assert rule.sla in DEFAULT_RULES.policies
    assert DEFAULT_RULES.match("green_space", 3).department == "urban_services"
    assert DEFAULT_RULES.version == 1


def test_the_default_calendar_is_tehrans_with_irans_holidays_written_out():
    cal = DEFAULT_RULES.calendar
    assert (cal.timezone, cal.working_days) == (
        "Asia/Tehran", ("saturday", "sunday", "monday", "tuesday", "wednesday"))
    assert f"{cal.opens:%H:%M}-{cal.closes:%H:%M}" == "07:30-14:30"
    days = dict(cal.holidays)
    from datetime import date
    assert "نوروز" in days[date(2025, 3, 21)]
    assert "Ashura" in days[date(2025, 7, 6)]  # a lunar holiday
    assert cal.holiday_source.startswith("holidays ")


def test_a_document_round_trip_is_lossless_and_validates():
    doc = RuleSetSchema().dump(RuleSetSchema().load(document(DEFAULT_RULES)))
    assert from_document(doc, 1) == DEFAULT_RULES
    assert from_document(document(DEFAULT_RULES), 1) == DEFAULT_RULES


@pytest.mark.parametrize(("change", "path"), [
    (lambda d: d["rules"][0].update(sla="nope"), ["rules", 0, "sla"]),
    (lambda d: d["rules"][1].update(rule_id=d["rules"][0]["rule_id"]), ["rules", 1, "rule_id"]),
    (lambda d: d["rules"][0].update(category="parking"), ["rules", 0, "category"]),
    (lambda d: d["rules"][0].update(department="police"), ["rules", 0, "department"]),
    (lambda d: d["rules"][0].update(district=23), ["rules", 0, "district"]),
    (lambda d: d["triage"].update(sla="missing"), ["triage", "sla"]),
    (lambda d: d["levels"].update(headquarters="missing"), ["levels", "headquarters"]),
    (lambda d: d["priority_factor"].pop("urgent"), ["priority_factor"]),
    (lambda d: d["sla_policies"]["standard"].update(resolve_hours=0),
     ["sla_policies", "standard", "value", "resolve_hours"]),
    (lambda d: d["calendar"].update(closes="07:00"), ["calendar", "closes"]),
    (lambda d: d["calendar"].update(opens="25:00"), ["calendar", "opens"]),
    (lambda d: d["calendar"].update(timezone="Mars/Olympus"), ["calendar", "timezone"]),
    (lambda d: d["calendar"].update(working_days=[]), ["calendar", "working_days"]),
    (lambda d: d["calendar"].update(working_days=["friday", "friday"]),
     ["calendar", "working_days"]),
    (lambda d: d["calendar"].update(closes="08:00"), ["calendar", "closes"]),  # half an hour
    (lambda d: d["priority_factor"].update(low=40), ["priority_factor", "low", "value"]),
    # 2500 hours at 1.5 for "low": more than three years of one-day weeks
    (lambda d: (d["sla_policies"]["central"].update(resolve_hours=2500),
                d["calendar"].update(working_days=["saturday"])), ["sla_policies"]),
])
def test_a_bad_rule_set_is_refused_naming_the_field(change, path):
    doc = document(DEFAULT_RULES)
    change(doc)
    with pytest.raises(ValidationError) as err:
        RuleSetSchema().load(doc)
    found = err.value.messages
    for key in path:
        assert key in found, (key, err.value.messages)
        found = found[key]
