"""Intake's endpoints: `POST /demands` records one demand; `GET /vocabulary` lists the codes.

A submission is answered only after the log acknowledged the event durably. If the log cannot
be reached the answer is a 503 asking for a retry with the same Idempotency-Key, which names
the same demand and event, so the retry can never make a second demand.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import current_app
from marshmallow import ValidationError
from webargs.flaskparser import abort

from intake.record import record
from intake.schemas import SubmitAcceptedV1, SubmitDemandV1, VocabularyV1
from services import auth
from services.config import Settings
from services.domain import vocabulary as v
from services.eventlog.port import EventLog
from services.parsing import Blueprint, RequestHeadersV1
from services.privacy import service as privacy
from services.recording import Unavailable
from services.web import UNAVAILABLE, unavailable

logger = logging.getLogger(__name__)

# Who records demands: a clerk or a mayor for their own district (the Monday public meeting);
# headquarters and central management for any (the staff-supervision sessions).
SUBMITTERS = (auth.CLERK, auth.MAYOR, auth.HQ, auth.CENTRAL)


blp = Blueprint("intake", __name__, description="Record demands.")


def _log() -> EventLog:
    return current_app.extensions["sada.log"]


def _settings() -> Settings:
    return current_app.extensions["sada.settings"]


@blp.route("/demands", methods=["POST"])
@blp.arguments(SubmitDemandV1, description="The demand, as heard.")
@blp.arguments(RequestHeadersV1, location="headers")
@blp.response(202, SubmitAcceptedV1)
@blp.alt_response(422, description="A field or header is invalid; nothing was recorded.")
@blp.alt_response(503, description=UNAVAILABLE)
@auth.roles(*SUBMITTERS)
def submit(body: dict[str, Any], headers: dict[str, Any]):
    """Record a demand.

    Answers once the DemandSubmitted event is durably in the log. Send an `Idempotency-Key`
    to make retries safe: the same key always names the same demand. A clerk or a district
    mayor records demands of their own district only.
    """
    principal = auth.current_actor()
    auth.require_district(body["district"], ("json", "district"), action="submit for")
    try:
        recorded = record(_log(), body, principal.actor(), headers["idempotency_key"],
                          vault=privacy.vault())
    except ValidationError as exc:  # the API schema should already have caught it
        abort(422, exc=exc, messages={"json": exc.messages})
    except Unavailable:
        return unavailable()
    event_id, demand_id, position = (recorded.event.event_id, recorded.demand_id,
                                     recorded.position)
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
