"""Routing workers that restart by folding the whole log, or from the snapshots the worker
before them left: the crash-repair tests run both ways (`restarts` fixture)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from routing.snapshots import SnapshotStore
from routing.worker import RoutingWorker
from services.eventlog.port import EventLog

MakeWorker = Callable[..., RoutingWorker]


class Restarts:
    """Makes the workers of one test; with `snapshots`, each snapshots after every batch."""

    def __init__(self, snapshots: Path | None) -> None:
        self.store = SnapshotStore(snapshots) if snapshots is not None else None

    @property
    def from_snapshots(self) -> bool:
        return self.store is not None

    def worker(self, log: EventLog, **kwargs) -> RoutingWorker:
        if self.store is None:
            return RoutingWorker(log, **kwargs)
        return RoutingWorker(log, snapshots=self.store, snapshot_every=1, **kwargs)

    def started(self, worker: RoutingWorker, snapshot_expected: bool = True) -> None:
        """After `worker.start()`: with snapshots, it started from one (if one was due)."""
        if self.store is not None and snapshot_expected:
            assert worker.restored_from, "the worker folded from the beginning"
        if self.store is None:
            assert worker.restored_from == {}


@pytest.fixture(params=["full-fold", "from-snapshot"])
def restarts(request, tmp_path) -> Restarts:
    path = tmp_path / "snapshots.sqlite3" if request.param == "from-snapshot" else None
    return Restarts(path)
