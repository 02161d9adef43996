"""Python's cycle collector paused around a fold of a whole log.

A replay or a routing worker's fold from the start keeps millions of objects alive at once
(batches of records, every open demand's state, their documents) and makes almost no cycles:
17 unreachable objects after replaying 100,000 events. The collector's full passes over that
growing heap took 40 % of a replay and freed nothing (docs/performance.md, "The cycle
collector"). Paused, reference counting still frees everything else as it goes; afterwards
the collector runs again as usual.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def cycle_collection_paused() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
