"""A partition's routing state as bytes, and back: what a snapshot of the routing worker holds.

Deterministic: the same state always gives the same bytes (orjson with sorted keys; sets as
sorted lists; the open demands in their order). Never pickle: a snapshot is a file anyone with
the data dir can write, so reading one must not run code. Which snapshot may be used is the
store's business (routing/snapshots.py: its `fingerprint`).

`DemandTable` is a partition's demands read lazily from a snapshot: a restart touches only the
demands the tail of the log and the next decisions need, so its cost does not grow with the
city's history; it remembers what changed since the last snapshot, so the next one writes only
that.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

import orjson

from routing.domain.partition import PartitionState
from services.domain.calendar import Closure
from services.domain.context import RoutingContext, closure_from
from services.domain.demand import Demand
from services.domain.rules import document, from_document
from services.events.envelope import format_time

FORMAT = 1
_OPTIONS = orjson.OPT_SORT_KEYS


class SnapshotUnreadable(Exception):
    """A snapshot (or a demand in it) failed its checks: refold instead."""


def digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


# -- demands ---------------------------------------------------------------------------------

def encode_demand(state: Demand) -> bytes:
    return orjson.dumps(state, option=_OPTIONS)


def decode_demand(data: bytes) -> Demand:
    doc = orjson.loads(data)
    if not isinstance(doc, dict):
        raise SnapshotUnreadable("a demand in the snapshot is not an object")
    try:
        return Demand(**doc)
    except TypeError as exc:
        raise SnapshotUnreadable(f"a demand in the snapshot does not fit: {exc}") from exc


# -- the routing context ---------------------------------------------------------------------

def _closure(c: Closure) -> dict[str, Any]:
    return {"closure_id": c.closure_id, "start": format_time(c.start),
            "end": format_time(c.end), "district": c.district, "reason": c.reason,
            "kind": c.kind}


def context_doc(ctx: RoutingContext) -> dict[str, Any]:
    return {"rules": document(ctx.rules), "rules_version": ctx.rules.version,
            "published": ctx.published, "closures": [_closure(c) for c in ctx.closures.values()],
            "now": ctx.now, "horizon_warned": sorted(ctx.horizon_warned)}


def context_from(doc: dict[str, Any]) -> RoutingContext:
    return RoutingContext(
        rules=from_document(doc["rules"], doc["rules_version"]), published=doc["published"],
        closures={c["closure_id"]: closure_from(c) for c in doc["closures"]},
        now=doc["now"], horizon_warned=set(doc["horizon_warned"]))


@dataclass(frozen=True)
class PartitionHead:
    """A partition's state but its demands: the context, the open demands and those with a
    merge pending in their order, and the requests decided as `unknown_demand` (small, read
    whole at a restart)."""

    context: RoutingContext
    open: list[str]
    merging: list[str]
    orphans_decided: set[str]

    @classmethod
    def of(cls, state: PartitionState) -> PartitionHead:
        return cls(state.context, list(state.open), list(state.merging), state.orphans_decided)

    def encode(self) -> bytes:
        return orjson.dumps({"context": context_doc(self.context), "open": self.open,
                             "merging": self.merging,
                             "orphans_decided": sorted(self.orphans_decided)}, option=_OPTIONS)

    @classmethod
    def decode(cls, data: bytes) -> PartitionHead:
        try:
            doc = orjson.loads(data)
            return cls(context_from(doc["context"]), list(doc["open"]), list(doc["merging"]),
                       set(doc["orphans_decided"]))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise SnapshotUnreadable(f"the partition's state does not decode: {exc}") from exc


# -- demands read lazily ---------------------------------------------------------------------

@dataclass
class DemandTable(MutableMapping[str, Demand]):
    """A partition's demands: those in memory, else read from a snapshot by `source` (None for
    a demand the snapshot does not have). Every demand stored since it was last taken by
    `take_changed` is remembered as changed. `in_store` says whether the store's rows are this
    table's (read from them, or written there since): a table of a full fold replaces them,
    one read from them only updates them."""

    source: Callable[[str], Demand | None] | None = None
    loaded: dict[str, Demand] = field(default_factory=dict)
    changed: set[str] = field(default_factory=set)
    in_store: bool = False
    _absent: set[str] = field(default_factory=set)

    def get(self, key: str, default: Any = None) -> Any:  # the fold's hot path
        found = self.loaded.get(key)
        if found is not None:
            return found
        if self.source is None or key in self._absent:
            return default
        found = self.source(key)
        if found is None:
            self._absent.add(key)
            return default
        self.loaded[key] = found
        return found

    def __getitem__(self, key: str) -> Demand:
        found = self.get(key)
        if found is None:
            raise KeyError(key)
        return found

    def __setitem__(self, key: str, value: Demand) -> None:
        self.loaded[key] = value
        self._absent.discard(key)
        self.changed.add(key)

    def __delitem__(self, key: str) -> None:
        raise TypeError("a demand is never forgotten")

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key) is not None

    def __iter__(self) -> Iterator[str]:
        if self.source is not None:
            raise TypeError("a demand table read from a snapshot is not listed whole")
        return iter(self.loaded)

    def __len__(self) -> int:
        if self.source is not None:
            raise TypeError("a demand table read from a snapshot is not counted whole")
        return len(self.loaded)

    def __post_init__(self) -> None:
        self.in_store = self.in_store or self.source is not None

    def take_changed(self, limit: int | None = None) -> list[tuple[str, bytes]]:
        """Up to `limit` of the demands changed since they were last taken, encoded."""
        keys = list(islice(self.changed, limit))
        self.changed.difference_update(keys)
        return [(key, encode_demand(self.loaded[key])) for key in keys]
