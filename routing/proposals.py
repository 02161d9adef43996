"""A proposed rule set, as people write it (a JSON or YAML file, or an HTTP body), made into
one routing can publish or replay.

A proposal changes the rule set in force: the sections it names (`rules`, `triage`,
`sla_policies`, `levels`, `priority_factor`) replace that section, and `calendar` and
`lifecycle` (the working hours to appeal a rejection and to wait on the requester) change only
the fields they name. `calendar.holidays` may be a country code (`"IR"`) or
`{"country": "IR", "years": [2024, 2030]}`: the dates are written out from the `holidays`
package when the proposal is made, so the published rule set holds dates, not a reference.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfoNotFoundError

import yaml
from marshmallow import ValidationError

from services.domain.calendar import frozen_offsets
from services.domain.official_holidays import DEFAULT_YEARS, official_holidays, source
from services.domain.rules import RuleSet, document, from_document
from services.events.families.routing import RuleSetSchema

# A published calendar must know holidays and offsets at least this far ahead.
HORIZON_DAYS = 730
SECTIONS = ("rules", "triage", "sla_policies", "levels", "priority_factor", "calendar",
            "lifecycle")
MAX_YEARS = 40


def _holidays(spec: Any) -> tuple[list[dict[str, str]], str]:
    """Written-out dates for a holiday reference, or ValidationError naming the field."""
    years = DEFAULT_YEARS
    country = spec
    if isinstance(spec, dict):
        country = spec.get("country")
        span = spec.get("years")
        if span is not None:
            if (not isinstance(span, list) or len(span) != 2
                    or not all(isinstance(y, int) and 1980 <= y <= 2100 for y in span)
                    or not 0 <= span[1] - span[0] < MAX_YEARS):
                raise ValidationError({"calendar": {"holidays": {"years": [
                    f"Must be [first, last], years from 1980 to 2100, at most {MAX_YEARS}."]}}})
            years = range(span[0], span[1] + 1)
    if not isinstance(country, str):
        raise ValidationError({"calendar": {"holidays": [
            "Must be a list of {date, name}, a country code or {country, years}."]}})
    try:
        days = official_holidays(country.upper(), years)
    except ValueError as exc:
        raise ValidationError({"calendar": {"holidays": [str(exc)]}}) from None
    return [{"date": d.isoformat(), "name": n} for d, n in days], source(country.upper(), years)


def proposed_document(base: RuleSet, changes: Any) -> dict[str, Any]:
    """The whole rule-set document: `base` with `changes` applied (not yet validated)."""
    if not isinstance(changes, dict):
        raise ValidationError({"_schema": ["A rule set must be an object (a mapping)."]})
    unknown = [k for k in changes if k not in SECTIONS]
    if unknown:
        raise ValidationError({k: ["Unknown section; sections are: " + ", ".join(SECTIONS)]
                               for k in unknown})
    doc = document(base)
    for key, value in changes.items():
        if key == "calendar" and isinstance(value, dict):
            doc["calendar"] = {**doc["calendar"], **value}
            if "holidays" in value and not isinstance(value["holidays"], list):
                doc["calendar"]["holidays"], doc["calendar"]["holiday_source"] = \
                    _holidays(value["holidays"])
            if "offsets" not in value:
                doc["calendar"]["offsets"] = _offsets(doc["calendar"])
        elif key == "lifecycle" and isinstance(value, dict):
            doc["lifecycle"] = {**doc["lifecycle"], **value}
        else:
            doc[key] = value
    return doc


def _offsets(calendar: dict[str, Any]) -> list[dict[str, Any]]:
    """The zone's UTC offsets frozen over the years the calendar's holidays cover."""
    years = sorted(int(str(h["date"])[:4]) for h in calendar.get("holidays") or []) or [
        DEFAULT_YEARS[0], DEFAULT_YEARS[-1]]
    try:
        frozen = frozen_offsets(calendar["timezone"], date(years[0], 1, 1),
                                date(years[-1], 12, 31))
    except (KeyError, ValueError, ZoneInfoNotFoundError):
        return []  # the schema names the bad time zone
    return [{"from": d.isoformat(), "minutes": m} for d, m in frozen]


def proposed_rules(base: RuleSet, changes: Any, version: int,
                   today: date | None = None) -> RuleSet:
    """The rule set a proposal makes, as version `version`; ValidationError naming the fields
    at fault if it is not a valid one. Given `today`, a calendar that does not cover the next
    `HORIZON_DAYS` (its holidays and frozen offsets end sooner) is refused too."""
    doc = RuleSetSchema().load(proposed_document(base, changes))
    rules = from_document(RuleSetSchema().dump(doc), version)
    if today is not None:
        horizon = rules.calendar.horizon
        needed = today + timedelta(days=HORIZON_DAYS)
        if horizon is None or horizon < needed:
            raise ValidationError({"calendar": {"holidays": [
                f"The calendar covers holidays and time-zone offsets until {horizon}; a rule "
                f"set must cover at least two years ahead (until {needed}): give "
                f"holidays for more years, e.g. {{\"country\": \"IR\", \"years\": "
                f"[{today.year}, {today.year + 5}]}}."]}})
    return rules


def read_file(path: str | Path) -> Any:
    """A proposal from a JSON or YAML file (JSON is YAML too, but its errors read better).
    ValueError if it does not parse."""
    text = Path(path).read_text(encoding="utf-8")
    if str(path).lower().endswith(".json"):
        return json.loads(text)
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(str(exc)) from None
