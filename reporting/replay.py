"""Rebuilding the read models from the log, and comparing read models.

A replay drops every read model and folds the whole log again, in large batches, through the
projector's own `apply_batch`, remembering open demands between batches (it is the only
writer): the result must equal what the projector built incrementally
(`snapshot` gives both sides in one comparable form).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from pymongo.database import Database

from reporting.history import HISTORY, EventHistory
from reporting.projector import PROJECTION, Projector
from reporting.readmodels import COLLECTIONS, DEMANDS, ReadModels
from services.eventlog.port import EventLog, Record

REPLAY_BATCH = 20_000

# Called after each batch with the number of events it applied (a progress bar's `update`).
Progress = Callable[[int], None]


def replay(log: EventLog, db: Database, *, progress: Progress | None = None,
           batch: int = REPLAY_BATCH, name: str = PROJECTION) -> dict[str, Any]:
    """Drop the read models and rebuild them from offset 0 up to the log's current end.
    The projector must not run meanwhile: it would write into the models being rebuilt."""
    started = time.monotonic()
    models = ReadModels(db)
    models.drop()  # secondary indexes are built once at the end: cheaper than on every write
    projector = Projector(log, db, name, remember=True)
    done = 0
    for chunk in _chunks(log.scan(end=log.end_offsets(), batch=batch), batch):
        projector.apply_batch(chunk)
        done += len(chunk)
        if progress:
            progress(len(chunk))
    models.ensure_indexes()
    seconds = time.monotonic() - started
    return {"events": done, "demands": db[DEMANDS].count_documents({}),
            "seconds": round(seconds, 3), "rate": round(done / seconds) if seconds else None}


def _chunks(records: Iterable[Record], size: int) -> Iterator[list[Record]]:
    chunk: list[Record] = []
    for record in records:
        chunk.append(record)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def snapshot(db: Database) -> dict[str, list[dict[str, Any]]]:
    """Every read-model document, collection by collection, sorted by id; history as its
    events, whichever chunks hold them."""
    return {name: (EventHistory(db[name]).all() if name == HISTORY
                   else list(db[name].find().sort("_id", 1))) for name in COLLECTIONS}
