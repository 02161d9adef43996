"""Whether two sets of read models are equal, without holding either in memory.

A fingerprint is, per collection, the number of documents and a sha256 over each document
(keys sorted) in `_id` order (history: each event, not the chunks holding them): the same
documents give the same fingerprint whatever order their fields were written in.
`first_difference` walks two databases side by side to name the first document that differs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

from pymongo.database import Database

from reporting.history import HISTORY, EventHistory
from reporting.readmodels import COLLECTIONS

Fingerprint = dict[str, dict[str, Any]]


def _canonical(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, sort_keys=True, ensure_ascii=False, default=str,
                      separators=(",", ":")).encode()


def _documents(db: Database, name: str) -> Iterator[dict[str, Any]]:
    if name == HISTORY:  # its events, whichever chunks a run's batches put them in
        return iter(EventHistory(db[name]).all())
    return db[name].find().sort("_id", 1)


def fingerprint(db: Database, collections: tuple[str, ...] = COLLECTIONS) -> Fingerprint:
    out: Fingerprint = {}
    for name in collections:
        if name == HISTORY:
            out[name] = _events_fingerprint(db)
            continue
        digest, count = hashlib.sha256(), 0
        for doc in _documents(db, name):
            digest.update(_canonical(doc))
            digest.update(b"\n")
            count += 1
        out[name] = {"documents": count, "sha256": digest.hexdigest()}
    return out


def _events_fingerprint(db: Database) -> dict[str, Any]:
    """History's events in any order: the XOR of each event's sha256, so the chunks (and the
    order) a run's batches put them in do not matter and nothing is held but their ids."""
    combined, count = 0, 0
    for event in EventHistory(db[HISTORY]).find().sort([]):
        combined ^= int.from_bytes(hashlib.sha256(_canonical(event)).digest(), "big")
        count += 1
    return {"documents": count, "sha256": f"{combined:064x}"}


def differing(a: Fingerprint, b: Fingerprint) -> list[str]:
    return [name for name in a if a[name] != b.get(name)]


def first_difference(a: Database, b: Database, name: str) -> str | None:
    """The first document of collection `name` that differs between `a` and `b`."""
    left, right = _documents(a, name), _documents(b, name)
    for x, y in zip(left, right, strict=False):
        if x["_id"] != y["_id"]:
            first = min(str(x["_id"]), str(y["_id"]))
            return f"{name}: document {first} is in only one of them"
        if _canonical(x) != _canonical(y):
            keys = sorted(k for k in set(x) | set(y) if x.get(k) != y.get(k))
            return f"{name}: document {x['_id']} differs in {', '.join(keys)}"
    extra = next(left, None) or next(right, None)
    if extra is not None:
        return f"{name}: document {extra['_id']} is in only one of them"
    return None
