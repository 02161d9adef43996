"""Query and response schemas of the reporting API."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

from services.domain.vocabulary import CATEGORIES, LEVEL_CODES, STATUSES
from services.eventlog.port import Position
from services.events.envelope import ULID_PATTERN

MAX_WAIT_SECONDS = 30.0  # and each wait holds a slot of its subject (reporting/waits.py)
DEFAULT_WAIT_SECONDS = 5.0


class PositionField(fields.Field):
    """A log position written 'partition:offset', e.g. '0:42'."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Position:
        if not isinstance(value, str):
            raise ValidationError("a position looks like 'partition:offset', e.g. '0:42'")
        try:
            return Position.parse(value.strip())
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc


# -- query arguments -------------------------------------------------------------------
class FreshnessArgs(Schema):
    """Read-your-write: wait until the projector has applied `after` (at most `wait` s)."""

    after = PositionField(load_default=None, metadata={
        "description": "wait until the read models include this log position (partition:offset)"})
    wait = fields.Float(load_default=DEFAULT_WAIT_SECONDS,
                        validate=validate.Range(min=0, max=MAX_WAIT_SECONDS),
                        metadata={"description": "seconds to wait for `after`/`decided`"})


class DemandArgs(FreshnessArgs):
    decided = fields.String(load_default=None, validate=validate.Regexp(
        ULID_PATTERN, error="an event id is a 26-character ULID"), metadata={
        "description": "wait until routing's decision on this request event is shown"})


def _limit(default: int, maximum: int) -> fields.Integer:
    return fields.Integer(load_default=default, validate=validate.Range(min=1, max=maximum))


def _district() -> fields.Integer:
    return fields.Integer(load_default=None, validate=validate.Range(min=1, max=22))


class SearchArgs(FreshnessArgs):
    district = _district()
    status = fields.String(load_default=None, validate=validate.OneOf(list(STATUSES)))
    category = fields.String(load_default=None, validate=validate.OneOf(list(CATEGORIES)))
    limit = _limit(50, 500)


class QueueArgs(FreshnessArgs):
    limit = _limit(200, 1000)


class EscalationArgs(FreshnessArgs):
    district = _district()
    level = fields.String(load_default=None, validate=validate.OneOf(LEVEL_CODES[1:]))
    limit = _limit(200, 1000)


# -- responses ---------------------------------------------------------------------------
class LabelSchema(Schema):
    fa = fields.String()
    en = fields.String()


class LabelsSchema(Schema):
    status = fields.Nested(LabelSchema, allow_none=True)
    level = fields.Nested(LabelSchema, allow_none=True)
    category = fields.Nested(LabelSchema, allow_none=True)
    department = fields.Nested(LabelSchema, allow_none=True)
    channel = fields.Nested(LabelSchema, allow_none=True)
    priority = fields.Nested(LabelSchema, allow_none=True)


class EscalationSchema(Schema):
    from_ = fields.String(data_key="from", attribute="from")
    to = fields.String()
    reason = fields.String()
    note = fields.String(allow_none=True)
    at = fields.String()
    trigger = fields.String(metadata={"description": "request, or deadline (the clock)"})


class DemandSummarySchema(Schema):
    demand_id = fields.String()
    title = fields.String()
    district = fields.Integer()
    neighbourhood = fields.String()
    category = fields.String()
    priority = fields.String()
    channel = fields.String()
    status = fields.String()
    level = fields.String()
    department = fields.String(allow_none=True)
    queue = fields.String(allow_none=True)
    deadline = fields.String(allow_none=True, metadata={
        "description": "to resolve at this rung; null while waiting on the requester"})
    ack_deadline = fields.String(allow_none=True, metadata={"description": "to acknowledge"})
    waiting = fields.Dict(allow_none=True, metadata={
        "description": "{question, since} while the SLA clock waits on the requester"})
    overdue = fields.Boolean()
    submitted_at = fields.String()
    last_event_at = fields.String()
    escalations = fields.List(fields.Nested(EscalationSchema))
    position = fields.String()
    labels = fields.Nested(LabelsSchema)


