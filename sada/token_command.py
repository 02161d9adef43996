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
from services import auth, revocation
from services.domain.vocabulary import DEPARTMENTS
from services.web import token_lifetimes

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


@click.group(invoke_without_command=True,
             help="Issue a signed bearer token for a role and its scope; "
                  "`sada token revoke` refuses tokens from then on.")
@click.pass_context
@click.option("--role", type=click.Choice(auth.ROLES), help="The token's role (required).")
@click.option("--district", type=click.IntRange(1, 22), default=None,
              help="For intake_clerk, department_staff and district_mayor.")
@click.option("--department", type=click.Choice(list(DEPARTMENTS)), default=None,
              help="For department_staff.")
@click.option("--subject", default=None, help="Who the token names (default: role-district).")
@click.option("--ttl", default="8h", show_default=True, help="Lifetime: 30m, 8h, 7d, …")
def token(ctx: click.Context, role: str | None, district: int | None, department: str | None,
          subject: str | None, ttl: str) -> None:
    if ctx.invoked_subcommand is not None:
        return
    if role is None:
        raise click.UsageError("Missing option '--role'.")
    subject = subject or "-".join(str(p) for p in (role, district, department) if p is not None)
    longest = token_lifetimes(stack.settings()).limit(role)
    try:
        lifetime = parse_ttl(ttl)
        if lifetime > longest:  # the services would refuse it (services/auth.py)
            setting = ("SADA_TOKEN_MAX_HOURS_PRIVILEGED" if role in auth.PRIVILEGED
                       else "SADA_TOKEN_MAX_HOURS")
            raise ValueError(f"--ttl {ttl} is longer than the services accept for a {role} "
                             f"({longest.total_seconds() / 3600:g} h, {setting})")
        issued = auth.issue(local_secret(), role=role, subject=subject, district=district,
                            department=department, ttl=lifetime)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    click.echo(issued)


@token.command(help="Refuse a token (--token) or every token of a person issued until now "
                    "(--subject), in every service within a minute.")
@click.option("--token", "token_text", default=None, help="The token to refuse.")
@click.option("--subject", default=None, help="Refuse every token of this subject issued "
                                              "until now (later ones work).")
def revoke(token_text: str | None, subject: str | None) -> None:
    if (token_text is None) == (subject is None):
        raise click.UsageError("give exactly one of --token and --subject")
    settings = stack.settings()
    client = stack.mongo(settings)
    by = f"cli-{getpass.getuser()}"
    try:
        db = client[settings.mongo_db]
        if token_text is not None:
            try:  # its signature and claims, whatever its age
                principal = auth.verify(local_secret(), token_text.strip(),
                                        max_lifetime=timedelta(days=3650))
            except auth.TokenError as exc:
                if exc.reason != "expired_token":
                    raise click.ClickException(f"not a token of this Sada: {exc.message}") \
                        from None
                click.echo("that token has expired already: nothing to revoke")
                return
            revocation.revoke_token(db, principal.token_id, by=by, until=principal.expires_at)
            click.echo(f"revoked token {principal.token_id} of {principal.subject}")
        else:
            revocation.revoke_subject(db, subject, by=by)
            click.echo(f"revoked every token of {subject} issued until now")
    finally:
        client.close()


def clerk_token(district: int) -> str:
    """A 10-minute intake clerk token for `district`, naming the local user (`sada submit`)."""
    return auth.issue(local_secret(), role=auth.CLERK, subject=f"cli-{getpass.getuser()}",
                      district=district, ttl=timedelta(minutes=10))
