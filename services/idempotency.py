"""Idempotency keys scoped to their caller and bound to their body.

A client sends `Idempotency-Key` so that a retry names the same request. The key alone names
nothing: it is *bound* to who sends it (the token's role, subject and scope: two callers with
the same key make two requests) and to what for (the namespace: a demand, a meeting, one action
on one demand). A keyed request is then:

- new: it is recorded;
- the same caller, key and body again (a retry): the first answer, and nothing is appended;
- the same caller and key with another body: refused (`KeyReused`, a 422 naming the key), and
  nothing is appended.

The binding lives in the log, in the recorded event's id: a keyed id's first 8 bytes are a
hash of the binding (its top bit set, so a keyed id starts with 4-7 while a time-based
ULID starts with 0), its last 8 bytes a keyed hash of the binding and the normalised body (the
fingerprint). `KeyedWrites` follows the log and remembers, for each binding, the first event
that carried it, so a restart (or a crash between append and answer) rebuilds the same memory,
and logs written before keep replaying unchanged. The fingerprint is keyed with a key derived
from the token secret, so an id in the log does not let anyone test guesses of a body's
personal data; the binding is not (it holds no body), so a retry that straddles a rotation of
that secret meets its binding with another fingerprint: a 422, never a second demand.

A stream created by a keyed request (a demand, a meeting) takes its id from the binding and the
fingerprint too: a retry names the same demand, and two different bodies racing on one key in
two processes make two demands, never one swallowing the other. Within one process the check and
the append are serialised per binding.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
from dataclasses import dataclass
from typing import Any, NoReturn

from flask import Flask
from flask import abort as abort_with
from ulid import ULID

from services.eventlog.port import EventLog, Position, Record
from services.events.envelope import Actor
from services.logtail import LogTail
from services.recording import Unavailable
from services.web import fail, unavailable

logger = logging.getLogger(__name__)

FIELD = "Idempotency-Key"
REUSED = ("This Idempotency-Key was already used by the same caller for another request "
          "(a different body); nothing was recorded. Send a new key for a new request.")

# The ids as canonical bytes hold them (sorted keys: demand_id, envelope, event_id are
# neighbours), read without decoding the event; a keyed event id starts with 4-7.
_IDS = re.compile(rb'"demand_id":"([0-9A-HJKMNP-TV-Z]{26})","envelope":1,'
                  rb'"event_id":"([4-7][0-9A-HJKMNP-TV-Z]{25})"')
_MAYBE_KEYED = re.compile(rb'"event_id"\s*:\s*"[4-7]')
_STRIPES = 64


class KeyReused(Exception):
    """The caller's key names another request already: a 422 naming `Idempotency-Key`."""

    def __init__(self) -> None:
        super().__init__(REUSED)


@dataclass(frozen=True)
class Keyed:
    """One keyed request, before it is recorded: its ids come from binding and fingerprint."""

    binding: bytes  # 8 bytes, top bit set
    fingerprint: bytes  # 8 bytes

    @property
    def event_id(self) -> str:
        return str(ULID.from_bytes(self.binding + self.fingerprint))

    def stream_id(self, namespace: str) -> str:
        """The id of a stream this request creates (a demand, a meeting)."""
        digest = hashlib.blake2b(self.binding + self.fingerprint, digest_size=16,
                                 person=b"sada-stream", salt=namespace.encode()[:16]).digest()
        return str(ULID.from_bytes(digest))


@dataclass(frozen=True)
class Seen:
    """The event the log holds for a binding: what the first answer named."""

    event_id: str
    stream_id: str
    position: Position


def canonical(body: Any) -> bytes:
    """A body as one byte string: sorted keys, no white space, dates as ISO text."""
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str).encode()


class KeyedWrites(LogTail):
    """The bindings the log holds, each with the first event that carried it."""

    def __init__(self, log: EventLog, secret: str) -> None:
        super().__init__(log)
        self._key = hashlib.blake2b(secret.encode(), digest_size=32,
                                    person=b"sada-idem-key").digest()
        # binding -> fingerprint (8 bytes), stream id (16), partition (2), offset (6): about
        # 150 bytes of memory per keyed event the log holds.
        self._seen: dict[bytes, bytes] = {}
        self._stripes = [threading.Lock() for _ in range(_STRIPES)]

    def keyed(self, namespace: str, actor: Actor, key: str, body: Any) -> Keyed:
        """The request `key` names for this caller, in this namespace, with this body."""
        who = canonical([namespace, actor.role, actor.id, actor.district, actor.department, key])
        binding = bytearray(hashlib.blake2b(who, person=b"sada-idem-bind",
                                            digest_size=8).digest())
        binding[0] |= 0x80
        fingerprint = hashlib.blake2b(bytes(binding) + canonical(body), key=self._key,
                                      digest_size=8).digest()
        return Keyed(bytes(binding), fingerprint)

    def lock(self, keyed: Keyed) -> threading.Lock:
        """Hold it from `seen` to the append, so one process never races itself."""
        return self._stripes[keyed.binding[-1] % _STRIPES]

    def seen(self, keyed: Keyed) -> Seen | None:
        """What the log holds for the request's binding: None if nothing; the first event if
        it carried the same body. Raises KeyReused if it carried another body, Unavailable
        if the log cannot be read."""
        try:
            self.refresh()
        except Exception as exc:
            logger.exception("reading the log's keyed requests failed")
            raise Unavailable(str(exc)) from exc
        packed = self._seen.get(keyed.binding)
        if packed is None:
            return None
        if packed[:8] != keyed.fingerprint:
            raise KeyReused()
        return Seen(keyed.event_id, str(ULID.from_bytes(packed[8:24])),
                    Position(int.from_bytes(packed[24:26], "big"),
                             int.from_bytes(packed[26:32], "big")))

    def take(self, record: Record) -> None:
        found = _IDS.search(record.raw)
        if found is not None:
            stream_id, event_id = found.group(1).decode(), found.group(2).decode()
        elif _MAYBE_KEYED.search(record.raw) is not None:  # not canonical bytes: decode
            event = record.event
            stream_id, event_id = event.demand_id, event.event_id
            if event_id[0] not in "4567":
                return
        else:
            return
        ulid = ULID.from_str(event_id).bytes
        if ulid[:8] not in self._seen:
            self._seen[ulid[:8]] = (ulid[8:] + ULID.from_str(stream_id).bytes
                                    + record.partition.to_bytes(2, "big")
                                    + record.offset.to_bytes(6, "big"))


_MADE = threading.Lock()


def of(app: Flask, log: EventLog) -> KeyedWrites:
    """The app's memory of keyed requests over `log`, made on first use (it reads the log from
    the beginning then, and only what is new after)."""
    with _MADE:
        writes = app.extensions.get("sada.keyed")
        if writes is None or writes.log is not log:
            writes = KeyedWrites(log, app.extensions["sada.settings"].auth_secret)
            app.extensions["sada.keyed"] = writes
        return writes


def refuse(exc: KeyReused) -> NoReturn:
    """End the request: a 422 naming the key and why."""
    fail(422, str(exc), {"headers": {FIELD: [str(exc)]}})


def seen_in_view(keys: KeyedWrites, keyed: Keyed) -> Seen | None:
    """`keys.seen(keyed)` for a view: a KeyReused ends the request with a 422 naming the key,
    a log that cannot be read with a 503 asking for a retry."""
    try:
        return keys.seen(keyed)
    except KeyReused as exc:
        refuse(exc)
    except Unavailable:
        abort_with(unavailable())
