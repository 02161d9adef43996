"""Looking for personal data in clear, anywhere: the log and every MongoDB database given.

Two ways of recognising it:
- **known values**: the names (of two words or more), phones and national codes of every
  requester whose key is still in the key store, opened from the log's sealed requesters (and
  any the auditor names), searched for in every string;
- **patterns**: Iranian mobile numbers (`09…`, `+989…`, with or without spaces and dashes)
  and ten-digit national codes whose check digit is right, in Persian or Latin digits;
  these also catch what nobody knows any more (an erased requester's phone typed into a
  description).
Sealed values are ciphertext and match neither. A finding names where it is (a log position
or a database, collection and document, and the field) and shows the value masked.

MongoDB's oplog (`local.oplog.rs`, kept by every replica set, SecantusDB included) is scanned
too, for Sada's databases: for values in clear, and for the original writes of keys since
erased. Such a copy is a finding (`erased_key`) as long as it still opens, i.e. until the
next key rotation (`rotation.py`) destroys the key-encryption key it was wrapped under.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pymongo import MongoClient
from pymongo.database import Database
from pymongo.errors import PyMongoError

from services.eventlog.port import Record
from services.privacy import nationalid
from services.privacy.crypto import MasterKeyError
from services.privacy.vault import Vault, canonical_phone
from services.text import ascii_digits

MIN_NAME_CHARS = 3
MIN_PHONE_DIGITS = 7
_SEP = r"[ \-\u00a0]?"
_MOBILE = re.compile(rf"(?<![0-9A-Za-z])(?:\+98|0098|0){_SEP}9[0-9]{{2}}{_SEP}[0-9]{{3}}"
                     rf"{_SEP}[0-9]{{4}}(?![0-9A-Za-z])")
_NATIONAL = re.compile(rf"(?<![0-9A-Za-z])[0-9]{{3}}{_SEP}[0-9]{{6}}{_SEP}[0-9](?![0-9A-Za-z])")
_DIGIT_SEPARATORS = re.compile(r"(?<=[0-9])[ \-\u00a0](?=[0-9])")


def mask(value: str) -> str:
    """Enough of a value to find it again, not enough to read it."""
    if len(value) <= 4:
        return "*" * len(value)
    return value[:2] + "*" * (len(value) - 4) + value[-2:]


@dataclass(frozen=True)
class Finding:
    where: str
    kind: str  # name, phone, national_id (known values); mobile, national_code (patterns)
    sample: str  # masked

    def to_dict(self) -> dict[str, str]:
        return {"where": self.where, "kind": self.kind, "sample": self.sample}


@dataclass
class Known:
    """The personal data the scan looks for by value."""

    names: set[str] = field(default_factory=set)
    phones: set[str] = field(default_factory=set)  # canonical digits
    national_ids: set[str] = field(default_factory=set)

    def add(self, personal: dict[str, str], *, any_name: bool = False) -> None:
        """A requester's values. A name is looked for when it has two words or more: a given
        name alone (رضا, Ali) is a common word, found in every calendar of holidays."""
        name = (personal.get("name") or "").strip()
        if len(name) >= MIN_NAME_CHARS and (any_name or len(name.split()) >= 2):
            self.names.add(name)
        phone = canonical_phone(ascii_digits(personal.get("phone") or ""))
        if len(phone) >= MIN_PHONE_DIGITS:  # shorter ones would match any number
            self.phones.add(phone)
        if personal.get("national_id"):
            self.national_ids.add(ascii_digits(personal["national_id"]))

    def add_text(self, value: str) -> None:
        """A value an auditor names: a phone or national code if it is a number, else a
        name."""
        digits = ascii_digits(value).strip().replace(" ", "").replace("-", "").lstrip("+")
        if not digits.isdigit():
            self.add({"name": value.strip()}, any_name=True)
        elif nationalid.is_valid(digits):
            self.add({"national_id": digits, "phone": digits})
        else:
            self.add({"phone": digits})

    def __len__(self) -> int:
        return len(self.names) + len(self.phones) + len(self.national_ids)


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)
    records: int = 0  # log records scanned
    documents: int = 0  # MongoDB documents scanned
    files: int = 0
    sealed: int = 0  # sealed requesters in the log
    readable: int = 0  # of which the key store still opens
    erased: int = 0  # of which the key was erased
    known: int = 0  # distinct known values looked for
    oplog: dict[str, Any] = field(default_factory=lambda: {"checked": False})
    rotation: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.findings

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "records": self.records, "documents": self.documents,
                "files": self.files, "sealed_requesters": self.sealed,
                "readable": self.readable, "erased": self.erased, "known_values": self.known,
                "oplog": self.oplog, "rotation": self.rotation,
                "findings": [f.to_dict() for f in self.findings]}


def _alternation(values: Iterable[str]) -> str:
    return "|".join(re.escape(v) for v in sorted(values, key=lambda v: (-len(v), v)))


class Matcher:
    """Every known value and pattern, each kind compiled into one expression."""

    def __init__(self, known: Known) -> None:
        self.names = (re.compile(rf"(?<!\w)(?:{_alternation(known.names)})(?!\w)")
                      if known.names else None)
        # A phone in Iran (98…) also matches written with 0, 0098 or +98, or with neither.
        local = {p[2:] if p.startswith("98") and len(p) == 12 else p for p in known.phones}
        self.phones = (re.compile(rf"(?<![0-9])(?:\+?98|0098|0)?(?:{_alternation(local)})"
                                  rf"(?![0-9])") if local else None)
        self.national_ids = (re.compile(rf"(?<![0-9])(?:{_alternation(known.national_ids)})"
                                        rf"(?![0-9])") if known.national_ids else None)

    def text(self, where: str, text: str) -> Iterator[Finding]:
        plain = ascii_digits(text)
        joined = _DIGIT_SEPARATORS.sub("", plain)
        for kind, pattern, within in (("name", self.names, text),
                                      ("phone", self.phones, joined),
                                      ("national_id", self.national_ids, joined)):
            if pattern is not None:
                for m in pattern.finditer(within):
                    yield Finding(where, kind, mask(m.group()))
        for m in _MOBILE.finditer(plain):
            yield Finding(where, "mobile", mask(_DIGIT_SEPARATORS.sub("", m.group())))
        for m in _NATIONAL.finditer(plain):
            code = re.sub(r"[^0-9]", "", m.group())
            if nationalid.is_valid(code):
                yield Finding(where, "national_code", mask(code))

    def value(self, where: str, value: Any) -> Iterator[Finding]:
        """Every string inside `value` (keys included), with its path."""
        if isinstance(value, str):
            yield from self.text(where, value)
        elif isinstance(value, dict):
            for key, inner in value.items():
                yield from self.text(f"{where} (key)", str(key))
                yield from self.value(f"{where}.{key}", inner)
        elif isinstance(value, list | tuple):
            for i, inner in enumerate(value):
                yield from self.value(f"{where}[{i}]", inner)


def known_from_log(vault: Vault, records: Iterable[Record], report: Report) -> Known:
    """The personal data of the log's requesters that can still be read: sealed ones whose
    key is in the key store, and any written in clear (before payload version 3)."""
    known = Known()
    for record in records:
        event = record.event
        if event.type != "DemandSubmitted":
            continue
        requester = event.payload.get("requester") or {}
        opened = vault.open_requester(requester, event.demand_id)
        if requester.get("sealed"):
            report.sealed += 1
            report.readable += opened.status == "readable"
            report.erased += opened.status == "erased"
        if opened.status == "readable":
            known.add(opened.personal)
    return known


def scan_log(matcher: Matcher, records: Iterable[Record], report: Report) -> None:
    for record in records:
        report.records += 1
        try:
            data: Any = json.loads(record.raw)
        except ValueError:
            data = record.raw.decode("utf-8", errors="replace")
        report.findings.extend(matcher.value(f"log {record.position}", data))


def scan_database(matcher: Matcher, db: Database, report: Report) -> None:
    for name in sorted(db.list_collection_names()):
        for doc in db[name].find():
            report.documents += 1
            where = f"mongodb {db.name}.{name} {doc.get('_id')}"
            report.findings.extend(matcher.value(where, doc))


def scan_files(matcher: Matcher, paths: Iterable[Path], report: Report) -> None:
    """Files' bytes as text (a SQLite log file, an export): whatever is legible in them."""
    for root in paths:
        files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
        for path in files:
            report.files += 1
            text = path.read_bytes().decode("utf-8", errors="replace")
            report.findings.extend(matcher.text(f"file {path}", text))


