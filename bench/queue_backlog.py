"""A department queue's read as its backlog grows: `python -m bench.queue_backlog`.

On the embedded default, demands are posted to district 22's transport queue in steps of
100, 1,000, 3,000 and 6,000 open; at each, the median of 30 reads of the queue with
`?limit=1` and with its default page. Run outside Tehran's working hours, every demand falls
due at the same moment (the case docs/performance.md describes); inside them, one by one.
Not part of `make bench`: it names no target.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import requests

from bench.e2e import desk_tokens, embedded_settings, post_all, queue_size
from sada.embedded import Embedded

STEPS = (100, 1_000, 3_000, 6_000)
READS = 30


def median_ms(read: Callable[[], object]) -> float:
    times = []
    for _ in range(READS):
        start = time.perf_counter()
        read()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="sada-bench-backlog-") as tmp:
        settings = embedded_settings(Path(tmp))
        clerk, staff = desk_tokens(settings)
        stack = Embedded(settings, say=lambda s: None)
        try:
            settings = stack.start_mongo()
            stack.start_services()
            intake, reporting = settings.service_url("intake"), settings.service_url("reporting")
            queue = f"{reporting}/queues/22/transport"
            session = requests.Session()
            session.headers.update(staff)
            print("open demands   ?limit=1   default page")
            posted = 0
            for step in STEPS:
                post_all(f"{intake}/demands", step - posted, 8, clerk)
                posted = step
                while queue_size(reporting, staff) < step:
                    time.sleep(0.1)
                one = median_ms(lambda: session.get(queue, params={"limit": 1}).raise_for_status())
                page = median_ms(lambda: session.get(queue).raise_for_status())
                print(f"{step:12,d}   {one:6.1f} ms  {page:8.1f} ms", flush=True)
        finally:
            stack.stop()


if __name__ == "__main__":
    main()
