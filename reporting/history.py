"""Every event's history entry, kept in compact chunks: one `history` document holds the events
of one demand (or stream) in one partition that one projector batch brought, in log order.

A batch writes one chunk per demand it touched instead of one document per event: the
collection's cost follows the batches, not the events. The events themselves are one
compressed JSON value (`data`): the database stores and indexes a chunk by its few top-level
fields and never takes its events apart, which is most of what a document costs it. A batch
keeps each event as the log's own bytes, with its partition and offset (`record_chunks`), so
writing makes no per-event document; reading makes the entries (`events_of`), which also
reads chunks of entries written before (`chunk_docs`).

A chunk's id is its demand, partition, first and last offset (so the same id always holds the
same events): writing the same batch twice is a duplicate-key no-op; where a re-delivery cut
the log at other places, an event may sit in two chunks, and reading drops the second copy (an
event is known by its id).

`EventHistory` answers the questions callers ask of history as if it held one document per
event (`find`, `find_one`, `count_documents`, `distinct`, with `sort` and `limit`): the filter's
demand, partition, event id, cause and type select chunks through their fields and indexes,
then each event of those chunks is matched in memory. Filters are equalities, `$in` and the
comparisons `$gt`, `$gte`, `$lt`, `$lte` on event fields (dotted paths allowed).
"""

from __future__ import annotations

import heapq
import threading
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

import orjson
import zstandard
from bson import Binary
from pymongo import DeleteOne
from pymongo.collection import Collection
from pymongo.errors import BulkWriteError

from services.eventlog.port import Record
from services.events import catalog
from services.events.envelope import Event, canonical_time, format_time, parse_time

HISTORY = "history"
CHUNK_EVENTS = 200  # events per chunk at most: far below MongoDB's 16 MB per document
DUPLICATE_KEY = 11000

T = TypeVar("T")

# A chunk's events are compressed with Zstandard at level 1: the ratio of zlib's level 1 on
# these chunks (2.6) at about a fifth of its CPU, which a replay spent a fifth of its own time
# on. Chunks written before are zlib streams; a Zstandard frame is known by its magic number.
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_codecs = threading.local()  # (de)compressor objects are not for two threads at once


def compress(data: bytes) -> bytes:
    codec = getattr(_codecs, "compressor", None)
    if codec is None:
        codec = _codecs.compressor = zstandard.ZstdCompressor(level=1)
    return codec.compress(data)


def decompress(blob: bytes) -> bytes:
    if not blob.startswith(_ZSTD_MAGIC):
        return zlib.decompress(blob)  # a chunk written before
    codec = getattr(_codecs, "decompressor", None)
    if codec is None:
        codec = _codecs.decompressor = zstandard.ZstdDecompressor()
    return codec.decompress(blob)

# Event field -> the chunk field that lists (or is) its values, for selecting chunks.
_CHUNK_FIELD = {"demand_id": "demand_id", "partition": "partition", "_id": "event_ids",
                "causation_id": "causations", "type": "types"}
_COMPARE = {
    "$gt": lambda a, b: a is not None and a > b, "$gte": lambda a, b: a is not None and a >= b,
    "$lt": lambda a, b: a is not None and a < b, "$lte": lambda a, b: a is not None and a <= b,
    "$in": lambda a, b: a in b, "$ne": lambda a, b: a != b,
}


def event_doc(record: Record, event: Event | None = None) -> dict[str, Any]:
    """One event as history shows it: keyed by its event id, with its log position."""
    e = event or record.event
    return {
        "_id": e.event_id, "demand_id": e.demand_id, "partition": record.partition,
        "offset": record.offset, "type": e.type, "version": e.version,
        "recorded_at": e.recorded_at_text, "actor": e.actor.to_dict(),
        "causation_id": e.causation_id, "correlation_id": e.correlation_id,
        "decision": e.is_decision, "payload": e.payload,
    }


def chunk_docs(events: Iterable[dict[str, Any]], size: int = CHUNK_EVENTS
               ) -> list[dict[str, Any]]:
    """The chunks holding history entries (log order; documents kept one per event before
    chunks, `EventHistory.upgrade`): one per demand and partition, split every `size`."""
    groups: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for e in events:
        groups.setdefault((e["demand_id"], e["partition"]), []).append(e)
    return [_chunk(demand_id, partition, part[0]["offset"], part[-1]["offset"],
                   [e["_id"] for e in part], [e["causation_id"] for e in part],
                   [e["type"] for e in part], orjson.dumps(part))
            for (demand_id, partition), group in groups.items()
            for part in _runs(group, size)]