OPLOG = "oplog.rs"


def _wrapped_copies(value: Any) -> Iterator[dict[str, Any]]:
    """Every `{wrapped, kek?}` inside an oplog entry's document or update description."""
    if isinstance(value, dict):
        if isinstance(value.get("wrapped"), str):
            yield value
        for inner in value.values():
            yield from _wrapped_copies(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _wrapped_copies(inner)


def _opens(vault: Vault, copy: dict[str, Any]) -> bool:
    try:
        return vault.try_unwrap(copy) is not None
    except MasterKeyError:  # not a key of this master key's: nothing it can open
        return False


def scan_oplog(matcher: Matcher, vault: Vault, client: MongoClient, databases: list[str],
               report: Report) -> None:
    """The oplog's entries for `databases`: values in clear, and copies of erased keys that
    still open. Says in `report.oplog` whether there was an oplog to read."""
    keys_ns = f"{vault.store.db.name}.{vault.store.keys.name}"
    try:
        if OPLOG not in client["local"].list_collection_names():
            report.oplog = {"checked": False, "reason": "this MongoDB keeps no oplog"}
            return
        names = "|".join(re.escape(db) for db in databases)
        entries = client["local"][OPLOG].find({"ns": {"$regex": rf"^(?:{names})\."}})
        erased = {t["_id"] for t in vault.store.erased()}
        count = 0
        for entry in entries:
            count += 1
            where = f"oplog {entry.get('ts')} {entry.get('ns')}"
            for part in ("o", "o2"):
                report.findings.extend(matcher.value(f"{where}.{part}", entry.get(part)))
            if entry.get("ns") != keys_ns:
                continue
            requester_id = (entry.get("o2") or {}).get("_id") or (entry.get("o") or {}).get("_id")
            if requester_id not in erased:
                continue
            for copy in _wrapped_copies(entry.get("o")):
                if _opens(vault, {**copy, "_id": requester_id}):
                    report.findings.append(Finding(where, "erased_key", mask(requester_id)))
        report.oplog = {"checked": True, "entries": count}
    except PyMongoError as exc:
        report.oplog = {"checked": False, "reason": f"the oplog cannot be read: {exc}"}
