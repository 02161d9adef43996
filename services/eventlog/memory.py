"""An event log held in memory: the fast lane's adapter, for tests that need a log but no I/O.

It keeps the port's whole contract (the same suite runs against it as against SQLite and
Kafka) with several partitions, like a Kafka topic, so code that only works on one partition
fails here too. Several `MemoryEventLog` handles over one `MemoryStore` behave like several
connections to one log: a handle "reopened" on the same store sees everything appended.
Nothing survives the process; never use it where durability is promised.
"""

from __future__ import annotations

import threading
import time
import uuid
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from services.eventlog.port import Consumer, EventLog, Offsets, Position, Record, advance
from services.events.envelope import Event, encode


@dataclass
class MemoryStore:
    """The log's contents, shared by every handle opened on it."""

    partitions: int = 3
    records: list[list[bytes]] = field(default_factory=list)
    committed: dict[str, Offsets] = field(default_factory=dict)
    identity: str = field(default_factory=lambda: f"memory:{uuid.uuid4().hex}")
    changed: threading.Condition = field(default_factory=threading.Condition)

    def __post_init__(self) -> None:
        if self.partitions < 1:
            raise ValueError("a log has at least one partition")
        if not self.records:
            self.records = [[] for _ in range(self.partitions)]


class MemoryEventLog(EventLog):
    def __init__(self, store: MemoryStore | None = None, *, partitions: int = 3) -> None:
        self.store = store if store is not None else MemoryStore(partitions)

    @property
    def partitions(self) -> int:
        return self.store.partitions

    def partition_for(self, demand_id: str) -> int:
        """A stable hash of the demand id (CRC-32), so a demand's events share a partition."""
        return zlib.crc32(demand_id.encode()) % self.store.partitions

    def append(self, events: Sequence[Event], *, partition: int | None = None) -> list[Position]:
        if partition is not None and not 0 <= partition < self.store.partitions:
            raise ValueError(f"no partition {partition}: this log has {self.partitions}")
        encoded = [(e, encode(e)) for e in events]
        positions: list[Position] = []
        with self.store.changed:
            for event, raw in encoded:
                p = self.partition_for(event.demand_id) if partition is None else partition
                positions.append(Position(p, len(self.store.records[p])))
                self.store.records[p].append(raw)
            self.store.changed.notify_all()
        return positions

    def _available(self, start: Offsets, limit: int) -> list[Record]:
        out: list[Record] = []
        for p, rows in enumerate(self.store.records):
            begin = start.get(p, 0)
            for offset in range(begin, min(len(rows), begin + limit - len(out))):
                out.append(Record(p, offset, rows[offset]))
            if len(out) >= limit:
                break
        return out

    def read(self, start: Offsets, *, limit: int = 1000, timeout: float = 0.0) -> list[Record]:
        deadline = time.monotonic() + timeout
        with self.store.changed:
            while True:
                records = self._available(start, limit)
                left = deadline - time.monotonic()
                if records or left <= 0:
                    return records
                self.store.changed.wait(left)

    def end_offsets(self) -> Offsets:
        with self.store.changed:
            return {p: len(rows) for p, rows in enumerate(self.store.records)}

    def identity(self) -> str:
        return self.store.identity

    def consumer(self, group: str, start: Callable[[list[int]], Offsets]) -> Consumer:
        return _MemoryConsumer(self, group, start)

    def committed(self, group: str) -> Offsets:
        with self.store.changed:
            return dict(self.store.committed.get(group, {}))


class _MemoryConsumer(Consumer):
    """Every partition is assigned to every member: one consumer per group, as in SQLite."""

    def __init__(self, log: MemoryEventLog, group: str, start: Callable[[list[int]], Offsets]):
        self._log, self._group = log, group
        self._partitions = list(range(log.partitions))
        self._position = dict(start(self._partitions))

    def poll(self, timeout: float = 1.0, max_records: int = 500) -> list[Record]:
        records = self._log.read(self._position, limit=max_records, timeout=timeout)
        self._position = advance(self._position, records)
        return records

    def commit(self, offsets: Offsets) -> None:
        with self._log.store.changed:
            self._log.store.committed.setdefault(self._group, {}).update(offsets)

    def assignment(self) -> list[int]:
        return list(self._partitions)

    def close(self) -> None:
        pass
