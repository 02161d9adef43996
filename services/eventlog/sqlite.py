"""The embedded event log: one SQLite file, durable, shared by several processes.

One partition (0) whose offsets are a dense sequence from 0, so the whole log is totally
ordered. WAL mode lets readers run beside the single writer; `synchronous=FULL` makes every
acknowledged append survive a kill -9 of any process and a power cut. Appending an event
whose id is already in the log is a no-op that returns the original position.

Concurrent appends in one process share a transaction (group commit, `groupcommit.py`): one
fsync for all of them, each answered once it is durable, a lone append committed at once.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

from services.eventlog.groupcommit import GroupCommit
from services.eventlog.port import Consumer, EventLog, Offsets, Position, Record, advance
from services.eventlog.writelock import WriteLock
from services.events.envelope import Event, encode
from services.metrics import LOG_APPENDS_PER_COMMIT, LOG_COMMITS

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    "offset"   INTEGER PRIMARY KEY,
    event_id   TEXT NOT NULL UNIQUE,
    demand_id  TEXT NOT NULL,
    type       TEXT NOT NULL,
    data       BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS log_identity (
    only_row   INTEGER PRIMARY KEY CHECK (only_row = 0),
    identity   TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS consumer_offsets (
    "group"    TEXT NOT NULL,
    partition  INTEGER NOT NULL,
    "offset"   INTEGER NOT NULL,
    PRIMARY KEY ("group", partition)
);
"""

POLL_INTERVAL = 0.01


class SqliteEventLog(EventLog):
    def __init__(self, path: str | Path, *, synchronous: str = "FULL") -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._synchronous = synchronous
        self._local = threading.local()
        self._writer_conn: sqlite3.Connection | None = None
        self._group: GroupCommit[list[Event], list[Position]] = GroupCommit(self._commit)
        # Every write transaction of every process on this file takes it first (writelock.py).
        self.write_lock = WriteLock(self.path.with_name(self.path.name + ".write-lock"))
        self._create_once(self._connect())

    @staticmethod
    def _create_once(conn: sqlite3.Connection) -> None:
        """Make the tables and the log's identity if they are not there yet, in one write
        transaction. A log that exists is only read: a worker started while another process
        holds the write lock opens it at once instead of waiting on the lock (and failing
        after the busy timeout)."""
        try:
            if conn.execute("SELECT 1 FROM log_identity").fetchone():
                return
        except sqlite3.OperationalError:  # no such table: a new log
            pass
        try:
            conn.executescript(f"BEGIN IMMEDIATE;{_SCHEMA}"
                               "INSERT OR IGNORE INTO log_identity VALUES "
                               f"(0, 'sqlite:{uuid.uuid4().hex}');COMMIT;")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    # One connection per thread: sqlite3 connections must not be shared across threads.
    def _connect(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._open()
        return conn

    def _open(self, *, check_same_thread: bool = True) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None,
                               check_same_thread=check_same_thread)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={self._synchronous}")
        return conn

    @property
    def partitions(self) -> int:
        return 1

    def partition_for(self, demand_id: str) -> int:
        return 0

    def append(self, events: Sequence[Event], *, partition: int | None = None) -> list[Position]:
        """Appends that arrive together share one transaction (one fsync): see
        `services.eventlog.groupcommit`. Each returns once that transaction is committed."""
        if not events:
            return []
        if partition not in (None, 0):
            raise ValueError(f"no partition {partition}: the SQLite log has one partition, 0")
        return self._group.submit(list(events))

    def _commit(self, appends: list[list[Event]]) -> list[list[Position]]:
        """One transaction holding every append of a group, in order; all or none of them."""
        conn = self._writer()
        with self.write_lock.held():
            return self._commit_in(conn, appends)

    @staticmethod
    def _commit_in(conn: sqlite3.Connection, appends: list[list[Event]]
                   ) -> list[list[Position]]:
        out: list[list[Position]] = []
        conn.execute("BEGIN IMMEDIATE")
        try:
            (next_offset,) = conn.execute(
                'SELECT COALESCE(MAX("offset") + 1, 0) FROM events').fetchone()
            for events in appends:
                positions: list[Position] = []
                for event in events:
                    row = conn.execute('SELECT "offset" FROM events WHERE event_id = ?',
                                       (event.event_id,)).fetchone()
                    if row:
                        positions.append(Position(0, row[0]))
                        continue
                    conn.execute(
                        'INSERT INTO events ("offset", event_id, demand_id, type, data) '
                        'VALUES (?,?,?,?,?)',
                        (next_offset, event.event_id, event.demand_id, event.type,
                         encode(event)))
                    positions.append(Position(0, next_offset))
                    next_offset += 1
                out.append(positions)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        LOG_COMMITS.inc()
        LOG_APPENDS_PER_COMMIT.observe(len(appends))
        return out

    def _writer(self) -> sqlite3.Connection:
        """The connection group commits use: one per log, used by one commit at a time,
        from whichever thread runs it (under gevent, a pool's native thread)."""
        if self._writer_conn is None:
            self._writer_conn = self._open(check_same_thread=False)
        return self._writer_conn

    def read(self, start: Offsets, *, limit: int = 1000, timeout: float = 0.0) -> list[Record]:
        conn = self._connect()
        begin = start.get(0, 0)
        deadline = time.monotonic() + timeout
        while True:
            rows = conn.execute(
                'SELECT "offset", data FROM events WHERE "offset" >= ? ORDER BY "offset" LIMIT ?',
                (begin, limit)).fetchall()
            if rows or time.monotonic() >= deadline:
                return [Record(0, off, bytes(data)) for off, data in rows]
            time.sleep(POLL_INTERVAL)

    def end_offsets(self) -> Offsets:
        (end,) = self._connect().execute(
            'SELECT COALESCE(MAX("offset") + 1, 0) FROM events').fetchone()
        return {0: end}

    def identity(self) -> str:
        (identity,) = self._connect().execute("SELECT identity FROM log_identity").fetchone()
        return identity

    def consumer(self, group: str, start: Callable[[list[int]], Offsets]) -> Consumer:
        return _SqliteConsumer(self, group, start)

    def committed(self, group: str) -> Offsets:
        rows = self._connect().execute(
            'SELECT partition, "offset" FROM consumer_offsets WHERE "group" = ?', (group,))
        return dict(rows.fetchall())

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
        if self._writer_conn is not None and not self._group.busy:
            self._writer_conn.close()
            self._writer_conn = None


