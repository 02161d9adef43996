"""Rebuilding the read models from the log, and comparing read models.

A replay drops every read model and folds the whole log again, in large batches, through the
projector's own `apply_batch`, remembering open demands between batches (it is the only
writer): the result must equal what the projector built incrementally
(`snapshot` gives both sides in one comparable form).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from pymongo.database import Database

from reporting.history import HISTORY, EventHistory
from reporting.projector import PROJECTION, Plan, Projector
from reporting.readmodels import COLLECTIONS, DEMANDS, ReadModels
from services.eventlog.port import EventLog, Record
from services.heap import cycle_collection_paused

T = TypeVar("T")

# Events per batch: each demand a batch touches costs one write and one history chunk, so
# the larger the batch, the fewer writes (a batch is held in memory: ~100 MB per 50,000).
REPLAY_BATCH = 50_000

# Called after each batch with the number of events it applied (a progress bar's `update`).
Progress = Callable[[int], None]


def progress_line(done: int, total: int, seconds: float) -> str:
    """How far a replay is: events done of all, its rate so far and the time left at it."""
    rate = done / seconds if seconds > 0 else 0.0
    share = f" ({100 * done / total:.0f}%)" if total else ""
    left = f"{(total - done) / rate:.0f} s" if rate else "unknown"
    return f"replayed {done:,} of {total:,} events{share}, {rate:,.0f} events/s, ETA {left}"


class ProgressReport:
    """A `Progress` that says after each batch, through `say`, how far the replay is."""

    def __init__(self, total: int, say: Callable[[str], None],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.total, self.say, self.clock = total, say, clock
        self.done = 0
        self.started = clock()

    def __call__(self, applied: int) -> None:
        self.done += applied
        self.say(progress_line(self.done, self.total, self.clock() - self.started))


def replay(log: EventLog, db: Database, *, progress: Progress | None = None,
           batch: int = REPLAY_BATCH, name: str = PROJECTION) -> dict[str, Any]:
    """Drop the read models and rebuild them from offset 0 up to the log's current end.
    The projector must not run meanwhile: it would write into the models being rebuilt."""
    with cycle_collection_paused():  # see services/heap.py
        return _replay(log, db, progress, batch, name)


def _replay(log: EventLog, db: Database, progress: Progress | None, batch: int, name: str
            ) -> dict[str, Any]:
    started = time.monotonic()
    models = ReadModels(db)
    models.drop()  # secondary indexes are built once at the end: cheaper than on every write
    projector = Projector(log, db, name, remember=True)
    done = 0
    batches = _chunks(log.scan(end=log.end_offsets(), batch=batch), batch)
    # Three stages at once: the next batch is read and decoded, this one folded, the last
    # one written (one writer, in log order; see `Projector.plan` for why folding ahead of
    # the writes is safe).
    with ThreadPoolExecutor(1, thread_name_prefix="replay-write") as writer:
        writing: Future[int] | None = None
        for chunk in ahead(batches, _decoded):
            plan = projector.plan(chunk)
            if writing is not None:
                done += _written(writing, progress)
            writing = writer.submit(_commit, projector, plan)
        if writing is not None:
            done += _written(writing, progress)
    models.ensure_indexes()
    seconds = time.monotonic() - started
    # The collection's own count, not a scan of it: nothing else wrote to it meanwhile.
    return {"events": done, "demands": db[DEMANDS].estimated_document_count(),
            "seconds": round(seconds, 3), "rate": round(done / seconds) if seconds else None}


def _commit(projector: Projector, plan: Plan) -> int:
    projector.commit(plan)
    return len(plan.records)


def _written(writing: Future[int], progress: Progress | None) -> int:
    applied = writing.result()
    if progress:
        progress(applied)
    return applied


def _decoded(records: list[Record]) -> list[Record]:
    for record in records:
        with contextlib.suppress(Exception):  # undecodable: the projector parks it
            record.event  # noqa: B018 - decoded once, kept by the record
    return records


def ahead(items: Iterator[T], prepare: Callable[[T], T]) -> Iterator[T]:
    """`items`, each `prepare`d in a second thread while the one before is used: reading and
    decoding the next batch overlaps with waiting for the database's writes."""
    with ThreadPoolExecutor(1, thread_name_prefix="replay-read") as pool:
        pending = pool.submit(lambda: next((prepare(i) for i in items), None))
        while (item := pending.result()) is not None:
            pending = pool.submit(lambda: next((prepare(i) for i in items), None))
            yield item


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
