"""The log as an archive for offline checking: JSON lines, one record each, in log order.

Each line is `{"partition":P,"offset":O,"event":E}` where E is the record's stored bytes
verbatim (the event's canonical JSON), so an auditor hashes exactly what the log holds.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from services.eventlog.port import EventLog

LOG_FILE = "log.jsonl"
_LINE = re.compile(rb'^\{"partition":(\d+),"offset":(\d+),"event":(.*)\}$', re.DOTALL)


class ArchiveError(ValueError):
    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}")
        self.line, self.reason = line, reason


def line(partition: int, offset: int, raw: bytes) -> bytes:
    return b'{"partition":%d,"offset":%d,"event":%s}\n' % (partition, offset, raw)


def write(log: EventLog, path: Path, end: dict[int, int] | None = None) -> int:
    """Write every record up to `end` (default: the end now), partition by partition."""
    with open(path, "wb") as out:
        return write_to(log, out, end)


def write_to(log: EventLog, out: IO[bytes], end: dict[int, int] | None = None) -> int:
    """`write`, into an open binary file."""
    end = log.end_offsets() if end is None else end
    count = 0
    for partition in sorted(end):
        start = {p: (0 if p == partition else o) for p, o in end.items()}
        for record in log.scan(start, {partition: end[partition]}):
            out.write(line(record.partition, record.offset, record.raw))
            count += 1
    return count


def read(path: Path) -> Iterator[tuple[int, int, bytes]]:
    """(partition, offset, bytes) per line; a line that is not a record is an ArchiveError."""
    if path.is_dir():
        path = path / LOG_FILE
    with open(path, "rb") as lines:
        for number, text in enumerate(lines, start=1):
            match = _LINE.match(text.rstrip(b"\n"))
            if match is None:
                raise ArchiveError(number, "not an archive record "
                                           '({"partition":…,"offset":…,"event":…})')
            yield int(match[1]), int(match[2]), match[3]
