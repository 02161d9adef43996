"""Who is asking, and whether they may: Sada's one authentication and authorization module.

**Tokens.** A bearer token is a JWT signed with HS256 under `SADA_AUTH_SECRET`, with an expiry.
It carries a subject (the person), a role and the role's scope:

- `intake_clerk` (a district): submits its district's demands, reads its district;
- `department_staff` (a district and a department): acts on and reads its own queue only;
- `district_mayor` (a district): acts on and reads its district;
- `headquarters`, `central_management` (every district): act on and read everything;
- `auditor` (every district, read-only): reads everything, history and verification
  included, and changes nothing;
- `administrator` (every district): rules, calendars and users; reads everything.

**The guard.** `install(app, ...)` (called by `services.web.create_api` for every service)
puts a deny-by-default `before_request` in front of every endpoint: only `PUBLIC_PATHS`,
`/static/` and reads of endpoints marked `public_reads` answer without a token. A token comes
in `Authorization: Bearer …`, or, for browsers, in the HttpOnly cookie `/login` sets. Then:

- an auditor may not use a method that changes anything (unless the endpoint lists
  `auditor` in its `roles`, declaring that it changes nothing);
- an endpoint decorated with `roles(...)` admits only those roles; an endpoint without a
  rule admits any authenticated role to read (GET/HEAD) and nobody to write;
- writes are rate-limited per token (`services.ratelimit`).

**In views.** `current_actor()` is the verified principal; `Principal.actor()` is what goes
into an event's envelope. Scope is checked with `require_district`, `require_queue`,
`require_visible` and `scope_filter` (a MongoDB filter of what the principal may see). Every
refusal is logged and counted in `sada_auth_failures{service,reason}`.
"""

from __future__ import annotations

import functools
import logging
import math
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, NoReturn, TypeVar
from urllib.parse import quote, urlsplit

import jwt
from flask import Flask, Response, current_app, g, jsonify, redirect, request
from werkzeug.exceptions import Forbidden, HTTPException, Unauthorized

from services.domain.vocabulary import DEPARTMENTS, Role
from services.events.envelope import Actor
from services.metrics import AUTH_FAILURES
from services.ratelimit import TokenBuckets
from services.revocation import Revocations

log = logging.getLogger(__name__)

ALGORITHM = "HS256"
ISSUER = "sada"
COOKIE = "sada_token"
MIN_SECRET_CHARS = 32
MAX_TTL = timedelta(days=366)
LEEWAY_SECONDS = 30
MAX_TOKEN_CHARS = 4096

PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/openapi.json", "/login",
                          "/logout", "/favicon.ico"})
# The citizen's tracking page is public (reporting/web/track.py): no personal data on it.
PUBLIC_PREFIXES = ("/static/", "/track/")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

CLERK, STAFF, MAYOR = Role.INTAKE_CLERK, Role.DEPARTMENT_STAFF, Role.DISTRICT_MAYOR
HQ, CENTRAL = Role.HEADQUARTERS, Role.CENTRAL_MANAGEMENT
AUDITOR, ADMIN = Role.AUDITOR, Role.ADMINISTRATOR
APPLICATION = Role.APPLICATION
# Roles that see or change the whole city: their tokens may live less long (Lifetimes).
PRIVILEGED = frozenset({ADMIN, HQ, CENTRAL, AUDITOR})
ROLES = tuple(str(r) for r in (CLERK, STAFF, MAYOR, HQ, CENTRAL, AUDITOR, ADMIN))
# What a token may name: a person's role, or an application's (issued by reporting for one
# Open311 submission it sends on to intake, from an API key; never by `sada token`).
TOKEN_ROLES = (*ROLES, str(APPLICATION))
DISTRICT_ROLES = frozenset({CLERK, STAFF, MAYOR})
READ_ONLY_ROLES = frozenset({AUDITOR})


