"""The clock: time enters the stream as `ClockTicked` facts.

Routing never reads the wall clock to decide; it decides on ticks (`routing.domain.timekeeping`),
so a replay repeats every warning and escalation. The routing worker keeps the clock: every
`SADA_CLOCK_SECONDS` (services/config.py) it broadcasts a tick, unless the stream was told the
time less than that long ago — by another worker replica (each sees every tick: ticks go to
every partition) or by a simulated clock that is ahead (`POST /clock/ticks`, `sada tick`). So
replicas share one clock loosely, and a tick that races another changes nothing: a tick that
does not move the time forward is ignored. 0 seconds turns the clock off.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta

from services.events.envelope import format_time, now


class Clock:
    def __init__(self, interval: float, clock: Callable[[], datetime] = now,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self._clock, self._monotonic = clock, monotonic
        self._told: float | None = None  # when this clock last told the time (monotonic)

    def due(self, latest: str | None) -> datetime | None:
        """The time to tell, or None. `latest` is the newest tick the caller has seen."""
        if self.interval <= 0:
            return None
        if self._told is not None and self._monotonic() - self._told < self.interval:
            return None  # our own tick may not have come back through the stream yet
        at = self._clock()
        if latest is not None and latest > format_time(at - timedelta(seconds=self.interval)):
            return None  # told recently, or a simulated clock is ahead
        self._told = self._monotonic()
        return at
