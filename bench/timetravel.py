"""Time travel: how long an answer "as of" takes as the log grows, beside a reference measured
in the same run.

For each size, a steady-state city (`bench/history.py`: about 2000 demands open at any time)
is written into a SQLite log, projected into a fresh SecantusDB database by the replay `sada
replay` runs, and snapshotted (`reporting/timetravel/snapshots.py`). Then, for random cuts in
the second half of each log (the sizes taking turns, cut by cut, so that whatever else the
machine does weighs on each alike), the reporting API answers a district department's queue
and the escalation board as of a position and as of a date, and one demand as of a position
(through the real Flask app, bearer token and all). The reference is what answering costs without
snapshots: folding the whole log up to the cut, in memory, with the shared fold.

    python -m bench.timetravel                       # 10k, 100k and 1M events (minutes)
    python -m bench.timetravel --sizes 10000,100000
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient
from pymongo import MongoClient
from pymongo.database import Database

from bench.history import write_log
from reporting.app import create_app
from reporting.replay import replay
from reporting.timetravel.moments import jalali
from reporting.timetravel.snapshots import EVERY, Snapshotter
from sada import processes
from services import config
from services.domain.demand import apply
from services.eventlog.sqlite import SqliteEventLog
from services.events.envelope import format_time
from tests.auth_helpers import ENV, authorize


def _ms(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"{statistics.median(ordered) * 1000:7.1f} /{p95 * 1000:7.1f}"


def _timed(call) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def reference_fold(log: SqliteEventLog, end: int) -> float:
    """Seconds to fold the log from offset 0 up to `end` with the shared fold, in memory."""
    start = time.perf_counter()
    states: dict = {}
    for record in log.scan({0: 0}, {0: end}):
        state = apply(states.get(record.event.demand_id), record.event)
        if state is not None:
            states[record.event.demand_id] = state
    return time.perf_counter() - start


@dataclass
class Size:
    """One generated log, projected and snapshotted, ready to be asked."""

    events: int
    path: Path
    db: Database
    log: SqliteEventLog
    http: FlaskClient
    cuts: list[int]
    facts: dict[str, Any]
    times: dict[str, list[float]] = field(
        default_factory=lambda: {"queue": [], "board": [], "demand": []})


def build(n: int, client: MongoClient, workdir: Path, queries: int, every: int) -> Size:
    path = workdir / f"events-{n}.sqlite3"
    started = time.perf_counter()
    length = write_log(path, n)
    generated = time.perf_counter() - started
    db = client[f"bench_asof_{n}"]
    client.drop_database(db.name)
    log = SqliteEventLog(path)
    stats = replay(log, db)
    started = time.perf_counter()
    snapshots = Snapshotter(log, db, every=every)
    snapshots.store.ensure_indexes()
    written = snapshots.catch_up()
    app = create_app(config.load(ENV), log=log, db=db)
    rng = random.Random(n)
    cuts = sorted(rng.randrange(length // 2, length) for _ in range(queries))
    rng.shuffle(cuts)
    return Size(length, path, db, log, authorize(app.test_client(), "auditor"), cuts,
                {"generated": generated, "replay": stats, "snapshots": written,
                 "snapshot_seconds": time.perf_counter() - started})


def ask(size: Size, k: int) -> None:
    """Time the three questions at cut k."""
    [r] = size.log.read({0: k}, limit=1)
    moment = format_time(r.event.recorded_at)
    http, times = size.http, size.times
    times["queue"].append(_timed(lambda: _ok(http.get(
        f"/asof/queues/{k % 22 + 1}/transport", query_string={"at": f"0:{k}"}))))
    times["board"].append(_timed(lambda: _ok(http.get(
        "/asof/escalations", query_string={"at": jalali(moment)}))))
    times["demand"].append(_timed(lambda: _ok(http.get(
        f"/asof/demands/{r.event.demand_id}", query_string={"at": f"0:{k}"}),
        allow_404=True)))


def _ok(response, allow_404: bool = False):
    if response.status_code != 200 and not (allow_404 and response.status_code == 404):
        raise RuntimeError(f"{response.status_code}: {response.get_data(as_text=True)}")
    return response


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.timetravel", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--queries", type=int, default=30, help="cuts per size")
    parser.add_argument("--references", type=int, default=3, help="reference folds per size")
    parser.add_argument("--every", type=int, default=EVERY, help="offsets between snapshots")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="sada-bench-asof-") as tmp:
        workdir = Path(tmp)
        server = processes.secantus(workdir / "secantus", processes.free_port()).start()
        client: MongoClient = MongoClient(f"mongodb://127.0.0.1:{server.port}")
        built: list[Size] = []
        try:
            for n in sizes:
                built.append(build(n, client, workdir, args.queries, args.every))
                f = built[-1].facts
                print(f"built {built[-1].events} events: generated in {f['generated']:.0f} s, "
                      f"projected by replay at {f['replay']['rate']} events/s, "
                      f"{f['snapshots']} snapshots in {f['snapshot_seconds']:.0f} s", flush=True)
            # The sizes take turns, cut by cut, so that whatever else the machine is doing
            # weighs on each of them alike.
            for i in range(args.queries):
                for size in built:
                    ask(size, size.cuts[i])
            reference = {size.events: [reference_fold(size.log, k + 1)
                                       for k in sorted(size.cuts)[-args.references:]]
                         for size in built}
            print(f"time travel: a steady-state city (about 2000 demands open), snapshots "
                  f"every {args.every} offsets, {args.queries} random cuts in the second half "
                  "of each log, the sizes taking turns; times in ms, median / p95")
            print(f"{'events':>9} | {'queue as of position':>20} | {'board as of Jalali date':>23} "
                  f"| {'one demand':>17} | {'reference: fold 0..cut':>22} | ratio")
            for size in built:
                ref = statistics.median(reference[size.events])
                answer = statistics.median(size.times["queue"])
                print(f"{size.events:>9} | {_ms(size.times['queue']):>20} | "
                      f"{_ms(size.times['board']):>23} | {_ms(size.times['demand']):>17} | "
                      f"{ref * 1000:>19.1f} ms | {ref / answer:5.0f}x", flush=True)
        finally:
            for size in built:
                size.log.close()
            client.close()
            server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
