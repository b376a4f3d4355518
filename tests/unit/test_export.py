"""`collbot export`: a campaign's debtor view read in batches gives the same file as one at a time."""

from __future__ import annotations

import csv
import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from bot.campaign import export as export_module
from bot.campaign.csvsafe import restore
from bot.campaign.export import DEBTOR_COLUMNS, export
from bot.domain import CallResult, Debtor, Outcome
from bot.store.repo import Store, open_store


def _campaign(store: Store) -> None:
    store.upsert_debtors([Debtor(id=f"D{i}", name="=cmd()" if i == 3 else f"Kim {i}", phone=f"+8210555000{i:02d}",
                                 amount=Decimal("1234.5") * i) for i in range(1, 8)])
    store.ensure_campaign("c1")
    for debtor_id, outcome in [("D5", Outcome.PROMISE_TO_PAY), ("D2", None), ("D5", None), ("D3", Outcome.REFUSED),
                               ("D7", Outcome.PROMISE_TO_PAY), ("D1", None)]:
        attempt = store.create_attempt(debtor_id, store.get_debtor(debtor_id).phone, campaign="c1", round="r1")
        store.mark_dialing(attempt)
        store.record_result(attempt, CallResult.ANSWERED if outcome else CallResult.NO_ANSWER, 16)
        detail = {"promise_date": dt.date(2026, 3, 10), "promise_amount": "1000"} if outcome else {}
        store.finish_attempt(attempt, outcome, detail, 16)


def _read(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as f:
        return [{k: restore(v) for k, v in row.items()} for row in csv.DictReader(f)]


def test_debtor_view_in_batches_is_the_same_file(database_url: str, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    with open_store(database_url) as store:
        _campaign(store)
        assert export(store, "c1", tmp_path / "all.csv", attempts=False, full_phone=False, script="s") == 5
        monkeypatch.setattr(export_module, "DEBTORS_PER_QUERY", 2)  # three queries for five debtors
        assert export(store, "c1", tmp_path / "pairs.csv", attempts=False, full_phone=True, script="s") == 5
    rows, full = _read(tmp_path / "all.csv"), _read(tmp_path / "pairs.csv")
    assert list(rows[0]) == list(DEBTOR_COLUMNS)
    assert [r["debtor_id"] for r in rows] == ["D1", "D2", "D3", "D5", "D7"]
    assert rows[2]["name"] == "=cmd()" and "'=cmd()" in (tmp_path / "all.csv").read_text()
    d5 = rows[3]
    assert (d5["attempts"], d5["outcome"], d5["amount"], d5["phone"]) == ("2", "promise_to_pay", "6172.50",
                                                                        "+8210******05")
    assert [r | {"phone": ""} for r in rows] == [r | {"phone": ""} for r in full]
    assert full[3]["phone"] == "+821055500005"


@pytest.mark.parametrize("page", [1, 2, 3, 5])
@pytest.mark.parametrize("attempts", [False, True])
def test_any_page_size_gives_the_same_file(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           page: int, attempts: bool) -> None:
    # Pages of one debtor up to all of them; D5 has two attempts.
    with open_store(database_url) as store:
        _campaign(store)
        whole = export(store, "c1", tmp_path / "whole.csv", attempts=attempts, full_phone=False, script="s")
        monkeypatch.setattr(export_module, "DEBTORS_PER_PAGE", page)
        paged = export(store, "c1", tmp_path / "paged.csv", attempts=attempts, full_phone=False, script="s")
    assert whole == paged == (6 if attempts else 5)
    assert (tmp_path / "whole.csv").read_bytes() == (tmp_path / "paged.csv").read_bytes()
    if attempts:
        rows = _read(tmp_path / "paged.csv")
        assert [r["debtor_id"] for r in rows] == ["D1", "D2", "D3", "D5", "D5", "D7"]
        assert all(r["round"] == "r1" for r in rows)


def test_the_script_column_names_the_script_each_debtor_was_called_with(database_url: str, tmp_path: Path) -> None:
    with open_store(database_url) as store:
        store.upsert_debtors([Debtor(id=f"S{i}", name="Kim", phone=f"+8210555001{i:02d}", amount=Decimal(1))
                              for i in range(1, 4)])
        store.ensure_campaign("c2")
        for debtor_id, script in [("S1", "reminder-ko"), ("S2", None), ("S3", "short"), ("S3", "reminder-ko")]:
            attempt = store.create_attempt(debtor_id, store.get_debtor(debtor_id).phone, campaign="c2", round="r1",
                                           script=script)
            store.mark_dialing(attempt)
            store.record_result(attempt, CallResult.NO_ANSWER, 19)
            store.finish_attempt(attempt, None, {}, 19)
        export(store, "c2", tmp_path / "s.csv", attempts=False, full_phone=False, script="(from --script)")
    scripts = {row["debtor_id"]: row["script"] for row in _read(tmp_path / "s.csv")}
    assert scripts == {"S1": "reminder-ko", "S2": "(from --script)", "S3": "reminder-ko"}
