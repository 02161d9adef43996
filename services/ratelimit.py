"""A token bucket per key (a bearer token's id): the write rate limit.

Per process: each gunicorn worker keeps its own buckets, so a service with W workers admits
up to W times the configured rate. That bounds a runaway or abusive client cheaply; it is
not a quota. A rate of 0 turns the limit off.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

MAX_KEYS = 50_000


class TokenBuckets:
    def __init__(self, per_minute: int, burst: int,
                 clock: Callable[[], float] = time.monotonic, max_keys: int = MAX_KEYS) -> None:
        if per_minute < 0 or burst < 1:
            raise ValueError("the rate must be >= 0 per minute and the burst >= 1")
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # tokens, at
        self._lock = threading.Lock()

    def take(self, key: str) -> float | None:
        """Spend one token of `key`'s bucket: None if there was one, else the seconds until
        there will be."""
        if self.rate == 0:
            return None
        with self._lock:
            now = self.clock()
            tokens, at = self._buckets.pop(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - at) * self.rate)
            wait = None if tokens >= 1 else (1 - tokens) / self.rate
            if wait is None:
                tokens -= 1
            self._buckets[key] = (tokens, now)
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)  # the least recently used
            return wait