class DemandSchema(DemandSummarySchema):
    submitted_event_id = fields.String()
    requester = fields.Dict(metadata={
        "description": "kind, requester_id and `personal`: shown (name, phone, national_id "
                       "follow), withheld (not for this role), erased, or none "
                       "(reporting/personal.py)"})
    description = fields.String()
    meeting_id = fields.String(allow_none=True)
    correlation_id = fields.String()
    rule_id = fields.String(allow_none=True)
    routed_at = fields.String(allow_none=True)
    acknowledged_at = fields.String(allow_none=True)
    resolved_at = fields.String(allow_none=True)
    closed_at = fields.String(allow_none=True)
    resolution = fields.String(allow_none=True)
    closing_reason = fields.String(allow_none=True)
    notes = fields.Integer()
    reopened = fields.Integer()
    rejected_actions = fields.Integer()
    events = fields.Integer()
    decided = fields.List(fields.String())
    pending = fields.List(fields.String(), metadata={
        "description": "requests still waiting for routing's decision"})
    rule_version = fields.Integer(allow_none=True)
    clock = fields.Dict(allow_none=True, metadata={
        "description": "the SLA clock of this rung: policy, hours, pauses, deadlines "
                       "(GET /demands/{id}/explanation says why)"})
    warnings = fields.List(fields.Dict(), metadata={"description": "deadline warnings"})
    sent_back = fields.List(fields.Dict(), metadata={
        "description": "each time a higher rung sent it back down, with instructions"})
    recomputed = fields.Integer(metadata={
        "description": "times its deadlines moved with the rules or the calendar"})
    supporters_count = fields.Integer(metadata={
        "description": "people supporting it, each once whoever recorded it"})
    anonymous_supporters = fields.Integer(metadata={
        "description": "supports naming nobody: counted apart, never as people"})
    priority_score = fields.Float(metadata={"description": "services/domain/priority.py"})
    merged_into = fields.String(allow_none=True, metadata={
        "description": "the demand this duplicate was merged into"})
    merged_from = fields.List(fields.String(), metadata={
        "description": "duplicates merged into this demand"})


class DemandListSchema(Schema):
    count = fields.Integer()
    items = fields.List(fields.Nested(DemandSummarySchema))


class QueueSchema(DemandListSchema):
    total = fields.Integer(
        metadata={"description": "open demands in the queue, beyond `limit` too"})
    queue = fields.String()
    district = fields.Integer()
    department = fields.String()
    labels = fields.Nested(LabelsSchema)


class BoardSchema(DemandListSchema):
    district = fields.Integer(allow_none=True)
    level = fields.String(allow_none=True)


class ActorSchema(Schema):
    role = fields.String()
    id = fields.String()
    district = fields.Integer(allow_none=True)
    department = fields.String(allow_none=True)


class HistoryEventSchema(Schema):
    event_id = fields.String(attribute="_id")
    demand_id = fields.String()
    position = fields.String()
    type = fields.String()
    version = fields.Integer()
    decision = fields.Boolean()
    recorded_at = fields.String()
    actor = fields.Nested(ActorSchema)
    causation_id = fields.String(allow_none=True)
    correlation_id = fields.String()
    payload = fields.Dict()


class HistorySchema(Schema):
    demand_id = fields.String()
    count = fields.Integer()
    events = fields.List(fields.Nested(HistoryEventSchema))


class StatusSchema(Schema):
    projection = fields.String()
    checkpoint = fields.Dict(keys=fields.String(), values=fields.Integer())
    end_offsets = fields.Dict(keys=fields.String(), values=fields.Integer(), allow_none=True)
    lag = fields.Dict(keys=fields.String(), values=fields.Integer(), allow_none=True)
    total_lag = fields.Integer(allow_none=True)
    log_error = fields.String(allow_none=True)
