"""`POST /meetings`: record a meeting where demands are heard — a staff-supervision session,
a weekly «شهر خوب، شهر ارتباطی» stakeholder meeting, a Monday public meeting.

The meeting becomes a MeetingRecorded event in its own stream (the meeting id is its key,
`services/events/families/civic.py`); demands raised in it name it in `meeting_id` when they
are submitted, and reporting's `GET /meetings/{id}/follow-up` shows what became of them.
Attendees are counted by group, never named.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import current_app
from marshmallow import RAISE, Schema, fields, validate

from intake.api import SUBMITTERS
from services import auth, idempotency
from services.domain.vocabulary import REQUESTER_KINDS
from services.events.families.civic import MEETING, MEETING_KINDS
from services.events.ids import new_id
from services.parsing import Blueprint, RequestHeadersV1
from services.web import UNAVAILABLE, record_one

logger = logging.getLogger(__name__)

blp = Blueprint("meetings", __name__, description="Record meetings where demands are heard.")


class _Attendees(Schema):
    class Meta:
        unknown = RAISE


# Head counts by group, one field per requester kind (trustees, prayer leaders, …).
AttendeesV1 = _Attendees.from_dict(
    {kind: fields.Integer(strict=True, validate=validate.Range(min=0, max=10_000),
                          metadata={"description": en})
     for kind, (_, en) in REQUESTER_KINDS.items()}, name="AttendeesV1")


class MeetingV1(Schema):
    class Meta:
        unknown = RAISE

    kind = fields.String(required=True, validate=validate.OneOf(MEETING_KINDS))
    district = fields.Integer(required=True, validate=validate.Range(min=1, max=22))
    held_on = fields.Date(required=True, metadata={"description": "YYYY-MM-DD"})
    title = fields.String(required=True, validate=[
        validate.Length(min=1, max=200), validate.Regexp(r"\S", error="Must not be blank.")])
    attendees = fields.Nested(AttendeesV1, load_default=dict,
                              metadata={"description": "head count by group"})
    minutes = fields.String(required=True, validate=[
        validate.Length(min=1, max=20_000), validate.Regexp(r"\S", error="Must not be blank.")])


class MeetingAcceptedV1(Schema):
    meeting_id = fields.String(required=True)
    event_id = fields.String(required=True)
    position = fields.String(required=True, metadata={"description": "partition:offset"})


@blp.route("/meetings", methods=["POST"])
@blp.arguments(MeetingV1, description="The meeting: when, where, who came, the minutes.")
@blp.arguments(RequestHeadersV1, location="headers")
@blp.response(202, MeetingAcceptedV1)
@blp.alt_response(422, description="A field or header is invalid, or the Idempotency-Key was "
                                   "used for another body; nothing was recorded.")
@blp.alt_response(503, description=UNAVAILABLE)
@auth.roles(*SUBMITTERS)
def record_meeting(body: dict[str, Any], headers: dict[str, Any]):
    """Record a meeting. Send an `Idempotency-Key`: your key with the same body names the
    same meeting (and records nothing more); your key with another body is a 422.

    A clerk or a district mayor records meetings of their own district only."""
    auth.require_district(body["district"], ("json", "district"), action="record for")
    actor = auth.current_actor().actor()
    payload = {**body, "held_on": body["held_on"].isoformat()}
    key = headers["idempotency_key"]
    if key is None:
        meeting_id, event_id = new_id(), new_id()
        _, position = record_one(MEETING, meeting_id, payload, actor, event_id)
        return _accepted(meeting_id, event_id, position)
    keys = idempotency.of(current_app, current_app.extensions["sada.log"])
    keyed = keys.keyed("meeting", actor, key, payload)
    with keys.lock(keyed):
        seen = idempotency.seen_in_view(keys, keyed)
        if seen is not None:
            return _accepted(seen.stream_id, seen.event_id, seen.position)
        meeting_id, event_id = keyed.stream_id("meeting"), keyed.event_id
        _, position = record_one(MEETING, meeting_id, payload, actor, event_id)
    return _accepted(meeting_id, event_id, position)


def _accepted(meeting_id: str, event_id: str, position: Any) -> dict[str, str]:
    return {"meeting_id": meeting_id, "event_id": event_id, "position": str(position)}
