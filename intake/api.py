"""Intake's endpoints: `POST /demands` records one demand; `GET /vocabulary` lists the codes.

A submission is answered only after the log acknowledged the event durably. If the log cannot
be reached the answer is a 503 asking for a retry with the same Idempotency-Key, which names
the same demand and event, so the retry can never make a second demand.
"""

from __future__ import annotations

import logging
from typing import Any

import flask_smorest
from flask import Response, current_app, jsonify
from marshmallow import ValidationError
from webargs import core
from webargs.flaskparser import FlaskParser, abort, is_json_request

from intake.schemas import ActorHeadersV1, SubmitAcceptedV1, SubmitDemandV1, VocabularyV1
from services.config import Settings
from services.domain import vocabulary as v
from services.eventlog.port import EventLog
from services.events import envelope
from services.events.envelope import Actor
from services.events.ids import id_from_key, new_id

logger = logging.getLogger(__name__)

UNAVAILABLE = "could not record durably, retry with the same Idempotency-Key"


class JsonBodyParser(FlaskParser):
    """A body that is not a JSON document is a 422 naming the body (never a 400, and never a
    list of 'missing' fields that hides the real mistake)."""

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


blp = Blueprint("intake", __name__, description="Record demands.")


def _log() -> EventLog:
    return current_app.extensions["sada.log"]


def _settings() -> Settings:
    return current_app.extensions["sada.settings"]


def unavailable() -> Response:
    """The log did not acknowledge: nothing is promised, and a retry is safe."""
    response = jsonify({"code": 503, "status": "Service Unavailable", "message": UNAVAILABLE})
    response.status_code = 503
    response.headers["Retry-After"] = "1"
    return response


@blp.route("/demands", methods=["POST"])
@blp.arguments(SubmitDemandV1, description="The demand, as heard.")
@blp.arguments(ActorHeadersV1, location="headers")
@blp.response(202, SubmitAcceptedV1)
@blp.alt_response(422, description="A field or header is invalid; nothing was recorded.")
@blp.alt_response(503, description=UNAVAILABLE)
def submit(body: dict[str, Any], headers: dict[str, Any]):
    """Record a demand.

    Answers once the DemandSubmitted event is durably in the log. Send an `Idempotency-Key`
    to make retries safe: the same key always names the same demand.
    """
    key = headers["idempotency_key"]
    if key is None:
        event_id = new_id()
        demand_id = new_id()
    else:
        event_id, demand_id = id_from_key("event", key), id_from_key("demand", key)
    actor = Actor(role=headers["role"], id=headers["user"], district=headers["district"])
    try:
        event = envelope.make("DemandSubmitted", demand_id, body, actor=actor,
                              event_id=event_id, recorded_at=envelope.now())
    except ValidationError as exc:  # the API schema should already have caught it
        abort(422, exc=exc, messages={"json": exc.messages})
    try:
        (position,) = _log().append([event])
    except Exception:
        logger.exception("appending DemandSubmitted %s failed", event_id)
        return unavailable()
    reporting = f"{_settings().service_url('reporting')}/demands/{demand_id}"
    routing = f"{_settings().service_url('routing')}/demands/{demand_id}"
    return {
        "demand_id": demand_id, "event_id": event_id, "position": str(position),
        "links": {
            "demand": f"{reporting}?after={position}",
            "routed": f"{reporting}?decided={event_id}",
            "history": f"{reporting}/history?after={position}",
            "acknowledge": f"{routing}/acknowledge",
        },
    }


def _labels(labels: v.Labels) -> list[dict[str, str]]:
    return [{"code": code, "fa": fa, "en": en} for code, (fa, en) in labels.items()]


@blp.route("/vocabulary", methods=["GET"])
@blp.response(200, VocabularyV1)
def vocabulary():
    """Every code list a form needs, with Persian and English labels."""
    return {
        "channels": _labels(v.CHANNELS),
        "requester_kinds": _labels(v.REQUESTER_KINDS),
        "categories": _labels(v.CATEGORIES),
        "departments": _labels(v.DEPARTMENTS),
        "priorities": _labels(v.PRIORITIES),
        "levels": _labels(v.LEVELS),
        "escalation_reasons": _labels(v.ESCALATION_REASONS),
        "statuses": _labels(v.STATUSES),
        "districts": list(range(1, 23)),
    }
