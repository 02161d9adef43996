"""Ids: ULIDs that sort by time; derived ids fixed by their cause."""

from __future__ import annotations

import re
from datetime import timedelta

from ulid import ULID

from services.events.envelope import ULID_PATTERN
from services.events.ids import derived_id, id_from_key, new_id
from tests.unit.streams import T0


def test_derived_id_is_deterministic_and_depends_on_every_part():
    a = derived_id(T0, "01JNHW0Z5V8K3Q2M4N6P7R9S1T", "DemandRouted", "0")
    assert a == derived_id(T0, "01JNHW0Z5V8K3Q2M4N6P7R9S1T", "DemandRouted", "0")
    assert a != derived_id(T0, "01JNHW0Z5V8K3Q2M4N6P7R9S1T", "DemandRouted", "1")
    assert a != derived_id(T0, "01JNHW0Z5V8K3Q2M4N6P7R9S1T", "ActionRejected", "0")
    assert a != derived_id(T0 + timedelta(milliseconds=1), "01JNHW0Z5V8K3Q2M4N6P7R9S1T",
                           "DemandRouted", "0")
    # parts are separated, not concatenated
    assert derived_id(T0, "ab", "c") != derived_id(T0, "a", "bc")
    assert re.match(ULID_PATTERN, a)


def test_derived_ids_carry_their_time_and_sort_by_it():
    times = [T0 + timedelta(milliseconds=ms) for ms in (0, 1, 999, 1000, 86_400_000)]
    ids = [derived_id(at, "zzz") for at in times] + [derived_id(at, "aaa") for at in times]
    for at in times:
        assert ULID.from_str(derived_id(at, "x")).datetime == at
    by_id = sorted(ids)
    by_time = sorted(ids, key=lambda i: ULID.from_str(i).datetime)
    assert [ULID.from_str(i).datetime for i in by_id] == \
        [ULID.from_str(i).datetime for i in by_time]


def test_new_ids_are_unique_and_sort_by_time():
    ids = [new_id(T0 + timedelta(seconds=s)) for s in range(50)]
    assert ids == sorted(ids)
    assert len({new_id() for _ in range(1000)}) == 1000


def test_id_from_key_is_fixed_by_namespace_and_key():
    assert id_from_key("demand", "k-1") == id_from_key("demand", "k-1")
    assert id_from_key("demand", "k-1") != id_from_key("event", "k-1")
    assert id_from_key("demand", "k-1") != id_from_key("demand", "k-2")
    assert re.match(ULID_PATTERN, id_from_key("event", "کلید"))
