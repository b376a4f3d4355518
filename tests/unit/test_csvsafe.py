"""Spreadsheet formula injection: dangerous cells neutralized, numbers untouched, exact read-back."""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.campaign.csvsafe import TRIGGERS, neutralize, restore


@pytest.mark.parametrize(("cell", "written"), [
    ("=1+2", "'=1+2"),
    ("=HYPERLINK(\"http://evil\",\"x\")", "'=HYPERLINK(\"http://evil\",\"x\")"),
    ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
    ("-2+3", "'-2+3"),
    ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
    ("\t=1", "'\t=1"),
    ("\r=1", "'\r=1"),
    ("-", "'-"),
    ("+82 10 5550 0012", "'+82 10 5550 0012"),
    ("'=1", "''=1"),  # already apostrophed: one more, so that restore is exact
])
def test_formula_cells_get_an_apostrophe(cell: str, written: str) -> None:
    assert neutralize(cell) == written
    assert restore(written) == cell


@pytest.mark.parametrize("cell", [
    "-3", "+3", "-3.5", "-1,234.50", "+821055500012", "300000", "", "Kim", "김민준", "a=b", " =1", "'quoted", "1+1",
])
def test_numbers_and_plain_text_stay_as_they_are(cell: str) -> None:
    assert neutralize(cell) == cell
    assert restore(cell) == cell


@given(st.text())
def test_neutralize_is_inert_and_exactly_reversible(cell: str) -> None:
    written = neutralize(cell)
    assert restore(written) == cell
    assert written[:1] not in TRIGGERS or written == cell  # only plain numbers may start with a trigger


@given(st.lists(st.text(), max_size=6))
def test_a_neutralized_csv_row_reads_back_unchanged(cells: list[str]) -> None:
    buffer = io.StringIO(newline="")
    csv.writer(buffer).writerow([neutralize(c) for c in cells])
    buffer.seek(0)
    (row,) = list(csv.reader(buffer))
    assert [restore(c) for c in row] == cells