def record_chunks(pairs: Iterable[tuple[Record, Event]], size: int = CHUNK_EVENTS
                  ) -> list[dict[str, Any]]:
    """The chunks holding a batch's events (log order), each event as the log's own bytes:
    nothing is taken apart or encoded again per event (`events_of` makes the entries)."""
    groups: dict[tuple[str, int], list[tuple[Record, Event]]] = {}
    for record, event in pairs:
        groups.setdefault((event.demand_id, record.partition), []).append((record, event))
    chunks = []
    for (demand_id, partition), group in groups.items():
        for part in _runs(group, size):
            data = b'{"p":%d,"o":[%s],"e":[%s]}' % (
                partition, b",".join(b"%d" % r.offset for r, _ in part),
                b",".join(r.raw for r, _ in part))
            chunks.append(_chunk(demand_id, partition, part[0][0].offset, part[-1][0].offset,
                                 [e.event_id for _, e in part],
                                 [e.causation_id for _, e in part],
                                 [e.type for _, e in part], data))
    return chunks


def _runs(items: list[T], size: int) -> Iterator[list[T]]:
    return (items[i:i + size] for i in range(0, len(items), size))


def _chunk(demand_id: str, partition: int, first: int, last: int, event_ids: list[str],
           causes: list[str | None], types: list[str], data: bytes) -> dict[str, Any]:
    return {
        "_id": f"{demand_id}:{partition}:{first}-{last}",
        "demand_id": demand_id, "partition": partition, "offset": first, "last": last,
        "event_ids": event_ids, "causations": sorted({c for c in causes if c}),
        "types": sorted(set(types)), "data": Binary(compress(data)),
    }


