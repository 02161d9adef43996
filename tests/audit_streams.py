"""Events for the tamper-evidence tests: submissions and people's notes, built with the real
envelope (no routing needed), and a log sealed by the real sealer as it grows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.audit.sealer import Sealer
from services.eventlog.port import EventLog
from services.events.envelope import Actor, Event, make
from services.events.ids import derived_id

START = datetime(2025, 3, 1, 6, 30, tzinfo=UTC)
CLERK = Actor("intake_clerk", "clerk-7", 7)


def demand_events(n: int, seed: str = "a", start: datetime = START) -> list[Event]:
    """Every third event submits a demand; the others are notes on earlier ones."""
    events: list[Event] = []
    demands: list[str] = []
    for i in range(n):
        at = start + timedelta(minutes=7 * i)
        if i % 3 == 0:
            demand_id = derived_id(at, seed, "demand", str(i))
            demands.append(demand_id)
            events.append(make("DemandSubmitted", demand_id, {
                "requester": {"kind": "citizen"},
                "channel": "line_137", "district": 1 + i % 22, "neighbourhood": "زمزم",
                "category": "transport", "title": f"ترافیک تقاطع {i}",
                "description": "صف خودروها هر صبح تا بزرگراه کشیده می‌شود."},
                actor=CLERK, event_id=derived_id(at, seed, "submitted", str(i)),
                recorded_at=at))
        else:
            demand_id = demands[(i * 7) % len(demands)]
            events.append(make("ProgressNoteSubmitted", demand_id, {"note": f"بازدید {i}"},
                               actor=CLERK, event_id=derived_id(at, seed, "note", str(i)),
                               recorded_at=at))
    return events


def grow_sealed(log: EventLog, events: list[Event], *, every: int = 25,
                batch: int = 10) -> Sealer:
    """Append `events` in batches, the sealer following: a log sealed as it grew."""
    sealer = Sealer(log, every=every, seconds=3600.0)
    sealer.start()
    for i in range(0, len(events), batch):
        log.append(events[i:i + batch])
        sealer.drain()
    return sealer
