"""One writer at a time across processes, with waiters woken the moment the lock is free.

SQLite lets one connection write at a time; one that finds the lock taken retries on a
timer (its busy handler sleeps 1, 2, 5, 10 … up to 100 ms between tries), so with several
processes appending (two intake workers, the routing worker, the consumers' offsets) a
writer sleeps well past the commit it waited for, and each sleep is a request's latency.
An exclusive `flock` on a file beside the log, taken before the write transaction, queues
the writers in the kernel instead: a waiter wakes as soon as the holder's transaction ends.
A process that dies holding it releases it with its descriptors. SQLite's own locking stays
underneath, so a writer that does not take this lock is still safe, only slower to wake.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class WriteLock:
    def __init__(self, path: Path) -> None:
        self.path = path

    @contextmanager
    def held(self) -> Iterator[None]:
        """Hold the lock for the block. Each holding opens the file anew: `flock` belongs to
        an open file, so two threads of one process exclude each other too."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing the only descriptor of the open file releases the lock
