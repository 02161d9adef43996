"""How long a demand has been with the city when a rung answers it, in working hours.

Routing measures it once, when it decides the answer (acknowledged, resolved, rejected), on
the calendar in force then: the demand's district's, with its offices' closures. The time the
demand waited on its requester is counted apart and left out, so a question asked on a
Wednesday evening and answered on Saturday costs the city nothing. Reports read the numbers
from the decisions; they never need a calendar.
"""

from __future__ import annotations

from services.domain.context import RoutingContext
from services.domain.demand import Demand
from services.events.envelope import parse_time


def elapsed(ctx: RoutingContext, state: Demand, at: str) -> dict[str, float]:
    calendar = ctx.calendar(state.district)
    total = calendar.between(parse_time(state.submitted_at), parse_time(at))
    waits = list(state.waited)
    if state.waiting is not None:
        waits.append([state.waiting["since"], at])
    waited = sum(calendar.between(parse_time(a), parse_time(b)) for a, b in waits)
    return {"working_hours": round(max(0.0, total - waited), 6),
            "waited_working_hours": round(min(waited, total), 6)}
