"""`sada token`: issue a signed bearer token from the configured secret.

The secret is SADA_AUTH_SECRET or, for the embedded default, the one `sada run` keeps in the
data dir. The token alone goes to standard output, so `TOKEN=$(sada token …)` works.
"""

from __future__ import annotations

import getpass
import re
from datetime import timedelta

import click

from sada import stack
from sada.embedded_auth import find_secret
from services import auth
from services.domain.vocabulary import DEPARTMENTS

_TTL = re.compile(r"^(\d+)([smhd]?)$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_ttl(text: str) -> timedelta:
    """'90' or '90s', '30m', '8h', '7d'."""
    match = _TTL.match(text.strip())
    if not match:
        raise ValueError(f"not a duration: {text!r} (e.g. 30m, 8h, 7d)")
    return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])


def local_secret() -> str:
    secret = find_secret(stack.settings())
    if not secret:
        raise click.ClickException(
            "no signing secret: set SADA_AUTH_SECRET, or run `sada run` once in this "
            "directory (it keeps one in the data dir)")
    return secret


@click.command(help="Issue a signed bearer token for a role and its scope.")
@click.option("--role", required=True, type=click.Choice(auth.ROLES))
@click.option("--district", type=click.IntRange(1, 22), default=None,
              help="For intake_clerk, department_staff and district_mayor.")
@click.option("--department", type=click.Choice(list(DEPARTMENTS)), default=None,
              help="For department_staff.")
@click.option("--subject", default=None, help="Who the token names (default: role-district).")
@click.option("--ttl", default="8h", show_default=True, help="Lifetime: 30m, 8h, 7d, …")
def token(role: str, district: int | None, department: str | None, subject: str | None,
          ttl: str) -> None:
    subject = subject or "-".join(str(p) for p in (role, district, department) if p is not None)
    longest = timedelta(hours=stack.settings().token_max_hours)
    try:
        lifetime = parse_ttl(ttl)
        if lifetime > longest:  # the services would refuse it (services/auth.py)
            raise ValueError(f"--ttl {ttl} is longer than the services accept "
                             f"({longest.total_seconds() / 3600:g} h, SADA_TOKEN_MAX_HOURS)")
        issued = auth.issue(local_secret(), role=role, subject=subject, district=district,
                            department=department, ttl=lifetime)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    click.echo(issued)


def clerk_token(district: int) -> str:
    """A 10-minute intake clerk token for `district`, naming the local user (`sada submit`)."""
    return auth.issue(local_secret(), role=auth.CLERK, subject=f"cli-{getpass.getuser()}",
                      district=district, ttl=timedelta(minutes=10))
