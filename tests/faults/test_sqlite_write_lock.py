"""The SQLite log's writers queue on one lock across processes (services/eventlog/writelock.py)
instead of SQLite's busy handler, which sleeps 1, 2, 5 … 100 ms between tries: every append
and every consumer's offset commit takes it, holders exclude each other within one process
too, and a holder that dies releases it."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path

from services.eventlog.sqlite import SqliteEventLog
from services.eventlog.writelock import WriteLock
from tests.unit.streams import Router, lifecycle


def _in_thread(work: Callable[[], object]) -> threading.Event:
    done = threading.Event()
    threading.Thread(target=lambda: (work(), done.set()), daemon=True).start()
    return done


def _take(lock: WriteLock) -> None:
    with lock.held():
        pass


def test_holders_in_one_process_exclude_each_other(tmp_path: Path) -> None:
    lock = WriteLock(tmp_path / "log.write-lock")
    with lock.held():
        second = _in_thread(lambda: _take(lock))
        assert not second.wait(0.3)  # waits while the first holds it
    assert second.wait(10)  # and gets it once the first lets go


def _hold_forever(path: Path, holding: multiprocessing.synchronize.Event) -> None:
    with WriteLock(path).held():
        holding.set()
        threading.Event().wait()


def test_a_holder_killed_releases_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "log.write-lock"
    ctx = multiprocessing.get_context("spawn")
    holding = ctx.Event()
    holder = ctx.Process(target=_hold_forever, args=(path, holding), daemon=True)
    holder.start()
    assert holding.wait(30)
    waiter = _in_thread(lambda: _take(WriteLock(path)))
    assert not waiter.wait(0.3)
    os.kill(holder.pid, signal.SIGKILL)
    holder.join(10)
    assert waiter.wait(10)


def test_appends_and_offset_commits_wait_for_the_write_lock(tmp_path: Path) -> None:
    """Both kinds of write transaction take the lock (another process finds it beside the
    log's file); with it free they go on at once."""
    log = SqliteEventLog(tmp_path / "events.db")
    lock = WriteLock(tmp_path / "events.db.write-lock")
    router = Router()
    router.run(lifecycle(2))
    events = router.log
    consumer = log.consumer("projection", lambda partitions: {0: 0})
    with lock.held():
        appended = _in_thread(lambda: log.append(events[:1]))
        committed = _in_thread(lambda: consumer.commit({0: 1}))
        assert not appended.wait(0.3) and not committed.wait(0.3)
    assert appended.wait(10) and committed.wait(10)
    assert [r.offset for r in log.read({0: 0})] == [0]
    assert log.committed("projection") == {0: 1}
    assert _in_thread(lambda: log.append(events[1:2])).wait(10)
    log.close()
