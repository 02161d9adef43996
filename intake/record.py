"""Recording one demand: the one code path every way of submitting goes through (`POST
/demands`, and Open311's `POST /open311/v2/requests.json`).

`validate` checks a body with intake's versioned schema (`SubmitDemandV1`); `record` seals
the requester's personal data (`services/privacy/vault.py`: the log never holds it in clear),
makes the DemandSubmitted event and appends it, returning only once the log acknowledged it.
With an idempotency key (`services/idempotency.py`) the key is the caller's and bound to the
body: the demand and event ids come from the caller, the key and the body, so a retry names the
same demand (and the same requester) and appends nothing; the same key with another body is
refused (KeyReused) before anything is sealed or appended.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from pymongo.errors import PyMongoError

from intake.schemas import SubmitDemandV1
from services.eventlog.port import EventLog, Position
from services.events import envelope
from services.events.envelope import Actor
from services.events.ids import new_id
from services.idempotency import KeyedWrites
from services.metrics import DEMANDS_SUBMITTED
from services.privacy.vault import Vault
from services.recording import Unavailable, append_one

logger = logging.getLogger("intake.record")


NAMESPACE = "demand"


@dataclass(frozen=True)
class Recorded:
    event_id: str
    demand_id: str
    position: Position
    again: bool = False  # a retry: the log already held it, nothing was appended


def validate(body: dict[str, Any]) -> dict[str, Any]:
    """The body as intake's schema loads it; a ValidationError names each field at fault."""
    return SubmitDemandV1().load(body)


def record(log: EventLog, body: dict[str, Any], actor: Actor,
           idempotency_key: str | None = None, *, vault: Vault,
           keys: KeyedWrites | None = None) -> Recorded:
    """Append one DemandSubmitted for a validated body, its requester sealed by `vault`.
    With `idempotency_key`, `keys` (what the log holds of keyed requests) is required.
    Raises ValidationError if the event's own schema refuses it, KeyReused if the caller's
    key names another body, Unavailable if the key store or the log does not answer."""
    if idempotency_key is None:
        return _append(log, body, actor, new_id(), new_id(), vault)
    if keys is None:
        raise ValueError("an idempotency key needs the log's keyed requests")
    keyed = keys.keyed(NAMESPACE, actor, idempotency_key, body)
    with keys.lock(keyed):
        seen = keys.seen(keyed)
        if seen is not None:
            return Recorded(seen.event_id, seen.stream_id, seen.position, again=True)
        return _append(log, body, actor, keyed.event_id, keyed.stream_id(NAMESPACE), vault)


def _append(log: EventLog, body: dict[str, Any], actor: Actor, event_id: str, demand_id: str,
            vault: Vault) -> Recorded:
    try:
        payload = {**body, "requester": vault.seal(body["requester"], demand_id)}
    except PyMongoError as exc:
        logger.exception("sealing the requester of demand %s failed", demand_id)
        raise Unavailable(str(exc)) from exc
    event = envelope.make("DemandSubmitted", demand_id, payload, actor=actor,
                          event_id=event_id, recorded_at=envelope.now())
    position = append_one(log, event)
    DEMANDS_SUBMITTED.labels(district=str(event.payload["district"]),
                             channel=event.payload["channel"]).inc()
    return Recorded(event.event_id, event.demand_id, position)
