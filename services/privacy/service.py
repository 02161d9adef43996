"""The vault in an HTTP service: opened and checked once, at start-up.

`install` refuses to start (MasterKeyError) when SADA_MASTER_KEY is missing or malformed, or
does not open the key store. A key store that does not answer within
`STARTUP_CHECK_SECONDS` (MongoDB down) does not stop the service: the key is then checked on
first use, and nothing is sealed or opened before it passes.
"""

from __future__ import annotations

import logging

import pymongo
from flask import Flask, current_app
from pymongo.database import Database
from pymongo.errors import PyMongoError

from services.config import Settings
from services.privacy.vault import Vault

log = logging.getLogger(__name__)

STARTUP_CHECK_SECONDS = 1.0
_KEY = "sada.vault"


def install(app: Flask, settings: Settings, db: Database | None = None) -> Vault:
    """Open the vault (the key store beside `db`, else on SADA_MONGO_URL) for `app`."""
    vault = Vault.open(settings, db)
    try:
        with pymongo.timeout(STARTUP_CHECK_SECONDS):
            vault.verify()
    except PyMongoError as exc:
        log.warning("the key store %s does not answer (%s): SADA_MASTER_KEY is checked "
                    "against it on first use", vault.store.db.name, type(exc).__name__)
    app.extensions[_KEY] = vault
    return vault


def vault() -> Vault:
    """The vault of the current app."""
    return current_app.extensions[_KEY]
