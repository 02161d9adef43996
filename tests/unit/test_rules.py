"""The rule table: which department gets a demand, and how long it has."""

from __future__ import annotations

from routing.domain.rules import DEFAULT_RULES, TRIAGE_DEPARTMENT, Rule, RuleTable
from services.domain.vocabulary import CATEGORIES, DEPARTMENTS

CITY = Rule("transport", "transport", "transport", 120)
DISTRICT_22 = Rule("transport-22", "transport", "civil_works", 48, district=22)


def test_a_district_rule_beats_the_city_wide_rule_in_either_order():
    for table in (RuleTable((CITY, DISTRICT_22)), RuleTable((DISTRICT_22, CITY))):
        assert table.match("transport", 22) == DISTRICT_22
        assert table.match("transport", 21) == CITY


def test_a_district_rule_does_not_apply_elsewhere():
    table = RuleTable((DISTRICT_22,))
    assert table.match("transport", 22) == DISTRICT_22
    assert table.match("transport", 1).department == TRIAGE_DEPARTMENT


def test_an_unknown_category_goes_to_triage_visibly():
    rule = DEFAULT_RULES.match("other", 6)
    assert rule.department == TRIAGE_DEPARTMENT == "mayor_triage"
    assert rule.resolve_hours == DEFAULT_RULES.triage_hours
    assert rule.rule_id == "triage"
    assert DEFAULT_RULES.match("no_such_category", 6).department == TRIAGE_DEPARTMENT


def test_default_rules_route_every_category_to_a_real_department():
    for category in CATEGORIES:
        for district in (1, 22):
            assert DEFAULT_RULES.match(category, district).department in DEPARTMENTS
    assert DEFAULT_RULES.match("green_space", 3).department == "urban_services"
