"""Keeping up with the log in an API process: what was appended since the last look.

A service that must answer from what the log holds *now* (has this idempotency key been used?
does this meeting exist?) keeps a `LogTail`: `refresh()` reads every partition from where it
stopped to the log's end and hands each record to `take`. Nothing is stored beside the log, so
a restart rebuilds the same knowledge by reading from the beginning.
"""

from __future__ import annotations

import threading
import time

from services.eventlog.port import EventLog, Offsets, Record


class LogTail:
    """A subclass defines `take`, which sees every record once, in each partition's order.
    `take` should look at `record.raw` first and decode only what it keeps."""

    def __init__(self, log: EventLog) -> None:
        self.log = log
        self._next: Offsets = {}
        self._lock = threading.Lock()
        self._looked_at = float("-inf")  # when the last complete look began

    def take(self, record: Record) -> None:
        raise NotImplementedError

    def refresh(self) -> None:
        """Read up to the end the log has now. Raises whatever the log raises.

        Concurrent callers share a look: one that waited for the lock while a look that
        began after it asked ran to the end has nothing more to read."""
        asked = time.monotonic()
        with self._lock:
            if self._looked_at >= asked:
                return
            began = time.monotonic()
            end = self.log.end_offsets()
            if any(self._next.get(p, 0) < o for p, o in end.items()):
                for record in self.log.scan(self._next, end):
                    self.take(record)
                    self._next[record.partition] = record.offset + 1
            if all(self._next.get(p, 0) >= o for p, o in end.items()):
                self._looked_at = began
