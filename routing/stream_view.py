"""Routing's facts as the log holds them now, for the API and the command line.

Follows partition 0 (every fact is broadcast to every partition, so partition 0 has them all),
reading only what was appended since the last look and decoding only the routing stream's
events. Gives the rule set in force, the rule sets published so far, the office closures and
the clock's time: the same `RoutingContext` the worker folds.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from services.domain.context import RoutingContext, is_routing_fact
from services.domain.rules import DEFAULT_RULES, RuleSet
from services.eventlog.port import EventLog
from services.events.families.routing import ROUTING_STREAM_ID, RULES

_MARK = f'"demand_id":"{ROUTING_STREAM_ID}"'.encode()


@dataclass(frozen=True)
class Publication:
    version: int
    event_id: str
    at: str
    by: str
    note: str | None


class StreamFacts:
    def __init__(self, log: EventLog, default: RuleSet = DEFAULT_RULES) -> None:
        self.log = log
        self.context = RoutingContext(rules=default)
        self.publications: list[Publication] = []
        self._next = 0  # the next offset to read in partition 0
        self._lock = threading.Lock()

    def refresh(self) -> RoutingContext:
        """Catch up with the log; the context as of its end."""
        with self._lock:
            end = self.log.end_offsets()
            stop = end.get(0, 0)
            if self._next < stop:
                start = {p: o for p, o in end.items() if p != 0} | {0: self._next}
                for record in self.log.scan(start, {0: stop}):
                    if record.partition != 0:
                        continue
                    self._next = record.offset + 1
                    if _MARK in record.raw:
                        self._take(record.event)
            return self.context

    def _take(self, event: Any) -> None:
        if not is_routing_fact(event):
            return
        ctx = self.context
        if event.type == RULES:
            version = event.payload["version"]
            if version > ctx.rules.version or (version == ctx.rules.version
                                               and not ctx.published):
                self.publications.append(Publication(
                    version, event.event_id, event.recorded_at_text,
                    f"{event.actor.role}:{event.actor.id}", event.payload.get("note")))
        ctx.absorb(event)
