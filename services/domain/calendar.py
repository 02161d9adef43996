"""The working calendar: which moments count towards a deadline, and deadline arithmetic.

Pure and exact. Time is handled in integer milliseconds since the epoch (the log's precision),
so a deadline computed here survives the trip through the log unchanged. A *working piece* is a
stretch of working time: a working day's opening hours in the calendar's time zone, minus its
official holidays and minus office closures. A deadline `add(start, h)` is the moment the
working time counted from `start` reaches `h` hours; it always lies inside a working piece
(after its start, at most its end: "by close of business" is 14:30 itself).

Pauses (a demand waiting on its requester) are subtracted like closures, but per demand.

The calendar's UTC offsets are frozen into it when a rule set is published (`offsets`, from the
host's zone database at that moment, as holidays are written out as dates), so deadlines never
depend on the zone database of the host that replays them. A calendar without them (published
before they existed) still reads the zone database.

A calendar that finds no working time for `MAX_IDLE_DAYS` in a row (closures stacked for a
decade) is broken; rather than never giving a deadline, or failing the routing worker on every
retry, it counts every moment from there on.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo

MS_PER_HOUR = 3_600_000
# A calendar that finds no working time within this many days is broken, not slow.
MAX_IDLE_DAYS = 3660
_NEVER = 2**62  # ms: the end of the stretch counted around the clock
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

Span = tuple[int, int]  # [start, end) in ms since the epoch
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_ms(at: datetime) -> int:
    """Milliseconds since the epoch, truncated as the log truncates."""
    if at.tzinfo is None:
        raise ValueError("times must be timezone-aware")
    return (at - _EPOCH) // timedelta(milliseconds=1)


def from_ms(ms: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=ms)


def hours_to_ms(hours: float) -> int:
    return round(hours * MS_PER_HOUR)


@dataclass(frozen=True)
class CalendarSpec:
    """The base calendar: working days and hours, and the official holidays (by date)."""

    name: str = "tehran-municipal"
    timezone: str = "Asia/Tehran"
    working_days: tuple[str, ...] = ("saturday", "sunday", "monday", "tuesday", "wednesday")
    opens: time = time(7, 30)
    closes: time = time(14, 30)
    holidays: tuple[tuple[date, str], ...] = ()
    holiday_source: str = ""
    # (from this local day on, the UTC offset in minutes), in day order: the zone's offsets
    # frozen at publication. Empty: read the zone database (rule sets published before).
    offsets: tuple[tuple[date, int], ...] = ()

    def __post_init__(self) -> None:
        if not self.working_days or any(d not in WEEKDAYS for d in self.working_days):
            raise ValueError(f"working days must be some of {', '.join(WEEKDAYS)}")
        if self.opens >= self.closes:
            raise ValueError("a working day must close after it opens")
        ZoneInfo(self.timezone)  # raises for an unknown zone

    @cached_property
    def _weekdays(self) -> frozenset[int]:
        return frozenset(WEEKDAYS.index(d) for d in self.working_days)

    @cached_property
    def holiday_names(self) -> dict[date, str]:
        return dict(self.holidays)

    def is_working_day(self, day: date) -> bool:
        return day.weekday() in self._weekdays and day not in self.holiday_names

    @property
    def horizon(self) -> date | None:
        """The last day the calendar knows its holidays and offsets for (None: no holidays)."""
        if not self.holidays:
            return None
        return date(max(d for d, _ in self.holidays).year, 12, 31)

    @cached_property
    def _offset_days(self) -> list[date]:
        return [d for d, _ in self.offsets]

    def offset_on(self, day: date) -> timedelta | None:
        """The frozen UTC offset of `day`, or None if the calendar froze none."""
        if not self.offsets:
            return None
        i = max(bisect_right(self._offset_days, day) - 1, 0)
        return timedelta(minutes=self.offsets[i][1])


def frozen_offsets(timezone: str, first: date, last: date) -> tuple[tuple[date, int], ...]:
    """The zone's UTC offset at noon of each day from `first` to `last`, as the days it
    changes on: what a published calendar keeps so replays never read a zone database."""
    tz = ZoneInfo(timezone)
    out: list[tuple[date, int]] = []
    day = first
    while day <= last:
        minutes = int(datetime.combine(day, time(12), tzinfo=tz).utcoffset()
                      // timedelta(minutes=1))
        if not out or out[-1][1] != minutes:
            out.append((day, minutes))
        day += timedelta(days=1)
    return tuple(out)


@dataclass(frozen=True)
class Closure:
    """An office closure: city-wide (district None) or one district's offices."""

    closure_id: str
    start: datetime
    end: datetime
    district: int | None = None
    reason: str = ""
    kind: str = "other"

    @property
    def span(self) -> Span:
        return to_ms(self.start), to_ms(self.end)

    def applies_to(self, district: int | None) -> bool:
        return self.district is None or self.district == district


def _subtract(pieces: list[Span], holes: Iterable[Span]) -> list[Span]:
    for h0, h1 in holes:
        out: list[Span] = []
        for a, b in pieces:
            if h1 <= a or h0 >= b:
                out.append((a, b))
                continue
            if a < h0:
                out.append((a, h0))
            if h1 < b:
                out.append((h1, b))
        pieces = out
    return pieces


