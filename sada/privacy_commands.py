"""`sada privacy rotate`: replace the key-encryption key, making past erasures final."""

from __future__ import annotations

import json

import click

from sada import stack
from services.privacy.crypto import MasterKeyError


@click.group(help="Requesters' personal data: key rotation (see docs/privacy.md).")
def privacy() -> None:
    pass


@privacy.command(help="Rotate the key-encryption key: wrap every live requester key under a "
                      "new one and destroy the old one, so that no copy of an erased key (in "
                      "MongoDB's oplog, a backup, a snapshot) opens any more. Finishes a "
                      "rotation that was interrupted. `sada run` rotates every "
                      "SADA_KEK_ROTATION_HOURS (24 by default); elsewhere run this from a "
                      "scheduled job.")
@click.option("--if-due", is_flag=True,
              help="Only if the schedule calls for it (SADA_KEK_ROTATION_HOURS since the last "
                   "rotation, or one was interrupted): for a job that runs more often.")
def rotate(if_due: bool) -> None:
    from services.privacy.rotation import RotationBusy, due
    from services.privacy.rotation import rotate as rotate_kek

    settings = stack.settings()
    stack.mongo(settings).close()  # unreachable: one clear line within seconds
    vault = stack.privacy_vault(settings)
    try:
        if if_due and not due(vault, settings.kek_rotation_hours):
            click.echo(json.dumps({"rotated": False, "reason": "not due"}))
            return
        done = rotate_kek(vault)
    except (RotationBusy, MasterKeyError) as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        vault.close()
    click.echo(json.dumps({"rotated": True, **done.to_dict()}))
