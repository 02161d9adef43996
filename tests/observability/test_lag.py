"""sada_consumer_lag is the log beyond a consumer's position in the partitions it holds,
for the routing worker and the projector, over a real log and a real MongoDB."""

from __future__ import annotations

import threading
import time

from prometheus_client import REGISTRY

from reporting.projector import Projector
from routing.worker import RoutingWorker
from services.eventlog.sqlite import SqliteEventLog
from tests.integration.test_reporting_stream import append_all, city
from tests.unit.streams import lifecycle


def lag(consumer: str) -> float | None:
    return REGISTRY.get_sample_value("sada_consumer_lag", {"consumer": consumer})


def test_the_routing_workers_lag_counts_what_it_has_not_read_yet(tmp_path):
    with SqliteEventLog(tmp_path / "events.sqlite3") as log:
        log.append(lifecycle(10))  # 50 requests, none decided
        worker = RoutingWorker(log, max_records=10)
        worker.lag.interval = 0
        worker.start()  # folds the 50, decides them: 50 decisions it has not read back yet
        assert lag("routing-worker") == 50
        worker.step(timeout=0)
        assert lag("routing-worker") == 40
        worker.drain()
        assert lag("routing-worker") == 0
        log.append(lifecycle(2, first=10))
        worker.lag.update(worker.position, worker.partitions, force=True)
        assert lag("routing-worker") == 10
        worker.close()


def test_the_projectors_lag_follows_its_position(tmp_path, mongo_db):
    events = city(30, 90, seed=5)
    with SqliteEventLog(tmp_path / "events.sqlite3") as log:
        append_all(log, events)
        projector = Projector(log, mongo_db)
        projector.lag.interval = 0
        stop = threading.Event()
        runner = threading.Thread(target=projector.run, args=(stop,),
                                  kwargs={"batch": 25, "poll_timeout": 0.05})
        runner.start()
        deadline = time.monotonic() + 30
        while projector.models.checkpoint("reporting").get(0) != len(events) or \
                lag("reporting-projector") != 0:
            assert time.monotonic() < deadline, "the projector did not catch up"
            time.sleep(0.02)
        stop.set()
        runner.join(10)
        assert projector.position == {0: len(events)}

        append_all(log, city(3, 0, seed=6))
        assert projector.lag.update(projector.position, [0], force=True) == 6
        assert lag("reporting-projector") == 6
        # Assigned again: it starts over from the checkpoint, not from a stale position.
        projector.position[0] = 1
        assert projector.start_offsets([0]) == {0: len(events)}
        assert projector.position == {0: len(events)}
