"""Submit → visible in its department's queue, at a steady rate, on the embedded default:
p50/p95/p99 at 20 and 100 submissions a second (targets `latency-p99-20`, `latency-p99-100`).

The load is open: submission i is due at start + i/rate whatever the earlier ones did, and its
latency counts from when it was due, so a stack that falls behind is charged for the queueing
it causes (no coordinated omission). Each submission is a `POST /demands` to intake; it is
visible once the reporting API's `/queues/22/transport` counts it. One observer asks for that
count (an indexed count in MongoDB) in a loop; the projector applies the log in order, so when
the count has grown by k the first k submissions in log order (by the positions intake
answered) are visible. The observer's own requests, one at a time, are part of the load. A
second observer counts the DemandRouted in the log file, which splits the path: answered
(intake), routed (the routing worker's decision durable in the log), visible (the projector).
"""

from __future__ import annotations

import math
import sqlite3
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from bench.e2e import BODY, desk_tokens, embedded_settings, post_all, queue_size
from bench.targets import Target
from sada.embedded import Embedded
from services.eventlog.port import Position

RATES = (20, 100)
OBSERVE_EVERY = 0.01  # seconds between the observer's counts (plus the count's own time)


def percentile(values: list[float], p: float) -> float:
    """The nearest-rank percentile (p in 0..100) of `values`."""
    ordered = sorted(values)
    return ordered[min(len(ordered), max(1, math.ceil(p / 100 * len(ordered)))) - 1]


def visible_after(due: list[float], positions: list[Position],
                  seen_at: list[float]) -> list[float]:
    """Each submission's latency from `due` to visible: the log is applied in order, so the
    k-th submission by log position became visible when the count first reached k."""
    order = sorted(range(len(due)), key=lambda i: positions[i])
    latencies = [0.0] * len(due)
    for k, i in enumerate(order):
        latencies[i] = seen_at[k] - due[i]
    return latencies


class Observer:
    """Asks `count()` in a loop and notes when each count above the first was first seen."""

    def __init__(self, count: Callable[[], int]) -> None:
        self._count = count
        self.baseline = count()
        self.seen_at: list[float] = []  # seen_at[k]: when the count first reached baseline+k+1
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Observer:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            reached = self._count() - self.baseline
            at = time.perf_counter()
            while len(self.seen_at) < reached:
                self.seen_at.append(at)
            self._stop.wait(OBSERVE_EVERY)

    def wait_for(self, count: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while len(self.seen_at) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return len(self.seen_at) >= count

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)


def queue_counter(reporting: str, headers: dict[str, str]) -> Callable[[], int]:
    """The queue's size as the reporting API answers it (one request at a time)."""
    session = requests.Session()
    session.headers.update(headers)
    url = f"{reporting}/queues/22/transport"

    def count() -> int:
        r = session.get(url, params={"limit": 1})
        r.raise_for_status()
        return r.json()["total"]
    return count


def routed_counter(log_path: Path) -> Callable[[], int]:
    """How many DemandRouted the SQLite log holds: routing's part of the path, read from the
    file (routing decides requests in log order, so the k-th is the k-th submission's)."""
    conn = sqlite3.connect(f"file:{log_path}?mode=ro", uri=True, isolation_level=None,
                           check_same_thread=False)  # made here, asked by the observer
    (start,) = conn.execute('SELECT COALESCE(MAX("offset") + 1, 0) FROM events').fetchone()

    def count() -> int:
        (n,) = conn.execute('SELECT COUNT(*) FROM events WHERE "offset" >= ? '
                            "AND type = 'DemandRouted'", (start,)).fetchone()
        return n
    return count


def steady(intake: str, reporting: str, clerk: dict[str, str], staff: dict[str, str],
           rate: int, seconds: float, log_path: Path) -> dict[str, float]:
    """Submit at `rate` per second for `seconds`; the latencies' percentiles, in seconds."""
    n = int(rate * seconds)
    local = threading.local()
    due: list[float] = [0.0] * n
    acked: list[tuple[Position, float] | None] = [None] * n

    def submit(i: int) -> None:
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
            session.headers.update(clerk)
        r = session.post(f"{intake}/demands", json=BODY)
        if r.status_code != 202:
            raise RuntimeError(f"submission {i}: {r.status_code} {r.text}")
        acked[i] = (Position.parse(r.json()["position"]), time.perf_counter())

    observer = Observer(queue_counter(reporting, staff)).start()
    routed = Observer(routed_counter(log_path)).start()
    try:
        start = time.perf_counter() + 0.1
        with ThreadPoolExecutor(max(16, rate // 2)) as pool:
            futures = []
            for i in range(n):
                due[i] = start + i / rate
                pause = due[i] - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
                futures.append(pool.submit(submit, i))
            for f in futures:
                f.result()
        if not observer.wait_for(n, timeout=120):
            raise RuntimeError(f"only {len(observer.seen_at)} of {n} demands became visible")
        routed.wait_for(n, timeout=10)
    finally:
        observer.stop()
        routed.stop()

    visible = visible_after(due, [a[0] for a in acked], observer.seen_at)  # type: ignore[index]
    answered = [acked[i][1] - due[i] for i in range(n)]  # type: ignore[index]
    decided = visible_after(due, [a[0] for a in acked], routed.seen_at)  # type: ignore[index]
    return {
        "n": n,
        "p50": percentile(visible, 50), "p95": percentile(visible, 95),
        "p99": percentile(visible, 99), "max": max(visible),
        "mean": statistics.fmean(visible),
        "ack_p50": percentile(answered, 50), "ack_p99": percentile(answered, 99),
        "routed_p50": percentile(decided, 50), "routed_p99": percentile(decided, 99),
    }


def section(quick: bool, seconds: float = 60) -> list[Target]:
    seconds = 10 if quick else seconds
    results: dict[int, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="sada-bench-latency-") as tmp:
        settings = embedded_settings(Path(tmp))
        clerk, staff = desk_tokens(settings)
        stack = Embedded(settings, say=lambda s: None)
        try:
            settings = stack.start_mongo()
            stack.start_services()
            intake = settings.service_url("intake")
            reporting = settings.service_url("reporting")
            post_all(f"{intake}/demands", 50, 8, clerk)  # warm up
            while queue_size(reporting, staff) < 50:
                time.sleep(0.05)
            for rate in RATES:
                results[rate] = steady(intake, reporting, clerk, staff, rate, seconds,
                                       settings.event_log_path)
        finally:
            stack.stop()

    print(f"embedded default (SQLite log, SecantusDB read models), open load, {seconds:g} s "
          "per rate; from when each submission was due:")
    print("rate/s  demands   visible in its queue: p50    p95    p99    max  "
          "| answered 202: p50    p99 | routed in the log: p50    p99")
    for rate, r in results.items():
        print(f"{rate:6d}  {r['n']:7.0f}   {'':20}{r['p50'] * 1000:5.0f}  "
              f"{r['p95'] * 1000:5.0f}  {r['p99'] * 1000:5.0f}  {r['max'] * 1000:5.0f}  "
              f"| {'':13}{r['ack_p50'] * 1000:5.0f}  {r['ack_p99'] * 1000:5.0f} "
              f"| {'':18}{r['routed_p50'] * 1000:5.0f}  {r['routed_p99'] * 1000:5.0f}   ms")
    return [Target(f"latency-p99-{rate}", r["p99"] * 1000,
                   f"p50 {r['p50'] * 1000:.0f}ms, p95 {r['p95'] * 1000:.0f}ms at {rate}/s "
                   f"for {seconds:g} s")
            for rate, r in results.items()]
