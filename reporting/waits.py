"""How many read-your-write waits one token subject may hold at once.

A read with `after=` or `decided=` that the read models have not reached yet waits (polling
MongoDB) for up to `wait` seconds. Without a bound, one token could open many such waits and
keep the service and MongoDB busy for everyone; so each subject may hold at most
`PER_SUBJECT` waits at once in each worker process, and another one is answered `429` with
`Retry-After` at once. A read already fresh never takes a slot. `until` is the poll itself.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from werkzeug.exceptions import TooManyRequests

PER_SUBJECT = 4
RETRY_AFTER_SECONDS = 1


class WaitSlots:
    """Counts the waits each subject holds; `hold` takes one or refuses with a 429."""

    def __init__(self, per_subject: int = PER_SUBJECT) -> None:
        self.per_subject = per_subject
        self._held: dict[str, int] = {}
        self._lock = threading.Lock()

    def held(self, subject: str) -> int:
        with self._lock:
            return self._held.get(subject, 0)

    def take(self, subject: str) -> bool:
        with self._lock:
            count = self._held.get(subject, 0)
            if count >= self.per_subject:
                return False
            self._held[subject] = count + 1
            return True

    def give_back(self, subject: str) -> None:
        with self._lock:
            count = self._held.get(subject, 0) - 1
            if count > 0:
                self._held[subject] = count
            else:
                self._held.pop(subject, None)

    @contextmanager
    def hold(self, subject: str) -> Iterator[None]:
        if not self.take(subject):
            raise TooManyRequests(
                description=f"this token already has {self.per_subject} reads waiting for "
                            f"the read models; retry in {RETRY_AFTER_SECONDS} s",
                retry_after=RETRY_AFTER_SECONDS)
        try:
            yield
        finally:
            self.give_back(subject)


def until(ready: Callable[[], bool], wait: float, every: float) -> bool:
    """Whether `ready()` became true within `wait` seconds, asking every `every` seconds."""
    deadline = time.monotonic() + wait
    while not ready():
        if time.monotonic() >= deadline:
            return False
        time.sleep(every)
    return True
