"""Tokens, the guard, the browser cookie, the write rate limit and the failure counter."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta

import jwt
import pytest
from click.testing import CliRunner
from prometheus_client import REGISTRY

from intake.app import create_app
from sada.cli import main as sada
from services import auth, config, login
from services.config import Settings
from services.eventlog.sqlite import SqliteEventLog
from services.ratelimit import TokenBuckets
from tests.auth_helpers import MASTER_KEY, SECRET, bearer, login_form_value, sign_in, token

DEMAND = {"requester": {"kind": "citizen"}, "channel": "line_137", "district": 21,
          "neighbourhood": "ویلاشهر", "category": "transport", "title": "ترافیک",
          "description": "صف خودروها"}


@pytest.fixture
def log(tmp_path) -> Iterator[SqliteEventLog]:
    with SqliteEventLog(tmp_path / "events.sqlite3") as log:
        yield log


def intake(tmp_path, log, db, **settings):
    return create_app(Settings(data_dir=tmp_path, auth_secret=SECRET, master_key=MASTER_KEY,
                               **settings), log, db=db).test_client()


def failures(reason: str) -> float:
    return REGISTRY.get_sample_value("sada_auth_failures_total",
                                     {"service": "intake", "reason": reason}) or 0.0


# -- issue and verify -----------------------------------------------------------------------
def test_a_token_round_trips_its_principal() -> None:
    p = auth.verify(SECRET, token("department_staff", 21, "transport", subject="s-1"))
    assert (p.role, p.subject, p.district, p.department) == (
        "department_staff", "s-1", 21, "transport")
    assert p.actor().to_dict() == {"role": "department_staff", "id": "s-1", "district": 21,
                                   "department": "transport"}
    assert p.expires_at - time.time() == pytest.approx(3600, abs=5)


def test_a_tokens_signature_is_checked_once_and_its_expiry_every_time(monkeypatch) -> None:
    decoded = []
    real_decode = jwt.decode
    monkeypatch.setattr(auth.jwt, "decode", lambda *a, **k: decoded.append(1) or real_decode(
        *a, **k))
    staff = token("department_staff", 21, "transport", subject="s-once")
    first = auth.verify(SECRET, staff)
    assert auth.verify(SECRET, staff) == first
    assert len(decoded) == 1  # the second call checked no signature
    with pytest.raises(auth.TokenError) as refused:  # the same token under another secret
        auth.verify("y" * 40, staff)
    assert refused.value.reason == "bad_signature"
    with pytest.raises(auth.TokenError) as refused:  # or a shorter limit than it was kept for
        auth.verify(SECRET, staff, timedelta(minutes=30))
    assert refused.value.reason == "too_long_lived"
    later = first.expires_at + auth.LEEWAY_SECONDS
    monkeypatch.setattr(auth.time, "time", lambda: later)
    with pytest.raises(auth.TokenError) as refused:  # kept, yet expired on time
        auth.verify(SECRET, staff)
    assert refused.value.reason == "expired_token"
    monkeypatch.setattr(auth.time, "time", lambda: later - 1)
    assert auth.verify(SECRET, staff) == first


@pytest.mark.parametrize(("claims", "reason"), [
    ({"role": "king"}, "bad_claims"),
    ({"role": "system"}, "bad_claims"),
    ({"role": "intake_clerk", "district": None}, "bad_claims"),
    ({"role": "intake_clerk", "district": 23}, "bad_claims"),
    ({"role": "intake_clerk", "district": "21"}, "bad_claims"),
    ({"role": "department_staff", "department": None}, "bad_claims"),
    ({"role": "department_staff", "department": "fun"}, "bad_claims"),
    ({"role": "headquarters", "district": 21}, "bad_claims"),
    ({"sub": ""}, "bad_claims"),
    ({"iss": "someone-else"}, "malformed_token"),
    ({"exp": None}, "malformed_token"),
    ({"exp": int(time.time()) - 3600}, "expired_token"),
])
def test_a_token_with_bad_claims_is_refused(claims, reason) -> None:
    now = int(time.time())
    base = {"iss": "sada", "sub": "x", "role": "intake_clerk", "district": 21,
            "department": None, "iat": now, "exp": now + 60, "jti": "j"}
    if claims.get("role") == "department_staff":
        base["department"] = "transport"
    forged = jwt.encode({k: v for k, v in {**base, **claims}.items() if v is not None or
                         k in ("district", "department")}, SECRET, algorithm="HS256")
    with pytest.raises(auth.TokenError) as caught:
        auth.verify(SECRET, forged)
    assert caught.value.reason == reason


def test_unsigned_and_foreign_tokens_are_refused() -> None:
    claims = {"iss": "sada", "sub": "x", "role": "headquarters", "district": None,
              "department": None, "iat": int(time.time()), "exp": int(time.time()) + 60,
              "jti": "j"}
    unsigned = jwt.encode(claims, None, algorithm="none")
    with pytest.raises(auth.TokenError):
        auth.verify(SECRET, unsigned)
    with pytest.raises(auth.TokenError) as caught:
        auth.verify(SECRET, token("headquarters", secret="x" * 40))
    assert caught.value.reason == "bad_signature"
    tampered = token("intake_clerk", 21).split(".")
    tampered[1] = jwt.utils.base64url_encode(b'{"role":"headquarters"}').decode()
    with pytest.raises(auth.TokenError):
        auth.verify(SECRET, ".".join(tampered))


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"role": "intake_clerk"}, "needs a district"),
    ({"role": "department_staff", "district": 3}, "needs a department"),
    ({"role": "auditor", "district": 3}, "takes no district"),
    ({"role": "district_mayor", "district": 3, "department": "transport"}, "no department"),
    ({"role": "headquarters", "ttl": timedelta(days=400)}, "ttl"),
    ({"role": "headquarters", "subject": " padded "}, "subject"),
])
def test_issuing_checks_the_scope(kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        auth.issue(SECRET, **{"subject": "x", **kwargs})


def test_a_service_without_a_real_secret_refuses_to_start(tmp_path, log, mongo_db) -> None:
    for secret in ("", "short"):
        with pytest.raises(RuntimeError, match="SADA_AUTH_SECRET"):
            create_app(Settings(data_dir=tmp_path, auth_secret=secret,
                                master_key=MASTER_KEY), log, db=mongo_db)


# -- the guard ------------------------------------------------------------------------------
def test_refusals_are_counted_by_reason(tmp_path, log, mongo_db) -> None:
    client = intake(tmp_path, log, mongo_db)
    before = {r: failures(r) for r in ("missing_token", "expired_token", "read_only",
                                       "out_of_scope", "role")}
    client.get("/vocabulary")
    client.get("/vocabulary", headers=bearer("auditor", now=time.time() - 7200))
    client.post("/demands", json=DEMAND, headers=bearer("auditor"))
    client.post("/demands", json={**DEMAND, "district": 3}, headers=bearer("intake_clerk", 21))
    client.post("/demands", json=DEMAND, headers=bearer("administrator"))
    assert {r: failures(r) - before[r] for r in before} == {
        "missing_token": 1, "expired_token": 1, "read_only": 1, "out_of_scope": 1, "role": 1}
    assert log.end_offsets() == {0: 0}


def test_a_browser_without_a_token_is_sent_to_the_login_page(tmp_path, log, mongo_db) -> None:
    r = intake(tmp_path, log, mongo_db).get("/vocabulary?lang=en", headers={"Accept": "text/html"})
    assert r.status_code == 303
    assert r.headers["Location"] == "/login?next=/vocabulary%3Flang%3Den"


def test_login_sets_an_httponly_cookie_that_then_authenticates(tmp_path, log, mongo_db) -> None:
    client = intake(tmp_path, log, mongo_db)
    clerk = token("intake_clerk", 21, subject="clerk-21")
    r = sign_in(client, clerk, "/vocabulary")
    assert r.status_code == 303 and r.headers["Location"] == "/vocabulary"
    cookie = r.headers["Set-Cookie"]
    assert cookie.startswith(f"{auth.COOKIE}=") and "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie and "Max-Age=" in cookie
    assert client.get("/vocabulary").status_code == 200
    assert client.post("/demands", json=DEMAND).status_code == 202
    # A write from another site's page carrying the cookie is refused.
    cross = client.post("/demands", json=DEMAND, headers={"Origin": "https://evil.example"})
    assert cross.status_code == 403 and cross.get_json()["errors"]["reason"] == "cross_site"
    assert client.post("/logout").status_code == 303
    assert client.get("/vocabulary").status_code == 401
    assert log.end_offsets() == {0: 1}


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/",
                                    "/\\evil.example", "javascript:alert(1)", ""])
def test_login_never_redirects_off_the_site(tmp_path, log, mongo_db, target) -> None:
    client = intake(tmp_path, log, mongo_db)
    r = sign_in(client, token("auditor"), target)
    assert r.status_code == 303 and r.headers["Location"] == "/"


def test_a_refused_login_says_why_and_sets_no_cookie(tmp_path, log, mongo_db) -> None:
    client = intake(tmp_path, log, mongo_db)
    r = sign_in(client, token("auditor", secret="y" * 40), '"><script>')
    assert r.status_code == 401 and f"{auth.COOKIE}=" not in str(r.headers)
    page = r.get_data(as_text=True)
    assert "signature" in page and "<script>" not in page


def test_an_expired_cookie_is_cleared(tmp_path, log, mongo_db) -> None:
    client = intake(tmp_path, log, mongo_db)
    client.set_cookie(auth.COOKIE, token("auditor", now=time.time() - 7200))
    r = client.get("/vocabulary")
    assert r.status_code == 401 and r.get_json()["errors"]["reason"] == "expired_token"
    assert f"{auth.COOKIE}=;" in r.headers["Set-Cookie"]


# -- the write rate limit -------------------------------------------------------------------
def test_writes_beyond_the_bucket_are_a_429_with_retry_after(tmp_path, log, mongo_db) -> None:
    client = intake(tmp_path, log, mongo_db, rate_limit_per_minute=6,
                    rate_limit_burst=2)
    clerk, other = bearer("intake_clerk", 21), bearer("intake_clerk", 21)
    assert [client.post("/demands", json=DEMAND, headers=clerk).status_code
            for _ in range(3)] == [202, 202, 429]
    r = client.post("/demands", json=DEMAND, headers=clerk)
    assert r.status_code == 429 and r.get_json()["code"] == 429
    assert 1 <= int(r.headers["Retry-After"]) <= 10
    assert client.get("/vocabulary", headers=clerk).status_code == 200  # reads are not limited
    assert client.post("/demands", json=DEMAND, headers=other).status_code == 202  # per token
    assert log.end_offsets() == {0: 3}


def test_a_bucket_refills_at_its_rate() -> None:
    now = [0.0]
    buckets = TokenBuckets(per_minute=60, burst=2, clock=lambda: now[0])
    assert [buckets.take("a"), buckets.take("a")] == [None, None]
    assert buckets.take("a") == pytest.approx(1.0)
    now[0] = 0.5
    assert buckets.take("a") == pytest.approx(0.5)
    now[0] = 1.0
    assert buckets.take("a") is None
    assert buckets.take("b") is None
    assert TokenBuckets(per_minute=0, burst=1).take("a") is None  # 0: no limit


def test_buckets_forget_the_least_recently_used_key() -> None:
    buckets = TokenBuckets(per_minute=1, burst=1, clock=lambda: 0.0, max_keys=2)
    for key in ("a", "b", "c"):
        assert buckets.take(key) is None
    assert buckets.take("c") is not None and buckets.take("b") is not None
    assert buckets.take("a") is None  # forgotten: a fresh bucket


# -- login CSRF -----------------------------------------------------------------------------
ATTACKS = {
    # A current browser: it says where the auto-submitted form came from.
    "cross-site": {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
    "sandboxed frame": {"Origin": "null"},
    "another port": {"Origin": "http://localhost:9999"},
    # A browser that sends neither header (nor, being SameSite, the form's cookie).
    "no headers": {},
}


@pytest.mark.parametrize("attack", ATTACKS)
def test_another_sites_page_cannot_replace_a_session(tmp_path, log, mongo_db, attack) -> None:
    victim = intake(tmp_path, log, mongo_db)
    mine = token("intake_clerk", 21, subject="clerk-21")
    assert sign_in(victim, mine).status_code == 303
    # The attacker fetches a form of his own, so he holds a well-formed value...
    attacker = intake(tmp_path, log, mongo_db)
    his_value = login_form_value(attacker.get("/login").get_data(as_text=True))
    # ...and his page makes the victim's browser post it with his token.
    refused_before = failures("login_csrf")
    r = victim.post("/login", headers=ATTACKS[attack], data={
        "token": token("intake_clerk", 4, subject="attacker"), "next": "/", "csrf": his_value})
    assert r.status_code == 403, r.get_data(as_text=True)[:300]
    assert "did not come from this site" in r.get_data(as_text=True)
    assert failures("login_csrf") == refused_before + 1  # logged and counted
    assert victim.get_cookie(auth.COOKIE).value == mine
    assert victim.post("/demands", json=DEMAND).status_code == 202  # still the clerk of 21
    assert log.end_offsets() == {0: 1}


def test_a_form_served_to_this_browser_signs_in_and_is_used_once(tmp_path, log,
                                                                mongo_db) -> None:
    client = intake(tmp_path, log, mongo_db)
    page = client.get("/login")
    assert page.headers["Cache-Control"] == "no-store"
    cookie = client.get_cookie(login.CSRF_COOKIE, path="/login")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Strict"
    value = login_form_value(page.get_data(as_text=True))
    same_site = {"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"}
    r = client.post("/login", headers=same_site,
                    data={"token": token("auditor"), "next": "/vocabulary", "csrf": value})
    assert r.status_code == 303 and client.get_cookie(auth.COOKIE) is not None
    assert client.get_cookie(login.CSRF_COOKIE, path="/login") is None
    again = client.post("/login", data={"token": token("headquarters"), "csrf": value})
    assert again.status_code == 403  # the value went with the form it came in


def test_another_site_cannot_sign_a_browser_out(tmp_path, log, mongo_db) -> None:
    client = intake(tmp_path, log, mongo_db)
    sign_in(client, token("auditor"))
    r = client.post("/logout", headers=ATTACKS["cross-site"])
    assert r.status_code == 403 and client.get_cookie(auth.COOKIE) is not None
    assert client.post("/logout").status_code == 303
    assert client.get_cookie(auth.COOKIE) is None


# -- lifetimes ------------------------------------------------------------------------------
def _signed(lifetime: timedelta, **claims) -> str:
    """A token signed with the real secret (as anyone holding it could), living `lifetime`."""
    issued = int(time.time())
    return jwt.encode({"iss": "sada", "sub": "long", "role": "headquarters", "district": None,
                       "department": None, "iat": issued,
                       "exp": issued + int(lifetime.total_seconds()), "jti": "j", **claims},
                      SECRET, algorithm="HS256")


def test_a_ten_year_token_is_refused_though_its_signature_is_good(tmp_path, log,
                                                                   mongo_db) -> None:
    client = intake(tmp_path, log, mongo_db)
    ten_years = _signed(timedelta(days=3650))
    r = client.get("/vocabulary", headers={"Authorization": f"Bearer {ten_years}"})
    assert r.status_code == 401 and r.get_json()["errors"]["reason"] == "too_long_lived"
    assert "12 h" in r.get_json()["message"]  # a headquarters token's limit
    assert sign_in(client, ten_years).status_code == 401  # nor as a cookie
    # `sada run`'s demo tokens of a clerk live 7 days.
    week = _signed(timedelta(days=7), role="intake_clerk", district=21)
    assert client.get("/vocabulary", headers={"Authorization": f"Bearer {week}"}
                      ).status_code == 200


def test_the_maximum_lifetime_is_the_deployments_to_choose(tmp_path, log, mongo_db) -> None:
    client = intake(tmp_path, log, mongo_db, token_max_hours=8)
    for hours, status in ((8, 200), (9, 401)):
        r = client.get("/vocabulary", headers=bearer("department_staff", 21, "transport",
                                                     ttl=timedelta(hours=hours)))
        assert r.status_code == status, (hours, r.get_json())
    assert config.load({"SADA_TOKEN_MAX_HOURS": "8"}).token_max_hours == 8
    with pytest.raises(ValueError, match="SADA_TOKEN_MAX_HOURS"):
        config.load({"SADA_TOKEN_MAX_HOURS": "0"})


@pytest.mark.parametrize("role", ["administrator", "headquarters", "central_management",
                                  "auditor"])
def test_privileged_tokens_live_shorter_by_default(tmp_path, log, mongo_db, role) -> None:
    """A day-long token is fine for a clerk and refused for a role that sees or changes the
    whole city: 12 hours by default, the deployment's to choose."""
    client = intake(tmp_path, log, mongo_db)
    day = timedelta(hours=24)
    assert client.get("/vocabulary", headers=bearer("intake_clerk", 21, ttl=day)
                      ).status_code == 200
    r = client.get("/vocabulary", headers=bearer(role, ttl=day))
    assert r.status_code == 401 and r.get_json()["errors"]["reason"] == "too_long_lived"
    assert "12 h" in r.get_json()["message"]
    assert client.get("/vocabulary", headers=bearer(role, ttl=timedelta(hours=12))
                      ).status_code == 200
    longer = intake(tmp_path, log, mongo_db, token_max_hours_privileged=48)
    assert longer.get("/vocabulary", headers=bearer(role, ttl=day)).status_code == 200
    assert config.load({"SADA_TOKEN_MAX_HOURS_PRIVILEGED": "2"}).token_max_hours_privileged == 2


