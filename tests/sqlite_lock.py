"""An SQLite event log another process has locked: how the HTTP tests make the log fail to
acknowledge an append."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from services.eventlog.sqlite import SqliteEventLog


@contextmanager
def locked(log: SqliteEventLog, wait_ms: int = 100) -> Iterator[None]:
    """Another process holds the log's write lock, and appends give up after `wait_ms`."""
    log._connect().execute(f"PRAGMA busy_timeout = {wait_ms}")
    holder = sqlite3.connect(log.path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        holder.execute("ROLLBACK")
        holder.close()
