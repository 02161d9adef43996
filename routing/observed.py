"""What the routing worker tells the world about the decisions it appends: the counters
`sada_decisions_total{type, district}` and `sada_escalations_total{level, district}`, and one
log line per decision carrying its demand's correlation id."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from services.events.envelope import Event
from services.jsonlog import event_fields
from services.metrics import DECISIONS, ESCALATIONS

logger = logging.getLogger("routing.worker")

UNKNOWN = "unknown"  # the district label of a decision on a demand that was never submitted


def record_decisions(decisions: Sequence[Event],
                     district_of: Callable[[str], int | None]) -> None:
    """Count and log `decisions`, which are durably in the log."""
    for decision in decisions:
        district = district_of(decision.demand_id)
        label = UNKNOWN if district is None else str(district)
        DECISIONS.labels(type=decision.type, district=label).inc()
        if decision.type == "DemandEscalated":
            level = decision.payload.get("to_level", UNKNOWN)
            ESCALATIONS.labels(level=level, district=label).inc()
        logger.info("decided %s on request %s", decision.type, decision.causation_id,
                    extra=event_fields(decision))
