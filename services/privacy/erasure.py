"""Erasing a requester: delete their key, then record `RequesterErased` in the log.

The key goes first: once it is gone, every copy of the requester's sealed data (the log, the
read models, replays, exports, backups of them) is unreadable through Sada; copies of the
key itself that MongoDB keeps (its oplog, backups) open nothing once the key-encryption key
next rotates (`rotation.py`). The event follows, with an id
fixed by the requester and a time fixed by the tombstone, so an erasure interrupted before
its event was appended is completed, byte for byte the same, by asking again.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.eventlog.port import EventLog, Position
from services.events import envelope
from services.events.envelope import Actor, parse_time
from services.events.families.privacy import ERASED, PRIVACY_STREAM_ID
from services.events.ids import id_from_key
from services.privacy.vault import Vault


@dataclass(frozen=True)
class Erasure:
    requester_id: str
    erased_at: str
    event_id: str
    position: Position | None  # where this call appended the event; None if done before
    already: bool  # erased before this call

    def to_dict(self) -> dict[str, object]:
        return {"requester_id": self.requester_id, "erased_at": self.erased_at,
                "event_id": self.event_id, "already_erased": self.already,
                "position": None if self.position is None else str(self.position)}


def erase(vault: Vault, log: EventLog, requester_id: str, actor: Actor) -> Erasure | None:
    """Erase a requester's personal data; None if the key store never knew them."""
    event_id = id_from_key("event", f"erasure\x1f{requester_id}")
    tomb, erased_now = vault.store.erase(requester_id, by=f"{actor.role}:{actor.id}",
                                         event_id=event_id,
                                         at=envelope.format_time(envelope.now()))
    if tomb is None:
        return None
    position = None
    if not tomb.get("recorded"):
        event = envelope.make(ERASED, PRIVACY_STREAM_ID, {"requester_id": requester_id},
                              actor=actor, event_id=tomb["event_id"],
                              recorded_at=parse_time(tomb["erased_at"]))
        (position,) = log.append([event])
        vault.store.mark_recorded(requester_id)
    return Erasure(requester_id, tomb["erased_at"], tomb["event_id"], position,
                   already=not erased_now)
