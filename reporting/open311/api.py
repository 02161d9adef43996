"""`/open311/v2/...`: Open311 GeoReport v2 over Sada (see `mapping` for how the two meet).

Every standard endpoint answers `.xml` (the spec's default) and `.json` (`formats`). Reads
(`services`, `services/{code}`, `requests`, `requests/{id}`) are public: without a token they
show only a request's public fields (`mapping.public_request`), rate-limited per client
address; with a bearer token they show what the token's scope may see, as every Sada read.
`jurisdiction_id`, when given, must name the configured jurisdiction
(`SADA_OPEN311_JURISDICTION`). A posted request is sent on to intake's `POST /demands`, the
one code path that records demands (`intake_client`): reporting never writes to the log.
Beyond the standard, `GET /open311/v2/requests/{id}/events.json`
lists the request's every event (a token is needed). Every error, whoever raises it, is
Open311's list of `{code, description}` in the format of the URL (see docs/open311.md).
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

from flask import Response, current_app, g, request
from flask.views import MethodView
from flask_smorest import Api
from marshmallow import Schema, ValidationError, fields
from pymongo import DESCENDING
from werkzeug.http import HTTP_STATUS_CODES

from reporting import personal, waits
from reporting.api import _ctx
from reporting.open311 import formats, intake_client, mapping, openapi
from reporting.service_calls import Outcome
from reporting.timetravel import moments
from services import apikeys, auth, idempotency, jsonbody
from services.domain.vocabulary import CATEGORIES
from services.events.envelope import format_time, now
from services.parsing import Blueprint
from services.ratelimit import TokenBuckets
from services.text import normalise_all
from services.web import BEARER

# Who may post a service request with a bearer token: those who record demands at intake.
SUBMITTERS = (auth.CLERK, auth.MAYOR, auth.HQ, auth.CENTRAL, auth.APPLICATION)
MAX_REQUESTS = 1000
DEFAULT_DAYS = 90
READABLE_POLL_SECONDS = 0.02
FMT = "<any(xml, json):fmt>"
READ_BUCKETS = "sada.open311.read_buckets"
KEY_BUCKETS = "sada.open311.key_buckets"
# The token reporting issues an application for the one submission it sends on to intake.
APPLICATION_TOKEN_TTL = timedelta(minutes=2)
# OpenAPI: a public read takes a bearer token or none.
ANYONE = {"security": [{}, {BEARER: []}]}
KEPT_HEADERS = ("Retry-After", "WWW-Authenticate", "Allow")

blp = Blueprint("open311", __name__, url_prefix="/open311/v2",
                description="Open311 GeoReport v2: services are categories, service requests "
                            "are demands. Every endpoint answers .xml (the default) and .json; "
                            "reads need no token and then show only public fields.")


def errors(code: int, *descriptions: str) -> Response:
    """Open311's error list, in the format the URL asks for."""
    g.open311_error = True
    return formats.errors(code, list(descriptions), formats.format_of(request.path))


def _install(state: Any) -> None:
    settings = state.app.extensions["sada.settings"]
    state.app.extensions[READ_BUCKETS] = TokenBuckets(settings.rate_limit_per_minute,
                                                      settings.rate_limit_burst)
    state.app.extensions[KEY_BUCKETS] = TokenBuckets(settings.rate_limit_per_minute,
                                                     settings.rate_limit_burst)


blp.record_once(_install)


def _jurisdiction_given() -> str | None:
    given = request.args.get("jurisdiction_id")
    if given is None and request.method == "POST":
        given = request.form.get("jurisdiction_id")
        body = request.get_json(silent=True) if request.is_json else None
        if given is None and isinstance(body, dict) and isinstance(body.get("jurisdiction_id"),
                                                                   str):
            given = body["jurisdiction_id"]
    return given


@blp.before_request
def _limit_and_check_jurisdiction() -> Response | None:
    """An anonymous read spends a token of its client address's bucket; a `jurisdiction_id`
    must name the jurisdiction served."""
    if request.method in auth.SAFE_METHODS and auth.principal_or_none() is None:
        wait = current_app.extensions[READ_BUCKETS].take(request.remote_addr or "-")
        if wait is not None:
            seconds = max(1, math.ceil(wait))
            response = errors(429, f"too many requests from this address; retry in {seconds} s")
            response.headers["Retry-After"] = str(seconds)
            return response
    given = _jurisdiction_given()
    served = current_app.extensions["sada.settings"].open311_jurisdiction
    if given and given.strip() and given.strip().lower() != served.lower():
        return errors(404, f"jurisdiction_id: no jurisdiction {given!r}; this server serves "
                           f"{served}")
    return None


def _descriptions(response: Response) -> list[str]:
    """What a Sada error body (`{code, status, message, errors}`) says, as description lines."""
    body = response.get_json(silent=True) if response.is_json else None
    if not isinstance(body, dict):
        name = HTTP_STATUS_CODES.get(response.status_code, "Error")
        return [f"{name}: {request.path}"]
    lines: list[str] = []
    for where, fields_ in (body.get("errors") or {}).items():
        if isinstance(fields_, dict):
            lines.extend(mapping.field_errors(fields_, submission=False))
        elif where != "reason" and isinstance(fields_, list):
            lines.extend(f"{where}: {reason}" for reason in fields_)
    return lines or [str(body.get("message") or HTTP_STATUS_CODES.get(response.status_code))]