# -- behind a proxy -------------------------------------------------------------------------
HTTPS_PROXY = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9",
               "X-Forwarded-Host": "sada.example"}


def _cookie_after_sign_in(client) -> str:
    page = client.get("/login", headers=HTTPS_PROXY)
    r = client.post("/login", headers=HTTPS_PROXY, data={
        "token": token("auditor"), "csrf": login_form_value(page.get_data(as_text=True))})
    assert r.status_code == 303, r.get_data(as_text=True)[:300]
    [cookie] = [v for k, v in r.headers.items() if k == "Set-Cookie"
                and v.startswith(f"{auth.COOKIE}=")]
    return cookie


def test_behind_a_trusted_tls_proxy_the_session_cookie_is_secure(tmp_path, log,
                                                                 mongo_db) -> None:
    cookie = _cookie_after_sign_in(intake(tmp_path, log, mongo_db, trusted_proxies=1))
    assert "; Secure" in cookie and "HttpOnly" in cookie
    assert config.load({"SADA_TRUSTED_PROXIES": "1"}).trusted_proxies == 1


def test_forwarded_headers_are_ignored_unless_a_proxy_is_trusted(tmp_path, log,
                                                                 mongo_db) -> None:
    client = intake(tmp_path, log, mongo_db)  # a client may send these headers itself
    assert "Secure" not in _cookie_after_sign_in(client)


def test_sada_token_issues_none_the_services_would_refuse(tmp_path) -> None:
    env = {"SADA_AUTH_SECRET": SECRET, "SADA_DATA_DIR": str(tmp_path),
           "SADA_TOKEN_MAX_HOURS": "12"}
    refused = CliRunner(env=env).invoke(sada, ["token", "--role", "auditor", "--ttl", "13h"])
    assert refused.exit_code == 2 and "SADA_TOKEN_MAX_HOURS" in refused.output
    issued = CliRunner(env=env).invoke(sada, ["token", "--role", "auditor", "--ttl", "12h"])
    assert issued.exit_code == 0, issued.output
    assert auth.verify(SECRET, issued.output.strip(), timedelta(hours=12)).role == "auditor"
