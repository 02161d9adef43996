"""API keys for applications (Open311's `api_key`): issued and revoked by an administrator
(`sada api-key`), kept only as hashes in MongoDB, each naming its application and, if given,
the one district it may submit for. A key is 32 random bytes, so a plain SHA-256 of it is
enough: the stored hash cannot be turned back into a key."""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

from pymongo.database import Database

COLLECTION = "api_keys"
PREFIX = "sada_"
NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class Application:
    name: str
    district: int | None


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create(db: Database, name: str, district: int | None, *, by: str) -> str:
    """A new key for the application `name` (shown once, never stored); ValueError if the
    name is not a short lower-case identifier or already has a live key."""
    if not NAME.match(name):
        raise ValueError("the name must be 1-64 lower-case letters, digits, '.', '_' or '-'")
    if db[COLLECTION].find_one({"name": name, "revoked_at": None}):
        raise ValueError(f"{name} already has a key: revoke it first")
    key = PREFIX + secrets.token_urlsafe(32)
    db[COLLECTION].insert_one({"_id": _hash(key), "name": name, "district": district,
                               "created_at": int(time.time()), "by": by, "revoked_at": None})
    return key


def revoke(db: Database, name: str, *, by: str) -> int:
    """Revoke the application's live keys; how many there were."""
    done = db[COLLECTION].update_many({"name": name, "revoked_at": None},
                                      {"$set": {"revoked_at": int(time.time()),
                                                "revoked_by": by}})
    return done.modified_count


def find(db: Database, key: str) -> Application | None:
    """The application a live key names, or None."""
    if not key.startswith(PREFIX) or len(key) > 100:
        return None
    doc: dict[str, Any] | None = db[COLLECTION].find_one({"_id": _hash(key),
                                                           "revoked_at": None})
    return None if doc is None else Application(doc["name"], doc.get("district"))
