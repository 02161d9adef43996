"""What headquarters watches, as MongoDB aggregations over the `demands` read model.

Each helper takes the `demands` collection, the moment to judge against (so "overdue" and
"age" are reproducible) and a scope: a filter on demands (`{}` or None: every district; see
`reporting.web.scope`). Times in the read model are the log's ISO strings
(`2025-03-01T06:30:00.000Z`), which sort as text in time order, so comparisons against a
moment are plain string comparisons and durations go through `$toDate`.

- `board`: open escalations, overdue first, then highest rung, then oldest deadline.
- `board_matrix`: open and overdue escalations per (level, district).
- `weekly_trend`: escalations and resolutions per week (weeks start Saturday, Tehran time).
- `sla_by_district`: what became of each routed demand's deadlines (met, missed at a rung,
  late, rejected, overdue, waiting, pending; docs/metrics.md).
- `category_mix`: demands per category on each channel.
- `outcomes_by_requester`: per requester kind, median hours to resolve and escalation rate.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.collection import Collection

from services.domain.vocabulary import CATEGORIES, CHANNELS, LEVEL_CODES, REQUESTER_KINDS
from services.domain.when import TEHRAN
from services.events.envelope import format_time

SATURDAY = 5  # datetime.weekday(): the Iranian week starts on Saturday
HOUR_MS = 3_600_000
BOARD_LIMIT = 200

Scope = dict[str, Any] | None


def _match(scope: Scope, **more: Any) -> dict[str, Any]:
    return {"$match": {**(scope or {}), **more}}


def _date(value: Any) -> Any:
    """A BSON date: a moment as is (parsed once, client-side), a field through `$toDate`."""
    return value if isinstance(value, datetime) else {"$toDate": value}


def _hours_between(start: Any, end: Any) -> dict[str, Any]:
    return {"$divide": [{"$subtract": [_date(end), _date(start)]}, HOUR_MS]}


def _past(field: str, moment: str) -> dict[str, Any]:
    """`field` holds a time before `moment` (and is set)."""
    return {"$and": [{"$ne": [field, None]}, {"$lt": [field, moment]}]}


# -- the escalation board ---------------------------------------------------------------
def board(demands: Collection, moment: datetime, scope: Scope = None,
          limit: int = BOARD_LIMIT) -> list[dict[str, Any]]:
    """Open demands above the department: overdue first, then the highest rung, then the
    oldest deadline. Each carries `overdue`, `age_hours` (since submission), the last
    escalation (`escalated_at`, `reason`) and `waiting_hours` (since that escalation)."""
    now = format_time(moment)
    last = {"$let": {"vars": {"e": {"$arrayElemAt": ["$escalations", -1]}}, "in": "$$e"}}
    return list(demands.aggregate([
        _match(scope, open=True, escalated=True),
        {"$addFields": {"overdue": _past("$deadline", now)}},
        {"$sort": {"overdue": -1, "level_index": -1, "deadline": 1, "_id": 1}},
        {"$limit": limit},
        # Date arithmetic only on the rows shown (SecantusDB parses dates slowly).
        {"$addFields": {"last_escalation": last}},
        {"$addFields": {
            "escalated_at": "$last_escalation.at", "reason": "$last_escalation.reason",
            "age_hours": _hours_between("$submitted_at", moment),
            "waiting_hours": _hours_between("$last_escalation.at", moment)}},
        {"$project": {"_id": 0, "demand_id": "$_id", "title": 1, "district": 1,
                      "neighbourhood": 1, "category": 1, "priority": 1, "level": 1,
                      "level_index": 1, "deadline": 1, "overdue": 1, "submitted_at": 1,
                      "escalated_at": 1, "reason": 1, "age_hours": 1, "waiting_hours": 1}},
    ]))


def board_matrix(demands: Collection, moment: datetime,
                 scope: Scope = None) -> list[dict[str, Any]]:
    """Open escalations per (level, district), with how many are overdue: highest rung
    first, then by district."""
    now = format_time(moment)
    rows = demands.aggregate([
        _match(scope, open=True, escalated=True),
        {"$group": {"_id": {"level": "$level", "district": "$district"},
                    "open": {"$sum": 1},
                    "overdue": {"$sum": {"$cond": [_past("$deadline", now), 1, 0]}}}},
    ])
    out = [{"level": r["_id"]["level"], "district": r["_id"]["district"],
            "open": r["open"], "overdue": r["overdue"]} for r in rows]
    return sorted(out, key=lambda r: (-LEVEL_CODES.index(r["level"]), r["district"]))


# -- trends -----------------------------------------------------------------------------
def week_starts(moment: datetime, weeks: int) -> list[datetime]:
    """The starts (Saturday 00:00 in Tehran, as UTC) of the last `weeks` weeks up to and
    including the one `moment` is in, and the start of the week after: `weeks + 1` bounds."""
    local = moment.astimezone(TEHRAN)
    days_since = (local.weekday() - SATURDAY) % 7
    this_week = (local - timedelta(days=days_since)).replace(
        hour=0, minute=0, second=0, microsecond=0)
    return [(this_week + timedelta(weeks=i)).astimezone(UTC)
            for i in range(-weeks + 1, 2)]


def _per_week(demands: Collection, pipeline: list[dict[str, Any]], field: str,
              bounds: list[str]) -> dict[str, int]:
    rows = demands.aggregate([*pipeline, {"$bucket": {
        "groupBy": field, "boundaries": bounds, "default": "outside",
        "output": {"n": {"$sum": 1}}}}])
    return {r["_id"]: r["n"] for r in rows if r["_id"] != "outside"}


def weekly_trend(demands: Collection, moment: datetime, weeks: int = 8,
                 scope: Scope = None) -> list[dict[str, Any]]:
    """Escalations (every rung climbed, by when) and resolutions (demands resolved now, by
    when: a resolution since reopened no longer counts) per week, oldest week first."""
    starts = week_starts(moment, weeks)
    bounds = [format_time(s) for s in starts]
    escalations = _per_week(demands, [_match(scope), {"$unwind": "$escalations"}],
                            "$escalations.at", bounds)
    resolutions = _per_week(demands, [_match(scope, status="resolved")], "$resolved_at",
                            bounds)
    return [{"week_start": start, "escalations": escalations.get(bound, 0),
             "resolutions": resolutions.get(bound, 0)}
            for start, bound in zip(starts[:-1], bounds[:-1], strict=True)]


# -- deadlines --------------------------------------------------------------------------
def _any(array: str, field: str, value: str) -> dict[str, Any]:
    """Some element of `array` (absent: none) has `field` equal to `value`."""
    return {"$gt": [{"$size": {"$filter": {
        "input": {"$ifNull": [array, []]}, "as": "x",
        "cond": {"$eq": [f"$$x.{field}", value]}}}}, 0]}


def sla_by_district(demands: Collection, moment: datetime,
                    scope: Scope = None) -> list[dict[str, Any]]:
    """Per district, each routed demand counted once, by what became of its promises
    (docs/metrics.md):

    - `missed`: a deadline passed at some rung (the clock escalated it, or recorded the miss
      at the top), whatever came after: a later resolution does not undo it;
    - `met`: resolved by the deadline in force, no deadline missed before;
    - `late`: resolved or rejected after the deadline in force (no miss recorded yet);
    - `rejected`: rejected in time, its own figure, never counted as met;
    - `overdue`: open and already past its deadline (a miss now, not "not yet");
    - `waiting`: open and waiting on its requester (the clock stopped, for a bounded time);
    - `pending`: open, not yet due.

    Withdrawn and merged demands are the requester's choice or a duplicate's and are not
    counted. `rate` = met / (met + late + missed + overdue), None with none due."""
    now = format_time(moment)
    missed = {"$or": [_any("$escalations", "trigger", "deadline"),
                      _any("$warnings", "stage", "missed")]}
    by_deadline = {"$lte": ["$closed_at", "$deadline"]}
    outcome = {"$switch": {"branches": [
        {"case": missed, "then": "missed"},
        {"case": {"$eq": ["$status", "resolved"]},
         "then": {"$cond": [by_deadline, "met", "late"]}},
        {"case": {"$eq": ["$status", "rejected"]},
         "then": {"$cond": [by_deadline, "rejected", "late"]}},
        {"case": {"$ne": [{"$ifNull": ["$waiting", None]}, None]}, "then": "waiting"},
        {"case": _past("$deadline", now), "then": "overdue"},
    ], "default": "pending"}}
    kinds = ("met", "late", "missed", "rejected", "overdue", "waiting", "pending")
    counts = {k: {"$sum": {"$cond": [{"$eq": ["$outcome", k]}, 1, 0]}} for k in kinds}
    rows = demands.aggregate([
        _match(scope, status={"$nin": ["withdrawn", "merged", "submitted"]}),
        {"$project": {"district": 1, "outcome": outcome}},
        {"$group": {"_id": "$district", **counts}},
    ])
    out = []
    for r in sorted(rows, key=lambda r: r["_id"]):
        due = r["met"] + r["late"] + r["missed"] + r["overdue"]
        out.append({"district": r["_id"], **{k: r[k] for k in kinds}, "due": due,
                    "rate": r["met"] / due if due else None})
    return out


# -- what is asked where ------------------------------------------------------------------
def category_mix(demands: Collection, scope: Scope = None) -> list[dict[str, Any]]:
    """Per channel (in the vocabulary's order): `total`, `counts` per category and `shares`
    (count / total) for the categories it has."""
    rows = demands.aggregate([
        _match(scope),
        {"$group": {"_id": {"channel": "$channel", "category": "$category"},
                    "n": {"$sum": 1}}},
    ])
    counts: dict[str, dict[str, int]] = {}
    for r in rows:
        counts.setdefault(r["_id"]["channel"], {})[r["_id"]["category"]] = r["n"]
    order = [c for c in CHANNELS if c in counts] + sorted(set(counts) - set(CHANNELS))
    out = []
    for channel in order:
        per = counts[channel]
        total = sum(per.values())
        ranked = dict(sorted(per.items(), key=lambda kv: (
            list(CATEGORIES).index(kv[0]) if kv[0] in CATEGORIES else len(CATEGORIES))))
        out.append({"channel": channel, "total": total, "counts": ranked,
                    "shares": {c: n / total for c, n in ranked.items()}})
    return out


# -- fairness -----------------------------------------------------------------------------
def outcomes_by_requester(demands: Collection, moment: datetime,
                          scope: Scope = None) -> list[dict[str, Any]]:
    """Per requester kind (citizens and each elite group, in the vocabulary's order):
    `demands`, `resolved`, `median_hours` from submission to resolution (None with no
    resolution), `escalated` (demands that climbed at least one rung), `escalation_rate`
    and `overdue` (open and past their deadline)."""
    now = format_time(moment)
    resolved = {"$eq": ["$status", "resolved"]}
    rows = demands.aggregate([
        _match(scope),
        {"$project": {
            "kind": "$requester.kind", "resolved": {"$cond": [resolved, 1, 0]},
            "hours": {"$cond": [resolved, _hours_between("$submitted_at", "$resolved_at"),
                                None]},
            "escalated": {"$cond": [{"$gt": [{"$size": "$escalations"}, 0]}, 1, 0]},
            "overdue": {"$cond": [{"$and": ["$open", _past("$deadline", now)]}, 1, 0]}}},
        {"$group": {"_id": "$kind", "demands": {"$sum": 1}, "resolved": {"$sum": "$resolved"},
                    "escalated": {"$sum": "$escalated"}, "overdue": {"$sum": "$overdue"},
                    "median_hours": {"$median": {"input": "$hours",
                                                 "method": "approximate"}}}},
    ])
    by_kind = {r["_id"]: r for r in rows}
    order = [k for k in REQUESTER_KINDS if k in by_kind] + sorted(
        set(by_kind) - set(REQUESTER_KINDS), key=str)
    return [{"kind": k, "demands": by_kind[k]["demands"], "resolved": by_kind[k]["resolved"],
             "median_hours": by_kind[k]["median_hours"], "escalated": by_kind[k]["escalated"],
             "escalation_rate": by_kind[k]["escalated"] / by_kind[k]["demands"],
             "overdue": by_kind[k]["overdue"]} for k in order]
