"""The replay section's arithmetic (a million events' time from the rate measured, rates
written short enough for a target line) and its replay with the server's part removed."""

import gc

import pytest
from pymongo import InsertOne, ReplaceOne

from bench.e2e import rate_without
from bench.replay import MILLION, rate_text, seconds_for
from bench.sink import SinkCollection, SinkDatabase
from bench.sink_projector import CountingProjector, in_queue, read_count
from reporting.history import HISTORY
from reporting.readmodels import DEMANDS
from reporting.replay import replay
from services.domain.demand import apply
from services.eventlog.memory import MemoryEventLog
from tests.unit.streams import Router, lifecycle


def test_a_million_events_take_the_measured_time_scaled_linearly():
    assert seconds_for(MILLION, 100_000, 55.0) == pytest.approx(550.0)
    assert seconds_for(MILLION, 2_000_000, 80.0) == pytest.approx(40.0)


def test_nothing_measured_cannot_be_extrapolated():
    with pytest.raises(ValueError):
        seconds_for(MILLION, 0, 1.0)
    with pytest.raises(ValueError):
        seconds_for(MILLION, 10, 0.0)


def test_rates_are_written_in_k_and_m():
    assert rate_text(950) == "950/s"
    assert rate_text(20_812) == "20.8k/s"
    assert rate_text(67_000) == "67k/s"
    assert rate_text(1_234_567) == "1.23M/s"



def test_the_replay_without_a_server_writes_every_demand_and_keeps_nothing() -> None:
    """bench/sink.py: the real replay, each write encoded as the driver would, none kept."""
    log = MemoryEventLog()
    router = Router()
    router.run(lifecycle(12))
    log.append(router.log)
    db = SinkDatabase()
    stats = replay(log, db, batch=7)  # type: ignore[arg-type]
    assert stats["events"] == sum(1 for _ in log.scan())
    assert stats["demands"] == 12
    assert db[DEMANDS].bytes > 0 and db[HISTORY].bytes > 0
    assert db[DEMANDS].find() == []


def test_a_replay_runs_without_the_cycle_collector_and_gives_it_back(monkeypatch) -> None:
    """The collector's full passes over a replay's heap cost 40 % of it and free nothing: it
    is off while batches are written, on again (and run once) afterwards."""
    log = MemoryEventLog()
    router = Router()
    router.run(lifecycle(3))
    log.append(router.log)
    db = SinkDatabase()
    seen: list[bool] = []
    write = SinkCollection.insert_many
    monkeypatch.setattr(SinkCollection, "insert_many", lambda self, docs, ordered=True: (
        seen.append(gc.isenabled()) or write(self, docs, ordered)))
    assert gc.isenabled()
    replay(log, db, batch=4)  # type: ignore[arg-type]
    assert seen and not any(seen)
    assert gc.isenabled()


def test_the_end_to_end_bound_leaves_out_one_process_cpu() -> None:
    cpu = {"intake": 2.0, "secantusdb": 1.0, "client": 1.0}
    assert rate_without(cpu, 1000, 2, "") == pytest.approx(500.0)
    assert rate_without(cpu, 1000, 2, "secantusdb") == pytest.approx(2000 / 3)
    with pytest.raises(ValueError):
        rate_without({}, 1000, 2, "")


def test_a_sink_keeps_the_ids_whose_last_document_was_watched() -> None:
    coll = SinkDatabase(watch={DEMANDS: lambda doc: doc["open"]})[DEMANDS]
    coll.bulk_write([InsertOne({"_id": "a", "open": True}), InsertOne({"_id": "b", "open": True})])
    coll.bulk_write([ReplaceOne({"_id": "a"}, {"_id": "a", "open": False})])
    assert coll.watched == {"b"}


def test_the_sink_projector_counts_what_a_reader_of_the_queue_would_find(tmp_path) -> None:
    """bench/sink_projector.py, batch by batch, against the demands folded apart from it."""
    router = Router()
    router.run(lifecycle(6))
    log = MemoryEventLog()
    log.append(router.log)
    records = list(log.scan())
    queue = apply(apply(None, records[0].event), records[1].event).queue  # as routed
    assert queue
    projector = CountingProjector(log, SinkDatabase(watch={DEMANDS: in_queue(queue)}),
                                  tmp_path / "count")
    states: dict = {}
    seen = set()
    for i in range(0, len(records), 5):
        batch = records[i:i + 5]
        projector.apply_batch(batch)
        for r in batch:
            e = r.event
            states[e.demand_id] = apply(states.get(e.demand_id), e) or states.get(e.demand_id)
        expected = sum(1 for s in states.values() if s is not None and s.queue == queue
                       and s.is_open and s.level_index == 0)
        seen.add(expected)
        assert read_count(tmp_path / "count") == expected
    assert len(seen) > 1  # the count went up and down
