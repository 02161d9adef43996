"""Events: the immutable facts that make up Sada's one source of truth."""

from services.events.envelope import Actor, Event, decode, encode
from services.events.ids import derived_id, new_id

__all__ = ["Actor", "Event", "decode", "encode", "derived_id", "new_id"]
