"""What headquarters and the departments wait for (targets `board-1m-ms`, `reports-1m-ms`,
`queue-1m-ms`, `escalations-1m-ms`, `board-growth`): the board page, the `/reports` calls,
`/escalations` and a department queue, on logs of 10k, 100k and 1M events of a generated city
(`bench/history.py`, ending with a clock tick) projected by the real replay into a SecantusDB
started for the run.

Each figure is the median of several calls through the reporting app (Flask's test client,
headquarters' token; a department's queue with its own), printed beside the time to read one
small document by id in the same run. The board and reports are timed with the tallies read
afresh on every call (as when the projector moved since the last view), the worst case.

    python -m bench --only readside              # 10k, 100k and 1M events (minutes)
    python -m bench --only readside --quick      # 2k and 10k: no 1M targets measured
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pymongo import MongoClient

from bench.history import write_log
from bench.targets import Target
from reporting.app import create_app
from reporting.readmodels import DEMANDS
from reporting.replay import replay
from routing.facts import tick
from sada import processes
from services import config
from services.eventlog.sqlite import SqliteEventLog
from tests.auth_helpers import MASTER_KEY, SECRET, authorize

SIZES, QUICK_SIZES, MILLION = (10_000, 100_000, 1_000_000), (2_000, 10_000), 1_000_000
CALLS = 9
REPORTS = ("/reports/board", "/reports/sla", "/reports/fairness", "/reports/trends",
           "/reports/mix")


def median_ms(call: Callable[[], Any], calls: int = CALLS) -> float:
    call()  # warm: connections, templates
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def build(workdir: Path, events: int, mongo_url: str, db_name: str) -> Path:
    path = workdir / f"city-{events}.sqlite3"
    start = time.perf_counter()
    written = write_log(path, events)
    with SqliteEventLog(path) as log:
        (last,) = log.read({0: written - 1}, limit=1)
        log.append([tick(last.event.recorded_at)])  # the stream's time: its last moment
        client: MongoClient = MongoClient(mongo_url)
        client.drop_database(db_name)
        stats = replay(log, client[db_name])
        client.close()
    print(f"log: {written + 1} events, {stats['demands']} demands, written and projected in "
          f"{time.perf_counter() - start:.0f} s", flush=True)
    return path


def measure(workdir: Path, path: Path, mongo_url: str, db_name: str) -> dict[str, float]:
    client: MongoClient = MongoClient(mongo_url)
    db = client[db_name]
    settings = config.Settings(data_dir=workdir, auth_secret=SECRET, master_key=MASTER_KEY)
    with SqliteEventLog(path) as log:
        app = create_app(settings, log, db=db)
        models = app.extensions["sada.reporting"].models
        hq = authorize(app.test_client(), "headquarters")
        some = db[DEMANDS].find_one({}, {"_id": 1})["_id"]
        busiest = next(db[DEMANDS].aggregate([
            {"$match": {"open": True, "escalated": False}},
            {"$group": {"_id": "$queue", "n": {"$sum": 1}}}, {"$sort": {"n": -1}},
            {"$limit": 1}]))
        district, department = busiest["_id"].split("/")
        staff = authorize(app.test_client(), "department_staff", int(district), department)

        def fresh(url: str) -> Callable[[], Any]:
            def call() -> None:
                models.tallies._seen = None  # the projector moved since the last view
                answer = hq.get(url)
                assert answer.status_code == 200, (url, answer.status_code)
            return call

        def get(c, url: str) -> Callable[[], Any]:
            def call() -> None:
                answer = c.get(url)
                assert answer.status_code == 200, (url, answer.status_code)
            return call

        out = {
            "reference": median_ms(lambda: db[DEMANDS].find_one({"_id": some})),
            "board": median_ms(fresh("/")),
            "board_cached": median_ms(get(hq, "/")),
            "reports": max(median_ms(fresh(url)) for url in REPORTS),
            "queue": median_ms(get(staff, f"/queues/{district}/{department}")),
            "escalations": median_ms(get(hq, "/escalations")),
            "open_in_queue": busiest["n"],
        }
    client.drop_database(db_name)
    client.close()
    return out


def section(quick: bool) -> list[Target]:
    sizes = QUICK_SIZES if quick else SIZES
    results: dict[int, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="sada-bench-readside-") as tmp:
        workdir = Path(tmp)
        server = processes.secantus(workdir / "secantus", processes.free_port()).start()
        url = f"mongodb://127.0.0.1:{server.port}"
        try:
            for events in sizes:
                path = build(workdir, events, url, f"bench_read_{events}")
                m = results[events] = measure(workdir, path, url, f"bench_read_{events}")
                print(f"{events:>9} events: board {m['board']:.0f} ms (tallies unchanged: "
                      f"{m['board_cached']:.0f} ms), slowest report {m['reports']:.0f} ms, "
                      f"queue of {m['open_in_queue']:.0f} {m['queue']:.0f} ms, escalations "
                      f"{m['escalations']:.0f} ms; reference: one document by id "
                      f"{m['reference']:.2f} ms", flush=True)
                path.unlink()
        finally:
            server.stop()
    if MILLION not in results:
        print("1M events not measured (--quick): no 1M targets")
        return []
    big, small = results[MILLION], results[sizes[0]]
    ref = f"one document by id {big['reference']:.2f} ms"
    return [
        Target("board-1m-ms", big["board"], f"10k: {small['board']:.0f} ms; {ref}"),
        Target("reports-1m-ms", big["reports"], f"slowest of {len(REPORTS)}; 10k: "
               f"{small['reports']:.0f} ms"),
        Target("queue-1m-ms", big["queue"], f"{big['open_in_queue']:.0f} open; 10k: "
               f"{small['queue']:.0f} ms"),
        Target("escalations-1m-ms", big["escalations"],
               f"10k: {small['escalations']:.0f} ms"),
        Target("board-growth", big["board"] / small["board"],
               f"1M {big['board']:.0f} ms / 10k {small['board']:.0f} ms"),
    ]
