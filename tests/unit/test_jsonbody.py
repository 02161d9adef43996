"""Decoding JSON bodies with bounded numbers (services/jsonbody.py), without I/O."""

from __future__ import annotations

import json

import pytest

from services import jsonbody


def test_ordinary_numbers_decode_as_json_does() -> None:
    text = '{"a": 1, "b": -2.5, "c": [9223372036854775807, -9223372036854775808, 1e300]}'
    assert jsonbody.decode(text) == json.loads(text)


@pytest.mark.parametrize(("text", "errors"), [
    ('{"a": ' + "1" * 5000 + "}", {"a": [jsonbody.TOO_LARGE]}),
    ('{"a": 9223372036854775808}', {"a": [jsonbody.TOO_LARGE]}),
    ('{"a": {"b": [1, NaN]}}', {"a": {"b": {1: [jsonbody.NOT_FINITE]}}}),
    ('{"a": 1e400, "b": "x", "c": 0.' + "3" * 100 + "}",
     {"a": [jsonbody.NOT_FINITE], "c": [jsonbody.TOO_LONG]}),
    ("-Infinity", {"_schema": [jsonbody.NOT_FINITE]}),
])
def test_every_refused_number_is_named_where_it_is(text, errors) -> None:
    with pytest.raises(jsonbody.RefusedNumbers) as refused:
        jsonbody.decode(text)
    assert refused.value.errors == errors


def test_what_is_not_json_stays_a_decode_error() -> None:
    with pytest.raises(json.JSONDecodeError):
        jsonbody.decode(b"\xff{")
    with pytest.raises(json.JSONDecodeError):
        jsonbody.decode("{")
