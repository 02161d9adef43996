"""CSV cells no spreadsheet evaluates (services/spreadsheet.py), without I/O."""

from __future__ import annotations

import csv
import io

import pytest

from services.spreadsheet import neutral, original, write_rows

FORMULAS = ['=HYPERLINK("https://evil.example","open")', "@SUM(A1:A9)", "+1+1",
            "-2+3", "=cmd|' /C calc'!A0", "\t=1+1", "\r=1+1"]


@pytest.mark.parametrize("value", FORMULAS)
def test_a_formula_becomes_text_and_reads_back_as_it_was(value) -> None:
    cell = neutral(value)
    assert cell == "'" + value and original(cell) == value


@pytest.mark.parametrize("value", ["ترافیک ورودی", "a=b", "", "1-2", "{\"a\":1}"])
def test_ordinary_text_is_untouched(value) -> None:
    assert neutral(value) == value and original(value) == value


def test_a_leading_quote_is_doubled_so_reading_back_is_exact() -> None:
    assert neutral("'quoted") == "''quoted" and original(neutral("'quoted")) == "'quoted"


def test_numbers_stay_numbers() -> None:
    assert neutral(-5) == -5 and neutral(2.5) == 2.5 and neutral(None) is None


def test_every_cell_of_a_written_file_is_neutral() -> None:
    out = io.StringIO()
    assert write_rows(out, ["title", "=n"], [[v, -1] for v in FORMULAS]) == len(FORMULAS)
    header, *rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert header == ["title", "'=n"]
    assert [original(r[0]) for r in rows] == FORMULAS
    assert all(r[0].startswith("'") for r in rows) and {r[1] for r in rows} == {"-1"}
