"""The debtor import's optional dpd and score columns: checked, stored, and defined when missing."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest

from bot.campaign.importer import import_debtors
from bot.config import DialSettings
from bot.store.repo import Store, open_store

TODAY = dt.date(2026, 12, 7)
HEADER = ["id", "name", "phone", "amount", "currency", "due_date", "dpd", "score"]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    with open_store(f"sqlite:///{tmp_path / 'c.db'}") as s:
        yield s


def write(path: Path, rows: list[list[str]], header: list[str] = HEADER) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([header, *rows])
    return path


def row(ident: str, dpd: str, score: str, n: int = 1) -> list[str]:
    return [ident, "Kim", f"010-5550-{n:04d}", "300000", "KRW", "2026-11-01", dpd, score]


def test_dpd_and_score_are_stored_and_missing_values_are_defined(tmp_path: Path, store: Store) -> None:
    path = write(tmp_path / "d.csv", [row("A", "45", "0.82", 1), row("B", "", "", 2), row("C", "0", "1000", 3)])
    report = import_debtors(path, store, DialSettings(), workers=0, today=TODAY)
    assert (report.imported, report.rejected) == (3, 0)
    a, b, c = (store.get_debtor(i) for i in "ABC")
    assert (a.overdue_since, a.score) == (TODAY - dt.timedelta(days=45), 0.82)
    assert (b.overdue_since, b.score) == (dt.date(2026, 11, 1), None)  # dpd from the due date; no score
    assert (c.overdue_since, c.score) == (TODAY, 1000.0)
    assert "dpd" not in a.extra and "score" not in a.extra
    # dpd moves on by itself: the case is 45 days past due on the import day, 55 ten days later
    assert store.get_case("A", today=TODAY).dpd == 45
    assert store.get_case("A", today=TODAY + dt.timedelta(days=10)).dpd == 55
    assert store.get_case("B", today=TODAY).dpd == 36


def test_bad_values_are_rejected_with_their_line_and_reason(tmp_path: Path, store: Store) -> None:
    bad = [("-3", "", "dpd '-3' is not a whole number of days past due (0 or more)"),
           ("4.5", "", "dpd '4.5' is not a whole number of days past due (0 or more)"),
           ("99999", "", "dpd 99999 is more than 36500 days"),
           ("", "high", "score 'high' is not a number from 0 to 1000 (write e.g. 0.82 or 640)"),
           ("", "1000.5", "score '1000.5' is above 1000"),
           ("", "nan", "score 'nan' is not a number from 0 to 1000 (write e.g. 0.82 or 640)"),
           ("", "-0.1", "score '-0.1' is not a number from 0 to 1000 (write e.g. 0.82 or 640)")]
    path = write(tmp_path / "d.csv", [row(f"X{i}", d, s, i) for i, (d, s, _) in enumerate(bad)])
    rejects = tmp_path / "rejects.csv"
    report = import_debtors(path, store, DialSettings(), workers=0, today=TODAY, rejects=rejects)
    assert (report.imported, report.rejected) == (0, len(bad))
    with rejects.open(encoding="utf-8-sig") as f:
        found = [(r["line"], r["reason"]) for r in csv.DictReader(f)]
    assert found == [(str(i + 2), reason) for i, (_, _, reason) in enumerate(bad)]


def test_a_file_without_the_columns_imports_as_before(tmp_path: Path, store: Store) -> None:
    path = write(tmp_path / "d.csv", [r[:6] for r in [row("A", "", "")]], HEADER[:6])
    import_debtors(path, store, DialSettings(), workers=0, today=TODAY)
    assert store.get_debtor("A").overdue_since == dt.date(2026, 11, 1)
    assert store.get_debtor("A").score is None
