"""Every answer of every service, page or API, success or refusal, carries the security
headers (services/headers.py): CSP, X-Frame-Options, nosniff, Referrer-Policy."""

from __future__ import annotations

import pytest

from services.headers import CONTENT_SECURITY_POLICY
from tests.auth_helpers import bearer
from tests.security.conftest import World

HQ = bearer("headquarters")
# (service, method, path, headers, the status expected): pages and API answers, refusals too
ANSWERS = [
    ("intake", "GET", "/healthz", {}, 200),
    ("intake", "GET", "/openapi.json", {}, 200),
    ("intake", "GET", "/login", {}, 200),
    ("intake", "POST", "/demands", HQ, 422),
    ("intake", "POST", "/demands", {}, 401),
    ("routing", "GET", "/no/such/path", HQ, 404),
    ("routing", "GET", "/login?next=/rules", {}, 200),
    ("routing", "POST", "/demands/01JABCDEFGHJKMNPQRSTVWXYZ0/withdrawal", bearer("auditor"),
     403),
    ("reporting", "GET", "/", HQ | {"Accept": "text/html"}, 200),
    ("reporting", "GET", "/audit", HQ | {"Accept": "text/html"}, 200),
    ("reporting", "GET", "/", {"Accept": "text/html"}, 303),  # to /login
    ("reporting", "GET", "/demands", HQ, 200),
    ("reporting", "GET", "/metrics", {}, 200),
]


@pytest.mark.parametrize(("service", "method", "path", "headers", "status"), ANSWERS,
                         ids=[f"{s} {m} {p} {st}" for s, m, p, _, st in ANSWERS])
def test_every_answer_carries_the_security_headers(world: World, service, method, path,
                                                   headers, status) -> None:
    client = world.apps[service].test_client()
    r = client.open(path, method=method, headers=headers, json={} if method == "POST" else None)
    assert r.status_code == status, r.get_data(as_text=True)[:300]
    assert r.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Referrer-Policy"] == "same-origin"


def test_the_policy_runs_no_script_and_admits_no_framing() -> None:
    directives = dict(d.strip().split(" ", 1) for d in CONTENT_SECURITY_POLICY.split(";"))
    assert directives["default-src"] == "'none'" and "script-src" not in directives
    assert directives["frame-ancestors"] == "'none'"
    assert directives["form-action"] == "'self'" and directives["base-uri"] == "'none'"
    assert "'unsafe-eval'" not in CONTENT_SECURITY_POLICY