# -- principals and tokens ------------------------------------------------------------------
@dataclass(frozen=True)
class Principal:
    """A verified token: who, in which role, over what scope."""

    role: str
    subject: str
    district: int | None = None
    department: str | None = None
    token_id: str = ""
    expires_at: int = 0
    issued_at: int = 0

    def actor(self) -> Actor:
        """The actor written into the envelope of every event this principal causes."""
        return Actor(role=self.role, id=self.subject, district=self.district,
                     department=self.department)

    @property
    def scope(self) -> str:
        if self.department is not None:
            return f"{self.district}/{self.department}"
        return "all districts" if self.district is None else f"district {self.district}"

    def sees(self, district: Any, department: Any = None) -> bool:
        """Whether a demand of this district (and department) is within the scope."""
        if self.district is None:
            return True
        if district != self.district:
            return False
        return self.department is None or department == self.department


def a(role: str) -> str:
    """'an auditor', 'a district_mayor': a role in a sentence."""
    return f"{'an' if role[0] in 'aeiou' else 'a'} {role}"


class TokenError(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def scope_problem(role: str, district: Any, department: Any) -> str | None:
    """Why a role cannot have this scope, or None if it can."""
    if role not in TOKEN_ROLES:
        return f"unknown role {role!r}; roles are: {', '.join(ROLES)}"
    if district is not None and (isinstance(district, bool) or not isinstance(district, int)
                                 or not 1 <= district <= 22):
        return "district must be an integer from 1 to 22"
    if department is not None and department not in DEPARTMENTS:
        return f"unknown department {department!r}"
    if role == APPLICATION:  # one district's app, or the whole city's
        return None if department is None else "an application token takes no department"
    if role in DISTRICT_ROLES and district is None:
        return f"{a(role)} token needs a district"
    if role not in DISTRICT_ROLES and district is not None:
        return f"{a(role)} token covers every district; it takes no district"
    if (role == STAFF) != (department is not None):
        return ("a department_staff token needs a department" if role == STAFF
                else f"{a(role)} token takes no department")
    return None


def _valid_subject(subject: Any) -> bool:
    return (isinstance(subject, str) and 1 <= len(subject) <= 128
            and subject.isprintable() and subject.strip() == subject)


def issue(secret: str, *, role: str, subject: str, district: int | None = None,
          department: str | None = None, ttl: timedelta = timedelta(hours=8),
          now: float | None = None) -> str:
    """A signed token for this principal, valid for `ttl`."""
    _check_secret(secret)
    problem = scope_problem(role, district, department)
    if problem:
        raise ValueError(problem)
    if not _valid_subject(subject):
        raise ValueError("subject must be 1-128 printable characters")
    if not timedelta(0) < ttl <= MAX_TTL:
        raise ValueError(f"ttl must be positive and at most {MAX_TTL.days} days")
    issued = int(time.time() if now is None else now)
    claims = {"iss": ISSUER, "sub": subject, "role": role, "district": district,
              "department": department, "iat": issued,
              "exp": issued + int(ttl.total_seconds()), "jti": secrets.token_urlsafe(12)}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


@dataclass(frozen=True)
class Lifetimes:
    """The longest lifetime (`exp` - `iat`) of a token the services accept: shorter for the
    roles that see or change the whole city (`PRIVILEGED`), whose stolen token costs most."""

    ordinary: timedelta = MAX_TTL
    privileged: timedelta = MAX_TTL

    def limit(self, role: str) -> timedelta:
        return self.privileged if role in PRIVILEGED else self.ordinary


def verify(secret: str, token: str, max_lifetime: Lifetimes | timedelta = MAX_TTL) -> Principal:
    """The principal a token names, or TokenError(reason, message). A token whose lifetime
    (`exp` - `iat`) is longer than its role's limit is refused however it was signed: a leaked
    or carelessly issued ten-year token does not work (`iat` cannot lie ahead of the clock,
    so a token is never valid beyond its limit from now).

    A token's signature and claims are checked once per process and the principal kept
    (`_signed`, bounded, keyed by the secret, the token and the limits: what they decide never
    changes); its expiry is checked on every call. Revocation is the guard's, every request."""
    lifetimes = (max_lifetime if isinstance(max_lifetime, Lifetimes)
                 else Lifetimes(max_lifetime, max_lifetime))
    if len(token) > MAX_TOKEN_CHARS:
        raise TokenError("malformed_token", "the token is too long")
    principal = _signed(secret, token, lifetimes)
    if time.time() >= principal.expires_at + LEEWAY_SECONDS:  # as PyJWT judges `exp`
        raise TokenError("expired_token", "the token has expired; ask for a new one")
    return principal


@functools.lru_cache(maxsize=4096)
def _signed(secret: str, token: str, lifetimes: Lifetimes) -> Principal:
    """The principal of a token whose signature and claims are good (a refusal raises, and is
    not kept). Checking an HS256 signature and decoding the claims was a tenth of a
    submission's time in intake; a client sends the same token with every request."""
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], issuer=ISSUER,
                            leeway=LEEWAY_SECONDS,
                            options={"require": ["exp", "iat", "sub", "jti", "iss"]})
    except jwt.ExpiredSignatureError:
        raise TokenError("expired_token", "the token has expired; ask for a new one") from None
    except jwt.InvalidSignatureError:
        raise TokenError("bad_signature", "the token's signature is not valid") from None
    except jwt.InvalidTokenError as exc:
        raise TokenError("malformed_token", f"the token is not valid: {exc}") from None
    role, district, department = (claims.get("role"), claims.get("district"),
                                  claims.get("department"))
    problem = scope_problem(role, district, department) if isinstance(role, str) else "no role"
    if problem or not _valid_subject(claims["sub"]):
        raise TokenError("bad_claims", f"the token's claims are not valid: {problem or 'sub'}")
    lifetime, limit = int(claims["exp"]) - int(claims["iat"]), lifetimes.limit(role)
    if lifetime > limit.total_seconds():
        raise TokenError("too_long_lived", f"the token is valid for {_hours(lifetime)}, longer "
                         f"than the {_hours(limit.total_seconds())} this deployment allows "
                         f"a {role}; ask for a shorter one")
    return Principal(role=role, subject=claims["sub"], district=district,
                     department=department, token_id=str(claims["jti"]),
                     issued_at=int(claims["iat"]),
                     expires_at=int(claims["exp"]))


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:g} h"


