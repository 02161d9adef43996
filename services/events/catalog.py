"""Every event type with its versioned payload schema.

Event types come in families (`services/events/families/`), each a module with two maps of
type name -> payload schema: REQUESTS, which record what a person said or did, and DECISIONS,
which routing alone writes. A request is never a state change by itself: routing turns it
into a decision or a visible ActionRejected. A family may also declare FACTS: what Sada's own
machinery records about the stream itself (the log's seals; the clock's ticks, rule sets and
office closures, which routing decides on: `services/events/families/routing.py`; a meeting's
record, in its own stream: `services/events/families/civic.py`); the demand fold ignores every
fact. A family may also declare OLD_VERSIONS,
{(type, version): schema}, so that events written under an earlier payload version still decode.
Adding a family is one new module and one line in FAMILIES below.
"""

from __future__ import annotations

from marshmallow import Schema

from services.domain.vocabulary import ROLES
from services.events.families import audit, civic, demand, privacy, routing

FAMILIES = (demand, audit, routing, privacy, civic)

__all__ = ["ROLES", "EVENT_TYPES", "REQUESTS", "DECISIONS", "FACTS", "current", "schema_for",
           "is_decision", "is_fact"]

REQUESTS: dict[str, type[Schema]] = {}
DECISIONS: dict[str, type[Schema]] = {}
FACTS: dict[str, type[Schema]] = {}
_SCHEMAS: dict[tuple[str, int], Schema] = {}
for _family in FAMILIES:
    _facts = getattr(_family, "FACTS", {})
    for _name in {**_family.REQUESTS, **_family.DECISIONS, **_facts}:
        if _name in REQUESTS or _name in DECISIONS or _name in FACTS:
            raise RuntimeError(f"event type {_name} is declared twice")
    REQUESTS.update(_family.REQUESTS)
    DECISIONS.update(_family.DECISIONS)
    FACTS.update(_facts)
    for (_name, _version), _cls in getattr(_family, "OLD_VERSIONS", {}).items():
        _SCHEMAS[(_name, _version)] = _cls()

# The current version of every type is the highest one declared; version 1 is the family map.
_CURRENT: dict[str, int] = {}
for _name, _cls in {**REQUESTS, **DECISIONS, **FACTS}.items():
    _version = 1 + max((v for (n, v) in _SCHEMAS if n == _name), default=0)
    _SCHEMAS[(_name, _version)] = _cls()
    _CURRENT[_name] = _version

EVENT_TYPES = sorted(_CURRENT)


def current(type_: str) -> tuple[int, Schema]:
    version = _CURRENT[type_]
    return version, _SCHEMAS[(type_, version)]


def schema_for(type_: str, version: int) -> Schema:
    return _SCHEMAS[(type_, version)]


def is_decision(type_: str) -> bool:
    return type_ in DECISIONS


def is_fact(type_: str) -> bool:
    return type_ in FACTS
