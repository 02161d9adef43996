"""The audit worker: seals the log as it grows and writes the time-travel snapshots.

One consumer group (`audit-sealer`) gives each member some partitions; the member seals those
(`services/audit/sealer.py`) and, in a second thread, writes their snapshots once the
projector has projected far enough (`reporting/timetravel/snapshots.py`). So replicas share
the partitions as the other workers do, and no two write the same snapshots.

Run it with `python -m reporting.audit_worker` (SADA_* settings, see `services.config`);
`sada run` starts it.
"""

from __future__ import annotations

import argparse
import logging
import threading

from pymongo import MongoClient

from reporting.timetravel.snapshots import EVERY as SNAPSHOT_EVERY
from reporting.timetravel.snapshots import Snapshotter
from services import config, jsonlog
from services.audit.sealer import EVERY as SEAL_EVERY
from services.audit.sealer import SECONDS as SEAL_SECONDS
from services.audit.sealer import Sealer
from services.eventlog import open_log
from services.observability import serve_worker_metrics
from services.signals import stop_on_signals

logger = logging.getLogger("reporting.audit_worker")


def main(settings: config.Settings | None = None, *, seal_every: int = SEAL_EVERY,
         seal_seconds: float = SEAL_SECONDS, snapshot_every: int = SNAPSHOT_EVERY) -> None:
    settings = settings or config.load()
    jsonlog.configure("audit-worker", settings.log_level)
    stop = stop_on_signals(logger)
    client: MongoClient = MongoClient(settings.mongo_url)
    log = open_log(settings)
    stop_metrics = serve_worker_metrics(settings.metrics_host, settings.metrics_port)
    sealer = Sealer(log, every=seal_every, seconds=seal_seconds)
    snapshotter = Snapshotter(log, client[settings.mongo_db], every=snapshot_every)
    snapshots = threading.Thread(
        target=snapshotter.run, name="snapshots", daemon=True,
        kwargs={"stop": stop, "partitions": lambda: list(sealer.assigned)})
    try:
        snapshotter.store.ensure_indexes()
        snapshots.start()
        sealer.run(stop)
    finally:
        stop.set()
        snapshots.join(30)
        if stop_metrics is not None:
            stop_metrics()
        log.close()
        client.close()
    logger.info("stopped")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Seal the log; write time-travel snapshots.")
    parser.add_argument("--seal-every", type=int, default=SEAL_EVERY,
                        help="events per seal at most")
    parser.add_argument("--seal-seconds", type=float, default=SEAL_SECONDS,
                        help="longest an event waits for its seal")
    parser.add_argument("--snapshot-every", type=int, default=SNAPSHOT_EVERY,
                        help="offsets between time-travel snapshots")
    args = parser.parse_args()
    main(seal_every=args.seal_every, seal_seconds=args.seal_seconds,
         snapshot_every=args.snapshot_every)
