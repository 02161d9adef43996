"""The demand lifecycle's events.

Requests record what a person said or did; decisions are written by routing alone. Payload
version 2 of DemandRouted, DemandEscalated and DemandReopened adds the level clock the
deadlines come from and an explanation of the decision; version 1 events still decode.
DemandSubmitted's version 2 adds a location, version 3 seals the requester's personal data.
"""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from services.domain.vocabulary import (
    CATEGORIES,
    CHANNELS,
    DEPARTMENTS,
    ESCALATION_REASONS,
    LEVEL_CODES,
    PRIORITIES,
    REJECTION_CODES,
    REQUESTER_KINDS,
    TRANSFER_REASONS,
)
from services.events.families.routing import ClockSchema
from services.events.ids import ULID_PATTERN

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


class LocationSchema(Schema):
    lat = fields.Float(load_default=None, allow_none=True,
                       validate=validate.Range(min=-90, max=90))
    long = fields.Float(load_default=None, allow_none=True,
                        validate=validate.Range(min=-180, max=180))
    address = fields.String(load_default=None, allow_none=True, validate=_short)


class DemandSubmittedV2(DemandSubmittedV1):
    """Version 2 adds where the demand is, when the requester says (Open311's lat, long and
    address_string); absent when not given."""

    location = fields.Nested(LocationSchema, allow_none=True)


class SealedRequesterSchema(Schema):
    """A requester as payload version 3 stores it: the kind in clear; name, phone and national
    code sealed under the requester's own key (`services/privacy/`), never in clear. Both
    null when none was given."""

    kind = fields.String(required=True, validate=validate.OneOf(list(REQUESTER_KINDS)))
    requester_id = fields.String(load_default=None, allow_none=True, validate=validate.Regexp(
        ULID_PATTERN), metadata={"description": "names the key"})
    sealed = fields.String(load_default=None, allow_none=True, validate=validate.Regexp(
        r"^v1\.[A-Za-z0-9_-]{24,2048}$"), metadata={"description": "AES-GCM, base64url"})

    @validates_schema
    def _both_or_neither(self, data, **kwargs) -> None:
        if (data.get("requester_id") is None) != (data.get("sealed") is None):
            raise ValidationError("requester_id and sealed go together", "sealed")


class DemandSubmittedV3(DemandSubmittedV2):
    """Version 3 seals the requester's personal data (`SealedRequesterSchema`). `level`
    (optional, absent before it existed): the rung a demand recorded by headquarters or
    central management at a staff-supervision session starts at."""

    requester = fields.Nested(SealedRequesterSchema, required=True)
    level = fields.String(validate=validate.OneOf(LEVEL_CODES[2:]))


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


class ElapsedSchema(Schema):
    """How long the demand had been with the city when a rung answered, in working hours on
    the calendar in force then (its district's, closures included): the time it waited on
    its requester apart and left out of `working_hours`."""

    working_hours = fields.Float(required=True, validate=validate.Range(min=0))
    waited_working_hours = fields.Float(required=True, validate=validate.Range(min=0))
    level = fields.String(validate=validate.OneOf(LEVEL_CODES))  # the rung that answered
    deadline = fields.String(allow_none=True)  # its deadline then (None: the clock paused)
    kept = fields.Boolean()  # answered by that deadline (absent while the clock was paused)


class DemandAcknowledgedV1(Schema):
    elapsed = fields.Nested(ElapsedSchema)  # absent before it existed


class DemandResolvedV1(Schema):
    summary = fields.String(required=True)
    elapsed = fields.Nested(ElapsedSchema)  # absent before it existed


class DemandReopenedV1(Schema):
    reason = fields.String(required=True)
    deadline = fields.String(required=True)


class _Explained(Schema):
    ack_deadline = fields.String(load_default=None, allow_none=True)
    clock = fields.Nested(ClockSchema, required=True)
    explanation = fields.Dict(load_default=dict, metadata={
        "description": "rule, SLA policy, calendar and working hours behind the deadlines"})


class DemandRoutedV2(DemandRoutedV1, _Explained):
    level = fields.String(validate=validate.OneOf(LEVEL_CODES), metadata={
                              "description": "the rung it starts at, when not the department"})
    rule_version = fields.Integer(required=True)
    priority = fields.String(required=True, validate=validate.OneOf(list(PRIORITIES)),
                             metadata={"description": "the priority the SLA was set for"})
    triage = fields.Boolean(required=True, metadata={
        "description": "no rule matched: the district mayor's triage desk has it"})


