"""`sada verify`: re-read a log (live, a SQLite file, or an exported archive) and check every
partition's hash chain against the seals recorded in it.

The answer names, per partition, the first record where anything was altered, removed,
reordered or inserted; how far the seals vouch for the log; how many records at the end are
not sealed yet; and the latest chain digest, to compare with a published one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.audit import archive
from services.audit.chain import Chain, Finding
from services.eventlog.port import EventLog

Records = Iterable[tuple[int, int, bytes]]


@dataclass
class Report:
    chains: dict[int, Chain] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # the source itself is unreadable
    published: str | None = None  # a digest the caller expects to find sealed
    published_found: bool = False

    @property
    def findings(self) -> list[Finding]:
        return [c.finding for c in self.chains.values() if c.finding is not None]

    @property
    def ok(self) -> bool:
        return not self.findings and not self.problems and (
            self.published is None or self.published_found)

    def to_dict(self) -> dict[str, Any]:
        partitions = {}
        for p, c in sorted(self.chains.items()):
            partitions[str(p)] = {
                "records": c.count, "seals": c.seals, "sealed_records": c.sealed_count,
                "sealed_upto_offset": c.sealed_upto, "unsealed": c.unsealed,
                "chain_digest": c.sealed_digest.hex() if c.seals else None,
                "first_difference": c.finding.to_dict() if c.finding else None,
            }
        out: dict[str, Any] = {"ok": self.ok, "partitions": partitions,
                               "records": sum(c.count for c in self.chains.values())}
        if self.problems:
            out["problems"] = self.problems
        if self.published is not None:
            out["published_digest"] = {"digest": self.published, "found": self.published_found}
        return out


def verify(records: Records, published: str | None = None) -> Report:
    report = Report(published=published.lower() if published else None)
    try:
        for partition, offset, raw in records:
            chain = report.chains.get(partition)
            if chain is None:
                chain = report.chains[partition] = Chain(partition)
            seal = chain.feed(offset, raw)
            if seal is not None and seal["chain_digest"] == report.published:
                report.published_found = True
    except archive.ArchiveError as exc:
        report.problems.append(str(exc))
    for chain in report.chains.values():
        chain.finish()
    return report


def from_log(log: EventLog) -> Iterator[tuple[int, int, bytes]]:
    for record in log.scan():
        yield record.partition, record.offset, record.raw


def from_sqlite(path: Path) -> Iterator[tuple[int, int, bytes]]:
    """Every row of a SQLite log file, read only, exactly as stored."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = conn.execute('SELECT "offset", data FROM events ORDER BY "offset"')
        for offset, data in rows:
            yield 0, offset, bytes(data)
    finally:
        conn.close()


def records_from(source: Path) -> Records:
    """An archive (a directory from `sada export`, or its log.jsonl) or a SQLite log file."""
    if source.is_dir() or source.suffix == ".jsonl":
        return archive.read(source)
    with open(source, "rb") as f:
        if f.read(16) == b"SQLite format 3\x00":
            return from_sqlite(source)
    raise ValueError(f"{source} is neither an archive (directory or .jsonl) nor a SQLite log")


def describe(report: Report) -> list[str]:
    """The report in lines a person reads."""
    lines = []
    for p, c in sorted(report.chains.items()):
        head = f"partition {p}: {c.count} records, {c.seals} seals"
        if c.finding is not None:
            f = c.finding
            where = f"offset {f.offset}" if f.offset is not None else "the end"
            lines.append(f"{head} — TAMPERED: first difference at {where} "
                         f"(record {f.index}): {f.kind}: {f.detail}")
            continue
        if c.seals:
            head += (f"; sealed up to offset {c.sealed_upto} ({c.sealed_count} records), "
                     f"chain digest {c.sealed_digest.hex()}")
        else:
            head += "; nothing sealed yet"
        if c.unsealed:
            head += f"; {c.unsealed} records after the last seal are not sealed yet"
        lines.append(head + " — intact")
    lines.extend(f"unreadable: {problem}" for problem in report.problems)
    if report.published is not None:
        lines.append(f"published digest {report.published}: " + (
            "sealed in this log" if report.published_found else
            "NOT FOUND among the seals: the log was truncated or rewritten"))
    if not report.chains and not report.problems:
        lines.append("the log is empty")
    lines.append("verified: the log matches its seals" if report.ok else
                 "verification FAILED")
    return lines