def events_of(chunk: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The history entries a chunk holds, in log order: its events as the log held them
    (`record_chunks`), or entries as chunks held them before (`chunk_docs`)."""
    data = orjson.loads(decompress(chunk["data"]))
    if isinstance(data, list):
        return data
    partition = data["p"]
    return [_entry(envelope, partition, offset)
            for offset, envelope in zip(data["o"], data["e"], strict=True)]


def _entry(envelope: dict[str, Any], partition: int, offset: int) -> dict[str, Any]:
    """An event's history entry from its envelope: what `event_doc` makes of it."""
    actor, at = envelope["actor"], envelope["recorded_at"]
    return {
        "_id": envelope["event_id"], "demand_id": envelope["demand_id"],
        "partition": partition, "offset": offset, "type": envelope["type"],
        "version": envelope["version"],
        "recorded_at": at if canonical_time(at) else format_time(parse_time(at)),
        "actor": {"role": actor["role"], "id": actor["id"], "district": actor.get("district"),
                  "department": actor.get("department")},
        "causation_id": envelope["causation_id"], "correlation_id": envelope["correlation_id"],
        "decision": catalog.is_decision(envelope["type"]), "payload": envelope["payload"],
    }


def _value(doc: Mapping[str, Any], path: str) -> Any:
    value: Any = doc
    for key in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def matches(event: Mapping[str, Any], query: Mapping[str, Any]) -> bool:
    """Whether a history entry satisfies a filter (see the module's docstring)."""
    for path, want in query.items():
        value = _value(event, path)
        if isinstance(want, Mapping) and want and all(k.startswith("$") for k in want):
            for op, arg in want.items():
                if op not in _COMPARE:
                    raise ValueError(f"history filters do not support {op}")
                if not _COMPARE[op](value, arg):
                    return False
        elif value != want:
            return False
    return True


def chunk_filter(query: Mapping[str, Any]) -> dict[str, Any]:
    """The chunks that may hold events matching `query`."""
    out: dict[str, Any] = {}
    for path, want in query.items():
        field = _CHUNK_FIELD.get(path)
        if field is None:
            continue
        if isinstance(want, Mapping):
            if set(want) == {"$in"}:
                out[field] = {"$in": list(want["$in"])}
        elif want is not None:
            out[field] = want
    return out


def project(event: dict[str, Any], projection: Mapping[str, Any] | None) -> dict[str, Any]:
    """`event` as a MongoDB projection would return it: kept fields, or all but dropped ones."""
    if not projection:
        return event
    if all(projection.values()):
        keep = {p.split(".")[0] for p in projection} | {"_id"}
        return {k: v for k, v in event.items() if k in keep}
    out = dict(event)
    for path in (p for p, v in projection.items() if not v):
        *parents, leaf = path.split(".")
        node = out
        for key in parents:
            if not isinstance(node.get(key), Mapping):
                break
            node[key] = dict(node[key])
            node = node[key]
        else:
            node.pop(leaf, None)
    return out


class EventCursor:
    """The events a `find` selected; `sort` and `limit` as on a pymongo cursor."""

    def __init__(self, events: Iterator[dict[str, Any]],
                 projection: Mapping[str, Any] | None) -> None:
        self._events = events
        self._projection = projection
        self._sort: list[tuple[str, int]] = [("partition", 1), ("offset", 1)]
        self._limit = 0

    def sort(self, key: str | Sequence[tuple[str, int]], direction: int = 1) -> EventCursor:
        self._sort = [(key, direction)] if isinstance(key, str) else list(key)
        return self

    def limit(self, n: int) -> EventCursor:
        self._limit = n
        return self

    def __iter__(self) -> Iterator[dict[str, Any]]:
        if not self._sort and not self._limit:  # `sort([])`: as stored, streamed
            return (project(e, self._projection) for e in self._events)
        events = list(self._events)
        for key, direction in reversed(self._sort):  # stable: the first key sorts last
            events.sort(key=lambda e, k=key: _value(e, k), reverse=direction < 0)
        if self._limit:
            events = events[:self._limit]
        return (project(e, self._projection) for e in events)


class EventHistory:
    """The `history` collection of chunks, read and written as events."""

    def __init__(self, collection: Collection) -> None:
        self.chunks = collection

    def write(self, events: Iterable[dict[str, Any]]) -> None:
        """Store history entries (log order) as chunks; a chunk already there is a no-op."""
        self.insert(chunk_docs(events))

    def write_records(self, pairs: Iterable[tuple[Record, Event]]) -> None:
        """Store a batch's events (log order) as chunks; a chunk already there is a no-op."""
        self.insert(record_chunks(pairs))

    def insert(self, chunks: list[dict[str, Any]]) -> None:
        if not chunks:
            return
        try:
            self.chunks.insert_many(chunks, ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if not errors or any(e.get("code") != DUPLICATE_KEY for e in errors) \
                    or exc.details.get("writeConcernErrors"):
                raise

    def upgrade(self, batch: int = 5000) -> int:
        """Move history written one document per event (before chunks) into chunks; how many
        events moved. Safe to stop and run again: a chunk is written before its events'
        old documents are deleted, and an event in both is read once."""
        moved = 0
        while True:
            old = list(self.chunks.find({"data": {"$exists": False}}).limit(batch))
            if not old:
                return moved
            self.write(sorted(old, key=lambda e: (e["partition"], e["offset"])))
            self.chunks.bulk_write([DeleteOne({"_id": e["_id"]}) for e in old], ordered=False)
            moved += len(old)

    def _events(self, query: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        seen: set[str] = set()
        for chunk in self.chunks.find(chunk_filter(query), {"data": 1}):
            for event in events_of(chunk):
                if event["_id"] not in seen and matches(event, query):
                    seen.add(event["_id"])
                    yield event

    def find(self, query: Mapping[str, Any] | None = None,
             projection: Mapping[str, Any] | None = None) -> EventCursor:
        return EventCursor(self._events(query or {}), projection)

    def find_one(self, query: Mapping[str, Any] | None = None,
                 projection: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
        return next(iter(self.find(query, projection).limit(1)), None)

    def count_documents(self, query: Mapping[str, Any]) -> int:
        return sum(1 for _ in self._events(query))

    def distinct(self, field: str, query: Mapping[str, Any] | None = None) -> list[Any]:
        values = []
        for event in self._events(query or {}):
            value = _value(event, field)
            if value not in values:
                values.append(value)
        return values

    def in_log_order(self, group: int = 32) -> Iterator[dict[str, Any]]:
        """Every event once, by partition and offset, streamed: chunks are read in the order
        of their first offsets, and an event is let out once no chunk still to come can hold
        an earlier one (memory holds the chunks that overlap, not the whole history)."""
        heads = sorted((c["partition"], c["offset"], c["_id"])
                       for c in self.chunks.find({}, {"partition": 1, "offset": 1}))
        pending: list[tuple[int, int, int, dict[str, Any]]] = []
        last: tuple[int, int] | None = None
        n = 0
        for i in range(0, len(heads), group):
            wanted = heads[i:i + group]
            data = {c["_id"]: c for c in
                    self.chunks.find({"_id": {"$in": [h[2] for h in wanted]}}, {"data": 1})}
            for partition, first, chunk_id in wanted:
                while pending and pending[0][:2] < (partition, first):
                    event = heapq.heappop(pending)[3]
                    if (event["partition"], event["offset"]) != last:
                        last = (event["partition"], event["offset"])
                        yield event
                for event in events_of(data[chunk_id]):
                    n += 1
                    heapq.heappush(pending, (event["partition"], event["offset"], n, event))
        while pending:
            event = heapq.heappop(pending)[3]
            if (event["partition"], event["offset"]) != last:
                last = (event["partition"], event["offset"])
                yield event

    def all(self) -> list[dict[str, Any]]:
        """Every event once, by event id (comparing two sets of read models)."""
        return sorted(self._events({}), key=lambda e: e["_id"])
