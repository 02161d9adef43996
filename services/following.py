"""Following the log in a consumer group, for the workers that write to it (routing's
decisions, the audit seals): `run` starts, steps until told to stop, and after a failure closes
the consumer and starts over, so the next start re-reads what the log holds."""

from __future__ import annotations

import logging
import threading

from services.eventlog.port import Consumer

logger = logging.getLogger(__name__)


class Follower:
    """A subclass sets `what` (for the logs) and defines `start` (which opens `_consumer`) and
    `step`; `turn` is one pass of the loop, a step unless the subclass adds to it."""

    what = "follower"
    _consumer: Consumer | None = None

    def start(self) -> None:
        raise NotImplementedError

    def step(self) -> int:
        raise NotImplementedError

    def turn(self) -> None:
        self.step()

    def run(self, stop: threading.Event, *, retry_seconds: float = 1.0) -> None:
        """Follow the log until `stop` is set, finishing the batch in hand."""
        while not stop.is_set():
            try:
                if self._consumer is None:
                    self.start()
                while not stop.is_set():
                    self.turn()
            except Exception:
                logger.exception("%s failed; starting over in %.1fs", self.what, retry_seconds)
                self.close()
                stop.wait(retry_seconds)
        self.close()

    def close(self) -> None:
        if self._consumer is not None:
            try:
                self._consumer.close()
            except Exception:
                logger.warning("%s: closing the consumer failed", self.what, exc_info=True)
            self._consumer = None