class _SqliteConsumer(Consumer):
    """The single partition is always assigned to every member: the embedded default runs
    one consumer per group, and consumers are idempotent should two ever overlap."""

    def __init__(self, log: SqliteEventLog, group: str, start: Callable[[list[int]], Offsets]):
        self._log, self._group = log, group
        self._position = dict(start([0]))

    def poll(self, timeout: float = 1.0, max_records: int = 500) -> list[Record]:
        records = self._log.read(self._position, limit=max_records, timeout=timeout)
        self._position = advance(self._position, records)
        return records

    def commit(self, offsets: Offsets) -> None:
        """Without an fsync of its own (`synchronous=NORMAL` in WAL mode): the offsets only
        measure lag, so this write need not wait for the disk on every batch. A process
        killed after it still leaves it in the log file; a power cut may lose the last few,
        and the next append's fsync makes them durable with it."""
        conn = self._log._connect()
        conn.execute("PRAGMA synchronous=NORMAL")
        try:
            with self._log.write_lock.held():
                conn.executemany(
                    'INSERT INTO consumer_offsets ("group", partition, "offset") VALUES '
                    '(?,?,?) ON CONFLICT ("group", partition) DO UPDATE SET '
                    '"offset" = excluded."offset"',
                    [(self._group, p, o) for p, o in offsets.items()])
        finally:
            conn.execute(f"PRAGMA synchronous={self._log._synchronous}")

    def assignment(self) -> list[int]:
        return [0]

    def close(self) -> None:
        pass
