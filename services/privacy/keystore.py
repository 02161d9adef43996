"""The key store: each requester's data key, wrapped under a key-encryption key, in MongoDB.

Its own database (`SADA_KEYSTORE_DB`, by default the read models' name + `_keys`), never one
of the read models: `sada replay` drops and rebuilds those, and must never touch a key.

- `requester_keys`: `{_id: requester id, wrapped, kek, created_at}`, `kek` naming the
  key-encryption key it is wrapped under (`keks.py`; absent: wrapped directly under the
  master key, as before the first rotation); once erased, a tombstone
  `{_id, erased_at, erased_by, event_id, recorded}` with no key left in it.
- `requester_lookups`: `{_id: lookup id, requester_id}`, where a lookup id is an HMAC of a
  phone number or national code (or of a demand id, for a requester known by name alone), so
  one requester's demands share one key and one erasure.
- `keystore`: `{_id: "master-check", check}`: a value sealed under the master key the store
  was made with. A different master key cannot open it, and then nothing starts.
  `{_id: "kek", current, rotation, rotated_at, covers_until}`: the KEK new keys are wrapped
  under, a rotation in progress (`rotation.py`) and when the last one finished. No key
  material: KEKs are never written to MongoDB, whose oplog and backups would keep them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import suppress
from datetime import UTC, datetime
from typing import Any

from pymongo import UpdateOne
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

KEYS, LOOKUPS, META = "requester_keys", "requester_lookups", "keystore"
CHECK_ID = "master-check"
KEK_ID = "kek"


def _now() -> datetime:
    return datetime.now(UTC)


class KeyStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.keys = db[KEYS]
        self.lookups = db[LOOKUPS]
        self.meta = db[META]

    # -- the master key's check value -----------------------------------------------------
    def check_value(self) -> str | None:
        doc = self.meta.find_one({"_id": CHECK_ID})
        return doc["check"] if doc else None

    def put_check_value(self, check: str) -> str:
        """Store the check value unless one is there already; returns the stored one."""
        with suppress(DuplicateKeyError):  # another process stored one first: it stands
            self.meta.insert_one({"_id": CHECK_ID, "check": check, "created_at": _now()})
        return self.check_value() or check

    def has_keys(self) -> bool:
        return self.keys.find_one({}, {"_id": 1}) is not None

    # -- keys -------------------------------------------------------------------------------
    def create(self, requester_id: str, wrapped: str, kek: str | None = None) -> None:
        doc = {"_id": requester_id, "wrapped": wrapped, "created_at": _now()}
        if kek is not None:
            doc["kek"] = kek
        self.keys.insert_one(doc)

    def rewrap(self, requester_id: str, old: str, new: str, kek: str) -> bool:
        """Replace a live key's wrapping, only if it is still `old` (never revives an erased
        key, never overwrites another process's rewrap). Whether it was replaced."""
        done = self.keys.update_one({"_id": requester_id, "wrapped": old},
                                    {"$set": {"wrapped": new, "kek": kek}})
        return done.modified_count == 1

    def rewrap_many(self, changes: list[tuple[str, str, str]], kek: str) -> int:
        """`rewrap` for many keys in one bulk write: (requester id, old, new) each. How many
        were replaced."""
        if not changes:
            return 0
        done = self.keys.bulk_write(
            [UpdateOne({"_id": rid, "wrapped": old}, {"$set": {"wrapped": new, "kek": kek}})
             for rid, old, new in changes], ordered=False)
        return done.modified_count

    def not_under(self, kek: str, limit: int, after: str = "") -> list[dict[str, Any]]:
        """Up to `limit` live keys wrapped under anything but `kek` (the master key included),
        in requester id order from after `after`."""
        return list(self.keys.find({"_id": {"$gt": after}, "wrapped": {"$exists": True},
                                    "kek": {"$ne": kek}}, sort=[("_id", 1)], limit=limit))

    # -- key-encryption keys: which one is current, and rotation's progress ----------------
    def kek_state(self) -> dict[str, Any]:
        return self.meta.find_one({"_id": KEK_ID}) or {"_id": KEK_ID}

    def current_kek(self) -> str | None:
        doc = self.meta.find_one({"_id": KEK_ID}, {"current": 1})
        return doc.get("current") if doc else None

    def set_kek_state(self, changes: dict[str, Any], unset: tuple[str, ...] = ()) -> None:
        update: dict[str, Any] = {"$set": changes}
        if unset:
            update["$unset"] = dict.fromkeys(unset, "")
        self.meta.update_one({"_id": KEK_ID}, update, upsert=True)

    def claim_rotation(self, owner: str, now: datetime, until: datetime) -> bool:
        """Take the rotation lease unless another rotation holds it; whether this one may run."""
        with suppress(DuplicateKeyError):
            done = self.meta.update_one(
                {"_id": KEK_ID, "$or": [{"lease_until": {"$exists": False}},
                                        {"lease_until": {"$lt": now}},
                                        {"lease_owner": owner}]},
                {"$set": {"lease_owner": owner, "lease_until": until}}, upsert=True)
            return done.matched_count == 1 or done.upserted_id is not None
        return False

    def renew_rotation(self, owner: str, until: datetime) -> bool:
        """Extend this rotation's lease; False if it was lost (it ran out and another took it)."""
        done = self.meta.update_one({"_id": KEK_ID, "lease_owner": owner},
                                    {"$set": {"lease_until": until}})
        return done.matched_count == 1

    def release_rotation(self, owner: str) -> None:
        self.meta.update_one({"_id": KEK_ID, "lease_owner": owner},
                             {"$unset": {"lease_owner": "", "lease_until": ""}})

    def discard(self, requester_id: str) -> None:
        """Remove a key that was never used (it lost a race for a lookup id)."""
        self.keys.delete_one({"_id": requester_id, "wrapped": {"$exists": True}})

    def get(self, requester_id: str) -> dict[str, Any] | None:
        return self.keys.find_one({"_id": requester_id})

    def wrapped(self, requester_id: str) -> str | None:
        doc = self.get(requester_id)
        return doc.get("wrapped") if doc else None

    def active(self) -> Iterator[dict[str, Any]]:
        return self.keys.find({"wrapped": {"$exists": True}})

    def erased(self) -> Iterator[dict[str, Any]]:
        return self.keys.find({"erased_at": {"$exists": True}})

    # -- lookups ----------------------------------------------------------------------------
    def find(self, lookup_id: str) -> str | None:
        doc = self.lookups.find_one({"_id": lookup_id})
        return doc["requester_id"] if doc else None

    def find_many(self, lookup_ids: list[str]) -> dict[str, str]:
        """lookup id -> requester id, for those of `lookup_ids` the store knows (one query)."""
        return {d["_id"]: d["requester_id"]
                for d in self.lookups.find({"_id": {"$in": lookup_ids}})}

    def link(self, lookup_id: str, requester_id: str) -> str:
        """Point `lookup_id` at `requester_id` unless it points somewhere already; returns
        the requester it points at."""
        try:
            self.lookups.insert_one({"_id": lookup_id, "requester_id": requester_id})
            return requester_id
        except DuplicateKeyError:
            return self.find(lookup_id) or requester_id

    def unlink(self, lookup_id: str) -> None:
        self.lookups.delete_one({"_id": lookup_id})

    # -- erasure ----------------------------------------------------------------------------
    def erase(self, requester_id: str, *, by: str, event_id: str,
              at: str) -> tuple[dict[str, Any] | None, bool]:
        """Delete the requester's key and lookups, leaving a tombstone. Returns the tombstone
        (None if there is no such requester) and whether this call erased the key."""
        done = self.keys.replace_one(
            {"_id": requester_id, "wrapped": {"$exists": True}},
            {"_id": requester_id, "erased_at": at, "erased_by": by, "event_id": event_id,
             "recorded": False})
        self.lookups.delete_many({"requester_id": requester_id})
        return self.get(requester_id), done.modified_count == 1

    def mark_recorded(self, requester_id: str) -> None:
        self.keys.update_one({"_id": requester_id}, {"$set": {"recorded": True}})
