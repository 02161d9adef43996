"""`sada api-key`: issue and revoke the API keys city apps post Open311 requests with."""

from __future__ import annotations

import getpass

import click

from sada import stack
from services import apikeys


@click.group("api-key", help="Issue or revoke an application's Open311 API key.")
def api_key() -> None:
    pass


@api_key.command(help="Issue a key for an application; it is shown once and kept only as a "
                      "hash.")
@click.option("--name", required=True, help="The application, e.g. tehran-137-app.")
@click.option("--district", type=click.IntRange(1, 22), default=None,
              help="The one district it may submit for (default: every district).")
def create(name: str, district: int | None) -> None:
    settings = stack.settings()
    client = stack.mongo(settings)
    try:
        key = apikeys.create(client[settings.mongo_db], name, district,
                             by=f"cli-{getpass.getuser()}")
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        client.close()
    click.echo(key)


@api_key.command(help="Revoke an application's key: its requests are refused from now on.")
@click.option("--name", required=True)
def revoke(name: str) -> None:
    settings = stack.settings()
    client = stack.mongo(settings)
    try:
        count = apikeys.revoke(client[settings.mongo_db], name, by=f"cli-{getpass.getuser()}")
    finally:
        client.close()
    if not count:
        raise click.ClickException(f"{name} has no live key")
    click.echo(f"revoked the key of {name}")