def _check_secret(secret: str) -> None:
    if len(secret) < MIN_SECRET_CHARS:
        raise RuntimeError(
            f"SADA_AUTH_SECRET must be set to at least {MIN_SECRET_CHARS} random characters "
            "(`sada run` makes one in its data dir; see README, Security)")


# -- endpoint rules -------------------------------------------------------------------------
F = TypeVar("F", bound=Callable[..., Any])


def roles(*names: str) -> Callable[[F], F]:
    """Admit only these roles to an endpoint (a view function or a MethodView method).
    Put it directly above the view function, below the flask-smorest decorators."""
    unknown = set(names) - set(TOKEN_ROLES)
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}")

    def mark(view: F) -> F:
        view._sada_roles = frozenset(names)  # type: ignore[attr-defined]
        return view

    return mark


def takes_api_key(view: F) -> F:
    """Let a write of this endpoint through without a token when it names an `api_key`
    (Open311's way): the view checks the key (services/apikeys.py) and refuses without one."""
    view._sada_api_key = True  # type: ignore[attr-defined]
    return view


def public_reads(view: F) -> F:
    """Let anyone read this endpoint (GET/HEAD) without a token; the view then finds no
    principal (`principal_or_none()`) and must show only what is public. With a token the
    endpoint behaves as any other."""
    view._sada_public = True  # type: ignore[attr-defined]
    return view


def rule_of(app: Flask, endpoint: str | None, method: str) -> frozenset[str] | None:
    """The roles an endpoint admits for a method, or None if it declares no rule."""
    return _mark(app, endpoint, method, "_sada_roles")


def reads_publicly(app: Flask, endpoint: str | None, method: str) -> bool:
    """Whether the endpoint is marked `public_reads` and `method` only reads."""
    return method in SAFE_METHODS and bool(_mark(app, endpoint, method, "_sada_public"))


def _mark(app: Flask, endpoint: str | None, method: str, name: str) -> Any:
    if endpoint is None or endpoint not in app.view_functions:
        return None
    view = app.view_functions[endpoint]
    view_class = getattr(view, "view_class", None)
    if view_class is not None:
        view = getattr(view_class, method.lower(), None)
        if view is None and method == "HEAD":
            view = getattr(view_class, "get", None)
    while view is not None:
        found = getattr(view, name, None)
        if found is not None:
            return found
        view = getattr(view, "__wrapped__", None)
    return None


