"""Recording one demand: the one code path every way of submitting goes through (`POST
/demands`, and Open311's `POST /open311/v2/requests.json`).

`validate` checks a body with intake's versioned schema (`SubmitDemandV1`); `record` seals
the requester's personal data (`services/privacy/vault.py`: the log never holds it in clear),
makes the DemandSubmitted event and appends it, returning only once the log acknowledged it.
With an idempotency key the demand and event ids come from the key, so a retry names the same
demand (and the same requester).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from pymongo.errors import PyMongoError

from intake.schemas import SubmitDemandV1
from services.eventlog.port import EventLog, Position
from services.events import envelope
from services.events.envelope import Actor, Event
from services.events.ids import id_from_key, new_id
from services.metrics import DEMANDS_SUBMITTED
from services.privacy.vault import Vault
from services.recording import Unavailable, append_one

logger = logging.getLogger("intake.record")


@dataclass(frozen=True)
class Recorded:
    event: Event
    position: Position

    @property
    def demand_id(self) -> str:
        return self.event.demand_id


def validate(body: dict[str, Any]) -> dict[str, Any]:
    """The body as intake's schema loads it; a ValidationError names each field at fault."""
    return SubmitDemandV1().load(body)


def record(log: EventLog, body: dict[str, Any], actor: Actor,
           idempotency_key: str | None = None, *, vault: Vault) -> Recorded:
    """Append one DemandSubmitted for a validated body, its requester sealed by `vault`.
    Raises ValidationError if the event's own schema refuses it, Unavailable if the key store
    or the log does not answer."""
    if idempotency_key is None:
        event_id, demand_id = new_id(), new_id()
    else:
        event_id = id_from_key("event", idempotency_key)
        demand_id = id_from_key("demand", idempotency_key)
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
    return Recorded(event, position)
