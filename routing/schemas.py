"""Routing's HTTP bodies and headers, each a versioned marshmallow schema.

An action body becomes the payload of a *request* event; routing's worker later turns the
request into a decision or a visible ActionRejected. Unknown fields are rejected.
"""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from services.domain.vocabulary import DEPARTMENTS, ESCALATION_REASONS, ROLES

_text = [validate.Length(min=1, max=4000),
         validate.Regexp(r"\S", error="Must not be blank.")]

# Roles a person may claim over HTTP; "system" is routing's own.
HUMAN_ROLES = [r for r in ROLES if r != "system"]


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


class ActorHeadersV1(Schema):
    """Who acts: the role is required, since routing decides by role and level."""

    role = fields.String(data_key="X-Sada-Role", required=True,
                         validate=validate.OneOf(HUMAN_ROLES))
    user = fields.String(data_key="X-Sada-User", load_default="anonymous",
                         validate=validate.Length(min=1, max=128))
    district = fields.Integer(data_key="X-Sada-District", load_default=None,
                              validate=validate.Range(min=1, max=22))
    department = fields.String(data_key="X-Sada-Department", load_default=None,
                               validate=validate.OneOf(list(DEPARTMENTS)))
    idempotency_key = fields.String(
        data_key="Idempotency-Key", load_default=None,
        validate=validate.Regexp(r"^[\x20-\x7e]{1,128}$",
                                 error="Must be 1-128 printable ASCII characters."))


class RequestAcceptedV1(Schema):
    request_id = fields.String(required=True)
    demand_id = fields.String(required=True)
    position = fields.String(required=True, metadata={"description": "partition:offset"})
    links = fields.Dict(keys=fields.String(), values=fields.String(),
                        metadata={"description": "where the decision on it will show"})


class RuleV1(Schema):
    rule_id = fields.String()
    category = fields.String()
    district = fields.Integer(metadata={"description": "0: every district"})
    department = fields.String()
    resolve_hours = fields.Integer()


class RulesV1(Schema):
    rules = fields.List(fields.Nested(RuleV1))
    triage = fields.Dict()
    level_hours = fields.Dict(keys=fields.String(), values=fields.Integer())
    priority_factor = fields.Dict(keys=fields.String(), values=fields.Float())