# -- the guard ------------------------------------------------------------------------------
@dataclass
class AuthConfig:
    secret: str
    service: str
    buckets: TokenBuckets
    max_lifetime: Lifetimes = Lifetimes()
    revocations: Revocations | None = None


def install(app: Flask, secret: str, *, rate_per_minute: int, burst: int,
            max_lifetime: Lifetimes = Lifetimes(), revocations: Revocations | None = None
            ) -> None:
    """Put the guard in front of every endpoint of `app`; tokens living longer than their
    role's `max_lifetime`, and revoked ones, are refused."""
    _check_secret(secret)
    app.extensions["sada.auth"] = AuthConfig(secret, app.name,
                                             TokenBuckets(rate_per_minute, burst),
                                             max_lifetime, revocations)
    app.before_request(_guard)


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def _config() -> AuthConfig:
    return current_app.extensions["sada.auth"]


def _bearer() -> tuple[str | None, bool]:
    """The token and whether it came from the cookie."""
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, value = header.partition(" ")
        return (value.strip() or None if scheme.lower() == "bearer" else ""), False
    cookie = request.cookies.get(COOKIE)
    return (cookie or None), cookie is not None


def _wants_html() -> bool:
    return (request.method == "GET" and request.accept_mimetypes.best_match(
        ["application/json", "text/html"]) == "text/html")


def _guard() -> Response | None:
    if is_public(request.path):
        return None
    cfg = _config()
    token, from_cookie = _bearer()
    if token is None and reads_publicly(current_app, request.endpoint, request.method):
        return None  # an anonymous read of a public endpoint: the view shows public fields
    if token is None and _mark(current_app, request.endpoint, request.method, "_sada_api_key"):
        return None  # a write naming an API key: the view checks the key
    if not token:
        if token == "":
            return _unauthenticated("malformed_token",
                                    "the Authorization header must be 'Bearer <token>'")
        return _unauthenticated("missing_token", "a bearer token is required: send "
                                "'Authorization: Bearer <token>' or sign in at /login")
    try:
        principal = verify(cfg.secret, token, cfg.max_lifetime)
    except TokenError as exc:
        return _unauthenticated(exc.reason, exc.message, clear_cookie=from_cookie)
    if cfg.revocations is not None and cfg.revocations.revoked(
            principal.token_id, principal.subject, principal.issued_at):
        return _unauthenticated("revoked_token", "this token was revoked: ask for a new one",
                                clear_cookie=from_cookie)
    g.sada_principal = principal
    method = request.method
    if from_cookie and method not in SAFE_METHODS and cross_site():
        return _forbidden("cross_site", "a cookie-authenticated write must come from this site")
    rule = rule_of(current_app, request.endpoint, method)
    if method not in SAFE_METHODS:
        if principal.role in READ_ONLY_ROLES and (rule is None or principal.role not in rule):
            return _forbidden("read_only", f"{a(principal.role)} changes nothing")
        if rule is None and request.endpoint is not None:
            return _forbidden("no_rule", "this endpoint admits no one to write")
    if rule is not None and principal.role not in rule:
        return _forbidden("role", f"{a(principal.role)} may not use this endpoint; it admits: "
                                  + ", ".join(sorted(rule)))
    if method not in SAFE_METHODS:
        wait = cfg.buckets.take(principal.token_id or principal.subject)
        if wait is not None:
            return _rate_limited(wait)
    return None


def cross_site() -> bool:
    """Whether the browser says this request comes from another site's page (Sec-Fetch-Site,
    or an Origin that is not this host)."""
    if request.headers.get("Sec-Fetch-Site") == "cross-site":
        return True
    origin = request.headers.get("Origin")
    return origin is not None and urlsplit(origin).netloc != request.host


def record_refusal(status: int, reason: str, message: str) -> None:
    """Log and count (`sada_auth_failures{service,reason}`) a request refused."""
    cfg = current_app.extensions.get("sada.auth")
    AUTH_FAILURES.labels(service=cfg.service if cfg else current_app.name, reason=reason).inc()
    who = g.get("sada_principal")
    log.warning("auth %d %s: %s %r by %s from %s: %s", status, reason, request.method,
                request.path, f"{who.role}:{who.subject}" if who else "-",
                request.remote_addr, message)


