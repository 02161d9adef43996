"""`/login` and `/logout` for browsers: paste a token, get an HttpOnly cookie.

The cookie holds the same signed token an API client sends as `Authorization: Bearer …`; it is
HttpOnly (no script reads it), SameSite=Strict (no other site's page sends it), Secure over
HTTPS, and expires with the token. `/login` never redirects off this site.

**Login CSRF.** Another site's page must not sign a browser in under the attacker's token (the
user would then act, unknowingly, as the attacker). So a sign-in is taken only from the form
this site served: the form carries a random value that is also kept in a SameSite=Strict,
HttpOnly cookie scoped to `/login` (a double submit; another site can neither read the value
nor make the browser send that cookie with its POST), and a POST whose `Sec-Fetch-Site` or
`Origin` says it comes from another site is refused outright. Either refusal is a 403 page with
a fresh form. `/logout` refuses another site's POST too.
"""

from __future__ import annotations

import hmac
import secrets
import time

from flask import Blueprint, Response, current_app, redirect, request
from markupsafe import escape

from services.auth import COOKIE, MAX_TOKEN_CHARS, TokenError, cross_site, record_refusal, verify

PAGE = """<!doctype html>
<html lang="fa" dir="rtl"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ورود به صدا — Sign in to Sada</title>
<style>body{{font-family:Vazirmatn,Tahoma,sans-serif;max-width:40rem;margin:3rem auto;
padding:0 1rem}}textarea{{width:100%;font-family:monospace;direction:ltr}}
.error{{color:#a00}}</style></head>
<body><h1>ورود به صدا <small dir="ltr">Sign in to Sada</small></h1>
<p>توکن خود را اینجا بچسبانید. <span dir="ltr">Paste your token.</span></p>
{error}<form method="post" action="/login">
<input type="hidden" name="next" value="{next}">
<input type="hidden" name="{csrf_field}" value="{csrf}">
<textarea name="token" rows="6" required maxlength="{max}"></textarea>
<p><button type="submit">ورود — Sign in</button></p></form></body></html>
"""

bp = Blueprint("login", __name__)

CSRF_COOKIE = "sada_login_csrf"
CSRF_FIELD = "csrf"
CSRF_MAX_AGE = 3600  # seconds a served form stays usable
FORGED = "this sign-in did not come from this site's form; sign in again here"


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never `//host`, `\\host` or a scheme."""
    if (not target or not target.startswith("/") or target.startswith("//")
            or "\\" in target or any(ord(c) < 0x20 for c in target)):
        return "/"
    return target


def _page(next_: str, error: str | None, status: int) -> Response:
    """The sign-in form, with a fresh double-submit value in its field and its cookie."""
    nonce = secrets.token_urlsafe(24)
    body = PAGE.format(next=escape(_safe_next(next_)), max=MAX_TOKEN_CHARS,
                       csrf_field=CSRF_FIELD, csrf=nonce,
                       error=f'<p class="error">{escape(error)}</p>' if error else "")
    response = Response(body, status=status, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    response.set_cookie(CSRF_COOKIE, nonce, max_age=CSRF_MAX_AGE, path="/login",
                        httponly=True, secure=request.is_secure, samesite="Strict")
    return response


def _from_this_sites_form() -> bool:
    """The POST carries the value of a form this site served to this browser, and the
    browser does not say another site sent it."""
    if cross_site():
        return False
    kept, sent = request.cookies.get(CSRF_COOKIE, ""), request.form.get(CSRF_FIELD, "")
    return bool(kept) and hmac.compare_digest(kept.encode(), sent.encode())


@bp.get("/login")
def login_form() -> Response:
    return _page(request.args.get("next", "/"), None, 200)


@bp.post("/login")
def login() -> Response:
    token = (request.form.get("token") or "").strip()
    target = request.form.get("next", "/")
    if not _from_this_sites_form():
        record_refusal(403, "login_csrf", FORGED)
        return _page(target, FORGED, 403)
    cfg = current_app.extensions["sada.auth"]
    try:
        principal = verify(cfg.secret, token, cfg.max_lifetime)
    except TokenError as exc:
        return _page(target, f"{exc.message} — توکن پذیرفته نشد.", 401)
    response = redirect(_safe_next(target), 303)
    response.set_cookie(COOKIE, token, max_age=max(0, principal.expires_at - int(time.time())),
                        path="/", httponly=True, secure=request.is_secure, samesite="Strict")
    response.delete_cookie(CSRF_COOKIE, path="/login")
    return response


@bp.post("/logout")
def logout() -> Response:
    if cross_site():
        record_refusal(403, "cross_site", "a sign-out must come from this site")
        return _page("/", FORGED, 403)
    response = redirect("/login", 303)
    response.delete_cookie(COOKIE, path="/")
    return response
