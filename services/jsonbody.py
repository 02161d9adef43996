"""Decoding a JSON request body with its numbers bounded, before any schema sees it.

Python's `json` turns any digit string into an int: 5,000 digits raise a bare ValueError (the
int-string limit), a 20-digit one cannot be stored in MongoDB, `1e999` is infinity and `NaN`
is accepted. Each of these would reach a schema, or a driver, as something it cannot handle.
Here every number is bounded where it is read: an integer must fit in 64 bits, a number must
be finite and short, and `NaN`/`Infinity` are refused. `decode` raises `RefusedNumbers` with
the path of every refused number in the shape of marshmallow's errors, so the answer is a
422 naming each field (services/parsing.py).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

MAX_INT = 2**63 - 1
MAX_NUMBER_CHARS = 64  # longer than any number a field holds (a float has 17 digits)
TOO_LARGE = f"Not a number any field holds: integers are at most {MAX_INT} in size."
TOO_LONG = f"Not a number any field holds: at most {MAX_NUMBER_CHARS} characters."
NOT_FINITE = "Not a number any field holds: NaN and infinity are not numbers."


@dataclass(frozen=True)
class _Refused:
    reason: str


class RefusedNumbers(ValueError):
    """Numbers no field could hold; `errors` names each as marshmallow would."""

    def __init__(self, errors: dict[Any, Any]) -> None:
        super().__init__("refused numbers")
        self.errors = errors


def _int(text: str) -> int | _Refused:
    if len(text.lstrip("-")) > 19:  # before int(): a 5,000-digit string never converts
        return _Refused(TOO_LARGE)
    value = int(text)
    return value if -MAX_INT - 1 <= value <= MAX_INT else _Refused(TOO_LARGE)


def _float(text: str) -> float | _Refused:
    if len(text) > MAX_NUMBER_CHARS:
        return _Refused(TOO_LONG)
    value = float(text)
    return value if math.isfinite(value) else _Refused(NOT_FINITE)


def _constant(_text: str) -> _Refused:
    return _Refused(NOT_FINITE)


def _refusals(value: Any) -> Any:
    """The refused numbers inside a value, as marshmallow-shaped errors (or None)."""
    if isinstance(value, _Refused):
        return [value.reason]
    items = (value.items() if isinstance(value, dict)
             else enumerate(value) if isinstance(value, list) else ())
    found = {key: err for key, v in items if (err := _refusals(v)) is not None}
    return found or None


def decode(text: str | bytes) -> Any:
    """The JSON document, or RefusedNumbers; json.JSONDecodeError if it is not JSON."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise json.JSONDecodeError(f"Bytes decoding error : {exc.reason}",
                                       doc=str(exc.object), pos=exc.start) from exc
    document = json.loads(text, parse_int=_int, parse_float=_float, parse_constant=_constant)
    errors = _refusals(document)
    if errors is not None:
        raise RefusedNumbers(errors if isinstance(errors, dict) else {"_schema": errors})
    return document
