"""The hash chain over one partition, and the check of the seals recorded in it. Pure.

Per partition, in stream order: h(-1) = 32 zero bytes, h(n) = sha256(h(n-1) || bytes of
record n), where a record's bytes are exactly what the log stores (the event's canonical
bytes). Seals (`LogSealed`) are records too, so each seal is covered by the next one.

`Chain.feed` takes the records of one partition in order. When a record is a seal of this
partition it is checked against what was fed: its marks (one per record since the previous
seal), its count and its digest. The first difference becomes a `Finding` naming the record
and what happened to it (altered, removed, reordered or inserted); after a finding the chain
stops checking. The sealer feeds the same class, so it re-verifies the log it extends.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from typing import Any

from services.events.families.audit import MARK_HEX, SEAL

GENESIS = bytes(32)
_SEAL_TAG = f'"type":"{SEAL}"'.encode()


def link(previous: bytes, raw: bytes) -> bytes:
    return hashlib.sha256(previous + raw).digest()


def mark(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()[:MARK_HEX]


def seal_payload(raw: bytes) -> dict[str, Any] | None:
    """The payload of a record if it is a well-formed seal, else None."""
    if _SEAL_TAG not in raw:
        return None
    try:
        data = json.loads(raw)
        payload = data["payload"] if data.get("type") == SEAL else None
        if payload is None:
            return None
        for key in ("partition", "upto_offset", "count", "from_offset"):
            if not isinstance(payload.get(key), int):
                return None
        if not isinstance(payload.get("chain_digest"), str):
            return None
        marks = payload.get("marks")
        if not isinstance(marks, str) or len(marks) % MARK_HEX:
            return None
        return payload
    except (ValueError, TypeError, KeyError):
        return None


@dataclass(frozen=True)
class Finding:
    """The first place where the partition differs from what its seals recorded."""

    partition: int
    kind: str  # altered | removed | reordered | inserted | seal_mismatch
    offset: int | None  # the record found where the difference is (None: past the end)
    index: int  # that record's place in the partition, from 0
    detail: str
    seal_offset: int | None = None  # the seal that disagrees

    def to_dict(self) -> dict[str, Any]:
        return {"partition": self.partition, "kind": self.kind, "offset": self.offset,
                "index": self.index, "detail": self.detail, "seal_offset": self.seal_offset}


@dataclass
class Chain:
    """One partition's chain, fed record by record."""

    partition: int
    digest: bytes = GENESIS
    count: int = 0  # records fed
    next_offset: int = 0  # offset after the last record fed
    sealed_count: int = 0  # records covered by the last verified seal
    sealed_upto: int = 0
    sealed_digest: bytes = GENESIS
    seals: int = 0  # seals verified
    finding: Finding | None = None
    # A seal that did not check out, kept until the next seal says whether the seal itself
    # was altered (its mark differs there) or the records before it were.
    suspect: Finding | None = None
    # Offsets that go backwards (an archive's lines moved): kept while the seals, which can
    # say more precisely what moved, are checked; the earlier of the two is the answer.
    disorder: Finding | None = None
    # The records since the last verified seal: their offsets, marks and the chain after each.
    offsets: list[int] = field(default_factory=list)
    marks: list[str] = field(default_factory=list)
    digests: list[bytes] = field(default_factory=list)
    is_seal: list[bool] = field(default_factory=list)

    @property
    def facts_only(self) -> bool:
        """Whether nothing but seals came since the last verified seal."""
        return all(self.is_seal)

    @property
    def unsealed(self) -> int:
        return len(self.offsets)

    def feed(self, offset: int, raw: bytes) -> dict[str, Any] | None:
        """Add one record; returns its payload if it is a seal of this partition that checks
        out. Once there is a finding, records are only counted."""
        if self.finding is not None:
            self.count += 1
            return None
        if offset < self.next_offset and self.disorder is None:
            self.disorder = Finding(self.partition, "reordered", offset, self.count,
                                    f"offset {offset} comes after offset "
                                    f"{self.next_offset - 1}")
        self.digest = link(self.digest, raw)
        self.offsets.append(offset)
        self.marks.append(mark(raw))
        self.digests.append(self.digest)
        self.count += 1
        self.next_offset = offset + 1
        seal = seal_payload(raw)
        if seal is not None and seal["partition"] != self.partition:
            seal = None
        self.is_seal.append(seal is not None)
        if seal is None:
            return None
        suspect, self.suspect = self.suspect, None
        if self._check(seal, offset) and suspect is None:
            return seal
        if suspect is not None:
            # The next seal names the doubted seal itself, or the earlier difference stands.
            blames_seal = self.finding is not None and self.finding.offset == suspect.seal_offset
            if not blames_seal and (self.finding is None or suspect.index < self.finding.index):
                self.finding = suspect
        elif self.finding is not None:
            self.suspect, self.finding = self.finding, None
            self.is_seal[-1] = False  # judged as an ordinary record by the next seal
        return None

    def finish(self) -> Finding | None:
        """At the end of the partition: a seal still in doubt is the first difference."""
        if self.suspect is not None and self.finding is None:
            s = self.suspect
            self.finding = replace(s, detail=f"{s.detail} (or the seal at offset "
                                             f"{s.seal_offset} was altered: no later seal "
                                             "tells which)")
            self.suspect = None
        if self.disorder is not None and (
                self.finding is None or self.disorder.index < self.finding.index):
            self.finding = self.disorder
        return self.finding

    # -- checking a seal -----------------------------------------------------------------
    def _check(self, seal: dict[str, Any], seal_offset: int) -> bool:
        expected = [seal["marks"][i:i + MARK_HEX]
                    for i in range(0, len(seal["marks"]), MARK_HEX)]
        from_count = seal["count"] - len(expected)
        if seal["count"] <= self.sealed_count:
            # A copy of an earlier seal (an append retried), or one that claims less than
            # the previous seal: only harmless if it is the previous seal again.
            if seal["count"] == self.sealed_count and seal["chain_digest"] == \
                    self.sealed_digest.hex():
                return False
            return self._found("seal_mismatch", seal_offset, self.count - 1,
                               f"the seal at offset {seal_offset} claims {seal['count']} "
                               f"records, fewer than the previous seal's {self.sealed_count}",
                               seal_offset)
        base = from_count - self.sealed_count  # > 0: the seal before this one is gone
        if base < 0:
            return self._found("seal_mismatch", seal_offset, self.count - 1,
                               f"the seal at offset {seal_offset} starts at record "
                               f"{from_count}, inside what the previous seal covered",
                               seal_offset)
        window = self.marks[:self.unsealed - 1]  # every record before this seal
        for i, want in enumerate(expected):
            if base + i >= len(window) or window[base + i] != want:
                return self._mismatch(base + i, expected, i, seal_offset, seal["upto_offset"])
        last = base + len(expected) - 1
        if base:
            return self._found("seal_mismatch", seal_offset, self.count - 1,
                               f"the seal at offset {seal_offset} starts at record "
                               f"{from_count}, the previous seal ended at {self.sealed_count}:"
                               " a seal between them is missing", seal_offset)
        if last >= 0 and self.digests[last].hex() != seal["chain_digest"]:
            return self._found("altered", self.offsets[last], self.sealed_count + last,
                               "the chain digest differs from the seal's although every "
                               "record's mark matches", seal_offset)
        if last >= 0 and not self.offsets[last] < seal["upto_offset"] <= self.offsets[last + 1]:
            return self._found("seal_mismatch", seal_offset, self.count - 1,
                               f"the seal at offset {seal_offset} says it covers offsets "
                               f"below {seal['upto_offset']}, but its last record is at "
                               f"offset {self.offsets[last]}", seal_offset)
        self._advance(last + 1, seal)
        return True

    def _advance(self, n: int, seal: dict[str, Any]) -> None:
        self.sealed_count, self.sealed_upto = seal["count"], seal["upto_offset"]
        self.sealed_digest = bytes.fromhex(seal["chain_digest"])
        del self.offsets[:n], self.marks[:n], self.digests[:n], self.is_seal[:n]
        self.seals += 1

    def _mismatch(self, w: int, expected: list[str], i: int, seal_offset: int,
                  upto: int) -> bool:
        """Name what happened at window place `w`, where expected[i] was due."""
        found = self.marks[:self.unsealed - 1]
        f0 = found[w] if w < len(found) else None
        f1 = found[w + 1] if w + 1 < len(found) else None
        e0, e1 = expected[i], expected[i + 1] if i + 1 < len(expected) else None
        if f0 is None:
            kind, offset = "removed", seal_offset
            detail = (f"the sealed record {self.sealed_count + w} is missing: the seal at "
                      f"offset {seal_offset} comes too early")
        else:
            offset = self.offsets[w]
            if f1 is not None and f0 == e1 and f1 == e0:
                kind = "reordered"
                detail = f"the record at offset {offset} and the next one are swapped"
            elif f0 == e1 or (e1 is None and offset >= upto):
                kind = "removed"
                detail = f"a sealed record is missing just before offset {offset}"
                previous = self.offsets[w - 1] if w else self.sealed_upto - 1
                if offset > previous + 1:
                    detail += f" (offsets {previous + 1}-{offset - 1} are absent)"
            elif f1 == e0:
                kind = "inserted"
                detail = f"the record at offset {offset} is not in the sealed log"
            else:
                kind = "altered"
                detail = f"the record at offset {offset} differs from the sealed one"
        return self._found(kind, offset, self.sealed_count + w, detail, seal_offset)

    def _found(self, kind: str, offset: int | None, index: int, detail: str,
               seal_offset: int | None = None) -> bool:
        self.finding = Finding(self.partition, kind, offset, index, detail, seal_offset)
        return False

    # -- sealing -------------------------------------------------------------------------
    def next_seal(self) -> dict[str, Any]:
        """The payload sealing everything fed so far."""
        return {"partition": self.partition, "from_offset": self.sealed_upto,
                "upto_offset": self.next_offset, "count": self.count,
                "chain_digest": self.digest.hex(), "marks": "".join(self.marks)}
