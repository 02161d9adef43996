"""The routing worker's restart (target `restart-1m-seconds`): from starting the worker to its
first decision on a new demand, on a generated city's log (`bench/history.py`), with snapshots
(routing/snapshots.py) beside the full fold from offset zero, measured in the same run.

Each size is measured three ways:
- full fold: no snapshot, the worker folds the whole log (how every start worked before);
- after a crash: the snapshot is as old as it gets, the log's last `every` events (the
  snapshot interval, SADA_ROUTING_SNAPSHOT_EVENTS) are folded on top of it;
- after a clean stop: the snapshot written at the stop, nothing to fold but the new demand.
The target is the crash figure at 1M events, within 2x of the same figure at 10k. Times are in
one process, after a warm-up on a small log (imports and first-time costs are not counted);
the new demand is recorded just before the start.

    python -m bench --only restart               # 10k and 1M events (about 4 minutes)
    python -m bench.restart --events 200000      # another large size
"""

from __future__ import annotations

import argparse
import gc
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from bench.history import steady_city
from bench.targets import Target
from routing.snapshots import SnapshotStore
from routing.worker import RoutingWorker
from services import config
from services.eventlog.sqlite import SqliteEventLog
from services.events.envelope import Event, encode
from services.events.ids import derived_id
from tests.unit.streams import T0, Stream

SMALL, LARGE = 10_000, 1_000_000
QUICK_SMALL, QUICK_LARGE = 10_000, 50_000
WARM_UP = 1_000


class LogWriter:
    """Writes a generated city into a SQLite log, up to a given length at a time."""

    def __init__(self, path: Path, total: int) -> None:
        SqliteEventLog(path, synchronous="OFF").close()  # the adapter's own schema
        self.path, self.offset = path, 0
        self._chunks: Iterator[list[Event]] = steady_city(total)
        self._left: list[Event] = []

    def write_to(self, length: int | None = None) -> int:
        """Write on until the log is `length` long (None: to the generator's end, a few
        events past the total, which finish the last decisions); returns its length."""
        conn = sqlite3.connect(self.path, isolation_level=None)
        conn.execute("PRAGMA synchronous=OFF")
        (self.offset,) = conn.execute(  # demands the benchmark recorded since sit there too
            'SELECT COALESCE(MAX("offset") + 1, 0) FROM events').fetchone()
        stop = length if length is not None else float("inf")
        try:
            while self.offset < stop:
                if not self._left:
                    self._left = next(self._chunks, [])
                    if not self._left:
                        break
                room = len(self._left) if length is None else length - self.offset
                take, self._left = self._left[:room], self._left[room:]
                # A worker that ran on the first part decided what it found undecided there:
                # the generator's copies of those decisions are not written again.
                marks = ",".join("?" * len(take))
                known = {row[0] for row in conn.execute(
                    f"SELECT event_id FROM events WHERE event_id IN ({marks})",
                    [e.event_id for e in take])}
                take = [e for e in take if e.event_id not in known]
                rows = [(self.offset + i, e.event_id, e.demand_id, e.type, encode(e))
                        for i, e in enumerate(take)]
                conn.execute("BEGIN")
                conn.executemany('INSERT INTO events ("offset", event_id, demand_id, type, '
                                 "data) VALUES (?,?,?,?,?)", rows)
                conn.execute("COMMIT")
                self.offset += len(rows)
        finally:
            conn.close()
        return self.offset


class _Watched(SqliteEventLog):
    """The log, noting when a decision caused by `awaited` is appended."""

    awaited: str = ""
    decided_at: float | None = None

    def append(self, events, *, partition=None):
        positions = super().append(events, partition=partition)
        if self.decided_at is None and any(e.causation_id == self.awaited for e in events):
            self.decided_at = time.perf_counter()
        return positions


def _restart(log: _Watched, store: SnapshotStore | None, n: int,
             every: int) -> tuple[float, RoutingWorker]:
    """Seconds from starting a worker to its decision on a demand recorded just before being
    in the log (a snapshot due at the start is written after that append)."""
    demand = Stream(demand_id=derived_id(T0, "restart-bench", str(n))).submit(district=6)
    log.append([demand])
    log.awaited, log.decided_at = demand.event_id, None
    gc.collect()
    start = time.perf_counter()
    worker = RoutingWorker(log, snapshots=store, snapshot_every=every)
    worker.start()
    while log.decided_at is None:
        worker.step(timeout=0.0)
    return log.decided_at - start, worker


