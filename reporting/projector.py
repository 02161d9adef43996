"""The reporting projector: folds every event of the log into the MongoDB read models.

Exactly-once without transactions. A batch is written in three steps, each idempotent:
1. demand documents (one `bulk_write`), each carrying the position of the last event folded
   into it: an event at or below that position is skipped when it is seen again;
2. history (one unordered insert), keyed by event id: a second insert is a duplicate-key no-op;
3. the checkpoint, moved forward only.
A crash anywhere in between leaves the checkpoint behind; the restarted projector reads the
same events again and every step recognises what it already did.

Run it with `python -m reporting.projector` (SADA_* settings, see `services.config`).
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from collections.abc import Sequence
from typing import Any

from pymongo import MongoClient
from pymongo.database import Database

from reporting.readmodels import ReadModels, demand_doc, history_doc, stored_position
from services import config
from services.domain.demand import Demand, apply
from services.eventlog import open_log
from services.eventlog.port import Consumer, EventLog, Offsets, Position, Record, advance

log = logging.getLogger(__name__)

PROJECTION = "reporting"
RETRY_SECONDS = 1.0


class Projector:
    def __init__(self, log: EventLog, db: Database, name: str = PROJECTION) -> None:
        self.log = log
        self.name = name
        self.models = ReadModels(db)

    def start_offsets(self, partitions: list[int]) -> Offsets:
        """Where to resume in newly assigned partitions: the read models' own checkpoint."""
        done = self.models.checkpoint(self.name)
        return {p: done.get(p, 0) for p in partitions}

    def apply_batch(self, records: Sequence[Record]) -> Offsets:
        """Fold `records` (in log order) into the read models; returns the offsets after them."""
        if not records:
            return {}
        docs = self.models.load_demands(r.event.demand_id for r in records)
        states: dict[str, Demand | None] = {}
        positions: dict[str, Position | None] = {}
        for demand_id, doc in docs.items():
            states[demand_id] = Demand.from_doc(doc)
            positions[demand_id] = stored_position(doc)
        touched: set[str] = set()
        for record in records:
            event = record.event
            at = positions.get(event.demand_id)
            if at is not None and at.partition == record.partition and record.offset <= at.offset:
                continue  # folded before a crash or a re-delivery
            state = apply(states.get(event.demand_id), event)
            if state is None:
                continue  # no such demand (e.g. a rejected action on an unknown id): history only
            states[event.demand_id] = state
            positions[event.demand_id] = record.position
            touched.add(event.demand_id)
        self.models.write_demands(
            (demand_doc(states[d], positions[d]) for d in sorted(touched)),  # type: ignore[arg-type]
            known=set(docs))
        self.models.write_history([history_doc(r) for r in records])
        offsets = advance({}, records)
        self.models.advance_checkpoint(self.name, offsets)
        return offsets

    def run(self, stop: threading.Event, batch: int = 500, poll_timeout: float = 0.5) -> None:
        """Consume until `stop` is set, finishing the batch in hand. A failed batch is not
        skipped: the consumer is rebuilt and resumes from the checkpoint."""
        while not stop.is_set():
            try:
                consumer = self.log.consumer(self.name, self.start_offsets)
            except Exception:
                log.exception("cannot join the consumer group; retrying")
                stop.wait(RETRY_SECONDS)
                continue
            try:
                self._consume(consumer, stop, batch, poll_timeout)
            except Exception:
                log.exception("projection batch failed; resuming from the checkpoint")
                stop.wait(RETRY_SECONDS)
            finally:
                consumer.close()

    def _consume(self, consumer: Consumer, stop: threading.Event, batch: int,
                 poll_timeout: float) -> None:
        done: Offsets = {}
        while not stop.is_set():
            records = consumer.poll(timeout=poll_timeout, max_records=batch)
            if not records:
                continue
            self.apply_batch(records)
            done = advance(done, records)
            mine = set(consumer.assignment())
            try:  # the log's copy of our progress is for lag monitoring only
                consumer.commit({p: o for p, o in done.items() if p in mine})
            except Exception:
                log.warning("could not commit offsets to the log", exc_info=True)


def main(settings: config.Settings | None = None, batch: int = 500) -> None:
    """Run the projector until SIGTERM or SIGINT, then finish the current batch and exit."""
    settings = settings or config.load()
    logging.basicConfig(level=settings.log_level,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = threading.Event()

    def request_stop(signum: int, _frame: Any) -> None:
        log.info("signal %s: stopping after the current batch", signum)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    client: MongoClient = MongoClient(settings.mongo_url)
    event_log = open_log(settings)
    try:
        projector = Projector(event_log, client[settings.mongo_db])
        projector.models.ensure_indexes()
        log.info("projecting into database %s from %s", settings.mongo_db,
                 projector.start_offsets(list(range(event_log.partitions))))
        projector.run(stop, batch=batch)
    finally:
        event_log.close()
        client.close()
    log.info("stopped")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Project the event log into MongoDB.")
    parser.add_argument("--batch", type=int, default=500, help="events per batch")
    main(batch=parser.parse_args().batch)
