"""Intake's HTTP bodies and headers, each a versioned marshmallow schema.

An API schema is not the event schema: the API may change shape (V2) while the events in the
log keep theirs. Every body schema rejects unknown fields, so a misspelt field is a 422 and
never a silently dropped value.
"""

from __future__ import annotations

import re

from marshmallow import RAISE, Schema, fields, validate

from services import identity_fields
from services.domain.vocabulary import CATEGORIES, CHANNELS, PRIORITIES, REQUESTER_KINDS
from services.events.ids import ULID_PATTERN

_not_blank = validate.Regexp(r"\S", error="Must not be blank.")
_short = [validate.Length(min=1, max=200), _not_blank]
_text = [validate.Length(min=1, max=4000), _not_blank]

class RequesterV1(Schema):
    class Meta:
        unknown = RAISE

    kind = fields.String(required=True, validate=validate.OneOf(list(REQUESTER_KINDS)))
    name = fields.String(load_default=None, allow_none=True,
                         validate=[validate.Length(min=1, max=120), _not_blank])
    phone = identity_fields.phone()
    # Personal data: intake seals name, phone and national code before they reach the log.
    national_id = identity_fields.national_code()


class LocationV1(Schema):
    class Meta:
        unknown = RAISE

    lat = fields.Float(load_default=None, allow_none=True,
                       validate=validate.Range(min=-90, max=90))
    long = fields.Float(load_default=None, allow_none=True,
                        validate=validate.Range(min=-180, max=180))
    address = fields.String(load_default=None, allow_none=True, validate=_short)


class SubmitDemandV1(Schema):
    """POST /demands."""

    class Meta:
        unknown = RAISE

    requester = fields.Nested(RequesterV1, required=True)
    channel = fields.String(required=True, validate=validate.OneOf(list(CHANNELS)))
    district = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=22))
    neighbourhood = fields.String(required=True, validate=_short)
    category = fields.String(required=True, validate=validate.OneOf(list(CATEGORIES)))
    title = fields.String(required=True, validate=_short)
    description = fields.String(required=True, validate=_text)
    priority = fields.String(load_default="normal", validate=validate.OneOf(list(PRIORITIES)))
    meeting_id = fields.String(load_default=None, allow_none=True, validate=validate.Regexp(
        ULID_PATTERN, flags=re.IGNORECASE, error="Must be a meeting id (a ULID)."), metadata={
        "description": "the recorded meeting of the demand's district where it was raised"})
    location = fields.Nested(LocationV1, allow_none=True, metadata={
        "description": "where the demand is, if the requester says (optional)"})
    level = fields.String(validate=validate.OneOf(
        ["headquarters", "central_management"]), metadata={
        "description": "headquarters or central management recording a demand decided in a "
                       "staff-supervision session: it starts at their own rung"})


class SubmitAcceptedV1(Schema):
    demand_id = fields.String(required=True)
    event_id = fields.String(required=True)
    position = fields.String(required=True, metadata={"description": "partition:offset"})
    links = fields.Dict(keys=fields.String(), values=fields.String())


class LabelV1(Schema):
    code = fields.String()
    fa = fields.String()
    en = fields.String()


class VocabularyV1(Schema):
    channels = fields.List(fields.Nested(LabelV1))
    requester_kinds = fields.List(fields.Nested(LabelV1))
    categories = fields.List(fields.Nested(LabelV1))
    departments = fields.List(fields.Nested(LabelV1))
    priorities = fields.List(fields.Nested(LabelV1))
    levels = fields.List(fields.Nested(LabelV1))
    escalation_reasons = fields.List(fields.Nested(LabelV1))
    statuses = fields.List(fields.Nested(LabelV1))
    districts = fields.List(fields.Integer())
