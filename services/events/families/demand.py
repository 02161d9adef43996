"""The demand lifecycle's events, payload schema version 1.

Requests record what a person said or did; decisions are written by routing alone.
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from services.domain.vocabulary import (
    CATEGORIES,
    CHANNELS,
    DEPARTMENTS,
    ESCALATION_REASONS,
    LEVEL_CODES,
    PRIORITIES,
    REQUESTER_KINDS,
)

_text = validate.Length(min=1, max=4000)
_short = validate.Length(min=1, max=200)


class RequesterSchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(list(REQUESTER_KINDS)))
    name = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=120))
    phone = fields.String(load_default=None, allow_none=True,
                          validate=validate.Regexp(r"^\+?[0-9]{4,15}$"))


class DemandSubmittedV1(Schema):
    requester = fields.Nested(RequesterSchema, required=True)
    channel = fields.String(required=True, validate=validate.OneOf(list(CHANNELS)))
    district = fields.Integer(required=True, validate=validate.Range(min=1, max=22))
    neighbourhood = fields.String(required=True, validate=_short)
    category = fields.String(required=True, validate=validate.OneOf(list(CATEGORIES)))
    title = fields.String(required=True, validate=_short)
    description = fields.String(required=True, validate=_text)
    priority = fields.String(load_default="normal", validate=validate.OneOf(list(PRIORITIES)))
    meeting_id = fields.String(load_default=None, allow_none=True, validate=_short)


class NoteSchema(Schema):
    note = fields.String(load_default=None, allow_none=True, validate=_text)


class ProgressNoteSubmittedV1(Schema):
    note = fields.String(required=True, validate=_text)


class ResolutionReportedV1(Schema):
    summary = fields.String(required=True, validate=_text)


class EscalationRequestedV1(Schema):
    reason = fields.String(required=True, validate=validate.OneOf(list(ESCALATION_REASONS)))
    note = fields.String(load_default=None, allow_none=True, validate=_text)


class ReasonSchema(Schema):
    reason = fields.String(required=True, validate=_text)


class DemandRoutedV1(Schema):
    department = fields.String(required=True, validate=validate.OneOf(list(DEPARTMENTS)))
    district = fields.Integer(required=True)
    queue = fields.String(required=True)
    deadline = fields.String(required=True)
    rule_id = fields.String(required=True)


class DemandEscalatedV1(Schema):
    from_level = fields.String(required=True, validate=validate.OneOf(LEVEL_CODES))
    to_level = fields.String(required=True, validate=validate.OneOf(LEVEL_CODES))
    reason = fields.String(required=True, validate=validate.OneOf(list(ESCALATION_REASONS)))
    note = fields.String(load_default=None, allow_none=True)
    deadline = fields.String(required=True)


class DemandResolvedV1(Schema):
    summary = fields.String(required=True)


class DemandReopenedV1(Schema):
    reason = fields.String(required=True)
    deadline = fields.String(required=True)


class ProgressNotedV1(Schema):
    note = fields.String(required=True)


class EmptySchema(Schema):
    pass


class ActionRejectedV1(Schema):
    request_type = fields.String(required=True)
    code = fields.String(required=True)
    reason = fields.String(required=True)


REQUESTS: dict[str, type[Schema]] = {
    "DemandSubmitted": DemandSubmittedV1,
    "AcknowledgementRequested": NoteSchema,
    "ProgressNoteSubmitted": ProgressNoteSubmittedV1,
    "ResolutionReported": ResolutionReportedV1,
    "EscalationRequested": EscalationRequestedV1,
    "RejectionRequested": ReasonSchema,
    "WithdrawalRequested": ReasonSchema,
    "ReopenRequested": ReasonSchema,
}

DECISIONS: dict[str, type[Schema]] = {
    "DemandRouted": DemandRoutedV1,
    "DemandAcknowledged": EmptySchema,
    "ProgressNoted": ProgressNotedV1,
    "DemandResolved": DemandResolvedV1,
    "DemandEscalated": DemandEscalatedV1,
    "DemandRejected": ReasonSchema,
    "DemandWithdrawn": ReasonSchema,
    "DemandReopened": DemandReopenedV1,
    "ActionRejected": ActionRejectedV1,
}

