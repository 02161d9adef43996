"""Routing's endpoints: people's actions on a demand, recorded as request events.

The API decides nothing: it validates the body and the actor, appends the request, and answers
202 with the request's id. The worker is the one writer of decisions; its answer (a decision
whose causation_id is the request id, or a visible ActionRejected) shows in reporting.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

import flask_smorest
from flask import Response, current_app, jsonify
from marshmallow import Schema, ValidationError
from webargs import core
from webargs.flaskparser import FlaskParser, abort, is_json_request

from routing.domain.rules import PRIORITY_FACTOR, TRIAGE_DEPARTMENT, RuleTable
from routing.schemas import (
    AcknowledgeV1,
    ActorHeadersV1,
    EscalationV1,
    NoteV1,
    ReasonV1,
    RequestAcceptedV1,
    ResolutionV1,
    RulesV1,
)
from services.domain.vocabulary import LEVEL_CODES
from services.eventlog.port import EventLog
from services.events import envelope
from services.events.envelope import ULID_PATTERN, Actor
from services.events.ids import id_from_key, new_id

logger = logging.getLogger(__name__)

UNAVAILABLE = "could not record durably, retry with the same Idempotency-Key"
_ULID = re.compile(ULID_PATTERN)


class JsonBodyParser(FlaskParser):
    """A body that is not a JSON document is a 422 naming the body, never a 400."""

    def _raw_load_json(self, req):
        if not req.get_data(cache=True):
            return core.missing
        if not is_json_request(req):
            abort(422, messages={"json": {"_schema": [
                "The body must be JSON (Content-Type: application/json)."]}})
        return core.parse_json(req.get_data(cache=True))

    def _handle_invalid_json_error(self, error, req, *args, **kwargs):
        abort(422, exc=error, messages={"json": {"_schema": ["Invalid JSON body."]}})


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = JsonBodyParser()


blp = Blueprint("routing", __name__, description="Record actions on demands; show the rules.")

# path -> (request event type, body schema, summary)
ACTIONS: dict[str, tuple[str, type[Schema], str]] = {
    "acknowledge": ("AcknowledgementRequested", AcknowledgeV1,
                    "Acknowledge a routed demand (start work on it)."),
    "notes": ("ProgressNoteSubmitted", NoteV1, "Add a progress note."),
    "resolution": ("ResolutionReported", ResolutionV1, "Report the demand resolved."),
    "escalation": ("EscalationRequested", EscalationV1,
                   "Escalate the demand one rung up the ladder."),
    "rejection": ("RejectionRequested", ReasonV1, "Reject the demand, with a reason."),
    "withdrawal": ("WithdrawalRequested", ReasonV1, "Withdraw the demand (requester's side)."),
    "reopen": ("ReopenRequested", ReasonV1, "Reopen a resolved demand."),
}


def _unavailable() -> Response:
    response = jsonify({"code": 503, "status": "Service Unavailable", "message": UNAVAILABLE})
    response.status_code = 503
    response.headers["Retry-After"] = "1"
    return response


def _demand_id(raw: str) -> str:
    demand_id = raw.upper()
    if not _ULID.match(demand_id):
        abort(422, messages={"path": {"demand_id": ["Not a valid demand id (a ULID)."]}})
    return demand_id


def _record(type_: str, raw_demand_id: str, body: dict[str, Any], headers: dict[str, Any]):
    demand_id = _demand_id(raw_demand_id)
    key = headers["idempotency_key"]
    # The namespace keeps one key from naming two different requests.
    event_id = new_id() if key is None else id_from_key(f"request/{type_}/{demand_id}", key)
    actor = Actor(role=headers["role"], id=headers["user"], district=headers["district"],
                  department=headers["department"])
    try:
        event = envelope.make(type_, demand_id, body, actor=actor, event_id=event_id,
                              recorded_at=envelope.now())
    except ValidationError as exc:
        abort(422, exc=exc, messages={"json": exc.messages})
    log: EventLog = current_app.extensions["sada.log"]
    try:
        (position,) = log.append([event])
    except Exception:
        logger.exception("appending %s %s failed", type_, event_id)
        return _unavailable()
    reporting = f"{current_app.extensions['sada.settings'].service_url('reporting')}/demands"
    return {"request_id": event_id, "demand_id": demand_id, "position": str(position),
            "links": {"decision": f"{reporting}/{demand_id}?decided={event_id}"}}


def _action_view(path: str, type_: str, schema: type[Schema], summary: str) -> Callable:
    def view(body: dict[str, Any], headers: dict[str, Any], demand_id: str):
        return _record(type_, demand_id, body, headers)

    view.__name__ = f"post_{path}"
    view.__doc__ = f"{summary}\n\nRecords a {type_} request; routing decides it."
    view = blp.alt_response(503, description=UNAVAILABLE)(view)
    view = blp.alt_response(422, description="Invalid body, header or demand id.")(view)
    view = blp.response(202, RequestAcceptedV1)(view)
    view = blp.arguments(ActorHeadersV1, location="headers")(view)
    view = blp.arguments(schema)(view)
    return blp.route(f"/demands/<demand_id>/{path}", methods=["POST"], endpoint=path)(view)


for _path, (_type, _schema, _summary) in ACTIONS.items():
    _action_view(_path, _type, _schema, _summary)


def rules_document(rules: RuleTable) -> dict[str, Any]:
    return {
        "rules": [{"rule_id": r.rule_id, "category": r.category, "district": r.district,
                   "department": r.department, "resolve_hours": r.resolve_hours}
                  for r in rules.rules],
        "triage": {"department": TRIAGE_DEPARTMENT, "resolve_hours": rules.triage_hours},
        "level_hours": dict(zip(LEVEL_CODES, rules.level_hours, strict=True)),
        "priority_factor": dict(PRIORITY_FACTOR),
    }


@blp.route("/rules", methods=["GET"])
@blp.response(200, RulesV1)
def rules():
    """The active rule table: category (and district) to department and time to resolve."""
    return rules_document(current_app.extensions["sada.rules"])
