"""Intake's endpoints: `POST /demands` records one demand; `GET /vocabulary` lists the codes.

A submission is answered only after the log acknowledged the event durably. If the log cannot
be reached the answer is a 503 asking for a retry with the same Idempotency-Key, which names
the same demand and event, so the retry can never make a second demand. A key is the caller's
own and bound to the body (`services/idempotency.py`): reused for another body it is a 422.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import abort as abort_with
from flask import current_app
from marshmallow import ValidationError
from webargs.flaskparser import abort

from intake import known_meetings
from intake.known_meetings import KnownMeetings
from intake.record import record
from intake.schemas import SubmitAcceptedV1, SubmitDemandV1, VocabularyV1
from services import auth, idempotency
from services.config import Settings
from services.domain import vocabulary as v
from services.eventlog.port import EventLog
from services.parsing import Blueprint, RequestHeadersV1
from services.privacy import service as privacy
from services.recording import Unavailable
from services.web import UNAVAILABLE, fail, unavailable

logger = logging.getLogger(__name__)

# Who records demands: a clerk or a mayor for their own district (the Monday public meeting);
# headquarters and central management for any (the staff-supervision sessions).
# An application (a city app with an API key, through Open311) submits too, as itself.
SUBMITTERS = (auth.CLERK, auth.MAYOR, auth.HQ, auth.CENTRAL, auth.APPLICATION)


blp = Blueprint("intake", __name__, description="Record demands.")


def _log() -> EventLog:
    return current_app.extensions["sada.log"]


def _settings() -> Settings:
    return current_app.extensions["sada.settings"]


@blp.route("/demands", methods=["POST"])
@blp.arguments(SubmitDemandV1, description="The demand, as heard.")
@blp.arguments(RequestHeadersV1, location="headers")
@blp.response(202, SubmitAcceptedV1)
@blp.alt_response(422, description="A field or header is invalid, the meeting is not one of "
                                   "the district's, or the Idempotency-Key was used for another "
                                   "body; nothing was recorded.")
@blp.alt_response(503, description=UNAVAILABLE)
@auth.roles(*SUBMITTERS)
def submit(body: dict[str, Any], headers: dict[str, Any]):
    """Record a demand.

    Answers once the DemandSubmitted event is durably in the log. Send an `Idempotency-Key`
    to make retries safe: your key with the same body always names the same demand (and
    records nothing more); your key with another body is a 422. Keys are per caller: another
    caller's key never names your demand. A clerk or a district mayor records demands of
    their own district only.
    """
    principal = auth.current_actor()
    auth.require_district(body["district"], ("json", "district"), action="submit for")
    _check_level(body, principal.role)
    if body.get("meeting_id") is not None:
        body = {**body, "meeting_id": _meeting_of(body["meeting_id"], body["district"])}
    try:
        recorded = record(_log(), body, principal.actor(), headers["idempotency_key"],
                          vault=privacy.vault(), keys=idempotency.of(current_app, _log()))
    except ValidationError as exc:  # the API schema should already have caught it
        abort(422, exc=exc, messages={"json": exc.messages})
    except idempotency.KeyReused as exc:
        idempotency.refuse(exc)
    except Unavailable:
        return unavailable()
    event_id, demand_id, position = (recorded.event_id, recorded.demand_id, recorded.position)
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


def _check_level(body: dict[str, Any], role: str) -> None:
    """A demand may start above the department only at its recorder's own rung, and only
    when headquarters or central management record it at a staff-supervision session."""
    level = body.get("level")
    if level is None:
        return
    if level != role:
        reason = f"only {level} records a demand at its own rung"
        fail(422, reason, {"json": {"level": [reason]}})
    if body["channel"] != "staff_supervision":
        reason = "a demand starts above the department only from a staff-supervision session"
        fail(422, reason, {"json": {"level": [reason]}})


def _meeting_of(meeting_id: str, district: int) -> str:
    """The id of the recorded meeting of `district` the demand names; a 422 naming
    `meeting_id` if the log holds no such meeting or it was another district's."""
    meetings: KnownMeetings = current_app.extensions["sada.meetings"]
    try:
        held_in = meetings.district_of(meeting_id)
    except Exception:
        logger.exception("reading the recorded meetings failed")
        abort_with(unavailable())
    if held_in is None:
        fail(422, known_meetings.UNKNOWN, {"json": {"meeting_id": [known_meetings.UNKNOWN]}})
    if held_in != district:
        reason = known_meetings.elsewhere(held_in)
        fail(422, reason, {"json": {"meeting_id": [reason]}})
    return meeting_id.upper()


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
