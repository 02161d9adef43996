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
import time
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
    unwrap_under_kek,
    wrap_under_kek,
)
from services.privacy.keks import KekDir
from services.privacy.keystore import KeyStore

PERSONAL_FIELDS = ("name", "phone", "national_id")
_CHECK = b"sada key store"
_CHECK_AAD = b"sada/master-check/v1"
_ATTEMPTS = 5
KEK_CACHE_SECONDS = 60.0  # a destroyed KEK leaves a running process's memory this soon

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
                 client: MongoClient | None = None, keks: KekDir | None = None) -> None:
        self.store = store
        self.master = master
        self.keks = keks
        self._client = client  # closed with the vault when the vault opened it
        self._verified = False
        self._kek_cache: dict[str, tuple[float, bytes]] = {}

    @classmethod
    def open(cls, settings: Settings, db: Database | None = None) -> Vault:
        """The vault for these settings: the key store beside `db` (the read models) if
        given, else on SADA_MONGO_URL. MasterKeyError at once if the master key is missing or
        malformed; `verify()` checks it against the key store."""
        master = MasterKey.from_text(settings.master_key)
        keks = KekDir(settings.kek_path)
        if db is not None:
            return cls(KeyStore(db.client[keystore_name(settings, db.name)]), master,
                       keks=keks)
        client: MongoClient = MongoClient(settings.mongo_url)
        return cls(KeyStore(client[keystore_name(settings)]), master, client, keks)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    # -- the master key ---------------------------------------------------------------------
    def verify(self) -> None:
        """Check that the master key is the one the key store was made with (a new store
        takes this one), and that the current KEK is in the KEK directory. MasterKeyError,
        loudly, if not: the key was lost or changed, or SADA_KEK_DIR is not the shared one."""
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
        current = self.store.current_kek()
        if current is not None and self.kek(current) is None:
            raise MasterKeyError(
                f"the current key-encryption key {current} of the key store "
                f"{self.store.db.name!r} is not in {self.keks and self.keks.path}: every "
                "process that opens the key store must read the same SADA_KEK_DIR "
                "(docs/privacy.md)")
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
                doc = self.store.get(requester_id)
                if doc and doc.get("wrapped"):
                    for other in lookups:
                        if other not in found:  # one pointing elsewhere keeps its requester
                            self.store.link(other, requester_id)
                    return requester_id, self.unwrap(doc)
                self.store.unlink(lookup_id)  # left by an erasure running meanwhile
            requester_id, key = new_id(), new_data_key()
            self._create(requester_id, key)
            if self.store.link(lookups[0], requester_id) != requester_id:
                self.store.discard(requester_id)  # another submission made one first
                continue
            for other in lookups[1:]:
                self.store.link(other, requester_id)
            return requester_id, key
        raise RuntimeError("could not settle a requester's key: the key store keeps changing")

    # -- wrapping under key-encryption keys --------------------------------------------------
    def kek(self, kek_id: str) -> bytes | None:
        """A KEK from the KEK directory (kept in memory a minute at most); None if it was
        destroyed. MasterKeyError if its file does not open under the master key."""
        cached = self._kek_cache.get(kek_id)
        if cached and time.monotonic() - cached[0] < KEK_CACHE_SECONDS:
            return cached[1]
        self._kek_cache.pop(kek_id, None)
        if self.keks is None:
            return None
        try:
            kek = self.keks.load(kek_id, self.master)
        except InvalidTag:
            raise MasterKeyError(f"the key-encryption key {kek_id} in {self.keks.path} does "
                                 "not open under SADA_MASTER_KEY") from None
        if kek is not None:
            self._kek_cache[kek_id] = (time.monotonic(), kek)
        return kek

    def forget_keks(self) -> None:
        self._kek_cache.clear()

    def wrap(self, key: bytes, requester_id: str, kek_id: str | None) -> str:
        """A data key wrapped under the KEK `kek_id` (None: the master key, as before any
        rotation)."""
        if kek_id is None:
            return self.master.wrap(key, requester_id)
        kek = self.kek(kek_id)
        if kek is None:
            raise MasterKeyError(
                f"the current key-encryption key {kek_id} is not in {self.keks and self.keks.path}"
                ": every process that opens the key store must read SADA_KEK_DIR")
        return wrap_under_kek(kek, kek_id, key, requester_id)

    def try_unwrap(self, doc: dict[str, Any]) -> bytes | None:
        """The data key in a key-store document (or any copy of one: the oplog, a backup), or
        None if it cannot be opened any more: its KEK was destroyed."""
        requester_id, wrapped, kek_id = doc["_id"], doc["wrapped"], doc.get("kek")
        try:
            if kek_id is None:
                return self.master.unwrap(wrapped, requester_id)
            kek = self.kek(kek_id)
            return None if kek is None else unwrap_under_kek(kek, kek_id, wrapped, requester_id)
        except InvalidTag:
            raise MasterKeyError(
                f"the key of requester {requester_id} does not open under "
                f"{'SADA_MASTER_KEY' if kek_id is None else 'its key-encryption key'}: the "
                "master key was lost or changed, or the key store was altered") from None

    def unwrap(self, doc: dict[str, Any]) -> bytes:
        """The data key of a live key-store document; MasterKeyError if it cannot be opened."""
        key = self.try_unwrap(doc)
        if key is None:  # read before a rotation finished? The key store has it rewrapped
            fresh = self.store.get(doc["_id"])
            if fresh and fresh.get("wrapped") and fresh.get("kek") != doc.get("kek"):
                key = self.try_unwrap(fresh)
        if key is None:
            raise MasterKeyError(
                f"the key of requester {doc['_id']} is wrapped under the key-encryption key "
                f"{doc.get('kek')}, which is not in {self.keks and self.keks.path}: every "
                "process that opens the key store must read SADA_KEK_DIR")
        return key

    def _create(self, requester_id: str, key: bytes) -> None:
        """Store a new requester's key under the current KEK. If a rotation made another KEK
        current meanwhile, wrap it again under that one: a rotation that already looked for
        keys under the old KEK would not see this one before destroying it."""
        kek_id = self.store.current_kek()
        wrapped = self.wrap(key, requester_id, kek_id)
        self.store.create(requester_id, wrapped, kek_id)
        for _ in range(_ATTEMPTS):
            now = self.store.current_kek()
            if now == kek_id:
                return
            fresh = self.wrap(key, requester_id, now)
            if not self.store.rewrap(requester_id, wrapped, fresh, now):
                return  # the rotation rewrapped it (or it was erased) first
            wrapped, kek_id = fresh, now

    # -- opening ----------------------------------------------------------------------------
    def open_requester(self, requester: dict[str, Any], demand_id: str) -> Opened:
        """What a stored requester holds. An old (payload version 1 or 2) requester kept its
        personal data in clear: it is returned as `readable`."""
        requester_id, sealed = requester.get("requester_id"), requester.get("sealed")
        if not requester_id or not sealed:
            legacy = {f: requester[f] for f in PERSONAL_FIELDS if requester.get(f)}
            return Opened("readable", legacy) if legacy else Opened("none")
        self._ready()
        doc = self.store.get(requester_id)
        if doc is None or not doc.get("wrapped"):
            return Opened("erased")
        key = self.unwrap(doc)
        try:
            plaintext = open_sealed(key, sealed, _aad(requester_id, demand_id))
        except InvalidTag:
            return Opened("unreadable")
        return Opened("readable", json.loads(plaintext))
