"""History in chunks, read as events: how a batch's events are grouped, how a filter selects
chunks and matches events, and how a cursor sorts, limits and projects (no I/O)."""

import json
import zlib

import pytest
import zstandard

from reporting.history import (
    EventCursor,
    chunk_docs,
    chunk_filter,
    event_doc,
    events_of,
    matches,
    project,
    record_chunks,
)
from services.eventlog.port import Record
from services.events.envelope import encode
from tests.unit.streams import Router, lifecycle


def entry(demand: str, offset: int, type_: str = "ProgressNoted", cause: str | None = None,
          partition: int = 0) -> dict:
    return {"_id": f"e{partition}-{offset}", "demand_id": demand, "partition": partition,
            "offset": offset, "type": type_, "causation_id": cause,
            "payload": {"note": "n", "rule_set": {"big": True}}}


def test_a_batch_makes_one_chunk_per_demand_and_partition_in_log_order():
    events = [entry("a", 0, "DemandSubmitted"), entry("b", 1, "DemandSubmitted"),
              entry("a", 2, "DemandRouted", cause="e0-0"), entry("a", 3),
              entry("a", 4, partition=1)]
    chunks = {c["_id"]: c for c in chunk_docs(events)}
    assert sorted(chunks) == ["a:0:0-3", "a:1:4-4", "b:0:1-1"]
    a = chunks["a:0:0-3"]
    assert [e["offset"] for e in events_of(a)] == [0, 2, 3]
    assert events_of(a)[1] == events[2]
    assert (a["demand_id"], a["partition"], a["offset"], a["last"]) == ("a", 0, 0, 3)
    assert a["event_ids"] == ["e0-0", "e0-2", "e0-3"]
    assert a["causations"] == ["e0-0"]
    assert a["types"] == ["DemandRouted", "DemandSubmitted", "ProgressNoted"]


def test_a_long_run_of_one_demand_is_split_and_each_id_names_its_events():
    chunks = chunk_docs([entry("s", i) for i in range(5)], size=2)
    assert [c["_id"] for c in chunks] == ["s:0:0-1", "s:0:2-3", "s:0:4-4"]
    assert sum(len(events_of(c)) for c in chunks) == 5


def test_a_filter_selects_chunks_by_their_fields_and_leaves_the_rest_to_matching():
    assert chunk_filter({"demand_id": "a", "type": {"$in": ["X", "Y"]}, "offset": {"$gte": 3},
                         "causation_id": "c", "_id": "e"}) == {
        "demand_id": "a", "types": {"$in": ["X", "Y"]}, "causations": "c", "event_ids": "e"}
    assert chunk_filter({"payload.note": "n"}) == {}


def test_events_match_equalities_ins_comparisons_and_dotted_paths():
    e = entry("a", 5, "DemandRouted", cause="c1")
    assert matches(e, {"demand_id": "a", "type": {"$in": ["DemandRouted"]}})
    assert matches(e, {"offset": {"$gte": 5, "$lt": 6}, "payload.note": "n"})
    assert not matches(e, {"offset": {"$gt": 5}})
    assert not matches(e, {"causation_id": "c2"})
    assert not matches(entry("a", 1), {"causation_id": {"$gte": "a"}})  # None compares false
    with pytest.raises(ValueError):
        matches(e, {"offset": {"$regex": "5"}})


def test_projections_keep_or_drop_fields_without_touching_the_stored_event():
    e = entry("a", 1)
    assert project(e, {"_id": 1}) == {"_id": "e0-1"}
    dropped = project(e, {"payload.rule_set": 0})
    assert dropped["payload"] == {"note": "n"}
    assert e["payload"]["rule_set"] == {"big": True}


def test_a_cursor_sorts_by_each_key_in_turn_then_limits():
    events = [entry("a", 3), entry("a", 1, partition=1), entry("a", 2), entry("a", 0, partition=1)]
    ordered = [(e["partition"], e["offset"]) for e in EventCursor(iter(events), None)]
    assert ordered == [(0, 2), (0, 3), (1, 0), (1, 1)]
    newest = EventCursor(iter(events), None).sort([("partition", -1), ("offset", -1)]).limit(2)
    assert [(e["partition"], e["offset"]) for e in newest] == [(1, 1), (1, 0)]


def test_a_batch_kept_as_the_logs_bytes_reads_as_the_entries_history_shows() -> None:
    """`record_chunks` keeps each event as the log holds it; `events_of` makes the entries
    `event_doc` would have made, whatever the log's spelling of the time or the actor."""
    router = Router()
    router.run(lifecycle(6))
    records = [Record(i % 2, i, encode(e)) for i, e in enumerate(router.log)]
    odd = json.loads(records[0].raw)
    odd["recorded_at"] = odd["recorded_at"][:-1] + "+00:00"  # parses; not the log's format
    del odd["actor"]["department"]
    records[0] = Record(records[0].partition, records[0].offset, json.dumps(odd).encode())
    pairs = [(r, r.event) for r in records]
    chunks = record_chunks(pairs, size=3)
    read = sorted((e for c in chunks for e in events_of(c)), key=lambda e: e["offset"])
    assert read == [event_doc(r, e) for r, e in pairs]
    by_id = {c["_id"]: c for c in chunks}
    assert len(by_id) == len(chunks)
    for chunk in chunks:
        entries = events_of(chunk)
        assert chunk["event_ids"] == [e["_id"] for e in entries]
        assert (chunk["offset"], chunk["last"]) == (entries[0]["offset"], entries[-1]["offset"])
        assert chunk["types"] == sorted({e["type"] for e in entries})
        assert chunk["causations"] == sorted({e["causation_id"] for e in entries
                                              if e["causation_id"]})


def test_chunks_are_zstandard_frames_and_chunks_written_with_zlib_still_read() -> None:
    router = Router()
    router.run(lifecycle(2))
    pairs = [(r, r.event) for r in (Record(0, i, encode(e)) for i, e in enumerate(router.log))]
    (new, *_) = record_chunks(pairs)
    assert bytes(new["data"]).startswith(b"\x28\xb5\x2f\xfd")  # a Zstandard frame
    old = {**new, "data": zlib.compress(zstandard.ZstdDecompressor().decompress(new["data"]), 1)}
    assert events_of(old) == events_of(new)
    assert events_of(new)[0] == event_doc(*pairs[0])
