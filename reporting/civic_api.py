"""Civic participation in reporting: a district's annual-plan priorities («من شهردارم»),
the meetings where demands are heard, and each meeting's follow-up list for headquarters.

Scoped like every listing: a district-bound token sees its own district only, and the demands
listed are those within its scope (a department sees its own).
"""

from __future__ import annotations

import re
from typing import Any

from flask.views import MethodView
from flask_smorest import Api
from marshmallow import Schema, fields, validate

from reporting import civic, dashboards
from reporting.api import _ctx, _district, await_fresh, fail
from reporting.schemas import FreshnessArgs
from services import auth
from services.events.envelope import ULID_PATTERN, format_time, now
from services.events.families.civic import MEETING_KINDS
from services.parsing import Blueprint

_ULID = re.compile(ULID_PATTERN)


class LimitArgs(FreshnessArgs):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


class MeetingArgs(LimitArgs):
    district = fields.Integer(load_default=None, validate=validate.Range(min=1, max=22))


class PrioritySchema(Schema):
    rank = fields.Integer()
    demand_id = fields.String()
    title = fields.String()
    district = fields.Integer()
    neighbourhood = fields.String()
    category = fields.String()
    priority = fields.String()
    status = fields.String()
    level = fields.String()
    department = fields.String(allow_none=True)
    submitted_at = fields.String()
    supporters_count = fields.Integer(metadata={"description": "people supporting it, once each"})
    anonymous_supporters = fields.Integer(metadata={
        "description": "supports naming nobody: counted apart, not in the score"})
    priority_score = fields.Float(metadata={"description": "services/domain/priority.py"})


class PrioritiesSchema(Schema):
    district = fields.Integer()
    rule = fields.String()
    count = fields.Integer()
    items = fields.List(fields.Nested(PrioritySchema))


class MeetingSchema(Schema):
    meeting_id = fields.String()
    kind = fields.String(validate=validate.OneOf(MEETING_KINDS))
    district = fields.Integer()
    held_on = fields.String()
    title = fields.String()
    attendees = fields.Dict(keys=fields.String(), values=fields.Integer())
    minutes = fields.String()
    recorded_at = fields.String()


class MeetingListSchema(Schema):
    count = fields.Integer()
    items = fields.List(fields.Nested(MeetingSchema))


class FollowUpItemSchema(Schema):
    demand_id = fields.String()
    title = fields.String()
    neighbourhood = fields.String()
    category = fields.String()
    status = fields.String()
    level = fields.String()
    department = fields.String(allow_none=True)
    deadline = fields.String(allow_none=True)
    escalated = fields.Boolean()
    overdue = fields.Boolean()
    supporters_count = fields.Integer()
    anonymous_supporters = fields.Integer()


class FollowUpSchema(Schema):
    meeting = fields.Nested(MeetingSchema)
    counts = fields.Dict(keys=fields.String(), values=fields.Integer(), metadata={
        "description": "raised, open, resolved, escalated, overdue"})
    items = fields.List(fields.Nested(FollowUpItemSchema))


class DuplicateSchema(Schema):
    demand_id = fields.String()
    title = fields.String()
    status = fields.String()
    submitted_at = fields.String()
    district = fields.Integer()
    department = fields.String(allow_none=True)
    supporters_count = fields.Integer()
    anonymous_supporters = fields.Integer()
    similarity = fields.Float(metadata={"description": "shared words, 0 to 1 (Jaccard)"})


class DuplicatesSchema(Schema):
    demand_id = fields.String()
    count = fields.Integer()
    items = fields.List(fields.Nested(DuplicateSchema))


class DuplicateArgs(FreshnessArgs):
    limit = fields.Integer(load_default=10, validate=validate.Range(min=1, max=100))


districts = Blueprint("priorities", __name__, url_prefix="/districts",
                      description="Each district's annual-plan priorities")
duplicates = Blueprint("duplicates", __name__, url_prefix="/demands",
                       description="Likely duplicates of a demand")
meetings = Blueprint("meetings", __name__, url_prefix="/meetings",
                     description="Meetings and what became of the demands raised in them")


@districts.route("/<district>/priorities")
class Priorities(MethodView):
    @districts.arguments(LimitArgs, location="query")
    @districts.response(200, PrioritiesSchema)
    def get(self, args: dict[str, Any], district: str):
        """A district's open demands, most supported first («من شهردارم»).

        Ranked by priority score = base by priority + 2 × log2(1 + supporters), where
        supporters are people, each once; anonymous supports are shown apart."""
        number = _district(district)
        auth.require_district(number, ("path", "district"))
        await_fresh(args)
        docs = civic.priorities(_ctx().models.db, number, auth.scope_filter(), args["limit"])
        return {"district": number, "count": len(docs),
                "rule": "base(low 1, normal 2, high 3, urgent 4) + 2 * log2(1 + supporters), "
                        "supporters being people (anonymous supports apart)",
                "items": [{"rank": i, **d} for i, d in enumerate(docs, start=1)]}


@meetings.route("")
class MeetingList(MethodView):
    @meetings.arguments(MeetingArgs, location="query")
    @meetings.response(200, MeetingListSchema)
    def get(self, args: dict[str, Any]):
        """Meetings, most recent first, optionally of one district."""
        district = auth.require_district(args["district"])
        await_fresh(args)
        docs = civic.meetings(_ctx().models.db, district, args["limit"])
        return {"count": len(docs), "items": docs}


@meetings.route("/<meeting_id>/follow-up")
class FollowUp(MethodView):
    @meetings.arguments(FreshnessArgs, location="query")
    @meetings.response(200, FollowUpSchema)
    @meetings.alt_response(404, description="No meeting with this id")
    def get(self, args: dict[str, Any], meeting_id: str):
        """A meeting and each demand raised in it: raised, resolved, escalated, overdue."""
        meeting_id = meeting_id.upper()
        if not _ULID.match(meeting_id):
            fail(422, f"not a meeting id: {meeting_id!r}",
                 {"path": {"meeting_id": ["Not a valid meeting id (a ULID)."]}})
        await_fresh(args)
        db = _ctx().models.db
        doc = civic.meeting(db, meeting_id)
        if doc is None:
            fail(404, f"no meeting with id {meeting_id}")
        auth.require_district(doc["district"], ("path", "meeting_id"))
        demands = civic.meeting_demands(db, meeting_id, auth.scope_filter())
        moment = dashboards.stream_time(_ctx().models, now())  # the time routing decides by
        return {"meeting": doc, **civic.follow_up(demands, format_time(moment))}


@duplicates.route("/<demand_id>/likely-duplicates")
class LikelyDuplicates(MethodView):
    @duplicates.arguments(DuplicateArgs, location="query")
    @duplicates.response(200, DuplicatesSchema)
    @duplicates.alt_response(404, description="No demand with this id")
    def get(self, args: dict[str, Any], demand_id: str):
        """Open demands of the same neighbourhood and category, the most alike first."""
        await_fresh(args)
        db = _ctx().models.db
        doc = _ctx().models.demand(demand_id)
        if doc is None:
            fail(404, f"no demand with id {demand_id}")
        auth.require_visible(doc)
        found = civic.likely_duplicates(
            doc, civic.duplicate_candidates(db, doc, auth.scope_filter()), args["limit"])
        return {"demand_id": demand_id, "count": len(found), "items": found}


def register(api: Api) -> None:
    api.register_blueprint(duplicates)
    api.register_blueprint(districts)
    api.register_blueprint(meetings)
