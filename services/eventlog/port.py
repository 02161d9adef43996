"""The event-log port: what Sada needs from a log, and nothing more.

The log is partitioned; a demand's events all go to one partition (chosen from its id), in
order. A position in the whole log is a set of offsets, one per partition: `Offsets` maps a
partition to the *next* offset to read, so `{}` is the beginning and `end_offsets()` the end.

Delivery is at least once: an append retried after an unclear failure may store an event
twice. Consumers are idempotent instead (the demand fold ignores a second decision for the
same request; read models key history by event id), which is what Kafka offers too.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property

from services.events.envelope import Event, decode, encode

Offsets = dict[int, int]


@dataclass(frozen=True, order=True)
class Position:
    """Where one event sits: partition and offset. Printed as 'partition:offset'."""

    partition: int
    offset: int

    def __str__(self) -> str:
        return f"{self.partition}:{self.offset}"

    @classmethod
    def parse(cls, text: str) -> Position:
        part, _, off = text.partition(":")
        if not (part.isdigit() and off.isdigit()):
            raise ValueError("a position looks like 'partition:offset', e.g. '0:42'")
        return cls(int(part), int(off))

    def reached_by(self, offsets: Offsets) -> bool:
        """Whether a consumer at `offsets` has consumed this event."""
        return offsets.get(self.partition, 0) > self.offset


@dataclass(frozen=True)
class Record:
    partition: int
    offset: int
    raw: bytes

    @cached_property
    def event(self) -> Event:
        return decode(self.raw)

    @property
    def position(self) -> Position:
        return Position(self.partition, self.offset)


def advance(offsets: Offsets, records: Sequence[Record]) -> Offsets:
    """The offsets after consuming `records`."""
    out = dict(offsets)
    for r in records:
        if r.offset + 1 > out.get(r.partition, 0):
            out[r.partition] = r.offset + 1
    return out


class Consumer(ABC):
    """A member of a consumer group: it is given some partitions and reads them in order.

    `start(partitions)` is asked, on every assignment, where to begin in each newly assigned
    partition; a read model answers with the offsets it stored with its own data.
    """

    @abstractmethod
    def poll(self, timeout: float = 1.0, max_records: int = 500) -> list[Record]: ...

    @abstractmethod
    def commit(self, offsets: Offsets) -> None:
        """Record progress with the log (for lag monitoring; read models keep their own)."""

    @abstractmethod
    def assignment(self) -> list[int]: ...

    @abstractmethod
    def close(self) -> None: ...


class EventLog(ABC):
    @property
    @abstractmethod
    def partitions(self) -> int: ...

    @abstractmethod
    def append(self, events: Sequence[Event], *, partition: int | None = None) -> list[Position]:
        """Durably append events, in the given order, each to its demand's partition, or all
        to `partition` if given (stream-wide facts such as clock ticks go to every partition).
        Returns once every event is acknowledged by the log; raises if any is not."""

    def broadcast(self, events: Sequence[Event]) -> list[Position]:
        """Append the same events to every partition, so every partition's consumer sees them
        in order with its demands' events (time, rules and calendars enter the stream so)."""
        positions: list[Position] = []
        for p in range(self.partitions):
            positions.extend(self.append(events, partition=p))
        return positions

    @abstractmethod
    def read(self, start: Offsets, *, limit: int = 1000, timeout: float = 0.0) -> list[Record]:
        """Up to `limit` records after `start`, each partition in order; waits up to
        `timeout` seconds for at least one if none is there yet."""

    @abstractmethod
    def end_offsets(self) -> Offsets: ...

    @abstractmethod
    def consumer(self, group: str, start: Callable[[list[int]], Offsets]) -> Consumer: ...

    def close(self) -> None:  # noqa: B027 - optional for adapters without resources
        pass

    def partition_for(self, demand_id: str) -> int | None:
        """The partition a demand's events go to, if the adapter knows it up front."""
        return None

    @abstractmethod
    def identity(self) -> str:
        """What names this log among all logs, fixed when the log is made: read models record
        it, so a command never rebuilds one log's read models from another log."""

    def scan(self, start: Offsets | None = None, end: Offsets | None = None,
             batch: int = 5000) -> Iterator[Record]:
        """Every record from `start` up to `end` (default: the end when the scan begins)."""
        position = dict(start or {})
        end = self.end_offsets() if end is None else end
        while any(position.get(p, 0) < o for p, o in end.items()):
            records = self.read(position, limit=batch)
            if not records:
                break
            for r in records:
                if r.offset < end.get(r.partition, 0):
                    yield r
            position = advance(position, records)

    def __enter__(self) -> EventLog:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


__all__ = ["Consumer", "EventLog", "Offsets", "Position", "Record", "advance", "encode"]
