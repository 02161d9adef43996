"""How long a demand has been with the city when a rung answers it, in working hours.

Routing measures it once, when it decides the answer (acknowledged, resolved, rejected), with
the rung that answered and whether it kept its deadline, on the calendar in force then: the
demand's district's, with its offices' closures. The time the demand waited on its requester
is counted apart and left out, so a question asked on a Wednesday evening and answered on
Saturday costs the city nothing. Reports read the numbers from the decisions; they never need
a calendar.
"""

from __future__ import annotations

from typing import Any

from services.domain.context import RoutingContext
from services.domain.demand import Demand
from services.events.envelope import parse_time


def elapsed(ctx: RoutingContext, state: Demand, at: str,
            deadline: str | None) -> dict[str, Any]:
    """How long, and whether the rung answering kept `deadline` (its acknowledge deadline
    for an acknowledgement, its resolve deadline otherwise; None while the clock is paused:
    `kept` is then left out)."""
    calendar = ctx.calendar(state.district)
    total = calendar.between(parse_time(state.submitted_at), parse_time(at))
    waits = list(state.waited)
    if state.waiting is not None:
        waits.append([state.waiting["since"], at])
    waited = sum(calendar.between(parse_time(a), parse_time(b)) for a, b in waits)
    out: dict[str, Any] = {"working_hours": round(max(0.0, total - waited), 6),
                           "waited_working_hours": round(min(waited, total), 6),
                           "level": state.level, "deadline": deadline}
    if deadline is not None:
        out["kept"] = at <= deadline
    return out
