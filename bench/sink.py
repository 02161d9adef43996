"""A database that takes writes and keeps nothing: the server's part of a replay removed.

`python -m bench --only replay` runs the real `reporting.replay.replay` into it beside the run
into SecantusDB, so the same code's figure without the server is measured, not guessed. The
client's part of every write stays: each document (or operation) sent is encoded to BSON, as
pymongo does before it goes on the wire. Reads find nothing, which is what a replay's fresh
database holds; every conditional write is taken as matched, as it is in a replay (the only
writer). Only the calls a replay makes exist; anything else fails loudly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import bson
from pymongo import InsertOne


@dataclass
class Written:
    """What a write would have answered, and what it cost to say."""

    matched_count: int = 0
    upserted_ids: dict[int, Any] = field(default_factory=dict)
    upserted_id: Any = None


def _parts(op: Any) -> dict[str, Any]:
    """A bulk operation's filter and document (pymongo keeps them in slots)."""
    return {name: getattr(op, f"_{name}") for name in ("filter", "doc")
            if hasattr(op, f"_{name}")}


def _encode(value: Any) -> int:
    """The BSON a driver would send for a document or a bulk operation; its size."""
    return len(bson.encode(value if isinstance(value, dict) else _parts(value)))


class SinkCollection:
    def __init__(self, watch: Callable[[Mapping[str, Any]], bool] | None = None) -> None:
        # Documents inserted: the count a replay reports (no id is inserted twice in one;
        # a demand's document arrives as encoded bytes, as the driver would send them).
        self.inserted = 0
        self.bytes = 0
        # `watch`: the ids whose last document written satisfies it (a queue's demands, for
        # the end-to-end run: what a reader of the queue would have found).
        self.watch = watch
        self.watched: set[Any] = set()

    def bulk_write(self, ops: list[Any], ordered: bool = True) -> Written:
        for op in ops:
            self.bytes += _encode(op)
            doc = _parts(op).get("doc")
            if isinstance(op, InsertOne):
                self.inserted += 1
            if self.watch is not None and doc is not None:
                if self.watch(doc):  # a RawBSONDocument reads like a dict
                    self.watched.add(doc["_id"])
                else:
                    self.watched.discard(doc["_id"])
        return Written(matched_count=sum(not isinstance(op, InsertOne) for op in ops))

    def insert_many(self, docs: Iterable[dict[str, Any]], ordered: bool = True) -> Written:
        for doc in docs:
            self.bytes += _encode(doc)
            self.inserted += 1
        return Written()

    def update_one(self, where: dict[str, Any], change: dict[str, Any],
                   upsert: bool = False) -> Written:
        self.bytes += _encode({"q": where, "u": change})
        return Written(matched_count=1)

    def find(self, *args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        return []

    def find_one(self, *args: Any, **kwargs: Any) -> None:
        return None

    def index_information(self) -> dict[str, Any]:
        return {}

    def create_index(self, keys: Any, name: str) -> str:
        return name

    def estimated_document_count(self) -> int:
        return self.inserted


class SinkDatabase:
    def __init__(self, name: str = "sink",
                 watch: dict[str, Callable[[Mapping[str, Any]], bool]] | None = None) -> None:
        self.name = name
        self.collections: dict[str, SinkCollection] = {}
        self.watch = watch or {}  # collection -> the documents to keep ids of (`watched`)

    def __getitem__(self, name: str) -> SinkCollection:
        if name not in self.collections:
            self.collections[name] = SinkCollection(self.watch.get(name))
        return self.collections[name]

    def drop_collection(self, name: str) -> None:
        self.collections.pop(name, None)

    @property
    def bytes(self) -> int:
        return sum(c.bytes for c in self.collections.values())
