"""What headquarters watches: every figure of the board, the reports API and the exports,
computed here and only here (docs/metrics.md defines each).

`gather` reads what every figure needs in a few small reads, whatever the size of the city's
history: the tallies the projector keeps (`reporting/tallies.py`) and the stream's time (the
last clock tick the projector folded: the time routing decides by), at which "overdue" is
judged. A scope is a filter on demands (`{}`
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

import reporting.fairness  # noqa: F401 - SciPy loads with the app, not on a first page view
from reporting import tallies
from reporting.readmodels import ReadModels
from services.events.envelope import format_time, parse_time

BOARD_LIMIT = 200

Scope = dict[str, Any] | None


# -- the escalation board ---------------------------------------------------------------
BOARD_FIELDS = ("title", "district", "neighbourhood", "category", "priority", "level",
                "level_index", "deadline", "submitted_at")


def _hours(start: str | None, moment: datetime) -> float | None:
    return None if start is None else (moment - parse_time(start)).total_seconds() / 3600


def board(demands: Collection, moment: datetime, scope: Scope = None,
          limit: int = BOARD_LIMIT) -> list[dict[str, Any]]:
    """Open demands above the department: overdue first, then the highest rung, then the
    oldest deadline. Each carries `overdue`, `age_hours` (since submission), the last
    escalation (`escalated_at`, `reason`) and `waiting_hours` (since that escalation).

    Read through the escalation-board index and ordered here: open escalations are the
    city's current workload above the departments, not its history, and SecantusDB sorts
    computed fields slowly."""
    now = format_time(moment)
    wanted = {f: 1 for f in BOARD_FIELDS} | {"escalations.at": 1, "escalations.reason": 1}
    rows = []
    for d in demands.find({**(scope or {}), "open": True, "escalated": True}, wanted):
        last = d.get("escalations", [])[-1:] or [{}]
        rows.append({"demand_id": d["_id"], **{f: d.get(f) for f in BOARD_FIELDS},
                     "overdue": d.get("deadline") is not None and d["deadline"] < now,
                     "escalated_at": last[0].get("at"), "reason": last[0].get("reason")})
    rows.sort(key=lambda r: (not r["overdue"], -r["level_index"], r["deadline"] or "~",
                             r["demand_id"]))
    for r in rows[:limit]:
        r["age_hours"] = _hours(r["submitted_at"], moment)
        r["waiting_hours"] = _hours(r["escalated_at"], moment)
    return rows[:limit]


# -- the figures ---------------------------------------------------------------------------
@dataclass
class Figures:
    """What every figure is computed from, read once per page or report."""

    view: tallies.Scoped  # the tallies the scope may see, every partition summed
    moment: datetime  # the stream's time (the last tick), or the wall clock before any tick
    overdue: list[dict[str, Any]]  # open demands in scope past their deadline at `moment`
    scope: Scope

    def board_matrix(self) -> list[dict[str, Any]]:
        return tallies.board_matrix(self.view, self.overdue)

    def sla_by_district(self) -> list[dict[str, Any]]:
        return tallies.sla_by_district(self.view, self.overdue)

    def weekly_trend(self, weeks: int = 8) -> list[dict[str, Any]]:
        return tallies.weekly_trend(self.view, self.moment, weeks)

    def category_mix(self) -> list[dict[str, Any]]:
        return tallies.category_mix(self.view)

    def outcomes_by_requester(self) -> list[dict[str, Any]]:
        return tallies.outcomes_by_requester(self.view, self.overdue)

    def missed_by_rung(self) -> list[dict[str, Any]]:
        return tallies.missed_by_rung(self.view)

    def by_rung(self) -> list[dict[str, Any]]:
        return tallies.by_rung(self.view)

    def transfers(self) -> list[dict[str, Any]]:
        return tallies.transfers_by_district(self.view)


def _moment(clock: str | None, wall: datetime) -> datetime:
    return parse_time(clock) if clock else wall


def stream_time(models: ReadModels, wall: datetime) -> datetime:
    """The time routing decides by: the last clock tick projected (the wall clock if none)."""
    return _moment(models.tallies.current()[1], wall)


def gather(models: ReadModels, scope: Scope, wall: datetime) -> Figures:
    counts, clock = models.tallies.current()
    moment = _moment(clock, wall)
    view = tallies.Scoped(counts, scope)
    return Figures(view, moment, tallies.overdue_rows(view, moment), scope)
