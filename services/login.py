"""`/login` and `/logout` for browsers: paste a token, get an HttpOnly cookie.

The cookie holds the same signed token an API client sends as `Authorization: Bearer …`; it is
HttpOnly (no script reads it), SameSite=Strict (no other site's page sends it), Secure over
HTTPS, and expires with the token. `/login` never redirects off this site.
"""

from __future__ import annotations

import time

from flask import Blueprint, Response, current_app, redirect, request
from markupsafe import escape

from services.auth import COOKIE, MAX_TOKEN_CHARS, TokenError, verify

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
<textarea name="token" rows="6" required maxlength="{max}"></textarea>
<p><button type="submit">ورود — Sign in</button></p></form></body></html>
"""

bp = Blueprint("login", __name__)


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never `//host`, `\\host` or a scheme."""
    if (not target or not target.startswith("/") or target.startswith("//")
            or "\\" in target or any(ord(c) < 0x20 for c in target)):
        return "/"
    return target


def _page(next_: str, error: str | None, status: int) -> Response:
    body = PAGE.format(next=escape(_safe_next(next_)), max=MAX_TOKEN_CHARS,
                       error=f'<p class="error">{escape(error)}</p>' if error else "")
    response = Response(body, status=status, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/login")
def login_form() -> Response:
    return _page(request.args.get("next", "/"), None, 200)


@bp.post("/login")
def login() -> Response:
    token = (request.form.get("token") or "").strip()
    target = request.form.get("next", "/")
    secret = current_app.extensions["sada.auth"].secret
    try:
        principal = verify(secret, token)
    except TokenError as exc:
        return _page(target, f"{exc.message} — توکن پذیرفته نشد.", 401)
    response = redirect(_safe_next(target), 303)
    response.set_cookie(COOKIE, token, max_age=max(0, principal.expires_at - int(time.time())),
                        path="/", httponly=True, secure=request.is_secure, samesite="Strict")
    return response


@bp.post("/logout")
def logout() -> Response:
    response = redirect("/login", 303)
    response.delete_cookie(COOKIE, path="/")
    return response
