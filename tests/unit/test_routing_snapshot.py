"""A partition's routing state as a snapshot's bytes and back, without I/O."""

from __future__ import annotations

import pytest

from routing.domain.partition import PartitionState
from routing.domain.snapshot import (
    DemandTable,
    PartitionHead,
    SnapshotUnreadable,
    context_doc,
    context_from,
    decode_demand,
    encode_demand,
)
from services.domain.context import RoutingContext
from tests.integration.test_routing_worker_facts import V2, timeline
from tests.unit.streams import Router, lifecycle


def _folded() -> PartitionState:
    router = Router()
    router.run(sorted([*timeline(), *lifecycle(4)], key=lambda e: (e.recorded_at, e.event_id)))
    return router.part


def test_the_context_comes_back_equal_and_in_the_same_bytes():
    ctx = _folded().context
    assert ctx.published and ctx.closures and ctx.now and ctx.rules == V2
    back = context_from(context_doc(ctx))
    assert (back.rules, back.published, back.closures, back.now, back.horizon_warned) == (
        ctx.rules, ctx.published, ctx.closures, ctx.now, ctx.horizon_warned)
    head = PartitionHead(ctx, ["b", "a"], ["a"], {"y", "x"})
    assert PartitionHead.decode(head.encode()).encode() == head.encode()


def test_the_default_rules_come_back_equal():
    ctx = RoutingContext()
    assert context_from(context_doc(ctx)).rules == ctx.rules


def test_every_demand_comes_back_equal():
    for state in _folded().demands.values():
        data = encode_demand(state)
        assert decode_demand(data) == state
        assert encode_demand(decode_demand(data)) == data


@pytest.mark.parametrize("data", [b"[1, 2]", b'{"demand_id": "x"}', b'{"nope": 1}'])
def test_a_demand_that_does_not_fit_is_unreadable(data):
    with pytest.raises(SnapshotUnreadable):
        decode_demand(data)


def test_a_table_reads_lazily_and_remembers_what_changed():
    stored = {d.demand_id: d for d in _folded().demands.values()}
    asked: list[str] = []

    def source(key: str):
        asked.append(key)
        return stored.get(key)

    table = DemandTable(source=source)
    some = sorted(stored)[0]
    assert table.get(some) == stored[some] and some in table
    assert table.get("unknown") is None and table.get("unknown") is None
    assert asked == [some, "unknown"]  # each asked once
    table[some] = stored[some]
    assert [key for key, _ in table.take_changed()] == [some]
    assert table.take_changed() == []
    with pytest.raises(TypeError):
        len(table)  # a table read from a snapshot is not counted whole
