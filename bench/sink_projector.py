"""The reporting projector with the server's part removed, for `bench.e2e`.

`python -m bench.sink_projector COUNT_FILE QUEUE` runs the real `reporting.projector.Projector`
over the real log (SADA_* settings) into `bench/sink.py`'s database, which encodes every write
as the driver would and sends none. As the only writer it keeps its demands in memory
(`remember`, as a replay does), so nothing is read back either. After each batch it writes to
COUNT_FILE how many demands its writes left open in QUEUE ("<district>/<department>", not
escalated): what a reader of that queue would have found, had the documents been kept.
"""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.sink import SinkDatabase
from reporting.projector import Projector
from reporting.readmodels import DEMANDS
from services import config, jsonlog
from services.eventlog import open_log
from services.eventlog.port import EventLog, Offsets, Record
from services.signals import stop_on_signals

logger = logging.getLogger("bench.sink_projector")


def in_queue(queue: str) -> Callable[[Mapping[str, Any]], bool]:
    """Whether a stored demand document is open in `queue` and not escalated."""
    def matches(doc: Mapping[str, Any]) -> bool:
        return doc.get("queue") == queue and doc.get("open") is True and not doc.get("escalated")
    return matches


class CountingProjector(Projector):
    """The projector, telling a file how many demands its writes left in one queue."""

    def __init__(self, log: EventLog, db: SinkDatabase, count_file: Path) -> None:
        super().__init__(log, db, remember=True)  # type: ignore[arg-type]
        self.queue = db[DEMANDS]
        self.count_file = count_file
        self.tell(0)

    def apply_batch(self, records: Sequence[Record]) -> Offsets:
        offsets = super().apply_batch(records)
        self.tell(len(self.queue.watched))
        return offsets

    def tell(self, count: int) -> None:
        part = self.count_file.with_suffix(".part")
        part.write_text(str(count))
        os.replace(part, self.count_file)  # a reader sees the old count or the new, whole


def read_count(count_file: Path) -> int:
    try:
        return int(count_file.read_text() or 0)
    except FileNotFoundError:
        return 0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("count_file", type=Path)
    parser.add_argument("queue", help='"<district>/<department>"')
    args = parser.parse_args(argv)
    settings = config.load()
    jsonlog.configure("sink-projector", settings.log_level)
    stop = stop_on_signals(logger)
    db = SinkDatabase(watch={DEMANDS: in_queue(args.queue)})
    event_log = open_log(settings)
    try:
        projector = CountingProjector(event_log, db, args.count_file)
        projector.start_offsets(list(range(event_log.partitions)))
        projector.run(stop, linger=settings.projector_linger_ms / 1000)
    finally:
        event_log.close()


if __name__ == "__main__":
    main()
