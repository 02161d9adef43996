"""The log's own facts: seals of the hash chain over each partition (payload version 1).

A `LogSealed` is a *fact*, neither a request nor a decision: nobody asks for it and routing
never decides on it; the demand fold ignores it. The sealer (`services/audit/sealer.py`)
appends one to partition p, recording the chain digest over partition p's first `count`
records (every offset below `upto_offset`) and one short mark per record since the previous
seal, so that a verifier can name the first record that differs. All seals belong to one
pseudo-demand, `AUDIT_STREAM_ID`, so they can be listed like any demand's history.
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from services.events.ids import id_from_key

AUDIT_STREAM_ID = id_from_key("stream", "audit")
SEAL = "LogSealed"
DIGEST_ALGORITHM = "sha256"
MARK_HEX = 8  # hex characters per record mark: the first 4 bytes of sha256(record bytes)

_offset = validate.Range(min=0)


class LogSealedV1(Schema):
    partition = fields.Integer(required=True, validate=_offset)
    from_offset = fields.Integer(required=True, validate=_offset, metadata={
        "description": "where the previous seal of this partition ended (0 for the first)"})
    upto_offset = fields.Integer(required=True, validate=_offset, metadata={
        "description": "the chain covers every record of the partition below this offset"})
    count = fields.Integer(required=True, validate=_offset, metadata={
        "description": "records covered since the start of the partition"})
    chain_digest = fields.String(required=True, validate=validate.Regexp(r"^[0-9a-f]{64}$"))
    algorithm = fields.String(load_default=DIGEST_ALGORITHM,
                              validate=validate.Equal(DIGEST_ALGORITHM))
    marks = fields.String(required=True, validate=validate.Regexp(
        rf"^(?:[0-9a-f]{{{MARK_HEX}}})*$"), metadata={
        "description": "per record since the previous seal, in order: the first 4 bytes of "
                       "sha256 of its bytes, in hex"})


REQUESTS: dict[str, type[Schema]] = {}
DECISIONS: dict[str, type[Schema]] = {}
FACTS: dict[str, type[Schema]] = {SEAL: LogSealedV1}
