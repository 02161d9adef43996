"""CSV that is safe to open in a spreadsheet: the one rule for every CSV file Sada writes.

A cell that begins with `=`, `+`, `-`, `@`, a tab or a carriage return is a formula to
Excel, LibreOffice and Google Sheets: a citizen's title `=HYPERLINK("https://evil.example",
"open")` would become a live link, `@SUM(…)` or `=cmd|…` worse, on the auditor's machine. Such
a cell gets a leading `'` (OWASP's rule), which spreadsheets show as text and do not evaluate.
A cell that already begins with `'` gets one more, so a reader recovers every value exactly by
dropping one leading `'` from any cell that has one (`original`). Numbers stay numbers.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import IO, Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"


def neutral(value: Any) -> Any:
    """The value as a cell no spreadsheet evaluates."""
    if isinstance(value, str) and value.startswith((*FORMULA_STARTS, QUOTE)):
        return QUOTE + value
    return value


def original(cell: str) -> str:
    """The value a cell written by `neutral` holds."""
    return cell[1:] if cell.startswith(QUOTE) else cell


def write_rows(out: IO[str], columns: list[str], rows: Iterable[list[Any]]) -> int:
    """Write a header and the rows as CSV, every cell neutralised; the number of rows."""
    writer = csv.writer(out)
    writer.writerow([neutral(c) for c in columns])
    count = 0
    for row in rows:
        writer.writerow([neutral(v) for v in row])
        count += 1
    return count
