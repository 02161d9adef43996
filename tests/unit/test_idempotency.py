"""Idempotency keys scoped to their caller and bound to their body (services/idempotency.py),
over the in-memory log: the binding is read back from the log, so a restart keeps it."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest

from services.eventlog.memory import MemoryEventLog
from services.eventlog.port import Record
from services.events.envelope import Actor, make
from services.events.ids import ULID_PATTERN, id_from_key, new_id
from services.idempotency import KeyedWrites, KeyReused

SECRET = "unit-test-secret"
CLERK_21 = Actor("intake_clerk", "clerk-21", 21)
CLERK_5 = Actor("intake_clerk", "clerk-5", 5)
NOTE = {"note": "پیمانکار تعیین شد"}
AT = datetime(2026, 12, 1, 9, tzinfo=UTC)


def _append(log: MemoryEventLog, event_id: str, demand_id: str, actor: Actor = CLERK_21):
    event = make("ProgressNoteSubmitted", demand_id, NOTE, actor=actor, event_id=event_id,
                 recorded_at=AT)
    return log.append([event])[0]


def test_a_key_is_its_callers_and_its_bodys():
    keys = KeyedWrites(MemoryEventLog(), SECRET)
    one = keys.keyed("demand", CLERK_21, "item-7", {"title": "a"})
    assert keys.keyed("demand", CLERK_21, "item-7", {"title": "a"}) == one
    assert keys.keyed("demand", CLERK_5, "item-7", {"title": "a"}).binding != one.binding
    assert keys.keyed("meeting", CLERK_21, "item-7", {"title": "a"}).binding != one.binding
    other_body = keys.keyed("demand", CLERK_21, "item-7", {"title": "b"})
    assert other_body.binding == one.binding and other_body.fingerprint != one.fingerprint
    assert other_body.stream_id("demand") != one.stream_id("demand")
    # the same actor in another scope (another district's token) is another caller
    assert keys.keyed("demand", Actor("intake_clerk", "clerk-21", 5), "item-7",
                      {"title": "a"}).binding != one.binding


def test_keyed_ids_are_ulids_told_apart_from_time_based_ones():
    keys = KeyedWrites(MemoryEventLog(), SECRET)
    for n in range(200):
        keyed = keys.keyed("demand", CLERK_21, f"k{n}", {"n": n})
        assert re.match(ULID_PATTERN, keyed.event_id)
        assert re.match(ULID_PATTERN, keyed.stream_id("demand"))
        assert keyed.event_id[0] in "4567"
    assert new_id()[0] == "0"


def test_the_body_is_hashed_with_the_secret_and_a_rotation_never_duplicates():
    body = {"requester": {"national_id": "0012345679"}}
    log = MemoryEventLog()
    before = KeyedWrites(log, SECRET).keyed("demand", CLERK_21, "k", body)
    after = KeyedWrites(log, "rotated").keyed("demand", CLERK_21, "k", body)
    assert before.fingerprint != after.fingerprint  # no guess of the body can be tested
    assert before.binding == after.binding
    _append(log, before.event_id, before.stream_id("demand"))
    with pytest.raises(KeyReused):  # the retry across the rotation: refused, not recorded
        KeyedWrites(log, "rotated").seen(after)


def test_the_log_holds_the_binding_and_a_restart_reads_it_back():
    log = MemoryEventLog(partitions=3)
    keys = KeyedWrites(log, SECRET)
    demand = new_id()
    keyed = keys.keyed(f"request/notes/{demand}", CLERK_21, "note-1", NOTE)
    assert keys.seen(keyed) is None
    position = _append(log, keyed.event_id, demand)
    for memory in (keys, KeyedWrites(log, SECRET)):  # the same process, and after a restart
        seen = memory.seen(keyed)
        assert (seen.event_id, seen.stream_id, seen.position) == (keyed.event_id, demand,
                                                                  position)
        with pytest.raises(KeyReused):
            memory.seen(memory.keyed(f"request/notes/{demand}", CLERK_21, "note-1",
                                     {"note": "something else"}))
        assert memory.seen(memory.keyed(f"request/notes/{demand}", CLERK_5, "note-1",
                                        {"note": "something else"})) is None


def test_the_first_event_of_a_binding_is_the_one_remembered():
    log = MemoryEventLog(partitions=1)
    keys = KeyedWrites(log, SECRET)
    demand = new_id()
    first = keys.keyed("n", CLERK_21, "k", {"v": 1})
    second = keys.keyed("n", CLERK_21, "k", {"v": 2})  # two processes raced on one key
    _append(log, first.event_id, demand)
    _append(log, second.event_id, demand)
    assert KeyedWrites(log, SECRET).seen(first).event_id == first.event_id
    with pytest.raises(KeyReused):
        KeyedWrites(log, SECRET).seen(second)


def test_a_log_written_before_keeps_its_events_and_confuses_no_binding():
    """Events whose ids came from the key alone, and time-based ones, bind nothing new."""
    log = MemoryEventLog(partitions=2)
    for n in range(50):
        _append(log, id_from_key("event", f"old-{n}"), id_from_key("demand", f"old-{n}"))
        _append(log, new_id(), new_id())
    keys = KeyedWrites(log, SECRET)
    for n in range(50):
        assert keys.seen(keys.keyed("demand", CLERK_21, f"old-{n}", {"n": n})) is None


def test_bytes_that_are_not_canonical_are_decoded_instead():
    log = MemoryEventLog(partitions=1)
    keys = KeyedWrites(log, SECRET)
    demand = new_id()
    keyed = keys.keyed("n", CLERK_21, "k", NOTE)
    _append(log, keyed.event_id, demand)
    [record] = log.read({})
    loose = json.dumps(json.loads(record.raw), indent=1).encode()
    other = KeyedWrites(MemoryEventLog(partitions=1), SECRET)  # knows only what it is given
    other.take(Record(0, 0, loose))
    assert other.seen(keyed).stream_id == demand