class DemandEscalatedV2(DemandEscalatedV1, _Explained):
    trigger = fields.String(required=True,
                            validate=validate.OneOf(["request", "deadline", "call_up"]),
                            metadata={"description": "asked by the rung, the clock, or a "
                                                     "higher rung calling the demand up"})
    reopens = fields.Boolean(load_default=False, metadata={
        "description": "a requester's appeal against a resolution reopens the demand"})


class DemandReopenedV2(DemandReopenedV1, _Explained):
    pass


class DemandRoutedV3(DemandRoutedV2):
    """Version 3: the explanation holds codes, UTC times and numbers only (`why` is a code,
    deadlines are UTC); version 2 wrote Jalali dates and English sentences into it."""


class DemandEscalatedV3(DemandEscalatedV2):
    """Version 3: an escalation by the clock carries no note, only the facts in
    `explanation.deadline_passed`; the explanation holds no Jalali date or sentence."""


class DemandReopenedV3(DemandReopenedV2):
    """Version 3: the explanation holds codes, UTC times and numbers only."""


class ProgressNotedV1(Schema):
    note = fields.String(required=True)


class CallUpRequestedV1(Schema):
    reason = fields.String(required=True, validate=validate.OneOf(list(ESCALATION_REASONS)))
    note = fields.String(load_default=None, allow_none=True, validate=_text)


class RejectionV1(Schema):
    """A rejection: why in words, and (absent before it existed) why as a code reports count."""

    reason = fields.String(required=True, validate=_text)
    code = fields.String(validate=validate.OneOf(list(REJECTION_CODES)))


class DemandRejectedV1(RejectionV1):
    elapsed = fields.Nested(ElapsedSchema)  # absent before it existed


class TransferRequestedV1(Schema):
    to_department = fields.String(required=True, validate=validate.OneOf(list(DEPARTMENTS)))
    to_district = fields.Integer(load_default=None, allow_none=True,
                                 validate=validate.Range(min=1, max=22))
    reason = fields.String(required=True, validate=validate.OneOf(list(TRANSFER_REASONS)))
    note = fields.String(load_default=None, allow_none=True, validate=_text)


class DemandTransferredV1(_Explained):
    from_level = fields.String(required=True, validate=validate.OneOf(LEVEL_CODES))
    from_district = fields.Integer(required=True)
    from_department = fields.String(required=True, allow_none=True)
    to_district = fields.Integer(required=True)
    to_department = fields.String(required=True)
    queue = fields.String(required=True)
    reason = fields.String(required=True)
    note = fields.String(load_default=None, allow_none=True)
    deadline = fields.String(required=True, allow_none=True)
    rule_id = fields.String(required=True)


class ActionRejectedV1(Schema):
    request_type = fields.String(required=True)
    code = fields.String(required=True)
    reason = fields.String(required=True)


REQUESTS: dict[str, type[Schema]] = {
    "DemandSubmitted": DemandSubmittedV3,
    "AcknowledgementRequested": NoteSchema,
    "ProgressNoteSubmitted": ProgressNoteSubmittedV1,
    "ResolutionReported": ResolutionReportedV1,
    "EscalationRequested": EscalationRequestedV1,
    "RejectionRequested": RejectionV1,
    "WithdrawalRequested": ReasonSchema,
    "ReopenRequested": ReasonSchema,
    "TransferRequested": TransferRequestedV1,
    "CallUpRequested": CallUpRequestedV1,
}

DECISIONS: dict[str, type[Schema]] = {
    "DemandRouted": DemandRoutedV3,
    "DemandAcknowledged": DemandAcknowledgedV1,
    "ProgressNoted": ProgressNotedV1,
    "DemandResolved": DemandResolvedV1,
    "DemandEscalated": DemandEscalatedV3,
    "DemandRejected": DemandRejectedV1,
    "DemandWithdrawn": ReasonSchema,
    "DemandReopened": DemandReopenedV3,
    "ActionRejected": ActionRejectedV1,
    "DemandTransferred": DemandTransferredV1,
}

OLD_VERSIONS: dict[tuple[str, int], type[Schema]] = {
    ("DemandSubmitted", 1): DemandSubmittedV1,
    ("DemandSubmitted", 2): DemandSubmittedV2,
    ("DemandRouted", 1): DemandRoutedV1,
    ("DemandEscalated", 1): DemandEscalatedV1,
    ("DemandReopened", 1): DemandReopenedV1,
    ("DemandRouted", 2): DemandRoutedV2,
    ("DemandEscalated", 2): DemandEscalatedV2,
    ("DemandReopened", 2): DemandReopenedV2,
}
