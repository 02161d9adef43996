"""Sealing and opening requesters' personal data: the one place that does either.

`seal` turns a requester as heard (`{kind, name, phone, national_id}`) into the requester
as the log stores it (`{kind, requester_id, sealed}`): the requester's kind stays readable
(routing's rules and the dashboards need it); name, phone and national code are sealed under
the requester's data key. A requester is one person across demands when they give the same
national code or phone number (found through an HMAC lookup id); one known by name alone is
a requester of that demand only. `open` reverses it for whoever may see it, or says the key
was erased.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from pymongo import MongoClient
from pymongo.database import Database

from services.config import Settings
from services.events.ids import new_id
from services.privacy.crypto import (
    InvalidTag,
    MasterKey,
    MasterKeyError,
    new_data_key,
    open_sealed,
    seal,
)
from services.privacy.keystore import KeyStore

PERSONAL_FIELDS = ("name", "phone", "national_id")
_CHECK = b"sada key store"
_CHECK_AAD = b"sada/master-check/v1"
_ATTEMPTS = 5

Status = Literal["none", "readable", "erased", "unreadable"]


@dataclass(frozen=True)
class Opened:
    """What a stored requester holds: `none` (no personal data was given), `readable`
    (`personal` has it), `erased` (its key is gone) or `unreadable` (the sealed value does
    not open with its key: altered)."""

    status: Status
    personal: dict[str, str] = field(default_factory=dict)


def canonical_phone(phone: str) -> str:
    """One spelling per number: digits only, Iran's country code instead of a leading 0."""
    digits = "".join(c for c in phone if c.isdigit())
    if digits.startswith("0098"):
        digits = digits[2:]
    elif digits.startswith("0") and len(digits) == 11:
        digits = "98" + digits[1:]
    return digits


def keystore_name(settings: Settings, read_models: str | None = None) -> str:
    """The key store's database: SADA_KEYSTORE_DB, else the read models' name + `_keys`."""
    return settings.keystore_db or f"{read_models or settings.mongo_db}_keys"


def _aad(requester_id: str, demand_id: str) -> bytes:
    return f"sada/requester/{requester_id}/{demand_id}".encode()


