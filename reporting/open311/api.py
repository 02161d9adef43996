"""`/open311/v2/...`: Open311 GeoReport v2 over Sada (see `mapping` for how the two meet).

Standard endpoints, with `.json` (the format Sada speaks); `jurisdiction_id` is accepted and
ignored. A posted request goes through intake's own validation and recording
(`intake/record.py`); reads come from the read models, within the caller's scope. Beyond the
standard, `GET /open311/v2/requests/{id}/events.json` lists the request's every event. Errors
are Open311's: a JSON array of `{code, description}`, each naming the field and the reason.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Response, current_app, jsonify, request
from flask.views import MethodView
from flask_smorest import Api
from marshmallow import Schema, ValidationError, fields
from pymongo import DESCENDING

from intake.api import SUBMITTERS
from intake.record import record, validate
from reporting import personal
from reporting.api import _ctx
from reporting.open311 import mapping
from reporting.timetravel import moments
from services import auth, idempotency, jsonbody
from services.domain.vocabulary import CATEGORIES
from services.events.envelope import format_time, now
from services.parsing import Blueprint
from services.privacy import service as privacy
from services.recording import Unavailable
from services.text import normalise_all

MAX_REQUESTS = 1000
DEFAULT_DAYS = 90

blp = Blueprint("open311", __name__, url_prefix="/open311/v2",
                description="Open311 GeoReport v2: services are categories, service requests "
                            "are demands")


def errors(code: int, *descriptions: str) -> Response:
    response = jsonify([{"code": code, "description": d} for d in descriptions])
    response.status_code = code
    return response


class ServiceSchema(Schema):
    service_code = fields.String()
    service_name = fields.String()
    description = fields.String()
    metadata = fields.Boolean()
    type = fields.String()
    keywords = fields.String()
    group = fields.String()


class DefinitionSchema(Schema):
    service_code = fields.String()
    attributes = fields.List(fields.Dict())


class RequestSchema(Schema):
    service_request_id = fields.String()
    status = fields.String(metadata={"description": "open or closed"})
    status_notes = fields.String(allow_none=True)
    service_name = fields.String(allow_none=True)
    service_code = fields.String(allow_none=True)
    description = fields.String(allow_none=True)
    agency_responsible = fields.String(allow_none=True)
    service_notice = fields.String(allow_none=True)
    requested_datetime = fields.String(allow_none=True)
    updated_datetime = fields.String(allow_none=True)
    expected_datetime = fields.String(allow_none=True)
    address = fields.String(allow_none=True)
    address_id = fields.String(allow_none=True)
    zipcode = fields.String(allow_none=True)
    lat = fields.Float(allow_none=True)
    long = fields.Float(allow_none=True)
    media_url = fields.String(allow_none=True)
    district = fields.Integer(allow_none=True)
    title = fields.String(allow_none=True)
    sada_status = fields.String(allow_none=True)
    level = fields.String(allow_none=True)


class CreatedSchema(Schema):
    service_request_id = fields.String()
    service_notice = fields.String(allow_none=True)
    account_id = fields.String(allow_none=True)
    token = fields.String(allow_none=True)
    position = fields.String(metadata={"description": "Sada: where the request sits in the log"})


class EventSchema(Schema):
    event_id = fields.String()
    type = fields.String()
    recorded_at = fields.String()
    position = fields.String()
    decision = fields.Boolean()
    actor_role = fields.String()
    payload = fields.Dict()


class QueryArgs(Schema):
    """GET requests.json (parsed by hand, so that errors come in Open311's form)."""

    jurisdiction_id = fields.String()
    service_request_id = fields.String()
    service_code = fields.String()
    start_date = fields.String()
    end_date = fields.String()
    status = fields.String()
    district = fields.Integer()


@blp.route("/services.json")
class Services(MethodView):
    @blp.response(200, ServiceSchema(many=True))
    def get(self):
        """Every service (a Sada category), Persian name first."""
        return mapping.services()


@blp.route("/services/<code>.json")
class Service(MethodView):
    @blp.response(200, DefinitionSchema)
    @blp.alt_response(404, description="No such service")
    def get(self, code: str):
        """A service's attributes: `district` is required."""
        if code not in CATEGORIES:
            return errors(404, f"service_code: no service {code!r}; services are: "
                               + ", ".join(CATEGORIES))
        return mapping.definition(code)


def _posted() -> dict[str, Any]:
    data = None
    if request.is_json:
        try:
            data = jsonbody.decode(request.get_data(cache=True))
        except jsonbody.RefusedNumbers as exc:
            raise ValidationError(exc.errors) from None
        except (ValueError, RecursionError):
            data = None  # not JSON: read as a form, whose missing fields are then named
    if data is None:
        data = request.form.to_dict()
    if not isinstance(data, dict):
        raise ValidationError({"_schema": ["the body must be form fields or a JSON object"]})
    return mapping.RequestForm().load(normalise_all(data))


def _when(text: str, name: str) -> str:
    try:
        at = moments.parse(text)
    except ValueError as exc:
        raise ValidationError({name: [str(exc)]}) from None
    if not isinstance(at, moments.AtMoment):
        raise ValidationError({name: ["a date and time, e.g. 2025-03-01T10:00:00Z"]})
    return at.moment


@blp.route("/requests.json")
class Requests(MethodView):
    @blp.doc(requestBody={"required": True, "content": {
        "application/x-www-form-urlencoded": {"schema": mapping.RequestForm},
        "application/json": {"schema": mapping.RequestForm}}})
    @blp.response(201, CreatedSchema(many=True))
    @blp.alt_response(400, description="A field is missing or invalid: "
                                       "[{code, description}], nothing was recorded")
    @blp.alt_response(422, description="The Idempotency-Key was used by the caller for another "
                                       "request: [{code, description}], nothing was recorded")
    @blp.alt_response(503, description="The log did not acknowledge: retry")
    @auth.roles(*SUBMITTERS)
    def post(self):
        """Submit a service request: recorded as a demand (DemandSubmitted) by intake's code
        path. Form-encoded as the standard says, or JSON; `attribute[district]` is required.
        An `Idempotency-Key` header makes a retry name the same request; the key is the
        caller's own, and reused with another body it is a 422."""
        try:
            body = validate(mapping.submission(_posted()))
        except ValidationError as exc:
            messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
            return errors(400, *mapping.field_errors(messages))
        auth.require_district(body["district"], ("form", "attribute[district]"),
                              action="submit for")
        key = request.headers.get(idempotency.FIELD)
        log = _ctx().log()
        try:
            recorded = record(log, body, auth.current_actor().actor(), key,
                              vault=privacy.vault(), keys=idempotency.of(current_app, log))
        except ValidationError as exc:
            return errors(400, *mapping.field_errors(exc.messages))
        except idempotency.KeyReused as exc:
            return errors(422, f"{idempotency.FIELD}: {exc}")
        except Unavailable:
            response = errors(503, "the request could not be recorded durably; retry")
            response.headers["Retry-After"] = "1"
            return response
        return [{"service_request_id": recorded.demand_id, "account_id": None, "token": None,
                 "service_notice": "ثبت شد؛ مسیر رسیدگی به‌زودی تعیین می‌شود — recorded; "
                                   "routing follows shortly",
                 "position": str(recorded.position)}], 201

    @blp.response(200, RequestSchema(many=True))
    @blp.alt_response(400, description="A parameter is invalid: [{code, description}]")
    def get(self):
        """Service requests, newest first (at most 1000): by `service_request_id` (comma
        separated), or by `service_code`, `status` (open, closed), `start_date` and
        `end_date` (the last 90 days if neither is given) and, beyond the standard,
        `district`. Only requests within the caller's scope."""
        try:
            args = QueryArgs().load(normalise_all(request.args.to_dict()))
            query = _query(args)
        except ValidationError as exc:
            return errors(400, *mapping.field_errors(exc.messages, submission=False))
        docs = _ctx().models.demands.find(query).sort(
            [("submitted_at", DESCENDING), ("_id", DESCENDING)]).limit(MAX_REQUESTS)
        return [mapping.service_request(d) for d in docs]


def _query(args: dict[str, Any]) -> dict[str, Any]:
    query: dict[str, Any] = dict(auth.scope_filter())
    if "district" in args:
        district = auth.require_district(args["district"])
        query["district"] = district
    if "service_request_id" in args:
        query["_id"] = {"$in": [x.strip() for x in args["service_request_id"].split(",")
                                if x.strip()]}
        return query
    if "service_code" in args:
        codes = [x.strip() for x in args["service_code"].split(",") if x.strip()]
        unknown = [c for c in codes if c not in CATEGORIES]
        if unknown:
            raise ValidationError({"service_code": [f"no service {', '.join(unknown)}"]})
        query["category"] = {"$in": codes}
    if "status" in args:
        wanted = {x.strip() for x in args["status"].split(",") if x.strip()}
        if not wanted or wanted - {"open", "closed"}:
            raise ValidationError({"status": ["open, closed or both, comma separated"]})
        if len(wanted) == 1:
            query["open"] = wanted == {"open"}
    window: dict[str, str] = {}
    if "start_date" in args:
        window["$gte"] = _when(args["start_date"], "start_date")
    if "end_date" in args:
        window["$lte"] = _when(args["end_date"], "end_date")
    if not window:
        window["$gte"] = format_time(now() - timedelta(days=DEFAULT_DAYS))
    query["submitted_at"] = window
    return query


def _visible_doc(request_id: str) -> dict[str, Any] | Response:
    doc = _ctx().models.demand(request_id)
    if doc is None:
        return errors(404, f"service_request_id: no service request {request_id}")
    auth.require_visible(doc)
    return doc


@blp.route("/requests/<request_id>.json")
class RequestItem(MethodView):
    @blp.response(200, RequestSchema(many=True))
    @blp.alt_response(404, description="No such request: [{code, description}]")
    def get(self, request_id: str):
        """One service request (an array of one, as the standard has it)."""
        doc = _visible_doc(request_id)
        return doc if isinstance(doc, Response) else [mapping.service_request(doc)]


@blp.route("/requests/<request_id>/events.json")
class RequestEvents(MethodView):
    @blp.response(200, EventSchema(many=True))
    @blp.alt_response(404, description="No such request: [{code, description}]")
    def get(self, request_id: str):
        """Beyond the standard: every event of the request, in log order (routing's
        decisions included)."""
        doc = _visible_doc(request_id)
        if isinstance(doc, Response):
            return doc
        events = personal.show_history(_ctx().models.demand_history(request_id))
        return [{"event_id": e["_id"], "type": e["type"], "recorded_at": e["recorded_at"],
                 "position": f"{e['partition']}:{e['offset']}", "decision": e["decision"],
                 "actor_role": e["actor"]["role"], "payload": e["payload"]}
                for e in events]


def register(api: Api) -> None:
    api.register_blueprint(blp)
