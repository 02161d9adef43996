"""What an auditor means by "as of": a moment (a Jalali or Gregorian date and time) or a
stream position. Pure.

A date with a year below 1700 is Jalali (۱۴۰۳/۱۲/۱۱), otherwise Gregorian (2025-03-01);
Persian and Arabic-Indic digits are accepted. A time without a UTC offset is Tehran time; a
date alone means the end of that day. A position is `partition:offset`, the state just after
that event; a log with several partitions takes one per partition, comma separated
(`0:120,1:98`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import jdatetime

from services.domain.when import TEHRAN
from services.events.envelope import format_time

JALALI_BEFORE = 1700  # years below this are Jalali
_DIGITS = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "01234567890123456789")
_POSITIONS = re.compile(r"^\d+:\d+(?:,\d+:\d+)*$")
_DATE = re.compile(
    r"^(?P<y>\d{4})[-/](?P<m>\d{1,2})[-/](?P<d>\d{1,2})"
    r"(?:[T ](?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:\.(?P<f>\d{1,6}))?)?"
    r"(?P<tz>Z|[+-]\d{2}:?\d{2})?)?$")

HELP = ("a date (Jalali 1403/12/11 or Gregorian 2025-03-01, optionally with a time "
        "'T14:30' and a UTC offset; without one, Tehran time; a date alone is the end of that "
        "day) or a position 'partition:offset' (one per partition, comma separated)")


@dataclass(frozen=True)
class AtPositions:
    """Just after these events: partition -> offset of the last event included."""

    last: dict[int, int]

    @property
    def cut(self) -> dict[int, int]:
        """The next offset to leave out, per partition."""
        return {p: o + 1 for p, o in self.last.items()}

    def describe(self) -> str:
        return ",".join(f"{p}:{o}" for p, o in sorted(self.last.items()))


@dataclass(frozen=True)
class AtMoment:
    """Every event recorded up to `moment` (UTC, the log's time format)."""

    moment: str
    calendar: str  # "jalali" | "gregorian"

    def describe(self) -> str:
        return self.moment


AsOf = AtPositions | AtMoment


def jalali(moment: str) -> str:
    """A log time as Tehran's Jalali date and time, e.g. '1403/12/11 10:00:00'."""
    at = datetime.fromisoformat(moment.replace("Z", "+00:00")).astimezone(TEHRAN)
    return jdatetime.datetime.fromgregorian(datetime=at).strftime("%Y/%m/%d %H:%M:%S")


def parse(text: str) -> AsOf:
    """Read an `at` value; a ValueError says what is wrong with it."""
    raw = text.strip().translate(_DIGITS)
    if _POSITIONS.match(raw):
        last: dict[int, int] = {}
        for part in raw.split(","):
            p, o = (int(x) for x in part.split(":"))
            if p in last:
                raise ValueError(f"partition {p} is given twice")
            last[p] = o
        return AtPositions(last)
    match = _DATE.match(raw)
    if match is None:
        raise ValueError(f"not a date or a position: {text!r}; expected {HELP}")
    return _moment(match)


def _moment(m: re.Match[str]) -> AtMoment:
    y, mo, d = int(m["y"]), int(m["m"]), int(m["d"])
    calendar = "jalali" if y < JALALI_BEFORE else "gregorian"
    try:
        day = (jdatetime.date(y, mo, d).togregorian() if calendar == "jalali"
               else date(y, mo, d))
    except ValueError as exc:
        raise ValueError(f"no such {calendar} date {y}-{mo:02d}-{d:02d}: {exc}") from None
    if m["H"] is None:
        at = datetime.combine(day + timedelta(days=1), time(), TEHRAN) - timedelta(milliseconds=1)
    else:
        hour, minute, second = int(m["H"]), int(m["M"]), int(m["S"] or 0)
        if hour > 23 or minute > 59 or second > 59:
            raise ValueError(f"no such time {hour:02d}:{minute:02d}:{second:02d}")
        micro = int((m["f"] or "0").ljust(6, "0"))
        at = datetime.combine(day, time(hour, minute, second, micro), _zone(m["tz"]))
    return AtMoment(format_time(at.astimezone(UTC)), calendar)


def _zone(text: str | None) -> timezone | ZoneInfo:
    if text is None:
        return TEHRAN
    if text == "Z":
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:])
    if hours > 14 or minutes > 59:
        raise ValueError(f"no such UTC offset {text}")
    return timezone(sign * timedelta(hours=hours, minutes=minutes))
