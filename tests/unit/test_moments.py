"""Reading "as of": Jalali and Gregorian dates, Tehran time, positions."""

from __future__ import annotations

import pytest

from reporting.timetravel.moments import AtMoment, AtPositions, jalali, parse


@pytest.mark.parametrize("text, moment, calendar", [
    ("1403/12/11 10:00", "2025-03-01T06:30:00.000Z", "jalali"),
    ("۱۴۰۳/۱۲/۱۱ ۱۰:۰۰", "2025-03-01T06:30:00.000Z", "jalali"),
    ("1403-12-11T10:00:30.25", "2025-03-01T06:30:30.250Z", "jalali"),
    ("1403/12/11", "2025-03-01T20:29:59.999Z", "jalali"),  # the end of that day in Tehran
    ("2025-03-01T10:00Z", "2025-03-01T10:00:00.000Z", "gregorian"),
    ("2025-03-01 10:00+01:00", "2025-03-01T09:00:00.000Z", "gregorian"),
    ("2025-03-01", "2025-03-01T20:29:59.999Z", "gregorian"),
])
def test_dates_become_utc_moments(text, moment, calendar) -> None:
    assert parse(text) == AtMoment(moment, calendar)


def test_positions_are_inclusive_and_per_partition() -> None:
    at = parse("0:41, 2:7".replace(" ", ""))
    assert at == AtPositions({0: 41, 2: 7}) and at.cut == {0: 42, 2: 8}


@pytest.mark.parametrize("text, reason", [
    ("1403/12/31", "no such jalali date"),  # 1403's Esfand has 30 days
    ("2025-13-01", "no such gregorian date"),
    ("2025-03-01T25:00", "no such time"),
    ("2025-03-01T10:00+15:00", "no such UTC offset"),
    ("0:1,0:2", "given twice"),
    ("last week", "not a date or a position"),
])
def test_what_is_not_a_moment_says_why(text, reason) -> None:
    with pytest.raises(ValueError, match=reason):
        parse(text)


def test_a_log_time_in_tehrans_jalali_calendar() -> None:
    assert jalali("2025-03-20T20:00:00.000Z") == "1403/12/30 23:30:00"
    assert jalali("2025-03-20T21:00:00.000Z") == "1404/01/01 00:30:00"  # Nowruz
