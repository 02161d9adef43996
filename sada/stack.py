"""What `sada run` started, written down in its data directory, so every other `sada` command
acts on that stack and no other.

`sada run` may move a service or SecantusDB to another port when the configured one is taken;
it records the ports, the MongoDB URL, the event log and its own pid in `stack.json`. Each
command starts from `settings()`, which applies the record of a running stack over the
configuration, and talks to MongoDB through `mongo()`, which fails in seconds with one clear
line instead of a 30-second traceback.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click
from pymongo import MongoClient
from pymongo.errors import PyMongoError

from sada import mongo_credentials
from services import config
from services.config import Settings

MONGO_TIMEOUT_MS = 3000
_RECORDED = ("intake_port", "routing_port", "reporting_port", "mongo_url", "mongo_db",
             "event_log", "kafka_bootstrap", "kafka_topic")


def path(settings: Settings) -> Path:
    return settings.stack_file


def write(settings: Settings, *, pid: int | None = None, moved: dict[str, str] | None = None,
          processes: dict[str, Any] | None = None) -> Path:
    """Record the running stack (atomically: a reader never sees half a file)."""
    record = {name: getattr(settings, name) for name in _RECORDED}
    record.update(pid=pid or os.getpid(), event_log_path=str(settings.event_log_path.resolve()),
                  moved=moved or {}, processes=processes or {})
    target = path(settings)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_suffix(".tmp")
    # The MongoDB URL holds the embedded server's password: the owner's eyes only.
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(json.dumps(record, ensure_ascii=False, indent=2))
    temporary.replace(target)
    return target


def remove(settings: Settings) -> None:
    path(settings).unlink(missing_ok=True)


def read(settings: Settings) -> dict[str, Any] | None:
    """The record of the stack running from this data directory, or None if none runs."""
    try:
        record = json.loads(path(settings).read_text())
    except (OSError, ValueError):
        return None
    return record if _alive(int(record.get("pid", 0))) else None


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def settings(base: Settings | None = None) -> Settings:
    """The configuration, with what a running stack recorded applied over it."""
    base = base or config.load()
    record = read(base)
    if record is None:
        return base
    return base.with_(**{name: record[name] for name in _RECORDED if name in record},
                      sqlite_path=Path(record["event_log_path"]))


def mongo(settings: Settings) -> MongoClient:
    """A client that has reached MongoDB, or a one-line ClickException within seconds."""
    client: MongoClient = MongoClient(settings.mongo_url,
                                      serverSelectionTimeoutMS=MONGO_TIMEOUT_MS)
    try:
        client.admin.command("ping")
    except PyMongoError:
        client.close()
        hint = ("" if read(settings) else
                f" (no `sada run` is running from {settings.data_dir}; start it with `make run`)")
        raise click.ClickException(
            f"cannot reach MongoDB at {mongo_credentials.redacted(settings.mongo_url)}{hint}"
        ) from None
    return client


def privacy_vault(settings: Settings):
    """The key store of personal data, its master key checked: a ClickException if not."""
    from services.privacy.crypto import MasterKeyError
    from services.privacy.master import open_vault

    try:
        return open_vault(settings)
    except MasterKeyError as exc:
        raise click.ClickException(str(exc)) from None
