"""Personal data's facts (payload version 1).

A `RequesterErased` records that a requester's key was deleted (`services/privacy/`): from
then on their sealed name, phone and national code can be read nowhere, though every byte of
the log stays as it was. It names the requester only by the opaque id in their demands and
holds no personal data. It is a *fact*: no demand's request or decision, so neither routing
nor the demand fold acts on it, and every count and timeline stays as it was. All erasures
belong to one pseudo-demand, `PRIVACY_STREAM_ID`, so they can be listed like any history.
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from services.events.ids import ULID_PATTERN, id_from_key

PRIVACY_STREAM_ID = id_from_key("stream", "privacy")
ERASED = "RequesterErased"


class RequesterErasedV1(Schema):
    requester_id = fields.String(required=True, validate=validate.Regexp(
        ULID_PATTERN))


REQUESTS: dict[str, type[Schema]] = {}
DECISIONS: dict[str, type[Schema]] = {}
FACTS: dict[str, type[Schema]] = {ERASED: RequesterErasedV1}
