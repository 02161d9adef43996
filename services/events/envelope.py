"""The event envelope (schema version 1) and its canonical serialisation.

Canonical means: the same event always serialises to the same bytes (sorted keys, no
insignificant white space, UTF-8, timestamps in one fixed format). Hash chains and
replay-equality checks rely on it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

from services.events import catalog
from services.events.ids import ULID_PATTERN

ENVELOPE_VERSION = 1


def format_time(at: datetime) -> str:
    """UTC, millisecond precision, 'Z' suffix: the one time format in the log."""
    if at.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    if at.tzinfo is not UTC:
        at = at.astimezone(UTC)
    return at.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"  # truncated


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


# `format_time`'s output exactly: a text of this shape parses to a time it formats back to.
_CANONICAL_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def canonical_time(text: str) -> bool:
    """Whether `text` is what `format_time` writes (so formatting it again changes nothing)."""
    return _CANONICAL_TIME.fullmatch(text) is not None


def now() -> datetime:
    """Wall-clock time truncated to the log's millisecond precision."""
    at = datetime.now(UTC)
    return at.replace(microsecond=(at.microsecond // 1000) * 1000)


@dataclass(frozen=True)
class Actor:
    role: str
    id: str
    district: int | None = None
    department: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"role": self.role, "id": self.id, "district": self.district,
                "department": self.department}


SYSTEM_ROUTING = Actor(role="system", id="routing")


@dataclass(frozen=True)
class Event:
    event_id: str
    demand_id: str
    type: str
    recorded_at: datetime
    actor: Actor
    correlation_id: str
    causation_id: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    version: int = 1

    @cached_property
    def recorded_at_text(self) -> str:
        """`recorded_at` in the log's format. Formatted once per event (a fold, its history
        entry and a tick all need it), and not at all for an event decoded from the log,
        which already held it (`from_dict`)."""
        return format_time(self.recorded_at)

    def to_dict(self) -> dict[str, Any]:
        return {
            "envelope": ENVELOPE_VERSION,
            "event_id": self.event_id,
            "demand_id": self.demand_id,
            "type": self.type,
            "version": self.version,
            "recorded_at": self.recorded_at_text,
            "actor": self.actor.to_dict(),
            "causation_id": self.causation_id,
            "correlation_id": self.correlation_id,
            "payload": self.payload,
        }

    @property
    def is_decision(self) -> bool:
        return catalog.is_decision(self.type)

    @property
    def is_fact(self) -> bool:
        """A fact about the stream itself (a seal): no demand's request or decision."""
        return catalog.is_fact(self.type)


class ActorSchema(Schema):
    role = fields.String(required=True, validate=validate.OneOf(catalog.ROLES))
    id = fields.String(required=True, validate=validate.Length(min=1, max=128))
    district = fields.Integer(load_default=None, allow_none=True,
                              validate=validate.Range(min=1, max=22))
    department = fields.String(load_default=None, allow_none=True,
                               validate=validate.Length(max=64))


class EnvelopeSchemaV1(Schema):
    envelope = fields.Integer(required=True, validate=validate.Equal(ENVELOPE_VERSION))
    event_id = fields.String(required=True, validate=validate.Regexp(ULID_PATTERN))
    demand_id = fields.String(required=True, validate=validate.Regexp(ULID_PATTERN))
    type = fields.String(required=True, validate=validate.OneOf(catalog.EVENT_TYPES))
    version = fields.Integer(required=True, validate=validate.Range(min=1))
    recorded_at = fields.String(required=True)
    actor = fields.Nested(ActorSchema, required=True)
    causation_id = fields.String(required=True, allow_none=True)
    correlation_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    payload = fields.Dict(required=True)


_ENVELOPE = EnvelopeSchemaV1()


def make(
    type_: str,
    demand_id: str,
    payload: dict[str, Any],
    *,
    actor: Actor,
    event_id: str,
    recorded_at: datetime,
    correlation_id: str | None = None,
    causation_id: str | None = None,
) -> Event:
    """Build an event, validating and normalising its payload with the type's schema."""
    version, schema = catalog.current(type_)
    clean = schema.dump(schema.load(payload))
    return Event(
        event_id=event_id, demand_id=demand_id, type=type_, version=version,
        recorded_at=recorded_at.replace(microsecond=(recorded_at.microsecond // 1000) * 1000),
        actor=actor, correlation_id=correlation_id or event_id, causation_id=causation_id,
        payload=clean,
    )


def encode(event: Event) -> bytes:
    return json.dumps(event.to_dict(), sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


def from_dict(data: dict[str, Any], *, validate_payload: bool = True) -> Event:
    if validate_payload:
        errors = _ENVELOPE.validate(data)
        if errors:
            raise ValidationError(errors)
        schema = catalog.schema_for(data["type"], data["version"])
        errors = schema.validate(data["payload"])
        if errors:
            raise ValidationError({"payload": errors})
    a, at = data["actor"], data["recorded_at"]
    event = Event(
        event_id=data["event_id"], demand_id=data["demand_id"], type=data["type"],
        version=data["version"], recorded_at=parse_time(at),
        actor=Actor(a["role"], a["id"], a.get("district"), a.get("department")),
        correlation_id=data["correlation_id"], causation_id=data["causation_id"],
        payload=data["payload"],
    )
    if canonical_time(at):
        event.__dict__["recorded_at_text"] = at  # what formatting would give (see the pattern)
    return event


def decode(raw: bytes, *, validate_payload: bool = False) -> Event:
    """Parse canonical bytes. Events in the log were validated on the way in; pass
    validate_payload=True for bytes from outside (an exported archive, a test)."""
    return from_dict(json.loads(raw), validate_payload=validate_payload)