@blp.after_app_request
def _open311_errors(response: Response) -> Response:
    """Every error under /open311/v2 (the token guard's, the parser's, a 404 of an unknown
    URL) in Open311's shape and the URL's format."""
    if (response.status_code < 400 or g.get("open311_error")
            or not request.path.startswith(f"{blp.url_prefix}/")):
        return response
    converted = formats.errors(response.status_code, _descriptions(response),
                               formats.format_of(request.path))
    for name in KEPT_HEADERS:
        if name in response.headers:
            converted.headers[name] = response.headers[name]
    return converted


def _language() -> str:
    return request.accept_languages.best_match(mapping.LANGUAGES, default="fa") or "fa"


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


@blp.route(f"/services.{FMT}")
class Services(MethodView):
    @blp.response(200, ServiceSchema(many=True))
    @blp.doc(**ANYONE)
    @auth.public_reads
    def get(self, fmt: str):
        """Every service (a Sada category), Persian name first. Public."""
        return formats.render("services", ServiceSchema(many=True).dump(mapping.services()), fmt)


@blp.route(f"/services/<code>.{FMT}")
class Service(MethodView):
    @blp.response(200, DefinitionSchema)
    @blp.alt_response(404, description="No such service")
    @blp.doc(**ANYONE)
    @auth.public_reads
    def get(self, code: str, fmt: str):
        """A service's attributes, to build a form from: `district` (required, 1-22),
        `neighbourhood`, `requester_kind`, `priority`, `title`. Public."""
        if code not in CATEGORIES:
            return errors(404, f"service_code: no service {code!r}; services are: "
                               + ", ".join(CATEGORIES))
        return formats.render("service_definition",
                              DefinitionSchema().dump(mapping.definition(code)), fmt)


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


def _api_key() -> str | None:
    given = request.values.get("api_key")
    if given is None and request.is_json:
        data = request.get_json(silent=True)
        given = data.get("api_key") if isinstance(data, dict) else None
    return given if isinstance(given, str) and given else None


def _application() -> auth.Principal | Response:
    """The application whose live API key the request names, rate-limited per key; or the
    Open311 error saying why not."""
    key = _api_key()
    if key is None:
        return errors(401, "api_key: a service request needs an api_key, or an "
                           "'Authorization: Bearer <token>' header")
    app = apikeys.find(_ctx().models.db, key)
    if app is None:
        return errors(401, "api_key: not a key this city issued, or it was revoked")
    wait = current_app.extensions[KEY_BUCKETS].take(f"key:{app.name}")
    if wait is not None:
        response = errors(429, "api_key: too many requests; retry later")
        response.headers["Retry-After"] = str(max(1, math.ceil(wait)))
        return response
    return auth.Principal(role=auth.APPLICATION, subject=f"app:{app.name}",
                          district=app.district)


def _intake_url() -> str:
    return current_app.extensions["sada.settings"].service_url("intake")


def _refused(answer: Outcome) -> Response:
    """Intake's refusal in Open311's shape: its fields named as the client sent them."""
    detail = answer.body.get("errors") or {}
    if answer.status == 422 and "json" in detail:
        return errors(400, *mapping.field_errors(detail["json"]))
    if answer.status == 422 and "headers" in detail:
        return errors(422, *[f"{idempotency.FIELD}: {reason}" for reasons in
                             detail["headers"].values() for reason in reasons])
    if answer.status in (401, 403, 429):
        return errors(answer.status, str(answer.body.get("message") or "refused"))
    response = errors(503, "the request could not be recorded durably; retry")
    response.headers["Retry-After"] = "1"
    return response


def _await_readable(demand_id: str) -> bool:
    """Whether the posted request can be read back, waiting for the projector at most the
    configured `open311_visible_seconds`."""
    models = _ctx().models
    return waits.until(lambda: models.has_demand(demand_id),
                       current_app.extensions["sada.settings"].open311_visible_seconds,
                       READABLE_POLL_SECONDS)


def _when(text: str, name: str) -> str:
    try:
        at = moments.parse(text)
    except ValueError as exc:
        raise ValidationError({name: [str(exc)]}) from None
    if not isinstance(at, moments.AtMoment):
        raise ValidationError({name: ["a date and time, e.g. 2025-03-01T10:00:00Z"]})
    return at.moment


