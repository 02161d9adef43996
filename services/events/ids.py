"""Sortable event and demand ids (ULIDs).

A decision made by routing gets an id *derived* from the event that caused it, so replaying the
same stream yields byte-identical decisions, and a decision written twice (a crash between append
and commit, a rebalance) is recognisably the same event.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from ulid import ULID

ULID_PATTERN = r"^[0-7][0-9A-HJKMNP-TV-Z]{25}$"  # 128 bits: the first digit is 0-7


def new_id(at: datetime | None = None) -> str:
    return str(ULID.from_datetime(at) if at else ULID())


def derived_id(at: datetime, *parts: str) -> str:
    """A ULID with `at`'s timestamp and randomness taken from a hash of `parts`."""
    millis = int(at.timestamp() * 1000)
    digest = hashlib.blake2b("\x1f".join(parts).encode(), digest_size=10).digest()
    return str(ULID.from_bytes(millis.to_bytes(6, "big") + digest))


def id_from_key(namespace: str, key: str) -> str:
    """An id fixed by a name (a system stream, an erasure). A caller's Idempotency-Key never
    comes here alone: it is scoped and bound to its body by `services/idempotency.py`."""
    digest = hashlib.blake2b(f"{namespace}\x1f{key}".encode(), digest_size=16).digest()
    return str(ULID.from_bytes(digest))
