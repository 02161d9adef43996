"""Appending one event a person asked for: the log acknowledges it, or nothing is promised."""

from __future__ import annotations

import logging

from services.eventlog.port import EventLog, Position
from services.events.envelope import Event
from services.jsonlog import event_fields

logger = logging.getLogger("services.recording")


class Unavailable(Exception):
    """The log (or the key store) did not acknowledge: nothing is promised, and a retry with
    the same Idempotency-Key is safe."""


def append_one(log: EventLog, event: Event) -> Position:
    """Append `event` and return its position once the log acknowledged it; Unavailable if
    it did not."""
    try:
        (position,) = log.append([event])
    except Exception as exc:
        logger.exception("appending %s %s failed", event.type, event.event_id,
                         extra=event_fields(event))
        raise Unavailable(str(exc)) from exc
    logger.info("recorded %s %s at %s", event.type, event.event_id, position,
                extra=event_fields(event))
    return position