class Vault:
    def __init__(self, store: KeyStore, master: MasterKey,
                 client: MongoClient | None = None) -> None:
        self.store = store
        self.master = master
        self._client = client  # closed with the vault when the vault opened it
        self._verified = False

    @classmethod
    def open(cls, settings: Settings, db: Database | None = None) -> Vault:
        """The vault for these settings: the key store beside `db` (the read models) if
        given, else on SADA_MONGO_URL. MasterKeyError at once if the master key is missing or
        malformed; `verify()` checks it against the key store."""
        master = MasterKey.from_text(settings.master_key)
        if db is not None:
            return cls(KeyStore(db.client[keystore_name(settings, db.name)]), master)
        client: MongoClient = MongoClient(settings.mongo_url)
        return cls(KeyStore(client[keystore_name(settings)]), master, client)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    # -- the master key ---------------------------------------------------------------------
    def verify(self) -> None:
        """Check that the master key is the one the key store was made with (a new store
        takes this one). MasterKeyError, loudly, if it is not: the key was lost or changed."""
        stored = self.store.check_value()
        if stored is None:
            if self.store.has_keys():
                raise MasterKeyError(
                    f"the key store {self.store.db.name!r} holds keys but no check value of "
                    "its master key: refusing to guess whether SADA_MASTER_KEY is its key")
            stored = self.store.put_check_value(seal(self.master.wrap_key, _CHECK, _CHECK_AAD))
        try:
            open_sealed(self.master.wrap_key, stored, _CHECK_AAD)
        except InvalidTag:
            raise MasterKeyError(
                f"SADA_MASTER_KEY does not open the key store {self.store.db.name!r}: the "
                "master key it was made with was lost or changed. Restore that key (from "
                "SADA_MASTER_KEY's secret store, or the data dir's `master-key`); a new key "
                "cannot read any requester's personal data") from None
        self._verified = True

    def _ready(self) -> None:
        if not self._verified:
            self.verify()

    # -- sealing ----------------------------------------------------------------------------
    def seal(self, requester: dict[str, Any], demand_id: str) -> dict[str, Any]:
        """The requester as the log stores it: kind in clear, personal data sealed."""
        personal = {f: requester[f] for f in PERSONAL_FIELDS if requester.get(f)}
        if not personal:
            return {"kind": requester["kind"], "requester_id": None, "sealed": None}
        self._ready()
        requester_id, key = self._key_for(personal, demand_id)
        plaintext = json.dumps(personal, ensure_ascii=False, sort_keys=True,
                               separators=(",", ":")).encode()
        return {"kind": requester["kind"], "requester_id": requester_id,
                "sealed": seal(key, plaintext, _aad(requester_id, demand_id))}

    def lookup_ids(self, personal: dict[str, str], demand_id: str | None = None) -> list[str]:
        """How a requester is found again: by national code, then phone; else this demand."""
        ids = []
        if personal.get("national_id"):
            ids.append(self.master.lookup_id("national_id", personal["national_id"]))
        if personal.get("phone"):
            ids.append(self.master.lookup_id("phone", canonical_phone(personal["phone"])))
        if not ids and demand_id is not None:
            ids.append(self.master.lookup_id("demand", demand_id))
        return ids

    def find_requester(self, personal: dict[str, str]) -> str | None:
        """The requester with this national code or phone, if the key store knows one."""
        for lookup_id in self.lookup_ids(personal):
            requester_id = self.store.find(lookup_id)
            if requester_id and self.store.wrapped(requester_id):
                return requester_id
        return None

    def _key_for(self, personal: dict[str, str], demand_id: str) -> tuple[str, bytes]:
        lookups = self.lookup_ids(personal, demand_id)
        for _ in range(_ATTEMPTS):
            found = self.store.find_many(lookups)
            for lookup_id in lookups:
                requester_id = found.get(lookup_id)
                if requester_id is None:
                    continue
                wrapped = self.store.wrapped(requester_id)
                if wrapped:
                    for other in lookups:
                        if other not in found:  # one pointing elsewhere keeps its requester
                            self.store.link(other, requester_id)
                    return requester_id, self._unwrap(wrapped, requester_id)
                self.store.unlink(lookup_id)  # left by an erasure running meanwhile
            requester_id, key = new_id(), new_data_key()
            self.store.create(requester_id, self.master.wrap(key, requester_id))
            if self.store.link(lookups[0], requester_id) != requester_id:
                self.store.discard(requester_id)  # another submission made one first
                continue
            for other in lookups[1:]:
                self.store.link(other, requester_id)
            return requester_id, key
        raise RuntimeError("could not settle a requester's key: the key store keeps changing")

    def _unwrap(self, wrapped: str, requester_id: str) -> bytes:
        try:
            return self.master.unwrap(wrapped, requester_id)
        except InvalidTag:
            raise MasterKeyError(
                f"the key of requester {requester_id} does not open under SADA_MASTER_KEY: "
                "the master key was lost or changed, or the key store was altered") from None

    # -- opening ----------------------------------------------------------------------------
    def open_requester(self, requester: dict[str, Any], demand_id: str) -> Opened:
        """What a stored requester holds. An old (payload version 1 or 2) requester kept its
        personal data in clear: it is returned as `readable`."""
        requester_id, sealed = requester.get("requester_id"), requester.get("sealed")
        if not requester_id or not sealed:
            legacy = {f: requester[f] for f in PERSONAL_FIELDS if requester.get(f)}
            return Opened("readable", legacy) if legacy else Opened("none")
        self._ready()
        wrapped = self.store.wrapped(requester_id)
        if wrapped is None:
            return Opened("erased")
        key = self._unwrap(wrapped, requester_id)
        try:
            plaintext = open_sealed(key, sealed, _aad(requester_id, demand_id))
        except InvalidTag:
            return Opened("unreadable")
        return Opened("readable", json.loads(plaintext))
