"""A moment as people in Tehran read it: Jalali (the official calendar) and Gregorian, in local
time. The log keeps UTC; this is for explanations, pages and reports only."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import jdatetime

from services.events.envelope import parse_time

DEFAULT_TIMEZONE = "Asia/Tehran"
TEHRAN = ZoneInfo(DEFAULT_TIMEZONE)  # with its history: Iran kept daylight saving until 2022


def shown(text: str | None, timezone: str = DEFAULT_TIMEZONE) -> dict[str, Any] | None:
    """{"utc", "timezone", "jalali", "gregorian"} for a log time, or None for None."""
    if text is None:
        return None
    local = parse_time(text).astimezone(ZoneInfo(timezone))
    jalali = jdatetime.datetime.fromgregorian(datetime=local.replace(tzinfo=None))
    weekday_fa = jdatetime.date.j_weekdays_fa[jalali.weekday()]
    month_fa = jdatetime.date.j_months_fa[jalali.month - 1]
    return {
        "utc": text,
        "timezone": timezone,
        "jalali": f"{jalali:%Y/%m/%d %H:%M}",
        "jalali_long": f"{weekday_fa} {jalali.day} {month_fa} {jalali.year}، ساعت {jalali:%H:%M}",
        "gregorian": f"{local:%a %Y-%m-%d %H:%M}",
    }