def _error(status: int, name: str, message: str, errors: dict[str, Any]) -> Response:
    response = jsonify({"code": status, "status": name, "message": message, "errors": errors})
    response.status_code = status
    return response


def _unauthenticated(reason: str, message: str, clear_cookie: bool = False) -> Response:
    record_refusal(401, reason, message)
    if _wants_html():
        response = redirect(f"/login?next={quote(request.full_path.rstrip('?'))}", 303)
    else:
        response = _error(401, "Unauthorized", message,
                          {"headers": {"Authorization": [message]}, "reason": reason})
        response.headers["WWW-Authenticate"] = f'Bearer realm="sada", error="{reason}"'
    if clear_cookie:
        response.delete_cookie(COOKIE, path="/")
    return response


def _forbidden(reason: str, message: str) -> Response:
    record_refusal(403, reason, message)
    return _error(403, "Forbidden", message, {"auth": [message], "reason": reason})


def _rate_limited(wait: float) -> Response:
    seconds = max(1, math.ceil(wait))
    message = f"too many writes with this token; retry in {seconds} s"
    response = _error(429, "Too Many Requests", message, {"reason": "rate_limited"})
    response.headers["Retry-After"] = str(seconds)
    return response


# -- helpers for views ----------------------------------------------------------------------
def principal_or_none() -> Principal | None:
    """The verified principal, or None for an anonymous read of a `public_reads` endpoint."""
    return g.get("sada_principal")


def current_actor() -> Principal:
    """The verified principal of this request (the guard has checked the token)."""
    principal = g.get("sada_principal")
    if principal is None:
        message = "a bearer token is required"
        raise _http(Unauthorized(message), {"headers": {"Authorization": [message]}})
    return principal


def _http(exc: HTTPException, errors: dict[str, Any]) -> HTTPException:
    exc.data = {"messages": errors}  # type: ignore[attr-defined]
    return exc


def forbid(reason: str, message: str, field: tuple[str, str] | None = None) -> NoReturn:
    """Refuse with a 403, logged and counted; `field` = (location, name) it concerns."""
    record_refusal(403, reason, message)
    errors: dict[str, Any] = {"reason": reason}
    if field:
        errors[field[0]] = {field[1]: [message]}
    else:
        errors["auth"] = [message]
    raise _http(Forbidden(message), errors)


def require_district(district: int | None, location: tuple[str, str] = ("query", "district"),
                     principal: Principal | None = None, action: str = "see") -> int | None:
    """The district a request covers: a district-bound principal's own one (naming another
    is a 403). For everyone else, the district named (None: all)."""
    p = principal or current_actor()
    if p.district is None:
        return district
    if district is not None and district != p.district:
        forbid("out_of_scope", f"{a(p.role)} of district {p.district} may not {action} "
                               f"district {district}", location)
    return p.district


def require_queue(district: int, department: str, principal: Principal | None = None) -> None:
    """403 unless the principal may see the queue `district/department`."""
    p = principal or current_actor()
    if not p.sees(district, department):
        field = "department" if district == p.district else "district"
        forbid("out_of_scope", f"{a(p.role)} of {p.scope} may not see the queue "
                               f"{district}/{department}", ("path", field))


def visible(doc: dict[str, Any], principal: Principal | None = None) -> bool:
    """Whether a demand document (with `district` and `department`) is within scope."""
    p = principal or current_actor()
    return p.sees(doc.get("district"), doc.get("department"))


def require_visible(doc: dict[str, Any], principal: Principal | None = None) -> None:
    p = principal or current_actor()
    if not visible(doc, p):
        forbid("out_of_scope", f"demand {doc.get('demand_id') or doc.get('_id')} is outside "
                               f"the scope of {a(p.role)} of {p.scope}",
               ("path", "demand_id"))


def scope_filter(principal: Principal | None = None) -> dict[str, Any]:
    """A MongoDB filter on demand documents: what the principal may see."""
    p = principal or current_actor()
    query: dict[str, Any] = {}
    if p.district is not None:
        query["district"] = p.district
    if p.department is not None:
        query["department"] = p.department
    return query
