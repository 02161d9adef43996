"""`sada replay`'s rate (targets `replay-ratio` and `replay-1m-seconds`): rebuilding every read
model from position zero of a generated city's log (`bench/history.py`: demands with routing's
real decisions), beside a reference measured in the same run on the same log.

The replay is `reporting.replay.replay`, what `sada replay` runs, into a fresh database of a
SecantusDB started for the run. The reference is the floor any replay stands on: reading the
same log and decoding every record, writing nothing, without Python's cycle collector as the
replay runs. Folding every event in memory with the shared fold is printed too, and the same
replay with the server's part removed (`bench/sink.py`: every document encoded as the driver
would, none sent): the figure this code reaches where the database costs nothing, beside the
one SecantusDB allows.

    python -m bench --only replay               # a million events (about 7 minutes)
    python -m bench --only replay --quick       # 5,000; the million is extrapolated
    python -m bench.replay --events 100000      # any other size
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from pymongo import MongoClient

from bench.history import write_log
from bench.sink import SinkDatabase
from bench.targets import Target
from reporting.replay import replay
from sada import processes
from services.domain.demand import apply
from services.eventlog.sqlite import SqliteEventLog
from services.heap import cycle_collection_paused

MILLION, QUICK_EVENTS = 1_000_000, 5_000
EVENTS = MILLION  # measured, not extrapolated


def seconds_for(events: int, measured_events: int, measured_seconds: float) -> float:
    """Seconds `events` take at the rate measured (linear: a replay's cost is per event)."""
    if measured_events <= 0 or measured_seconds <= 0:
        raise ValueError("nothing measured to extrapolate from")
    return events * measured_seconds / measured_events


def rate_text(per_second: float) -> str:
    """A rate in a line's width: 950/s, 20.8k/s, 1.2M/s."""
    for unit, size in (("M", 1e6), ("k", 1e3)):
        if per_second >= size:
            return f"{per_second / size:.3g}{unit}/s"
    return f"{per_second:.0f}/s"


def read_decode_rate(log: SqliteEventLog) -> float:
    """Events per second reading the whole log and decoding every record."""
    start = time.perf_counter()
    n = 0
    for record in log.scan():
        record.event  # noqa: B018 - decoding is what is measured
        n += 1
    return n / (time.perf_counter() - start)


def fold_rate(log: SqliteEventLog) -> float:
    """Events per second reading, decoding and folding every event in memory, no writes."""
    start = time.perf_counter()
    states: dict = {}
    n = 0
    for record in log.scan():
        state = apply(states.get(record.event.demand_id), record.event)
        if state is not None:
            states[record.event.demand_id] = state
        n += 1
    return n / (time.perf_counter() - start)


def measure(path: Path, mongo_url: str) -> dict[str, float]:
    """Replay the log at `path` into a fresh database, and the references on the same log."""
    client: MongoClient = MongoClient(mongo_url)
    db = client["bench_replay"]
    client.drop_database(db.name)
    try:
        with SqliteEventLog(path) as log:
            # The references run as the replay does, without the cycle collector
            # (`cycle_collection_paused`): the floor gets what the replay gets.
            with cycle_collection_paused():
                reference = max(read_decode_rate(log) for _ in range(2))  # the warmer of two
                fold = fold_rate(log)
            sink = replay(log, SinkDatabase())  # type: ignore[arg-type]
            stats = replay(log, db)
    finally:
        client.drop_database(db.name)
        client.close()
    return {"events": stats["events"], "demands": stats["demands"],
            "seconds": stats["seconds"], "rate": stats["events"] / stats["seconds"],
            "reference": reference, "fold": fold,
            "sink_rate": sink["events"] / sink["seconds"], "sink_seconds": sink["seconds"]}


def section(quick: bool, events: int = EVENTS) -> list[Target]:
    events = QUICK_EVENTS if quick else events
    with tempfile.TemporaryDirectory(prefix="sada-bench-replay-") as tmp:
        workdir = Path(tmp)
        path = workdir / "city.sqlite3"
        start = time.perf_counter()
        written = write_log(path, events)
        print(f"log: {written} events of a generated city, written in "
              f"{time.perf_counter() - start:.0f} s", flush=True)
        server = processes.secantus(workdir / "secantus", processes.free_port()).start()
        try:
            m = measure(path, f"mongodb://127.0.0.1:{server.port}")
        finally:
            server.stop()
    ratio = m["rate"] / m["reference"]
    print(f"reference  read + decode the log            {m['reference']:9.0f} events/s")
    print(f"           + fold in memory, no writes      {m['fold']:9.0f} events/s")
    sink_ratio = m["sink_rate"] / m["reference"]
    print(f"sada replay, the server's part removed      {m['sink_rate']:9.0f} events/s"
          f"   in {m['sink_seconds']:.1f} s   ratio to reference {sink_ratio:.3f}")
    print(f"sada replay into SecantusDB                 {m['rate']:9.0f} events/s"
          f"   {m['events']:.0f} events -> {m['demands']:.0f} demands in {m['seconds']:.1f} s"
          f"   ratio to reference {ratio:.3f}")
    million = seconds_for(MILLION, int(m["events"]), m["seconds"])
    how = (f"measured on {m['events']:.0f} events" if m["events"] >= MILLION
           else f"extrapolated from {m['events']:.0f} events, not measured")
    sink_million = seconds_for(MILLION, int(m["events"]), m["sink_seconds"])
    print(f"1M events: {million:.0f} s, {how}; without the server's part {sink_million:.0f} s")
    return [
        Target("replay-ratio", ratio,
               f"replay {rate_text(m['rate'])}, read+decode {rate_text(m['reference'])}",
               server_removed=sink_ratio),
        Target("replay-1m-seconds", million, how, server_removed=sink_million),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.replay", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=EVENTS)
    args = parser.parse_args(argv)
    for target in section(False, args.events):
        print(target.line())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
