"""Revoked tokens: by token id, or every token of a subject issued up to a moment.

`sada token revoke` writes to one MongoDB collection that every service reads; each service
refreshes its copy at most every `REFRESH_SECONDS`, so a revocation takes effect everywhere
within a minute without a database round trip per request. If the collection cannot be read,
a service keeps the copy it has (and says so in its log): a revocation is never forgotten
once seen, and the services keep answering while MongoDB is away.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import PyMongoError

logger = logging.getLogger(__name__)

COLLECTION = "revoked_tokens"
REFRESH_SECONDS = 30.0


def revoke_token(db: Database, token_id: str, *, by: str, until: int) -> None:
    """Refuse the token with this id (its `jti`) from now on; `until` is when it expires."""
    db[COLLECTION].update_one({"_id": f"jti:{token_id}"}, {"$setOnInsert": {
        "kind": "jti", "value": token_id, "revoked_at": int(time.time()), "by": by,
        "until": until}}, upsert=True)


def revoke_subject(db: Database, subject: str, *, by: str) -> None:
    """Refuse every token of `subject` issued up to now; tokens issued later work."""
    db[COLLECTION].update_one({"_id": f"sub:{subject}"}, {"$set": {
        "kind": "sub", "value": subject, "revoked_at": int(time.time()), "by": by}},
        upsert=True)


class Revocations:
    """A service's copy of the revocations, refreshed now and then."""

    def __init__(self, collection: Callable[[], Collection],
                 refresh_seconds: float = REFRESH_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._collection, self._refresh, self._clock = collection, refresh_seconds, clock
        self._ids: set[str] = set()
        self._subjects: dict[str, int] = {}
        self._loaded_at: float | None = None
        self._lock = threading.Lock()

    def _due(self) -> bool:
        return self._loaded_at is None or self._clock() - self._loaded_at >= self._refresh

    def refresh(self) -> None:
        try:
            docs: list[dict[str, Any]] = list(self._collection().find({}))
        except PyMongoError as exc:
            logger.warning("reading the revoked tokens failed (%s): keeping the %d known",
                           type(exc).__name__, len(self._ids) + len(self._subjects))
            self._loaded_at = self._clock()  # try again after the next interval
            return
        self._ids |= {d["value"] for d in docs if d.get("kind") == "jti"}
        for d in docs:
            if d.get("kind") == "sub":
                self._subjects[d["value"]] = max(self._subjects.get(d["value"], 0),
                                                 int(d["revoked_at"]))
        self._loaded_at = self._clock()

    def revoked(self, token_id: str, subject: str, issued_at: int) -> bool:
        if self._due():
            with self._lock:
                if self._due():
                    self.refresh()
        if token_id and token_id in self._ids:
            return True
        cut = self._subjects.get(subject)
        return cut is not None and issued_at <= cut


def from_database(db: Database) -> Revocations:
    return Revocations(lambda: db[COLLECTION])
