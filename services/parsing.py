"""How every Sada endpoint reads its arguments: one webargs parser for all blueprints.

- A body that is not a JSON document is a 422 naming the body (never a 400, and never a list
  of "missing" fields that hides the real mistake); a body nested absurdly deep is one too.
- A number no field could hold (5,000 digits, past 64 bits, `1e999`, `NaN`) is a 422 naming
  its field, decided while the body is decoded (`services.jsonbody`).
- Every string of a JSON body and of the query string is normalised (`services.text`)
  before its schema sees it, so every text field of every endpoint is normalised in one place.
- A query parameter the endpoint does not know is a 422 naming it, like an unknown body field:
  a misspelt `?distrcit=3` must not silently widen a search.
- A schema given as a class is made once, not on every request (webargs would make one per
  request, and its nested schemas with it: 5 % of intake's time per submission).

Use `services.parsing.Blueprint` instead of `flask_smorest.Blueprint`.
"""

from __future__ import annotations

from typing import Any

import flask_smorest
from flask import Request
from marshmallow import RAISE, Schema, fields, validate
from webargs import core
from webargs.flaskparser import FlaskParser, abort, is_json_request
from werkzeug.datastructures import MultiDict

from services import jsonbody
from services.text import ascii_digits, normalise, normalise_all

NOT_JSON = "The body must be JSON (Content-Type: application/json)."


class SadaParser(FlaskParser):
    DEFAULT_UNKNOWN_BY_LOCATION = {**FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION, "query": RAISE,
                                   "querystring": RAISE}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._schemas: dict[type[Schema], Schema] = {}

    def _get_schema(self, argmap: Any, req: Request) -> Schema:
        """One instance per schema class (marshmallow schemas keep no state between loads)."""
        if isinstance(argmap, type) and issubclass(argmap, Schema):
            schema = self._schemas.get(argmap)
            if schema is None:
                schema = self._schemas[argmap] = argmap()
            return schema
        return super()._get_schema(argmap, req)

    def _raw_load_json(self, req: Request) -> Any:
        data = req.get_data(cache=True)
        if not data:
            return core.missing
        if not is_json_request(req):
            abort(422, messages={"json": {"_schema": [NOT_JSON]}})
        try:
            return normalise_all(jsonbody.decode(data))
        except jsonbody.RefusedNumbers as exc:
            abort(422, messages={"json": exc.errors})
        except RecursionError:
            abort(422, messages={"json": {"_schema": ["The JSON body is nested too deeply."]}})

    def _handle_invalid_json_error(self, error, req, *args, **kwargs):
        abort(422, exc=error, messages={"json": {"_schema": ["Invalid JSON body."]}})

    def load_querystring(self, req: Request, schema: Schema) -> Any:
        args = MultiDict([(normalise(k), normalise(v)) for k, v in req.args.items(multi=True)])
        return self._makeproxy(args, schema)


def small_number(raw: str, low: int, high: int) -> int | None:
    """The integer a string of digits names (Persian and Arabic-Indic digits too) if it is
    from `low` to `high`, else None; never raises, however long or odd the string (int()
    raises on 4,300 digits and on `²`, which `str.isdigit` accepts)."""
    digits = ascii_digits(raw.strip())
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 18:
        return None
    value = int(digits)
    return value if low <= value <= high else None


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = SadaParser()


class RequestHeadersV1(Schema):
    """The headers of a request that records something. Who acts comes from the bearer token
    (services/auth.py), never from a header; the key makes a retry name the same event, and
    is the caller's own, bound to the body (services/idempotency.py)."""

    idempotency_key = fields.String(
        data_key="Idempotency-Key", load_default=None, metadata={"description": (
            "Your key for this request: a retry with the same body is answered as the first "
            "time and records nothing more; the same key with another body is a 422. Another "
            "caller's identical key names another request.")},
        validate=validate.Regexp(r"^[\x20-\x7e]{1,128}$",
                                 error="Must be 1-128 printable ASCII characters."))
