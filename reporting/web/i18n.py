"""Persian first, English on request: the page language, digits, Jalali dates, labels.

The language comes from `?lang=fa|en` (remembered in a cookie) or the cookie; Persian is the
default. Dates show in the Jalali calendar in Tehran time, in Persian digits; the Gregorian
date and UTC time go in the `title` (shown on hover) and the ISO time in `datetime`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import jdatetime

from services.domain.vocabulary import Labels
from services.domain.when import TEHRAN
from services.events.envelope import parse_time

LANGS = ("fa", "en")
DEFAULT_LANG = "fa"
COOKIE = "sada_lang"
_FA_DIGITS = str.maketrans("0123456789%.,", "۰۱۲۳۴۵۶۷۸۹٪٫٬")


def choose(query: str | None, cookie: str | None) -> str:
    for candidate in (query, cookie):
        if candidate in LANGS:
            return candidate
    return DEFAULT_LANG


def direction(lang: str) -> str:
    return "rtl" if lang == "fa" else "ltr"


def digits(text: object, lang: str) -> str:
    """Persian digits (and separators) in Persian; the text unchanged in English."""
    text = str(text)
    return text.translate(_FA_DIGITS) if lang == "fa" else text


def number(value: float | int | None, lang: str, decimals: int = 0) -> str:
    if value is None:
        return "—"
    return digits(f"{value:,.{decimals}f}", lang)


def percent(ratio: float | None, lang: str) -> str:
    if ratio is None:
        return "—"
    return digits(f"{ratio * 100:.0f}%", lang)


def label(table: Labels, code: str | None, lang: str) -> str:
    if code is None:
        return "—"
    if code not in table:
        return code
    fa, en = table[code]
    return fa if lang == "fa" else en


@dataclass(frozen=True)
class Stamp:
    """A moment as a page shows it: Jalali `text`, Gregorian `title`, ISO `iso`."""

    text: str
    title: str
    iso: str


def _local(at: str | datetime) -> datetime:
    moment = parse_time(at) if isinstance(at, str) else at
    return moment.astimezone(TEHRAN)


def jalali(at: str | datetime | None, lang: str, with_time: bool = True) -> Stamp | None:
    if at is None or at == "":
        return None
    try:
        local = _local(at)
    except (TypeError, ValueError):  # not a time after all: shown as it is
        return Stamp(str(at), str(at), str(at))
    j = jdatetime.datetime.fromgregorian(datetime=local.replace(tzinfo=None))
    months = jdatetime.date.j_months_fa if lang == "fa" else jdatetime.date.j_months_en
    text = f"{j.day} {months[j.month - 1]} {j.year}"
    if with_time:
        text += ("، " if lang == "fa" else ", ") + f"{local:%H:%M}"
    utc = local.astimezone(UTC)
    title = (f"میلادی: {local:%Y-%m-%d %H:%M} تهران، {utc:%H:%M} UTC" if lang == "fa"
             else f"Gregorian: {local:%Y-%m-%d %H:%M} Tehran, {utc:%H:%M} UTC")
    return Stamp(digits(text, lang), title, utc.strftime("%Y-%m-%dT%H:%M:%SZ"))


def jalali_day(day: str | None, lang: str) -> str:
    """A calendar day (`YYYY-MM-DD`, no time of day, e.g. a meeting's) in Jalali."""
    if not day:
        return "—"
    try:
        j = jdatetime.date.fromgregorian(date=date.fromisoformat(day))
    except ValueError:
        return day
    months = jdatetime.date.j_months_fa if lang == "fa" else jdatetime.date.j_months_en
    return digits(f"{j.day} {months[j.month - 1]} {j.year}", lang)


def _day_and_month(at: datetime, lang: str) -> tuple[str, str]:
    j = jdatetime.date.fromgregorian(date=_local(at).date())
    months = jdatetime.date.j_months_fa if lang == "fa" else jdatetime.date.j_months_en
    return digits(j.day, lang), months[j.month - 1]


def short_jalali(at: datetime, lang: str) -> str:
    """Day and month only, the month's name whole, e.g. '۲۴ اسفند', '2 Aban'."""
    return " ".join(_day_and_month(at, lang))


def axis_jalali(moments: list[datetime], lang: str) -> list[tuple[str, str | None]]:
    """A chart's time axis: each moment's day, and its month's name (whole) under the first
    day of each month shown. Two month names never stand side by side: if the month changes
    at the second label, the first one's name is left out (its day reads as the month before)."""
    parts = [_day_and_month(at, lang) for at in moments]
    shown = [i == 0 or parts[i][1] != parts[i - 1][1] for i in range(len(parts))]
    if len(shown) > 1 and shown[1]:
        shown[0] = False
    return [(day, month if show else None) for (day, month), show in zip(parts, shown,
                                                                         strict=True)]


def duration(hours: float | None, lang: str) -> str:
    """'3 days', '5 h': days from two days up, hours below."""
    if hours is None:
        return "—"
    if hours == float("inf"):  # beyond the last band counted (reporting/tallies.py)
        return "> " + digits("60", lang) + (" روز" if lang == "fa" else " days")
    if hours >= 48:
        return digits(f"{hours / 24:.0f}", lang) + (" روز" if lang == "fa" else " days")
    return digits(f"{hours:.0f}", lang) + (" ساعت" if lang == "fa" else " h")
