"""Routing's HTTP bodies and headers, each a versioned marshmallow schema.

An action body becomes the payload of a *request* event; routing's worker later turns the
request into a decision or a visible ActionRejected. Unknown fields are rejected.
"""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from routing.supporter import SupporterV1
from services.domain.vocabulary import (
    DEPARTMENTS,
    ESCALATION_REASONS,
    LEVEL_CODES,
    REJECTION_CODES,
    TRANSFER_REASONS,
)
from services.events.ids import ULID_PATTERN

_text = [validate.Length(min=1, max=4000),
         validate.Regexp(r"\S", error="Must not be blank.")]


class _Body(Schema):
    class Meta:
        unknown = RAISE


class AcknowledgeV1(_Body):
    note = fields.String(load_default=None, allow_none=True, validate=_text)


class NoteV1(_Body):
    note = fields.String(required=True, validate=_text)


class ResolutionV1(_Body):
    summary = fields.String(required=True, validate=_text)


class EscalationV1(_Body):
    reason = fields.String(required=True, validate=validate.OneOf(list(ESCALATION_REASONS)))
    note = fields.String(load_default=None, allow_none=True, validate=_text)


class ReasonV1(_Body):
    reason = fields.String(required=True, validate=_text)


class RequesterInfoV1(_Body):
    question = fields.String(required=True, validate=_text, metadata={
        "description": "what the requester is asked; the SLA clock stops until they answer"})


class RequesterResponseV1(_Body):
    answer = fields.String(required=True, validate=_text)


class AppealV1(_Body):
    """A requester's appeal against a resolution or a rejection: an escalation with reason
    `requester_appeal`, which reopens the demand one rung above where it was closed."""

    reason = fields.Constant("requester_appeal", dump_only=False)
    note = fields.String(required=True, validate=_text, metadata={
        "description": "why the resolution or rejection does not satisfy the requester"})


class RejectionV1(_Body):
    reason = fields.String(required=True, validate=_text)
    code = fields.String(validate=validate.OneOf(list(REJECTION_CODES)), metadata={
        "description": "why, as a code reports count (routing records `other` if absent)"})


class CallUpV1(_Body):
    """A higher rung takes the demand up to itself (the district mayor, headquarters or
    central management), with the reason: never `deadline_passed` or `requester_appeal`."""

    reason = fields.String(required=True, validate=validate.OneOf(
        [r for r in ESCALATION_REASONS if r not in ("deadline_passed", "requester_appeal")]))
    note = fields.String(load_default=None, allow_none=True, validate=_text)


class TransferV1(_Body):
    """Send the demand to another queue: a district department, the district mayor's triage
    desk, or another district's department. It starts there at the department rung."""

    to_department = fields.String(required=True, validate=validate.OneOf(list(DEPARTMENTS)))
    to_district = fields.Integer(load_default=None, allow_none=True, strict=True,
                                 validate=validate.Range(min=1, max=22), metadata={
                                     "description": "another district (default: its own)"})
    reason = fields.String(required=True, validate=validate.OneOf(list(TRANSFER_REASONS)))
    note = fields.String(load_default=None, allow_none=True, validate=_text)


class SendBackV1(_Body):
    to_level = fields.String(required=True, validate=validate.OneOf(LEVEL_CODES[:-1]))
    instructions = fields.String(required=True, validate=_text)
    resolve_hours = fields.Float(load_default=None, allow_none=True,
                                 validate=validate.Range(min=0.5, max=2000), metadata={
                                     "description": "working hours the lower rung gets "
                                                    "(default: its SLA policy)"})


class SupportV2(_Body):
    """A citizen's support of a demand («من شهردارم»): one per person per demand, whoever
    records it. The supporter is named by national code or phone (`routing/supporter.py`);
    a support without them is anonymous, counted apart and never as a person."""

    supporter = fields.Nested(SupporterV1, load_default=None, allow_none=True, metadata={
        "description": "the person supporting; left out: an anonymous support"})
    on_behalf_of = fields.String(load_default=None, allow_none=True, validate=validate.Regexp(
        r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$",
        error="Must be 1-64 letters, digits, '-', '_' or '.'."), metadata={
        "description": "the clerk's own reference (a form, a card): it identifies no one"})


class MergeV1(_Body):
    """Close this demand as a duplicate of `into`, which takes its supporters."""

    into = fields.String(required=True, validate=validate.Regexp(
        ULID_PATTERN, error="Must be a demand id (a ULID)."))
    reason = fields.String(required=True, validate=_text)


class RequestAcceptedV1(Schema):
    request_id = fields.String(required=True)
    demand_id = fields.String(required=True)
    position = fields.String(required=True, metadata={"description": "partition:offset"})
    links = fields.Dict(keys=fields.String(), values=fields.String(),
                        metadata={"description": "where the decision on it will show"})
