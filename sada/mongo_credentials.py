"""The embedded SecantusDB's credential: generated once per data directory, kept beside the
data (readable by its owner only), and required by the server (`--auth`) from then on.

SecantusDB provisions users the MongoDB way: a server started without authentication takes
`createUser`, and from its next start with `--auth` every command but the handshake needs a
SCRAM-SHA-256 login. So a data directory without a credential is started once on loopback
without authentication, given its user, stopped, and started again with `--auth`.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from pymongo import MongoClient

from sada.processes import ManagedProcess, secantus

FILE = "mongo-credentials.json"
USER = "sada"


@dataclass(frozen=True)
class Credential:
    user: str
    password: str

    def url(self, port: int) -> str:
        return (f"mongodb://{quote(self.user, safe='')}:{quote(self.password, safe='')}"
                f"@127.0.0.1:{port}/?authSource=admin")


def redacted(url: str) -> str:
    """The URL as it may be printed: the password replaced by ***."""
    return re.sub(r"//([^:/@]+):[^@/]*@", r"//\1:***@", url)


def path(data_dir: Path) -> Path:
    return data_dir / FILE


def read(data_dir: Path) -> Credential | None:
    try:
        doc = json.loads(path(data_dir).read_text())
    except (OSError, ValueError):
        return None
    return Credential(doc["user"], doc["password"])


def _write(data_dir: Path, credential: Credential) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    target = path(data_dir)
    temporary = target.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump({"user": credential.user, "password": credential.password}, out)
    temporary.replace(target)


def ensure(data_dir: Path, mongo_data_dir: Path, port: int, log_path: Path) -> Credential:
    """The data directory's credential, provisioning the server with it the first time."""
    found = read(data_dir)
    if found is not None:
        return found
    credential = Credential(USER, secrets.token_urlsafe(24))
    server: ManagedProcess = secantus(mongo_data_dir, port, log_path).start()
    try:
        with MongoClient(f"mongodb://127.0.0.1:{port}", serverSelectionTimeoutMS=10_000) as c:
            c.admin.command("createUser", credential.user, pwd=credential.password,
                            roles=[{"role": "root", "db": "admin"}])
    finally:
        server.stop()  # waits for it to exit: the storage is free for the next start
    _write(data_dir, credential)
    return credential
