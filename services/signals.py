"""How a worker process is asked to stop: SIGTERM (Kubernetes, `sada run`) or SIGINT (Ctrl-C)
sets an event the worker's loop watches, so it finishes the batch in hand before it exits."""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any


def stop_on_signals(logger: logging.Logger) -> threading.Event:
    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        logger.info("signal %s: finishing the batch in hand, then stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    return stop
