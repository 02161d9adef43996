"""The embedded default's signing secret and demo tokens.

`sada run` needs no configuration, so when SADA_AUTH_SECRET is not set it generates a random
secret once into the data dir (`auth-secret`, readable by its owner only) and reuses it on
every later run, so tokens stay valid across restarts. `sada token` and `sada submit` find the
same secret there. It then prints ready-made demo tokens, one per role.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from services import auth, web
from services.config import Settings
from services.secretfile import read_or_make

SECRET_FILE = "auth-secret"
DEMO_TTL = timedelta(days=7)


@dataclass(frozen=True)
class DemoPrincipal:
    label: str
    role: str
    subject: str
    district: int | None = None
    department: str | None = None


DEMO_PRINCIPALS = (
    DemoPrincipal("intake clerk, district 21", auth.CLERK, "clerk-21", 21),
    DemoPrincipal("transport staff, district 21", auth.STAFF, "staff-21-transport", 21,
                  "transport"),
    DemoPrincipal("district mayor, district 21", auth.MAYOR, "mayor-21", 21),
    DemoPrincipal("headquarters", auth.HQ, "hq-coordination"),
    DemoPrincipal("central management", auth.CENTRAL, "central-1"),
    DemoPrincipal("auditor", auth.AUDITOR, "auditor-1"),
    DemoPrincipal("administrator", auth.ADMIN, "admin-1"),
)


def secret_path(settings: Settings) -> Path:
    return settings.data_dir / SECRET_FILE


def ensure_secret(settings: Settings) -> Settings:
    """Settings with a signing secret: the configured one, else the data dir's, made once."""
    if settings.auth_secret:
        return settings
    secret = read_or_make(secret_path(settings), lambda: secrets.token_urlsafe(48))
    return settings.with_(auth_secret=secret)


def find_secret(settings: Settings) -> str:
    """The configured secret, else the data dir's; "" if there is neither."""
    if settings.auth_secret:
        return settings.auth_secret
    path = secret_path(settings)
    return path.read_text().strip() if path.exists() else ""


def demo_ttl(settings: Settings, role: str) -> timedelta:
    """A week, or as long as the services accept a token of `role` if that is less."""
    return min(DEMO_TTL, web.token_lifetimes(settings).limit(role))


def demo_tokens(settings: Settings) -> list[tuple[DemoPrincipal, str]]:
    return [(p, auth.issue(settings.auth_secret, role=p.role, subject=p.subject,
                           district=p.district, department=p.department,
                           ttl=demo_ttl(settings, p.role))) for p in DEMO_PRINCIPALS]


def print_demo_tokens(settings: Settings, say: Callable[[str], None]) -> None:
    """The demo tokens, one per role, for `sada run`'s banner."""
    login = f"{settings.service_url('reporting')}/login"
    shorter = [p.label for p in DEMO_PRINCIPALS if demo_ttl(settings, p.role) < DEMO_TTL]
    hours = min(demo_ttl(settings, p.role) for p in DEMO_PRINCIPALS).total_seconds() / 3600
    valid = f"valid {DEMO_TTL.days} days" + (
        f", {hours:g} hours for {', '.join(shorter)}" if shorter else "")
    say(f"  Demo tokens, {valid} (send 'Authorization: Bearer <token>', or paste one at "
        f"{login}; `sada token` makes others):")
    for principal, token in demo_tokens(settings):
        say(f"    {principal.label:<30} {token}")
