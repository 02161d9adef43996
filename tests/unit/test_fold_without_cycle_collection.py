"""Folds of a whole log run with Python's cycle collector paused (services/heap.py): its full
passes over the heap such a fold builds cost a replay 40 % and a routing worker's fold a
third, and found almost nothing to free. Afterwards it runs again."""

from __future__ import annotations

import gc

from routing.worker import RoutingWorker
from services.eventlog.memory import MemoryEventLog
from services.heap import cycle_collection_paused
from tests.unit.streams import Router, lifecycle


def test_the_pause_gives_the_collector_back_however_the_block_ends() -> None:
    assert gc.isenabled()
    try:
        with cycle_collection_paused():
            assert not gc.isenabled()
            raise KeyError("out")
    except KeyError:
        pass
    assert gc.isenabled()
    gc.disable()
    try:
        with cycle_collection_paused():
            pass
        assert not gc.isenabled()  # it was off before: it stays off
    finally:
        gc.enable()


def test_a_routing_workers_fold_of_the_log_runs_without_the_cycle_collector() -> None:
    log = MemoryEventLog()
    router = Router()
    router.run(lifecycle(4))
    log.append(router.log)
    worker = RoutingWorker(log)
    seen: list[bool] = []
    decode = worker.dead_letters.decode
    worker.dead_letters.decode = lambda record: (  # type: ignore[method-assign]
        seen.append(gc.isenabled()) or decode(record))
    worker.start()
    worker.step(timeout=0.0)
    assert len(seen) >= len(router.log) and not any(seen[:len(router.log)])
    assert gc.isenabled()
    worker.close()