@blp.route(f"/requests.{FMT}")
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
    @auth.takes_api_key
    def post(self, fmt: str):
        """Submit a service request: sent on to intake's `POST /demands`, which records it
        as a demand (DemandSubmitted) by its one code path, privacy sealing and
        idempotency included; reporting itself never writes to the log. Form-encoded as the
        standard says, or JSON; `attribute[district]` is required. An `Idempotency-Key`
        header makes a retry name the same request; the key is the caller's own, and reused
        with another body it is a 422. The answer comes once the request can be read back
        (at most `SADA_OPEN311_VISIBLE_SECONDS`, 5 s by default, later)."""
        try:
            body = mapping.submission(_posted())
        except ValidationError as exc:
            messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
            return errors(400, *mapping.field_errors(messages))
        principal = auth.principal_or_none()
        headers: dict[str, str] = dict(request.headers)
        if principal is None:  # an application with its API key (the guard let it through)
            acting = _application()
            if isinstance(acting, Response):
                return acting
            principal = acting
            headers["Authorization"] = "Bearer " + auth.issue(
                current_app.extensions["sada.auth"].secret, role=auth.APPLICATION,
                subject=principal.subject, district=principal.district,
                ttl=APPLICATION_TOKEN_TTL)
        if isinstance(body.get("district"), int) and 1 <= body["district"] <= 22:
            auth.require_district(body["district"], ("form", "attribute[district]"),
                                  principal=principal, action="submit for")
        answer = intake_client.submit(_intake_url(), body, headers)
        if answer.status == 202:
            # The id is known at once; the token is the same id, for clients that follow
            # tokens (`tokens/{token}`) and for the citizen's tracking page (`/track/{token}`).
            # The answer waits (briefly) until the request can be read back: a client that
            # reads it straight after posting finds it.
            demand_id = answer.body["demand_id"]
            readable = _await_readable(demand_id)
            notice = ("ثبت شد؛ مسیر رسیدگی به‌زودی تعیین می‌شود — "
                      "recorded; routing follows shortly") if readable else (
                      "ثبت شد؛ تا چند لحظهٔ دیگر قابل مشاهده است — recorded; it can be "
                      "read back in a few moments")
            created = [{"service_request_id": demand_id, "account_id": None,
                        "token": demand_id, "service_notice": notice,
                        "position": answer.body["position"]}]
            return formats.render("service_requests",
                                  CreatedSchema(many=True).dump(created), fmt, 201)
        return _refused(answer)

    @blp.response(200, RequestSchema(many=True))
    @blp.alt_response(400, description="A parameter is invalid: [{code, description}]")
    @blp.doc(**ANYONE)
    @auth.public_reads
    def get(self, fmt: str):
        """Service requests, newest first (at most 1000): by `service_request_id` (comma
        separated), or by `service_code`, `status` (open, closed), `start_date` and
        `end_date` (the last 90 days if neither is given) and, beyond the standard,
        `district`. Without a token, every district's requests in their public fields; with
        one, the requests within the token's scope."""
        principal = auth.principal_or_none()
        try:
            args = QueryArgs().load(normalise_all(request.args.to_dict()))
            query = _query(args, principal)
        except ValidationError as exc:
            return errors(400, *mapping.field_errors(exc.messages, submission=False))
        docs = _ctx().models.demands.find(query).sort(
            [("submitted_at", DESCENDING), ("_id", DESCENDING)]).limit(MAX_REQUESTS)
        return formats.render("service_requests", _shown(list(docs), principal), fmt)


def _shown(docs: list[dict[str, Any]], principal: auth.Principal | None) -> list[dict[str, Any]]:
    """Demands as service requests: public fields only for an anonymous reader."""
    if principal is None:
        language = _language()
        return [mapping.public_request(d, language) for d in docs]
    return RequestSchema(many=True).dump([mapping.service_request(d) for d in docs])


def _query(args: dict[str, Any], principal: auth.Principal | None) -> dict[str, Any]:
    query: dict[str, Any] = {}
    if principal is not None:
        query.update(auth.scope_filter(principal))
    if "district" in args:
        district = args["district"] if principal is None else \
            auth.require_district(args["district"], principal=principal)
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
    if auth.principal_or_none() is not None:
        auth.require_visible(doc)
    return doc


@blp.route(f"/requests/<request_id>.{FMT}")
class RequestItem(MethodView):
    @blp.response(200, RequestSchema(many=True))
    @blp.alt_response(404, description="No such request: [{code, description}]")
    @blp.doc(**ANYONE)
    @auth.public_reads
    def get(self, request_id: str, fmt: str):
        """One service request (a list of one, as the standard has it): its public fields
        without a token."""
        doc = _visible_doc(request_id)
        if isinstance(doc, Response):
            return doc
        return formats.render("service_requests", _shown([doc], auth.principal_or_none()), fmt)


class TokenSchema(Schema):
    service_request_id = fields.String()
    token = fields.String()


@blp.route(f"/tokens/<token>.{FMT}")
class TokenItem(MethodView):
    @blp.response(200, TokenSchema(many=True))
    @blp.alt_response(404, description="No request has this token: [{code, description}]")
    @blp.doc(**ANYONE)
    @auth.public_reads
    def get(self, token: str, fmt: str):
        """The service request a token names. Sada's token is the request's id, known as soon
        as it is posted: a client that follows tokens finds it here."""
        doc = _visible_doc(token.upper())
        if isinstance(doc, Response):
            return errors(404, f"token: no service request has token {token}")
        return formats.render("service_requests",
                              [{"service_request_id": doc["_id"], "token": doc["_id"]}], fmt)


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
    openapi.document(api, blp.url_prefix)
