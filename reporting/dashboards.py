"""What headquarters watches: every figure of the board, the reports API and the exports,
computed here and only here (docs/metrics.md defines each).

`gather` reads what every figure needs in a few small reads, whatever the size of the city's
history: the tallies the projector keeps (`reporting/tallies.py`), the stream's time (the
last clock tick the projector folded: the time routing decides by) and the open demands past
their deadline at that time (an index range, few rows). A scope is a filter on demands (`{}`
or None: every district; see `reporting.web.scope`).

- `board`: open escalations, overdue first, then highest rung, then oldest deadline (an
  indexed query over open escalations only).
- `Figures.board_matrix`, `sla_by_district`, `weekly_trend`, `category_mix`,
  `outcomes_by_requester`, `missed_by_rung`, `transfers`: from the tallies.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo.collection import Collection

from reporting import tallies
from reporting.readmodels import ReadModels
from services.domain.demand import Demand
from services.events.envelope import format_time, parse_time

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


# -- the figures ---------------------------------------------------------------------------
@dataclass
class Figures:
    """What every figure is computed from, read once per page or report."""

    counts: dict[str, int]  # the tallies, every partition summed
    moment: datetime  # the stream's time (the last tick), or the wall clock before any tick
    overdue: list[dict[str, Any]]  # open demands in scope past their deadline at `moment`
    scope: Scope

    def board_matrix(self) -> list[dict[str, Any]]:
        return tallies.board_matrix(self.counts, self.overdue, self.scope)

    def sla_by_district(self) -> list[dict[str, Any]]:
        return tallies.sla_by_district(self.counts, self.overdue, self.scope)

    def weekly_trend(self, weeks: int = 8) -> list[dict[str, Any]]:
        return tallies.weekly_trend(self.counts, self.moment, weeks, self.scope)

    def category_mix(self) -> list[dict[str, Any]]:
        return tallies.category_mix(self.counts, self.scope)

    def outcomes_by_requester(self) -> list[dict[str, Any]]:
        return tallies.outcomes_by_requester(self.counts, self.overdue, self.scope)

    def missed_by_rung(self) -> list[dict[str, Any]]:
        return tallies.missed_by_rung(self.counts, self.scope)

    def transfers(self) -> list[dict[str, Any]]:
        return tallies.transfers_by_district(self.counts, self.scope)


def stream_time(models: ReadModels, wall: datetime) -> datetime:
    """The time routing decides by: the last clock tick projected (the wall clock if none)."""
    _, clock = models.tallies.current()
    return parse_time(clock) if clock else wall


def gather(models: ReadModels, scope: Scope, wall: datetime) -> Figures:
    counts, clock = models.tallies.current()
    moment = parse_time(clock) if clock else wall
    past = models.demands.find(
        {**(scope or {}), "open": True, "deadline": {"$lt": format_time(moment)}})
    overdue = [tallies.overdue_row(Demand.from_doc(d)) for d in past]
    return Figures(counts, moment, overdue, scope)
