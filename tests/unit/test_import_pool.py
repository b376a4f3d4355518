"""The import with worker processes: lines named by workers, duplicates across chunks, and an
interrupted import that leaves only whole batches and no rejects file half-written."""

from __future__ import annotations

import contextlib
import csv
import gc
import multiprocessing
from pathlib import Path

import pytest

from bot.campaign import importer
from bot.campaign.csvsafe import restore
from bot.campaign.importer import import_debtors
from bot.config import DialSettings
from bot.errors import StoreError
from bot.store.repo import open_store

DIAL = DialSettings()  # region KR
HEADER = "id,name,phone,amount,currency,due_date,note"


def _file(tmp_path: Path) -> tuple[Path, dict[int, str]]:
    """60 rows after a two-line record; every 7th row bad, every 11th repeating an id of an earlier chunk."""
    out, bad = [HEADER, 'Q0,Kim,010-5550-0000,5,KRW,2026-03-04,"two\nlines"'], {}
    for i in range(1, 61):
        line = i + 3  # the header, then the record on lines 2-3
        if i % 11 == 0:
            out.append(f"Q{i - 10},Kim,010-5550-{i:04d},5,KRW,2026-03-04,")
            bad[line] = f"duplicate id, first seen on line {i - 10 + 3}"
        elif i % 7 == 0:
            out.append(f"Q{i},Kim,060-700-{i:04d},5,KRW,2026-03-04,")  # premium rate, refused by a worker
            bad[line] = "phone: premium-rate numbers may not be dialled"
        else:
            out.append(f"Q{i},Kim,010-5550-{i:04d},5,KRW,2026-03-04,")
    path = tmp_path / "d.csv"
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return path, bad


def _rejects(path: Path) -> dict[int, str]:
    with open(path, encoding="utf-8-sig", newline="") as f:
        return {int(r[0]): restore(r[1]) for r in list(csv.reader(f))[1:]}


def test_rows_checked_by_workers_are_rejected_with_their_own_line(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importer, "CHUNK_ROWS", 4)  # duplicates fall in later chunks than their first rows
    path, bad = _file(tmp_path)
    with open_store(f"sqlite:///{tmp_path / 'd.db'}") as store:
        report = import_debtors(path, store, DIAL, workers=2, batch_rows=5)
        assert store.get_debtor("Q0").extra == {"note": "two\nlines"}
        assert store.get_debtor("Q1").phone == "+821055500001"  # the first row keeps the id, not line 25's
    assert (report.rows, report.rejected, report.imported) == (61, len(bad), 61 - len(bad))
    assert _rejects(report.rejects_path) == bad


def test_an_interrupted_import_keeps_whole_batches_and_no_rejects_file(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importer, "CHUNK_ROWS", 4)
    path, _ = _file(tmp_path)
    old = tmp_path / "d.rejects.csv"
    old.write_text("an earlier run's rejects\n")
    seen: list[int] = []
    before = set(multiprocessing.active_children())

    def progress(done: int, total: int, rows: int) -> None:
        seen.append(rows)
        if rows >= 30:
            raise KeyboardInterrupt  # Ctrl-C while rows are in flight in the workers

    with open_store(f"sqlite:///{tmp_path / 'd.db'}") as store:
        with pytest.raises(KeyboardInterrupt):
            import_debtors(path, store, DIAL, workers=2, batch_rows=5, progress=progress)
        stored = []
        for i in range(61):
            with contextlib.suppress(StoreError):
                stored.append(store.get_debtor(f"Q{i}"))
    # Each batch is one transaction: what is stored is whole batches of the first rows, complete.
    assert len(stored) % 5 == 0 and len(stored) < 61 - 13
    assert [d.id for d in stored] == [f"Q{i}" for i in range(61)
                                      if (i % 7 and i % 11) or i == 0][:len(stored)]
    assert all(d.phone.startswith("+8210555") and d.amount == 5 for d in stored)
    assert old.read_text() == "an earlier run's rejects\n"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no temporary file
    assert set(multiprocessing.active_children()) <= before  # the pool is shut down


def test_the_collector_threshold_is_the_callers_again_after_an_import(tmp_path: Path) -> None:
    before = gc.get_threshold()
    path, _ = _file(tmp_path)
    with open_store(f"sqlite:///{tmp_path / 'd.db'}") as store:
        seen: list[tuple[int, ...]] = []
        import_debtors(path, store, DIAL, workers=0, progress=lambda *_: seen.append(gc.get_threshold()))
    assert seen and all(t[0] >= importer.GC_ALLOCATIONS for t in seen)  # fewer passes while importing
    assert gc.get_threshold() == before
