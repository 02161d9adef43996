"""What every Sada HTTP service shares: the flask-smorest API (OpenAPI at /openapi.json),
JSON errors for every failure, /healthz, /readyz (services/readiness.py) and /metrics with
request timing (services/observability.py), the security headers of every answer
(services/headers.py), and the bearer-token guard in front of everything
else with its `/login` page (services/auth.py, services/login.py).

Errors always come back as JSON `{"code", "status", "message", "errors"?}`; validation errors
name each field and the reason (`errors.json.<field>`), so a client never sees an HTML page or
a bare 500.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any, NoReturn

from flask import Blueprint, Flask, Response, current_app, jsonify
from flask import abort as abort_with
from flask_smorest import Api
from marshmallow import ValidationError
from pymongo import MongoClient
from pymongo.collection import Collection
from pymongo.database import Database
from webargs.flaskparser import abort
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.middleware.proxy_fix import ProxyFix

from services import auth, config, headers, login, observability, readiness, revocation
from services.config import Settings
from services.eventlog.port import Position
from services.events import envelope
from services.events.envelope import Actor, Event
from services.recording import Unavailable, append_one

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
BEARER = "bearerAuth"
UNAVAILABLE = "could not record durably, retry with the same Idempotency-Key"


# How long an app waits for MongoDB when it reads the revoked tokens.
REVOCATIONS_TIMEOUT_MS = 1000


def create_api(app: Flask, title: str, description: str, db: Database | None = None) -> Api:
    """The app's API: errors as JSON, health and readiness, the guard in front of every
    endpoint. `db`: the app's MongoDB database, where revoked tokens are read from."""
    app.config.update(
        API_TITLE=title,
        API_VERSION="1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        API_SPEC_OPTIONS={"info": {"description": description},
                          "security": [{BEARER: []}]},
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        JSON_AS_ASCII=False,
    )
    app.json.ensure_ascii = False
    api = Api(app)
    api.spec.components.security_scheme(BEARER, {
        "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
        "description": "A signed token carrying a role and its scope (`sada token`)."})
    # First: its before-request hook must run before any other, so every request is timed.
    observability.install(app, app.name)
    headers.install(app)  # CSP, X-Frame-Options, nosniff, Referrer-Policy on every answer
    _json_errors(app)
    app.register_blueprint(_health())
    readiness.install(app)  # each app adds its checks (services/readiness.py)
    # Every endpoint, now and later, sits behind the deny-by-default guard (services/auth.py).
    settings = app.extensions.get("sada.settings") or config.load()
    readiness.add_check(app, "processes", readiness.embedded_processes(settings.stack_file))
    auth.install(app, settings.auth_secret, rate_per_minute=settings.rate_limit_per_minute,
                 burst=settings.rate_limit_burst,
                 max_lifetime=token_lifetimes(settings),
                 revocations=revocation.Revocations(_revocations_of(settings, db)))
    if settings.trusted_proxies > 0:  # believe only the proxies the operator names
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n,  # type: ignore
                                x_port=n)
    app.register_blueprint(login.bp)
    return api


def token_lifetimes(settings: Settings) -> auth.Lifetimes:
    """The longest token lifetime each role may have, from the settings."""
    return auth.Lifetimes(timedelta(hours=settings.token_max_hours),
                          timedelta(hours=settings.token_max_hours_privileged))


def _revocations_of(settings: Settings, db: Database | None) -> Callable[[], Collection]:
    """The revoked tokens' collection: beside the app's own database, else SADA_MONGO_URL's
    (connected on first use, so an app starts without MongoDB)."""
    found: list[Collection] = []

    def collection() -> Collection:
        if not found:
            base = db if db is not None else MongoClient(
                settings.mongo_url, serverSelectionTimeoutMS=REVOCATIONS_TIMEOUT_MS)[
                settings.mongo_db]
            found.append(base[revocation.COLLECTION])
        return found[0]
    return collection


def fail(code: int, message: str, errors: dict[str, Any] | None = None) -> NoReturn:
    """End the request with a JSON error: a clear message and, for bad input, the fields at
    fault (the `errors` the error handler shows)."""
    try:
        abort_with(code, description=message)
    except HTTPException as exc:
        if errors:
            exc.data = {"messages": errors}  # type: ignore[attr-defined]
        raise


def unavailable(message: str = UNAVAILABLE) -> Response:
    """503: nothing is promised, and a retry (with the same Idempotency-Key) is safe."""
    response = jsonify({"code": 503, "status": "Service Unavailable", "message": message})
    response.status_code = 503
    response.headers["Retry-After"] = "1"
    return response


def record_one(type_: str, stream_id: str, payload: dict[str, Any], actor: Actor,
               event_id: str) -> tuple[Event, Position]:
    """Append one event made now and return it with its position once the log acknowledges
    it. Ends the request with a 422 if the event's own schema refuses the payload, or with a
    503 if the log does not answer."""
    try:
        event = envelope.make(type_, stream_id, payload, actor=actor, event_id=event_id,
                              recorded_at=envelope.now())
    except ValidationError as exc:  # the API schema should already have caught it
        abort(422, exc=exc, messages={"json": exc.messages})
    try:
        position = append_one(current_app.extensions["sada.log"], event)
    except Unavailable:
        abort_with(unavailable())
    return event, position


def _json_errors(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        body: dict[str, Any] = {"code": exc.code, "status": exc.name,
                                "message": exc.description}
        errors = getattr(exc, "data", {}).get("messages") if hasattr(exc, "data") else None
        if errors:
            body["errors"] = errors
        # The exception's own headers (Retry-After of a 429, Allow of a 405), not its HTML type.
        kept = [(k, v) for k, v in exc.get_headers() if k.lower() != "content-type"]
        return jsonify(body), exc.code, kept

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("unhandled error")
        err = InternalServerError()
        return jsonify({"code": 500, "status": err.name, "message": "internal error"}), 500


def _health() -> Blueprint:
    bp = Blueprint("health", __name__)

    @bp.get("/healthz")
    def healthz():
        return {"status": "ok"}

    return bp
