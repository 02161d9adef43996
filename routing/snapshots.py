"""Where the routing worker keeps snapshots of its partitions, so a restart folds only the tail
of the log (docs/architecture.md, "Routing snapshots").

One SQLite file in the data dir (`routing-snapshots.sqlite3`), apart from the log: the log is
the truth and is never written for a cache's sake, and the file can be deleted at any time (the
next start folds from the beginning). Per partition a header (format, fingerprint, the log's
identity, the offset the snapshot stands for and a digest of the record just before it, a
digest of the state) and the state but its demands; each demand in its own row with its own
digest, read only when the worker needs it. A snapshot is written in one transaction, only the
demands changed since the one before, so writing costs what changed, not the city's history.

A snapshot that is missing or fails any check (another format, other fold code or another
default rule set, another log, beyond the log's end, a record at its offset that is not the one
it saw, a digest that does not match) is forgotten and the partition folded from the
beginning, with the reason logged. A demand row found corrupt later, when first read, raises
`SnapshotUnreadable` after forgetting the snapshot: the worker starts over and refolds.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import threading
from functools import partial
from pathlib import Path
from typing import Any

import orjson

from routing.domain.partition import PartitionState
from routing.domain.snapshot import (
    FORMAT,
    DemandTable,
    PartitionHead,
    SnapshotUnreadable,
    decode_demand,
    digest,
)
from services.domain.demand import Demand
from services.domain.rules import RuleSet, document
from services.eventlog.port import EventLog

logger = logging.getLogger("routing.snapshots")

FILE_NAME = "routing-snapshots.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS partition_snapshots (
    partition INTEGER PRIMARY KEY, header BLOB NOT NULL, head BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS demand_snapshots (
    partition INTEGER NOT NULL, demand_id TEXT NOT NULL, doc BLOB NOT NULL,
    digest TEXT NOT NULL, PRIMARY KEY (partition, demand_id)) WITHOUT ROWID;
"""


def _fold_code() -> list[Path]:
    """The modules whose code decides what a fold holds: a change to any of them makes the
    snapshots written before it unusable (refolded, never misread)."""
    import routing.domain.partition
    import routing.domain.snapshot
    import routing.worker
    import services.domain.calendar
    import services.domain.context
    import services.domain.demand
    import services.domain.rules

    modules = (routing.domain.partition, routing.domain.snapshot, routing.worker,
               services.domain.calendar, services.domain.context, services.domain.demand,
               services.domain.rules)
    return [Path(m.__file__ or "") for m in modules]


def fingerprint(default: RuleSet) -> str:
    """What a snapshot must have been written under to be used: this format, this code of the
    fold, and this default rule set (it holds until one is published in the stream)."""
    h = hashlib.sha256(f"sada-routing-snapshot/{FORMAT}\n".encode())
    for path in _fold_code():
        h.update(path.read_bytes())
    h.update(orjson.dumps({"version": default.version, "rules": document(default)},
                          option=orjson.OPT_SORT_KEYS))
    return h.hexdigest()


def record_digest(log: EventLog, partition: int, offset: int) -> str | None:
    """The digest of the record at `offset` in `partition`, None if there is none."""
    start = log.end_offsets() | {partition: offset}
    for record in log.scan(start, {partition: offset + 1}):
        if record.partition == partition and record.offset == offset:
            return digest(record.raw)
    return None


class SnapshotStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        try:
            self._conn = self._open()
        except sqlite3.DatabaseError as exc:  # not a database at all: start a new one
            logger.warning("the routing snapshots at %s are unreadable (%s): starting anew",
                           path, exc)
            path.replace(path.with_name(path.name + ".unreadable"))
            self._conn = self._open()

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.executescript(_SCHEMA)
        except sqlite3.DatabaseError:
            conn.close()
            raise
        return conn

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # -- reading ---------------------------------------------------------------------------

    def load(self, partition: int, log: EventLog, end: int,
             fingerprint: str) -> tuple[int, PartitionState] | None:
        """The partition's state as of its snapshot and the offset to fold on from, or None
        (logged) if there is no usable snapshot: then the partition is folded whole."""
        try:
            with self._lock:
                row = self._conn.execute(
                    "SELECT header, head FROM partition_snapshots WHERE partition = ?",
                    (partition,)).fetchone()
            if row is None:
                logger.info("no snapshot of partition %d: folding it from the beginning",
                            partition)
                return None
            header, head_bytes = _header(row[0]), _blob(row[1])
            offset = self._check(header, head_bytes, partition, log, end, fingerprint)
            head = PartitionHead.decode(head_bytes)
        except Exception as exc:  # a cache: whatever is wrong with it, the log has the truth
            logger.warning("the snapshot of partition %d is not used (%s): folding it from the "
                           "beginning", partition, exc)
            self.forget(partition)
            return None
        state = PartitionState(
            demands=DemandTable(source=partial(self._demand, partition)),
            orphans_decided=head.orphans_decided, context=head.context,
            open=dict.fromkeys(head.open), merging=dict.fromkeys(head.merging))
        logger.info("partition %d restarts from its snapshot at offset %d", partition, offset)
        return offset, state

    @staticmethod
    def _check(header: dict[str, Any], head: bytes, partition: int, log: EventLog, end: int,
               fingerprint: str) -> int:
        if header.get("format") != FORMAT:
            raise SnapshotUnreadable(f"format {header.get('format')!r}, not {FORMAT}")
        if header.get("fingerprint") != fingerprint:
            raise SnapshotUnreadable("written by other code or under another default rule set")
        if header.get("log") != log.identity():
            raise SnapshotUnreadable("a snapshot of another log")
        offset = header.get("offset")
        if not isinstance(offset, int) or not 0 < offset <= end:
            raise SnapshotUnreadable(f"offset {offset!r} is not within the log (end {end})")
        if digest(head) != header.get("head_digest"):
            raise SnapshotUnreadable("the partition's state fails its digest")
        if record_digest(log, partition, offset - 1) != header.get("last_record"):
            raise SnapshotUnreadable(f"the log holds another record at {partition}:{offset - 1}")
        return offset

    def _demand(self, partition: int, demand_id: str) -> Demand | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT doc, digest FROM demand_snapshots WHERE partition = ? AND demand_id = ?",
                (partition, demand_id)).fetchone()
        if row is None:
            return None
        try:
            doc = _blob(row[0])
            if digest(doc) != row[1]:
                raise SnapshotUnreadable(f"demand {demand_id} fails its digest")
            return decode_demand(doc)
        except Exception as exc:
            logger.error("the snapshot of partition %d is unreadable (%s): forgotten, the "
                         "partition will be folded from the beginning", partition, exc)
            self.forget(partition)
            raise SnapshotUnreadable(str(exc)) from exc

    # -- writing ---------------------------------------------------------------------------

    def save(self, partition: int, offset: int, state: PartitionState, log: EventLog,
             fingerprint: str, limit: int | None = None) -> tuple[int, bool]:
        """Write the partition's state as of `offset` (every record before it folded, every
        trigger before it decided and its decisions in the log): its changed demands, at most
        `limit` of them, and, once none is left to write, the header that makes the snapshot
        usable. Until then the partition has no usable snapshot (its rows are of several
        moments): a snapshot of a whole fold is written over several batches so, none of them
        stalled long. Returns the demands written and whether the snapshot is complete."""
        table = state.demands
        if not isinstance(table, DemandTable):
            raise TypeError("only a DemandTable's partition is snapshot")
        replace = not table.in_store
        rows = table.take_changed(limit)
        complete = not table.changed
        head = header = b""
        if complete:
            last = record_digest(log, partition, offset - 1)
            if last is None:
                table.changed.update(key for key, _ in rows)
                raise ValueError(f"no record at {partition}:{offset - 1}")
            head = PartitionHead.of(state).encode()
            header = orjson.dumps({
                "format": FORMAT, "fingerprint": fingerprint, "log": log.identity(),
                "offset": offset, "last_record": last, "head_digest": digest(head)},
                option=orjson.OPT_SORT_KEYS)
        try:
            with self._lock:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    if replace:
                        self._conn.execute(
                            "DELETE FROM demand_snapshots WHERE partition = ?", (partition,))
                    self._conn.executemany(
                        "INSERT OR REPLACE INTO demand_snapshots VALUES (?, ?, ?, ?)",
                        [(partition, key, doc, digest(doc)) for key, doc in rows])
                    if complete:
                        self._conn.execute(
                            "INSERT OR REPLACE INTO partition_snapshots VALUES (?, ?, ?)",
                            (partition, header, head))
                    else:  # rows newer than the header: no snapshot until all are written
                        self._conn.execute(
                            "DELETE FROM partition_snapshots WHERE partition = ?", (partition,))
                    self._conn.execute("COMMIT")
                except BaseException:
                    self._conn.execute("ROLLBACK")
                    raise
        except BaseException:
            table.changed.update(key for key, _ in rows)  # the next snapshot writes them
            raise
        table.in_store = True
        return len(rows), complete

    def forget(self, partition: int) -> None:
        try:
            with self._lock:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    self._conn.execute("DELETE FROM partition_snapshots WHERE partition = ?",
                                       (partition,))
                    self._conn.execute("DELETE FROM demand_snapshots WHERE partition = ?",
                                       (partition,))
                    self._conn.execute("COMMIT")
                except BaseException:
                    self._conn.execute("ROLLBACK")
                    raise
        except sqlite3.DatabaseError:
            logger.warning("forgetting the snapshot of partition %d failed", partition,
                           exc_info=True)


def _blob(raw: Any) -> bytes:
    if isinstance(raw, str):  # a row rewritten as text
        return raw.encode()
    if not isinstance(raw, bytes):
        raise SnapshotUnreadable(f"a {type(raw).__name__} where bytes belong")
    return raw


def _header(raw: Any) -> dict[str, Any]:
    try:
        header = orjson.loads(_blob(raw))
    except orjson.JSONDecodeError as exc:
        raise SnapshotUnreadable(f"the header does not decode: {exc}") from exc
    if not isinstance(header, dict):
        raise SnapshotUnreadable("the header is not an object")
    return header
