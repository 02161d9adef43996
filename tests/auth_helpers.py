"""Bearer tokens for tests: one test secret, a token per role and scope.

    from tests.auth_helpers import MASTER_KEY, SECRET, bearer, authorize
    app = create_app(Settings(data_dir=tmp_path, auth_secret=SECRET, master_key=MASTER_KEY),
                     log, db=mongo_db)
    client = authorize(app.test_client(), "headquarters")       # every request carries it
    client.post(url, json=body, headers=bearer("intake_clerk", 21))  # or one request
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from flask.testing import FlaskClient

from services import auth

SECRET = "test-secret-for-sada-tests-only-0123456789abcdef"
# Opens the key store of requesters' personal data (32 bytes, base64url).
MASTER_KEY = "c2FkYS10ZXN0cy1tYXN0ZXIta2V5LTAxMjM0NTY3ODk"
ENV = {"SADA_AUTH_SECRET": SECRET, "SADA_MASTER_KEY": MASTER_KEY}


def token(role: str, district: int | None = None, department: str | None = None, *,
          subject: str | None = None, ttl: timedelta = timedelta(hours=1),
          secret: str = SECRET, now: float | None = None) -> str:
    subject = subject or "-".join(str(p) for p in (role, district, department) if p)
    return auth.issue(secret, role=role, subject=subject, district=district,
                      department=department, ttl=ttl, now=now)


def bearer(role: str, district: int | None = None, department: str | None = None,
           **kwargs) -> dict[str, str]:
    """An Authorization header for one request."""
    return {"Authorization": f"Bearer {token(role, district, department, **kwargs)}"}


def authorize(client: FlaskClient, role: str, district: int | None = None,
              department: str | None = None, **kwargs) -> FlaskClient:
    """Make every request of this test client carry a token (a request's own headers win)."""
    client.environ_base["HTTP_AUTHORIZATION"] = bearer(role, district, department,
                                                       **kwargs)["Authorization"]
    return client


def stack_token(data_dir: Path, role: str, district: int | None = None,
                department: str | None = None, **kwargs) -> dict[str, str]:
    """A header signed with the secret `sada run` keeps in its data dir."""
    secret = (data_dir / "auth-secret").read_text().strip()
    return bearer(role, district, department, secret=secret, **kwargs)


def login_form_value(page_html: str) -> str:
    """The double-submit value of a served `/login` form (services/login.py)."""
    found = re.search(r'name="csrf" value="([^"]+)"', page_html)
    assert found, "the /login form carries no csrf value"
    return found[1]


def sign_in(client: FlaskClient, token_: str, next_: str = "/", **kwargs):
    """Sign in as a browser does: fetch the form, then post it with the token."""
    form = client.get("/login")
    return client.post("/login", data={"token": token_, "next": next_,
                                       "csrf": login_form_value(form.get_data(as_text=True))},
                       **kwargs)
