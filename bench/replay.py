"""`sada replay`'s rate: rebuilding every read model from position zero, on the demo history
and on a generated one (`bench/history.py`), beside a reference measured in the same run.

The replay is `reporting.replay.replay`, what `sada replay` runs, into a fresh database of a
SecantusDB started for the run. The reference is the floor any replay stands on: reading the
same log and folding every event with the shared fold, in memory, writing nothing.

    python -m bench.replay                      # the demo, then 1,000,000 events (minutes)
    python -m bench.replay --events 100000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from pymongo import MongoClient

from bench.history import write_log
from reporting.replay import replay
from sada import processes
from sada.demo import generate
from services.domain.demand import apply
from services.eventlog.sqlite import SqliteEventLog
from services.events.envelope import now


def fold_rate(log: SqliteEventLog) -> float:
    start = time.perf_counter()
    states: dict = {}
    n = 0
    for record in log.scan():
        state = apply(states.get(record.event.demand_id), record.event)
        if state is not None:
            states[record.event.demand_id] = state
        n += 1
    return n / (time.perf_counter() - start)


def measure(name: str, path: Path, mongo_url: str) -> None:
    client: MongoClient = MongoClient(mongo_url)
    db = client[f"bench_replay_{path.stem.replace('-', '_')}"]
    client.drop_database(db.name)
    with SqliteEventLog(path) as log:
        stats = replay(log, db)
        reference = fold_rate(log)
    client.drop_database(db.name)
    client.close()
    print(f"{name:<28} {stats['events']:>9} events {stats['demands']:>8} demands "
          f"{stats['seconds']:>8.1f} s {stats['rate']:>7} events/s | reference (fold in "
          f"memory, no writes) {reference:>7.0f} events/s", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.replay", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="sada-bench-replay-") as tmp:
        workdir = Path(tmp)
        server = processes.secantus(workdir / "secantus", processes.free_port()).start()
        try:
            url = f"mongodb://127.0.0.1:{server.port}"
            print("sada replay: every read model rebuilt from position zero into a fresh "
                  "SecantusDB database")
            demo = workdir / "demo.sqlite3"
            with SqliteEventLog(demo, synchronous="OFF") as log:
                events = generate(now())
                for i in range(0, len(events), 500):
                    log.append(events[i:i + 500])
            measure("demo history", demo, url)
            generated = workdir / "generated.sqlite3"
            write_log(generated, args.events)
            measure("generated steady-state city", generated, url)
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
