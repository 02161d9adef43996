"""Routing's endpoints: people's actions on a demand, recorded as request events.

The API decides nothing: it validates the body and the actor, appends the request, and answers
202 with the request's id. A support's supporter is named in the request by the key store's id
of the person, never by the national code or phone the body gave (`routing/supporter.py`).
An `Idempotency-Key` is the caller's own, for one action on one demand, and bound to the body
(`services/idempotency.py`): a retry is answered as the first time and appends nothing; the
key reused with another body is a 422. The worker is the one writer of decisions; its answer
(a decision whose causation_id is the request id, or a visible ActionRejected) shows in
reporting.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from flask import abort as abort_with
from flask import current_app
from marshmallow import Schema
from pymongo.errors import PyMongoError
from webargs.flaskparser import abort

from routing.schemas import (
    AcknowledgeV1,
    AppealV1,
    CallUpV1,
    EscalationV1,
    MergeV1,
    NoteV1,
    ReasonV1,
    RejectionV1,
    RequestAcceptedV1,
    RequesterInfoV1,
    RequesterResponseV1,
    ResolutionV1,
    SendBackV1,
    SupportV2,
    TransferV1,
)
from routing.scope import check_early
from routing.supporter import support_payload
from services import auth, idempotency
from services.events.envelope import ULID_PATTERN
from services.events.ids import new_id
from services.parsing import Blueprint, RequestHeadersV1
from services.privacy import service as privacy
from services.web import UNAVAILABLE, record_one, unavailable

logger = logging.getLogger(__name__)

_ULID = re.compile(ULID_PATTERN)

blp = Blueprint("routing", __name__, description="Record actions on demands; show the rules.")

# Who may ask for each action (decide() then checks the demand's level and state): the rung's
# own role acts on the demand, the requester's side (the clerk) withdraws and asks to reopen,
# and the administrator may do anything decide() allows it.
LADDER = (auth.STAFF, auth.MAYOR, auth.HQ, auth.CENTRAL, auth.ADMIN)
REQUESTER_SIDE = (auth.CLERK, auth.ADMIN)
ACTION_ROLES: dict[str, tuple[str, ...]] = {
    "acknowledge": LADDER, "notes": LADDER, "resolution": LADDER, "escalation": LADDER,
    "rejection": LADDER, "withdrawal": REQUESTER_SIDE,
    "reopen": (auth.CLERK, *LADDER),
    "requester-info": LADDER, "requester-response": REQUESTER_SIDE, "appeal": REQUESTER_SIDE,
    "send-back": (auth.HQ, auth.CENTRAL, auth.ADMIN),
    "support": REQUESTER_SIDE,
    "merge": LADDER,
    "transfer": LADDER,
    "call-up": (auth.MAYOR, auth.HQ, auth.CENTRAL),
}

# path -> (request event type, body schema, summary)
ACTIONS: dict[str, tuple[str, type[Schema], str]] = {
    "acknowledge": ("AcknowledgementRequested", AcknowledgeV1,
                    "Acknowledge a routed demand (start work on it)."),
    "notes": ("ProgressNoteSubmitted", NoteV1, "Add a progress note."),
    "resolution": ("ResolutionReported", ResolutionV1, "Report the demand resolved."),
    "escalation": ("EscalationRequested", EscalationV1,
                   "Escalate the demand one rung up the ladder."),
    "rejection": ("RejectionRequested", RejectionV1,
                  "Reject the demand, with a reason in words and as a code."),
    "withdrawal": ("WithdrawalRequested", ReasonV1, "Withdraw the demand (requester's side)."),
    "reopen": ("ReopenRequested", ReasonV1, "Reopen a resolved demand."),
    "requester-info": ("RequesterInfoRequested", RequesterInfoV1,
                       "Ask the requester for more; the SLA clock stops until they answer."),
    "requester-response": ("RequesterResponded", RequesterResponseV1,
                           "Record the requester's answer; the SLA clock runs again."),
    "appeal": ("EscalationRequested", AppealV1,
               "Appeal against a resolution or rejection (requester's side): reopened one "
               "rung up."),
    "send-back": ("SendBackRequested", SendBackV1,
                  "Send the demand down the ladder with instructions and a new deadline."),
    "support": ("SupportRequested", SupportV2,
                "Support the demand for the district's annual plan: one per person "
                "(national code or phone), anonymous supports counted apart."),
    "call-up": ("CallUpRequested", CallUpV1,
                "Take the demand up to the caller's own rung (mayor, headquarters, central)."),
    "transfer": ("TransferRequested", TransferV1,
                 "Send the demand to another queue (department, triage desk or district)."),
    "merge": ("MergeRequested", MergeV1,
              "Close the demand as a duplicate of another, which takes its supporters."),
}


def _demand_id(raw: str) -> str:
    demand_id = raw.upper()
    if not _ULID.match(demand_id):
        abort(422, messages={"path": {"demand_id": ["Not a valid demand id (a ULID)."]}})
    return demand_id


def _record(type_: str, raw_demand_id: str, body: dict[str, Any], headers: dict[str, Any]):
    demand_id = _demand_id(raw_demand_id)
    principal = auth.current_actor()
    places = current_app.extensions["sada.places"]
    check_early(places, principal, demand_id)
    if type_ == "MergeRequested":  # the target must be within the actor's scope too
        check_early(places, principal, body["into"])
    key = headers["idempotency_key"]
    if key is None:
        event_id = new_id()
        _, position = record_one(type_, demand_id, _payload(type_, body, demand_id),
                                 principal.actor(), event_id)
    else:
        # The caller's key, for this action on this demand, bound to this body.
        keys = idempotency.of(current_app, current_app.extensions["sada.log"])
        keyed = keys.keyed(f"request/{type_}/{demand_id}", principal.actor(), key, body)
        with keys.lock(keyed):
            seen = idempotency.seen_in_view(keys, keyed)
            event_id = keyed.event_id
            if seen is not None:
                position = seen.position
            else:
                _, position = record_one(type_, demand_id, _payload(type_, body, demand_id),
                                         principal.actor(), event_id)
    reporting = f"{current_app.extensions['sada.settings'].service_url('reporting')}/demands"
    return {"request_id": event_id, "demand_id": demand_id, "position": str(position),
            "links": {"decision": f"{reporting}/{demand_id}?decided={event_id}"}}


def _payload(type_: str, body: dict[str, Any], demand_id: str) -> dict[str, Any]:
    """The request's payload: the body, but for a support, whose supporter's national code or
    phone becomes the key store's id of the person (never the values themselves)."""
    if type_ != "SupportRequested":
        return body
    try:
        return support_payload(body, privacy.vault(), demand_id)
    except PyMongoError:
        logger.exception("finding the supporter of demand %s in the key store failed",
                         demand_id)
        abort_with(unavailable())


def _action_view(path: str, type_: str, schema: type[Schema], summary: str) -> Callable:
    def view(body: dict[str, Any], headers: dict[str, Any], demand_id: str):
        return _record(type_, demand_id, body, headers)

    view.__name__ = f"post_{path}"
    view.__doc__ = (f"{summary}\n\nRecords a {type_} request; routing decides it. Admits: "
                    f"{', '.join(ACTION_ROLES[path])}, each within its own scope.")
    view = auth.roles(*ACTION_ROLES[path])(view)
    view = blp.alt_response(503, description=UNAVAILABLE)(view)
    view = blp.alt_response(422, description="Invalid body, header or demand id, or an "
                                                  "Idempotency-Key used for another body.")(view)
    view = blp.response(202, RequestAcceptedV1)(view)
    view = blp.arguments(RequestHeadersV1, location="headers")(view)
    view = blp.arguments(schema)(view)
    return blp.route(f"/demands/<demand_id>/{path}", methods=["POST"], endpoint=path)(view)


for _path, (_type, _schema, _summary) in ACTIONS.items():
    _action_view(_path, _type, _schema, _summary)
