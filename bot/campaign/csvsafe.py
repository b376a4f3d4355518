"""Cells written to CSV files people open in spreadsheets: formulas neutralized, numbers left alone.

A cell that starts with ``= + - @`` TAB or CR is run as a formula by Excel, LibreOffice and
Google Sheets (OWASP "CSV injection"); a leading apostrophe makes it text and is not shown.
``restore`` is the exact inverse for programs that read such a file back.
"""

from __future__ import annotations

import re

TRIGGERS = frozenset("=+-@\t\r")
# A signed number such as -3, +82, -1,234.50: nothing a spreadsheet can evaluate as a formula.
_PLAIN_NUMBER = re.compile(r"[+-]?[0-9]+(?:[.,][0-9]+)*")


def _dangerous(cell: str) -> bool:
    return cell[:1] in TRIGGERS and _PLAIN_NUMBER.fullmatch(cell) is None


def neutralize(cell: str) -> str:
    """``cell`` made inert for spreadsheets: a leading apostrophe if it could start a formula."""
    # Cells already starting with apostrophes get one more, so that ``restore`` is exact.
    if _dangerous(cell.lstrip("'")):
        return "'" + cell
    return cell


def restore(cell: str) -> str:
    """The original of a ``neutralize``d cell."""
    if cell.startswith("'") and _dangerous(cell.lstrip("'")):
        return cell[1:]
    return cell
