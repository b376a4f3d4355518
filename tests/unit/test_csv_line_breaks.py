"""A CR, CRLF or LF inside a quoted CSV field belongs to the field: the record is not split, the
rows after it are read whole (issue 10), for debtors and payments alike."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.campaign.importer import import_debtors
from bot.campaign.payments import import_payments
from bot.config import DialSettings
from bot.domain import Debtor
from bot.store.repo import Store, open_store

BREAKS = [pytest.param("\r", id="lone-CR"), pytest.param("\r\n", id="CRLF"), pytest.param("\n", id="LF")]
ENDS = [pytest.param("\n", id="LF-file"), pytest.param("\r\n", id="CRLF-file")]


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    with open_store(database_url) as opened:
        yield opened


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "in.csv"
    path.write_bytes(text.encode("utf-8"))
    return path


@pytest.mark.parametrize("inner", BREAKS)
@pytest.mark.parametrize("end", ENDS)
def test_debtors(store: Store, tmp_path: Path, inner: str, end: str) -> None:
    rows = ["id,name,phone,amount,currency,due_date,note",
            f'D1,Kim,+821055550001,1000,KRW,2026-01-01,"one{inner}two"',
            "D2,Lee,+821055550002,1000,KRW,2026-01-01,plain",
            "D3,Park,+821055550003,x,KRW,2026-01-01,bad amount"]
    path = write(tmp_path, end.join(rows) + end)
    report = import_debtors(path, store, DialSettings(), workers=0)
    assert (report.rows, report.imported, report.rejected) == (3, 2, 1)
    assert store.get_debtor("D1").extra["note"] == f"one{inner}two"
    assert store.get_debtor("D2").extra["note"] == "plain"
    rejected = report.rejects_path.read_text(encoding="utf-8-sig").splitlines()[1:]
    # the line of D3 counts the break inside D1's note, whichever it is (universal newlines)
    assert len(rejected) == 1 and rejected[0].startswith("5,") and ",D3,Park," in rejected[0]


@pytest.mark.parametrize("inner", BREAKS)
@pytest.mark.parametrize("end", ENDS)
def test_payments(store: Store, tmp_path: Path, inner: str, end: str) -> None:
    store.upsert_debtors([Debtor(id=f"D-{i}", name="Kim", phone=f"+8210555000{i:02d}", amount=Decimal("9"))
                          for i in (1, 2)])
    rows = ["debtor_id,amount,paid_at,memo",
            f'D-1,1000,2026-03-04,"paid{inner}in cash"',
            "D-2,2000,2026-03-05,x",
            "D-2,oops,2026-03-05,y"]
    path = write(tmp_path, end.join(rows) + end)
    report = import_payments(path, store, zone=ZoneInfo("Asia/Seoul"),
                             now=dt.datetime(2026, 3, 10, tzinfo=dt.UTC))
    assert (report.rows, report.imported, report.rejected) == (3, 2, 1)
    rejected = report.rejects_path.read_text(encoding="utf-8-sig").splitlines()[1:]
    assert len(rejected) == 1 and rejected[0].startswith("5,") and "D-2,oops" in rejected[0]
