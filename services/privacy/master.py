"""The embedded default's master key, kept like the auth secret (`sada/embedded_auth.py`).

`sada run` needs no configuration, so when SADA_MASTER_KEY is not set it generates a random
key once into the data dir (`master-key`, readable by its owner only) and reuses it on every
later run. The `sada` commands that open the key store (`erase`, `privacy-scan`) find the
same key there. Losing that file loses every requester's personal data: nothing then starts
against the old key store (`Vault.verify`), rather than carrying on with a new key.
"""

from __future__ import annotations

from pathlib import Path

from services.config import Settings
from services.privacy.crypto import new_master_key
from services.privacy.vault import Vault
from services.secretfile import read_or_make

KEY_FILE = "master-key"


def key_path(settings: Settings) -> Path:
    return settings.data_dir / KEY_FILE


def ensure_master_key(settings: Settings) -> Settings:
    """Settings with a master key: the configured one, else the data dir's, made once."""
    if settings.master_key:
        return settings
    return settings.with_(master_key=read_or_make(key_path(settings), new_master_key))


def find_master_key(settings: Settings) -> Settings:
    """Settings with the configured master key, else the data dir's; unchanged if neither
    exists (opening the vault then fails, saying so)."""
    if settings.master_key:
        return settings
    path = key_path(settings)
    return settings.with_(master_key=path.read_text().strip()) if path.exists() else settings


def open_vault(settings: Settings) -> Vault:
    """The vault for a command: the configured (or data dir's) master key, checked against
    the key store; MasterKeyError if it is missing, malformed or not the key store's."""
    vault = Vault.open(find_master_key(settings))
    try:
        vault.verify()
    except BaseException:
        vault.close()
        raise
    return vault
