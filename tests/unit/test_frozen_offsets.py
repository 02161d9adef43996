"""A published calendar freezes its time zone's UTC offsets, so a replay on a host with another
zone database gives the same deadlines; and a rule set must cover two years ahead."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from marshmallow import ValidationError

from routing.proposals import proposed_rules
from services.domain import calendar as calendar_module
from services.domain.calendar import CalendarSpec, WorkingCalendar, frozen_offsets
from services.domain.rules import DEFAULT_RULES, document, from_document

SUMMER = datetime(2021, 6, 20, 3, 0, tzinfo=UTC)  # 07:30 in Tehran's summer time of 2021
TODAY = date(2026, 12, 4)


def deadlines(spec: CalendarSpec) -> list[datetime]:
    cal = WorkingCalendar(spec)
    return [cal.add(SUMMER, h) for h in (1, 7, 35, 140)]


# What this host's real zone database gives, read before any test swaps it.
ON_THIS_HOST = deadlines(CalendarSpec(holidays=DEFAULT_RULES.calendar.holidays))


@pytest.fixture
def other_zone_database(monkeypatch):
    """A host whose zone database says Tehran is four hours ahead, all year."""
    monkeypatch.setattr(calendar_module, "ZoneInfo", lambda name: ZoneInfo("Asia/Dubai"))


def test_frozen_offsets_give_the_same_deadlines_on_another_zone_database(other_zone_database):
    frozen = DEFAULT_RULES.calendar
    assert frozen.offsets  # the default calendar froze them
    assert deadlines(frozen) == ON_THIS_HOST
    assert ON_THIS_HOST[0] == datetime(2021, 6, 20, 4, 0, tzinfo=UTC)  # 08:30 at +04:30


def test_without_frozen_offsets_the_zone_database_would_move_them(other_zone_database):
    unfrozen = CalendarSpec(holidays=DEFAULT_RULES.calendar.holidays)
    assert deadlines(unfrozen) != ON_THIS_HOST


def test_offsets_change_only_where_the_zone_did():
    offsets = frozen_offsets("Asia/Tehran", date(2021, 1, 1), date(2023, 12, 31))
    assert [m for _, m in offsets] == [210, 270, 210, 270, 210]  # summer time ended in 2022
    assert offsets[-1][0] == date(2022, 9, 22)


def test_the_offsets_travel_with_the_published_rule_set():
    doc = document(DEFAULT_RULES)
    assert doc["calendar"]["offsets"][0] == {"from": "2020-01-01", "minutes": 210}
    again = from_document(doc, 1)
    assert again.calendar.offsets == DEFAULT_RULES.calendar.offsets
    assert deadlines(again.calendar) == deadlines(DEFAULT_RULES.calendar)


def test_a_rule_set_must_cover_two_years_ahead():
    with pytest.raises(ValidationError) as refused:
        proposed_rules(DEFAULT_RULES, {"calendar": {"holidays": {"country": "IR",
                                                                 "years": [2024, 2027]}}},
                       2, today=TODAY)
    assert "2028-12-03" in str(refused.value.messages["calendar"])
    ok = proposed_rules(DEFAULT_RULES, {"calendar": {"holidays": {"country": "IR",
                                                             "years": [2026, 2031]}}},
                        2, today=TODAY)
    assert ok.calendar.horizon == date(2031, 12, 31)
    assert ok.calendar.offsets[-1][0] <= date(2031, 12, 31)
