"""Read models built the real way for tests: a Desk's events appended to a SQLite log and
projected into MongoDB by the real projector."""

from __future__ import annotations

from pathlib import Path

from pymongo.database import Database

from reporting.projector import Projector
from services.eventlog.sqlite import SqliteEventLog
from services.events.envelope import Event
from tests.integration.test_reporting_stream import append_all


def project(events: list[Event], db: Database, log_path: Path) -> None:
    """Append `events` to a fresh log at `log_path` and project all of them into `db`."""
    with SqliteEventLog(log_path, synchronous="OFF") as log:
        append_all(log, events)
        projector = Projector(log, db)
        projector.models.ensure_indexes()
        projector.apply_batch(log.read(projector.start_offsets([0]), limit=100_000))
