"""Poison events: records a consumer cannot process are parked with the reason, not dropped,
and the consumer moves on past them.

A record is poison when its bytes do not decode into an event (not JSON, not an envelope this
code knows, an unknown event type or version) or when its handler raises. Each consumer parks
it in its own sink, keyed by the consumer and the record's position, so seeing the same record
again (a refold, a replay, a re-delivery) parks it once, and counts it in
`sada_dead_letters{consumer}`:

- the reporting projector parks in the MongoDB collection `dead_letters` beside its read
  models. It is not a read model: a replay neither drops nor rebuilds it, but parks the same
  records again under the same keys, so it ends up the same;
- the routing worker, which holds no database, parks in a JSON-lines file in the data dir
  (`dead-letters/routing-worker.jsonl`).

Parked records stay in the log untouched: once the code that reads them is fixed, a replay
(reporting) or a restart (routing refolds from the beginning) processes them.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from pymongo.database import Database

from services.eventlog.port import Record
from services.events import catalog
from services.events.envelope import Event
from services.metrics import DEAD_LETTERS

logger = logging.getLogger(__name__)

COLLECTION = "dead_letters"
RAW_LIMIT = 4096  # bytes of the poison record kept with the reason


@dataclass(frozen=True)
class DeadLetter:
    consumer: str
    partition: int
    offset: int
    reason: str
    raw: bytes

    @property
    def key(self) -> str:
        return f"{self.consumer}:{self.partition}:{self.offset}"

    def to_doc(self) -> dict[str, Any]:
        return {"_id": self.key, "consumer": self.consumer, "partition": self.partition,
                "offset": self.offset, "reason": self.reason,
                "raw": self.raw[:RAW_LIMIT].decode("utf-8", errors="replace"),
                "parked_at": datetime.now(UTC).isoformat()}


class Sink(Protocol):
    def park(self, letter: DeadLetter) -> bool:
        """Store `letter`; False if it was parked before (nothing to count)."""


class MongoSink:
    """The `dead_letters` collection; one document per consumer and position."""

    def __init__(self, db: Database) -> None:
        self.collection = db[COLLECTION]

    def park(self, letter: DeadLetter) -> bool:
        doc = letter.to_doc()
        result = self.collection.update_one({"_id": letter.key}, {"$setOnInsert": doc},
                                            upsert=True)
        return result.upserted_id is not None


class FileSink:
    """A JSON-lines file, one line per consumer and position."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._seen: set[str] = set()
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    self._seen.add(json.loads(line)["_id"])
                except (ValueError, KeyError, TypeError):
                    continue  # a line cut short by a crash

    def park(self, letter: DeadLetter) -> bool:
        with self._lock:
            if letter.key in self._seen:
                return False
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as out:
                out.write(json.dumps(letter.to_doc(), ensure_ascii=False) + "\n")
            self._seen.add(letter.key)
            return True

    def letters(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines()
                if line.strip()]


class MemorySink:
    """Keeps letters in the process (a consumer given no sink still counts and logs)."""

    def __init__(self) -> None:
        self.letters: dict[str, DeadLetter] = {}

    def park(self, letter: DeadLetter) -> bool:
        return self.letters.setdefault(letter.key, letter) is letter


class DeadLetters:
    """What a consumer calls when a record defeats it."""

    def __init__(self, consumer: str, sink: Sink | None = None) -> None:
        self.consumer = consumer
        self.sink: Sink = sink if sink is not None else MemorySink()

    def park(self, record: Record, reason: str) -> None:
        letter = DeadLetter(self.consumer, record.partition, record.offset, reason, record.raw)
        if self.sink.park(letter):
            DEAD_LETTERS.labels(consumer=self.consumer).inc()
            logger.error("parked the record at %d:%d: %s", record.partition, record.offset,
                         reason, extra={"consumer": self.consumer})

    def decode(self, record: Record) -> Event | None:
        """The record's event, or None once it is parked as undecodable or of a type or
        version this code does not know (it would be misread as something else)."""
        try:
            event = record.event
        except Exception as exc:
            self.park(record, f"undecodable: {type(exc).__name__}: {exc}")
            return None
        try:
            catalog.schema_for(event.type, event.version)
        except KeyError:
            self.park(record, f"unknown event type or version: {event.type} v{event.version}")
            return None
        return event

    def failed(self, record: Record, exc: BaseException) -> None:
        self.park(record, f"handler failed: {type(exc).__name__}: {exc}")