@dataclass(frozen=True)
class WorkingCalendar:
    """A base calendar with the closures that apply (to one district, or city-wide only)."""

    spec: CalendarSpec = field(default_factory=CalendarSpec)
    closures: tuple[Closure, ...] = ()

    @cached_property
    def _tz(self) -> ZoneInfo:
        return ZoneInfo(self.spec.timezone)

    @cached_property
    def _closed(self) -> tuple[Span, ...]:
        return tuple(sorted(c.span for c in self.closures))

    def for_district(self, district: int | None) -> WorkingCalendar:
        """Only the closures of this district's offices and the city-wide ones (None: the
        city-wide ones only, as for headquarters and central management)."""
        return WorkingCalendar(self.spec, tuple(c for c in self.closures
                                                if c.applies_to(district)))

    def _local(self, day: date, at: time) -> datetime:
        """`at` on `day` in the calendar's time zone, frozen offsets first."""
        offset = self.spec.offset_on(day)
        if offset is None:
            return datetime.combine(day, at, tzinfo=self._tz)
        return datetime.combine(day, at, tzinfo=UTC) - offset

    def _local_day(self, ms: int) -> date:
        at = from_ms(ms)
        offset = self.spec.offset_on(at.date())
        if offset is None:
            return at.astimezone(self._tz).date()
        return (at + offset).date()

    def _day_span(self, day: date) -> Span | None:
        if not self.spec.is_working_day(day):
            return None
        return to_ms(self._local(day, self.spec.opens)), to_ms(self._local(day, self.spec.closes))

    def pieces(self, start_ms: int, pauses: Sequence[Span] = ()) -> Iterator[Span]:
        """Working pieces from `start_ms` on, in order, without closures and pauses."""
        day = self._local_day(start_ms)
        # Closures and pauses over before the start can never cut a piece: drop them once.
        ahead = [h for h in (*self._closed, *pauses) if h[1] > start_ms]
        idle = 0  # days in a row without working time
        while True:
            if idle > MAX_IDLE_DAYS:
                midnight = to_ms(self._local(day, time(0)))
                yield max(start_ms, midnight), _NEVER
                return
            span = self._day_span(day)
            day += timedelta(days=1)
            idle += 1
            if span is None or span[1] <= start_ms:
                continue
            a, b = max(span[0], start_ms), span[1]
            holes = [h for h in ahead if h[0] < b and h[1] > a]
            for piece in _subtract([(a, b)], holes):
                idle = 0
                yield piece

    def add_ms(self, start_ms: int, duration_ms: int, pauses: Sequence[Span] = ()) -> int:
        if duration_ms <= 0:
            raise ValueError("a deadline needs a positive amount of working time")
        left = duration_ms
        for a, b in self.pieces(start_ms, pauses):
            if b - a >= left:
                return a + left
            left -= b - a
        raise AssertionError("unreachable: pieces() never ends")

    def add_many_ms(self, start_ms: int, durations: Sequence[int],
                    pauses: Sequence[Span] = ()) -> list[int]:
        """`add_ms` for several durations in one walk over the calendar."""
        if any(d <= 0 for d in durations):
            raise ValueError("a deadline needs a positive amount of working time")
        order = sorted(range(len(durations)), key=durations.__getitem__)
        out = [0] * len(durations)
        counted, i = 0, 0
        for a, b in self.pieces(start_ms, pauses):
            while i < len(order) and counted + (b - a) >= durations[order[i]]:
                out[order[i]] = a + durations[order[i]] - counted
                i += 1
            if i == len(order):
                return out
            counted += b - a
        raise AssertionError("unreachable: pieces() never ends")

    def between_ms(self, start_ms: int, end_ms: int, pauses: Sequence[Span] = ()) -> int:
        """Working milliseconds in [start, end)."""
        total = 0
        if end_ms <= start_ms:
            return 0
        for a, b in self.pieces(start_ms, pauses):
            if a >= end_ms:
                break
            total += min(b, end_ms) - a
        return total

    # -- in datetimes and hours ---------------------------------------------------------------
    def add(self, start: datetime, hours: float, pauses: Sequence[Span] = ()) -> datetime:
        """The moment `hours` of working time have passed since `start`."""
        return from_ms(self.add_ms(to_ms(start), hours_to_ms(hours), pauses))

    def between(self, start: datetime, end: datetime, pauses: Sequence[Span] = ()) -> float:
        """Working hours from `start` to `end` (0 if `end` is not later)."""
        return self.between_ms(to_ms(start), to_ms(end), pauses) / MS_PER_HOUR

    def is_working_moment(self, at: datetime) -> bool:
        """Whether `at` ends a millisecond of working time: a deadline may fall there."""
        ms = to_ms(at)
        return self.between_ms(ms - 1, ms) == 1

    def describe(self) -> dict:
        """The calendar in a decision's explanation."""
        return {
            "name": self.spec.name, "timezone": self.spec.timezone,
            "working_days": list(self.spec.working_days),
            "hours": f"{self.spec.opens:%H:%M}-{self.spec.closes:%H:%M}",
            "holidays": self.spec.holiday_source or f"{len(self.spec.holidays)} dates",
            "closures": [c.closure_id for c in self.closures],
        }
