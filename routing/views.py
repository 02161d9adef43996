"""How routing's API shows its rules, their history and the calendar (JSON documents)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import jdatetime

from routing.stream_view import Publication
from services.domain.calendar import Closure
from services.domain.context import RoutingContext
from services.domain.rules import document
from services.domain.when import shown
from services.events.envelope import format_time, now, parse_time

UPCOMING_HOLIDAYS = 10


def publications_view(publications: Sequence[Publication]) -> dict[str, Any]:
    return {"count": len(publications),
            "items": [{"version": p.version, "event_id": p.event_id, "at": p.at, "by": p.by,
                       "note": p.note} for p in publications]}


def rules_view(ctx: RoutingContext, publications: Sequence[Publication]) -> dict[str, Any]:
    current = [p for p in publications if p.version == ctx.rules.version]
    return {
        "version": ctx.rules.version,
        "published": ctx.published,
        "publication": publications_view(current)["items"][-1] if current else None,
        "rule_set": document(ctx.rules),
    }


def _closure(c: Closure, tz: str) -> dict[str, Any]:
    start, end = format_time(c.start), format_time(c.end)
    return {"closure_id": c.closure_id, "district": c.district, "kind": c.kind,
            "reason": c.reason, "start": start, "end": end,
            "shown": {"start": shown(start, tz), "end": shown(end, tz)}}


def calendar_view(ctx: RoutingContext) -> dict[str, Any]:
    cal = ctx.rules.calendar
    today = parse_time(ctx.now).date() if ctx.now else now().date()
    upcoming = [(d, n) for d, n in cal.holidays if d >= today][:UPCOMING_HOLIDAYS]
    return {
        "rule_set_version": ctx.rules.version,
        "calendar": {"name": cal.name, "timezone": cal.timezone,
                     "working_days": list(cal.working_days), "opens": f"{cal.opens:%H:%M}",
                     "closes": f"{cal.closes:%H:%M}", "holidays": len(cal.holidays),
                     "holiday_source": cal.holiday_source,
                     "horizon": cal.horizon.isoformat() if cal.horizon else None,
                     "horizon_warned": ctx.rules.version in ctx.horizon_warned},
        "clock": {"now": ctx.now, "shown": shown(ctx.now, cal.timezone)},
        "closures": [_closure(c, cal.timezone) for c in ctx.closures.values()],
        "upcoming_holidays": [{"date": d.isoformat(), "jalali": _jalali(d), "name": n}
                              for d, n in upcoming],
    }


def _jalali(day: date) -> str:
    return f"{jdatetime.date.fromgregorian(date=day):%Y/%m/%d}"
