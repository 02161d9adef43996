"""`sada erase`: erase a requester's personal data from the command line."""

from __future__ import annotations

import json

import click

from sada import stack
from services.config import Settings


def _requester_of_demand(settings: Settings, demand_id: str) -> str | None:
    from services.eventlog import open_log

    with open_log(settings) as log:
        for record in log.scan():
            event = record.event
            if event.demand_id == demand_id and event.type == "DemandSubmitted":
                return (event.payload.get("requester") or {}).get("requester_id")
    return None


@click.command(help="Erase a requester's personal data: delete their key from the key store "
                    "and record RequesterErased in the log. Their demands, counts and "
                    "timelines stay; their name, phone and national code can no longer be "
                    "read through Sada, and not from any copy of the key (MongoDB's oplog, a "
                    "backup) once the key-encryption key next rotates (`sada privacy "
                    "rotate`). Name the requester by REQUESTER_ID (a demand's "
                    "requester_id), or by --demand, --phone or --national-id.")
@click.argument("requester_id", required=False)
@click.option("--demand", "demand_id", default=None, help="The requester of this demand.")
@click.option("--phone", default=None, help="The requester with this phone number.")
@click.option("--national-id", default=None, help="The requester with this national code.")
@click.option("--by", "subject", default="sada-cli", show_default=True,
              help="Who erases (the administrator's name in the event's actor).")
def erase(requester_id: str | None, demand_id: str | None, phone: str | None,
          national_id: str | None, subject: str) -> None:
    from services.eventlog import open_log
    from services.events.envelope import Actor
    from services.privacy.erasure import erase as erase_requester
    from services.text import ascii_digits

    if sum(x is not None for x in (requester_id, demand_id, phone, national_id)) != 1:
        raise click.UsageError("name the requester one way: REQUESTER_ID, --demand, --phone "
                               "or --national-id")
    settings = stack.settings()
    stack.mongo(settings).close()  # unreachable: one clear line within seconds
    vault = stack.privacy_vault(settings)
    try:
        if demand_id is not None:
            requester_id = _requester_of_demand(settings, demand_id)
            if requester_id is None:
                raise click.ClickException(f"demand {demand_id} has no sealed requester in "
                                           "the log")
        elif requester_id is None:
            personal = {"phone": ascii_digits(phone or ""),
                        "national_id": ascii_digits(national_id or "")}
            requester_id = vault.find_requester(personal)
            if requester_id is None:
                raise click.ClickException("the key store knows no such requester (or they "
                                           "were erased already)")
        with open_log(settings) as log:
            done = erase_requester(vault, log, requester_id, Actor("administrator", subject))
    finally:
        vault.close()
    if done is None:
        raise click.ClickException(f"the key store knows no requester {requester_id}")
    click.echo(json.dumps(done.to_dict(), ensure_ascii=False))
