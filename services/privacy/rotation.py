"""Rotating the key-encryption key: what makes an erasure final everywhere.

Erasing a requester deletes their wrapped key from the key store, but MongoDB keeps copies
the key store cannot reach: the oplog holds the key's original insert, backups and snapshots
hold the document. A rotation makes every such copy useless: a new KEK is made, every live
requester key is wrapped again under it, and the old KEK is destroyed (`keks.py`). A copy of
an erased key was wrapped under an old KEK (or, before the first rotation, under the master
key itself; the first rotation migrates those), so once that KEK is gone nothing opens it.
An erasure is therefore final at the end of the first rotation that starts after it.

Crash-safe by construction, in steps recorded in the key store's `kek` document:
1. the new KEK's id is recorded as the rotation's target, with the KEKs it replaces;
2. the KEK is written, durably, to the KEK directory;
3. it becomes `current` (new keys are wrapped under it from then on);
4. every live key under another KEK is wrapped again (conditional updates, in bulk: a key
   erased meanwhile is never revived), until none is left;
5. only then are the old KEKs destroyed, and the rotation recorded as done.
A crash anywhere leaves every old KEK in place until step 5, so every key stays readable; a
rerun picks up the recorded rotation where it stopped. A lease, renewed after every batch,
keeps two rotations from running at once; one that loses it stops before destroying anything.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from services.events.envelope import parse_time
from services.events.ids import new_id
from services.privacy.crypto import new_data_key
from services.privacy.vault import Vault

BATCH = 500
LEASE = timedelta(minutes=15)
MASTER = "master"  # stands for "wrapped directly under the master key" among old KEKs

Step = Callable[[str], None]


class RotationBusy(RuntimeError):
    """Another rotation holds the lease."""


@dataclass(frozen=True)
class Rotation:
    kek: str  # the KEK every live key is now wrapped under
    destroyed: tuple[str, ...]  # the KEKs destroyed (MASTER: keys migrated off the master key)
    rewrapped: int
    started_at: datetime
    finished_at: datetime
    resumed: bool  # a rotation interrupted before was completed

    def to_dict(self) -> dict[str, Any]:
        return {"kek": self.kek, "destroyed": list(self.destroyed), "rewrapped": self.rewrapped,
                "started_at": _iso(self.started_at), "finished_at": _iso(self.finished_at),
                "resumed": self.resumed}


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="seconds")


def _now() -> datetime:
    return datetime.now(UTC)


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def rotate(vault: Vault, *, step: Step | None = None, batch: int = BATCH) -> Rotation:
    """Rotate the KEK, or finish a rotation that was interrupted. `step` is called after each
    durable step with its name (a test raises there to simulate a crash); keys are wrapped
    again `batch` at a time, one bulk write each."""
    mark = step or (lambda _name: None)
    store, keks = vault.store, vault.keks
    if keks is None:
        raise RuntimeError("the vault has no KEK directory")
    vault.verify()
    owner = f"{socket.gethostname()}:{os.getpid()}:{new_id()}"
    if not store.claim_rotation(owner, _now(), _now() + LEASE):
        raise RotationBusy("another key rotation is running (its lease ends within "
                           f"{int(LEASE.total_seconds() // 60)} minutes)")
    try:
        state = store.kek_state()
        pending = state.get("rotation")
        resumed = pending is not None
        if pending is None:  # 1. record the target before anything exists
            old = [k for k in (state.get("current"), *state.get("retiring", ())) if k]
            pending = {"to": new_id(), "from": old or [MASTER], "started_at": _now()}
            store.set_kek_state({"rotation": pending})
            mark("recorded")
        target = pending["to"]
        if not keks.exists(target):  # 2. the KEK, durably, before any key is wrapped under it
            keks.write(target, new_data_key(), vault.master)
            mark("kek-written")
        if state.get("current") != target:  # 3. new keys go under it from now on
            store.set_kek_state({"current": target,
                                 "retiring": [k for k in pending["from"] if k != MASTER]})
            mark("current")

        def renew() -> None:
            if not store.renew_rotation(owner, _now() + LEASE):
                raise RotationBusy("this rotation's lease ran out and another rotation took "
                                   "it over; that one finishes the work")

        rewrapped = _rewrap_all(vault, target, mark, batch, renew)  # 4.
        renew()
        for old_kek in pending["from"]:  # 5. only now can nothing need the old KEKs
            if old_kek != MASTER:
                keks.destroy(old_kek)
                mark(f"destroyed:{old_kek}")
        vault.forget_keks()
        finished = _now()
        store.set_kek_state({"rotated_at": finished, "covers_until": pending["started_at"],
                             "retiring": []}, unset=("rotation",))
        return Rotation(target, tuple(pending["from"]), rewrapped,
                        _utc(pending["started_at"]), finished, resumed)
    finally:
        store.release_rotation(owner)


def _rewrap_all(vault: Vault, target: str, mark: Step, batch: int,
                renew: Callable[[], None]) -> int:
    """Wrap every live key under `target`: one pass in requester id order, then again from
    the start until a pass finds none (a key erased, or wrapped again by its writer,
    meanwhile is skipped; one written under an old KEK behind the pass is found then)."""
    count, after = 0, ""
    while True:
        docs = vault.store.not_under(target, batch, after)
        if not docs:
            if not after:
                return count
            after = ""  # look once more from the start
            continue
        count += vault.store.rewrap_many(
            [(doc["_id"], doc["wrapped"], vault.wrap(vault.unwrap(doc), doc["_id"], target))
             for doc in docs], target)
        after = docs[-1]["_id"]
        mark(f"rewrapped:{count}")
        renew()


@dataclass(frozen=True)
class Status:
    """What `sada privacy-scan` says about rotation."""

    current: str | None
    rotated_at: datetime | None
    in_progress: bool
    pending_erasures: int  # erased since the last completed rotation started: not yet final
    final_erasures: int

    def to_dict(self) -> dict[str, Any]:
        return {"current_kek": self.current,
                "last_rotation": _iso(self.rotated_at) if self.rotated_at else None,
                "in_progress": self.in_progress, "erasures_pending": self.pending_erasures,
                "erasures_final": self.final_erasures}


def status(vault: Vault) -> Status:
    state = vault.store.kek_state()
    covers = state.get("covers_until")
    covers = _utc(covers) if covers else None
    pending = final = 0
    for tomb in vault.store.erased():
        erased_at = parse_time(tomb["erased_at"])
        if covers is not None and erased_at < covers:
            final += 1
        else:
            pending += 1
    rotated = state.get("rotated_at")
    return Status(state.get("current"), _utc(rotated) if rotated else None,
                  "rotation" in state, pending, final)


def due(vault: Vault, every_hours: int, now: datetime | None = None) -> bool:
    """Whether the schedule calls for a rotation: never rotated, one interrupted, or the
    last one `every_hours` ago or more."""
    if every_hours <= 0:
        return False
    state = vault.store.kek_state()
    if "rotation" in state or not state.get("rotated_at"):
        return True
    return (now or _now()) - _utc(state["rotated_at"]) >= timedelta(hours=every_hours)
