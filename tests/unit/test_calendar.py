"""The working calendar: Tehran's municipal week, Iran's holidays, closures and pauses."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.domain.calendar import (
    CalendarSpec,
    Closure,
    WorkingCalendar,
    hours_to_ms,
    to_ms,
)
from services.domain.rules import DEFAULT_RULES

TEHRAN = ZoneInfo("Asia/Tehran")
CAL = WorkingCalendar(DEFAULT_RULES.calendar)


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=TEHRAN)


def test_a_working_day_is_0730_to_1430_in_tehran():
    monday = local(2025, 5, 12, 9, 0)
    assert CAL.add(monday, 5.5) == local(2025, 5, 12, 14, 30)  # by close of business
    assert CAL.add(monday, 6) == local(2025, 5, 13, 8, 0)  # then the next morning
    assert CAL.between(local(2025, 5, 12, 6, 0), local(2025, 5, 12, 20, 0)) == 7


def test_thursday_and_friday_are_off():
    wednesday = local(2025, 5, 14, 13, 30)
    assert CAL.add(wednesday, 2) == local(2025, 5, 17, 8, 30)  # Saturday
    assert CAL.between(local(2025, 5, 15, 0, 0), local(2025, 5, 17, 0, 0)) == 0
    assert CAL.add(local(2025, 5, 16, 23, 0), 1) == local(2025, 5, 17, 8, 30)


def test_official_holidays_solar_and_lunar_are_off():
    # Nowruz 1404: Oil Nationalisation Day (Wednesday 19 March 2025), the last day of the year
    # and the Nowruz holidays to Monday 24; then Eid al-Fitr (31 March, 1 April, lunar) and
    # Nature's Day (2 April). Between them only 25, 26, 29 and 30 March are working days.
    assert CAL.between(local(2025, 3, 18, 14, 30), local(2025, 4, 5, 7, 30)) == 4 * 7
    assert CAL.add(local(2025, 3, 18, 14, 0), 1) == local(2025, 3, 25, 8, 0)
    assert CAL.add(local(2025, 3, 30, 14, 0), 1) == local(2025, 4, 5, 8, 0)
    # Tasua and Ashura (lunar), Saturday 5 and Sunday 6 July 2025
    assert CAL.add(local(2025, 7, 2, 14, 0), 1) == local(2025, 7, 7, 8, 0)


def test_a_city_wide_closure_moves_the_deadline_by_its_working_hours():
    start = local(2025, 5, 10, 7, 30)  # Saturday
    closed = Closure("pollution", local(2025, 5, 11, 7, 30), local(2025, 5, 11, 14, 30),
                     reason="آلودگی هوا")
    cal = WorkingCalendar(DEFAULT_RULES.calendar, (closed,))
    assert CAL.add(start, 10) == local(2025, 5, 11, 10, 30)
    assert cal.add(start, 10) == local(2025, 5, 12, 10, 30)
    assert not cal.is_working_moment(local(2025, 5, 11, 10, 0))


def test_a_district_closure_counts_for_that_district_only():
    closed = Closure("d21", local(2025, 5, 11, 7, 30), local(2025, 5, 11, 14, 30), district=21)
    cal = WorkingCalendar(DEFAULT_RULES.calendar, (closed,))
    start = local(2025, 5, 10, 7, 30)
    assert cal.for_district(21).add(start, 10) == local(2025, 5, 12, 10, 30)
    assert cal.for_district(17).add(start, 10) == CAL.add(start, 10)
    assert cal.for_district(None).add(start, 10) == CAL.add(start, 10)  # headquarters


def test_a_pause_stops_the_clock():
    start = local(2025, 5, 10, 7, 30)
    pause = (to_ms(local(2025, 5, 10, 9, 0)), to_ms(local(2025, 5, 11, 9, 0)))  # 7 hours
    assert CAL.add(start, 10, [pause]) == CAL.add(start, 17)


def test_another_calendar_is_data_too():
    spec = CalendarSpec(name="weekdays", timezone="UTC",
                        working_days=("monday", "tuesday", "wednesday", "thursday", "friday"),
                        opens=time(9), closes=time(17))
    cal = WorkingCalendar(spec)
    assert cal.add(datetime(2025, 5, 9, 16, tzinfo=UTC), 2) == \
        datetime(2025, 5, 12, 10, tzinfo=UTC)
    with pytest.raises(ValueError):
        CalendarSpec(working_days=())
    with pytest.raises(ValueError):
        CalendarSpec(opens=time(15), closes=time(9))


def test_a_calendar_without_working_time_for_ten_years_counts_around_the_clock_after():
    """Closures stacked for fifteen years: a deadline, late but finite, rather than none."""
    all_closed = Closure("x", local(2025, 1, 1, 0, 0), local(2040, 1, 1, 0, 0))
    cal = WorkingCalendar(DEFAULT_RULES.calendar, (all_closed,))
    start = local(2025, 5, 10, 8, 0)
    deadline = cal.add(start, 1)
    assert timedelta(days=3650) < deadline - start < timedelta(days=3670)
    assert cal.between(start, deadline) == 1


# -- properties ---------------------------------------------------------------------------
_moments = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 6, 1),
                        timezones=st.just(UTC)).map(
    lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000))
_hours = st.floats(min_value=0.001, max_value=400, allow_nan=False)
_closures = st.lists(st.tuples(st.integers(0, 60 * 24 * 30), st.integers(1, 60 * 24 * 4),
                               st.sampled_from([None, 21])), max_size=3)


def _calendar(start: datetime, closures) -> WorkingCalendar:
    found = tuple(Closure(f"c{i}", start + timedelta(minutes=at),
                          start + timedelta(minutes=at + length), district=district)
                  for i, (at, length, district) in enumerate(closures))
    return WorkingCalendar(DEFAULT_RULES.calendar, found)


@settings(max_examples=300, deadline=None)
@given(_moments, _hours, _closures, st.sampled_from([None, 21, 4]))
def test_a_deadline_never_falls_on_a_non_working_moment(start, hours, closures, district):
    cal = _calendar(start, closures).for_district(district)
    deadline = cal.add(start, hours)
    assert deadline > start
    assert cal.is_working_moment(deadline)
    assert cal.between(start, deadline) * 3_600_000 == pytest.approx(hours_to_ms(hours))
    local_time = deadline.astimezone(TEHRAN)
    assert local_time.strftime("%A") not in ("Thursday", "Friday")
    assert local_time.date() not in DEFAULT_RULES.calendar.holiday_names
    assert time(7, 30) < local_time.time() <= time(14, 30)


@settings(max_examples=200, deadline=None)
@given(_moments, st.lists(_hours, min_size=1, max_size=4), _closures)
def test_deadlines_are_monotonic_and_one_walk_equals_many(start, hours, closures):
    cal = _calendar(start, closures)
    durations = [hours_to_ms(h) for h in hours]
    many = cal.add_many_ms(to_ms(start), durations)
    assert many == [cal.add_ms(to_ms(start), d) for d in durations]
    ordered = sorted(zip(durations, many, strict=True))
    assert [m for _, m in ordered] == sorted(m for _, m in ordered)