def measure(workdir: Path, events: int, every: int) -> dict[str, float]:
    """The three restarts on a log of `events` events; snapshot write times besides."""
    path = workdir / f"city-{events}.sqlite3"
    store = SnapshotStore(workdir / f"snapshots-{events}.sqlite3")
    writer = LogWriter(path, events)
    out: dict[str, float] = {}
    started = time.perf_counter()
    writer.write_to(max(events - every, 0))
    with _Watched(path) as log:
        if writer.offset > 0:  # a worker that ran up to here, and snapshots
            out["full"], worker = _restart(log, store, 0, 10**12)
            out["full_events"] = writer.offset
            chunks = []
            while not chunks or worker.snapshot_in_progress:  # as after successive batches
                worker.save_snapshots(worker.snapshot_chunk)
                chunks.append(worker.last_snapshot[1] if worker.last_snapshot else 0.0)
            out["write_all"], out["write_chunk"] = sum(chunks), max(chunks)
            out["chunks"] = len(chunks)
            out["demands"] = len(worker.partitions[0].demands)
            worker.close()
            del worker
        writer.write_to()  # the tail the snapshot does not have: a crash, then a start
        out["written"] = time.perf_counter() - started
        out["crash"], worker = _restart(log, store, 1, every)
        out["tail"] = log.end_offsets()[0] - (worker.restored_from.get(0) or 0)
        out["write_changed"] = worker.last_snapshot[1] if worker.last_snapshot else 0.0
        out["changed"] = worker.last_snapshot[0] if worker.last_snapshot else 0
        if "full" not in out:  # no snapshot was due yet: this was a full fold
            out["full"], out["full_events"] = out["crash"], log.end_offsets()[0]
            out["demands"] = len(worker.partitions[0].demands)
        worker.close()  # a clean stop snapshots what changed
        del worker
        out["clean"], worker = _restart(log, store, 2, every)
        worker.close()
        out["events"] = log.end_offsets()[0]
    store.close()
    path.unlink()
    return out


def _line(m: dict[str, float]) -> str:
    return (f"{m['events']:9.0f} events   full fold {m['full']:6.2f} s "
            f"({m['full_events']:.0f} events)   after a crash {m['crash']:6.2f} s "
            f"(tail {m['tail']:.0f})   after a clean stop {m['clean']:6.3f} s")


def section(quick: bool, large: int = LARGE) -> list[Target]:
    small, large = (QUICK_SMALL, QUICK_LARGE) if quick else (SMALL, large)
    every = config.load().routing_snapshot_events or 10**12
    figures = {}
    with tempfile.TemporaryDirectory(prefix="sada-bench-restart-") as tmp:
        measure(Path(tmp), WARM_UP, every)  # first-time costs (imports, calendars) paid here
        for events in (small, large):
            figures[events] = m = measure(Path(tmp), events, every)
            print(_line(m), flush=True)
            if "write_all" in m:
                print(f"{'':9} snapshot of all {m['demands']:.0f} demands written in "
                      f"{m['write_all']:.1f} s (once, after a full fold) in {m['chunks']:.0f} "
                      f"chunks, one after each batch, the longest {m['write_chunk']:.2f} s; "
                      f"the one due at the "
                      f"start after the crash wrote the {m['changed']:.0f} changed in "
                      f"{m['write_changed']:.2f} s, after the decision; log built in "
                      f"{m['written']:.0f} s", flush=True)
    s, big = figures[small], figures[large]
    ratio = big["crash"] / s["crash"]
    label = f"{large / 1e6:g}M" if large >= 1e6 else f"{large / 1e3:g}k"
    return [Target("restart-1m-seconds", big["crash"],
                   f"{label} events, after a crash with a {big['tail']:.0f}-event tail, "
                   f"{ratio:.2f}x the {s['crash']:.2f} s at {s['events']:.0f} events "
                   f"(goal <= 2x: {'met' if ratio <= 2 else 'missed'}); full fold "
                   f"{big['full']:.1f} s; after a clean stop {big['clean']:.3f} s"
                   + ("" if big["events"] >= LARGE else "; not 1M: measured smaller"))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.restart", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=LARGE)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    for target in section(args.quick, args.events):
        print(target.line())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
