"""`collbot payments import` and kept / broken / pending promises."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.campaign.payments import import_payments
from bot.campaign.promises import Promise, PromiseState, promise_from, promise_state
from bot.domain import Debtor
from bot.errors import ConfigError
from bot.store.records import Payment
from bot.store.repo import Store, open_store
from tests.cli import collbot as _collbot


def collbot(*args: str, cwd: Path):
    return _collbot(*args, cwd=cwd, database=True)

SEOUL = ZoneInfo("Asia/Seoul")
NOW = dt.datetime(2026, 3, 10, 3, 0, tzinfo=dt.UTC)  # 12:00 in Seoul


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    with open_store(database_url) as opened:
        opened.upsert_debtors([Debtor(id=f"D-{i}", name="Kim", phone=f"+8210555000{i:02d}", amount=Decimal("300000"))
                               for i in (1, 2)])
        yield opened


def write(tmp_path: Path, text: str, name: str = "p.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def rejects(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8-sig").splitlines()[1:]


def test_bad_rows_are_rejected_with_line_and_reason(store: Store, tmp_path: Path) -> None:
    path = write(tmp_path, "debtor_id,amount,paid_at,ref\n"
                           "D-1,100000,2026-03-04,a\n"
                           "D-1,-5,2026-03-04,b\n"
                           "\n"
                           "D-2,1000,2026-13-01,c\n"
                           "D-9,1000,2026-03-04,d\n"
                           "D 1,1000,2026-03-04,e\n"
                           "D-2,1000,2030-01-01,f\n"
                           'D-2,"1,500.50",2026-03-05 14:30,g\n'
                           "D-2,1000\n")
    report = import_payments(path, store, zone=SEOUL, now=NOW)
    assert (report.rows, report.imported, report.duplicate, report.rejected, report.blank) == (8, 2, 0, 6, 1)
    reasons = dict(line.split(",", 1) for line in rejects(report.rejects_path))
    assert "amount is negative" in reasons["3"]
    assert "paid_at '2026-13-01' is not an ISO date" in reasons["5"]
    assert "no debtor 'D-9'" in reasons["6"]
    assert "debtor_id may only contain" in reasons["7"]
    assert "in the future" in reasons["8"]
    assert "expected 4 fields" in reasons["10"]


def test_header_problems_are_one_config_error(store: Store, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"p.csv:1: missing required column\(s\): paid_at"):
        import_payments(write(tmp_path, "debtor_id,amount\nD-1,5\n"), store, zone=SEOUL, now=NOW)


def test_reimporting_the_same_file_counts_nothing_twice(store: Store, tmp_path: Path) -> None:
    path = write(tmp_path, "debtor_id,amount,paid_at\n"
                           "D-1,100000,2026-03-04\n"
                           "D-1,100000,2026-03-04T00:00:00+09:00\n"  # the same instant, written otherwise
                           "D-1,100000,2026-03-05\n"
                           "D-2,5.50,2026-03-05 09:00:00Z\n")
    first = import_payments(path, store, zone=SEOUL, now=NOW, batch_rows=2)
    assert (first.imported, first.duplicate, first.rejected) == (3, 1, 0)
    again = import_payments(path, store, zone=SEOUL, now=NOW)
    assert (again.imported, again.duplicate, again.rejected) == (0, 4, 0)
    with store._engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM payments").scalar() == 3


def test_naive_times_are_local_to_the_zone(store: Store, tmp_path: Path) -> None:
    from bot.campaign.payments import parse_paid_at

    assert parse_paid_at("2026-03-04", SEOUL, NOW) == dt.datetime(2026, 3, 3, 15, 0, tzinfo=dt.UTC)
    assert parse_paid_at("2026-03-04 10:00+00:00", SEOUL, NOW) == dt.datetime(2026, 3, 4, 10, tzinfo=dt.UTC)


def pay(day: int, amount: str, debtor: str = "D-1") -> Payment:
    return Payment(debtor_id=debtor, amount=Decimal(amount), paid_at=dt.datetime(2026, 3, day, 12, tzinfo=SEOUL))


PROMISE = Promise(debtor_id="D-1", made_at=dt.datetime(2026, 3, 2, 10, tzinfo=SEOUL), date=dt.date(2026, 3, 5),
                  amount=Decimal("100000"))


@pytest.mark.parametrize(("payments", "today", "state"), [
    ([], dt.date(2026, 3, 5), PromiseState.PENDING),
    ([], dt.date(2026, 3, 6), PromiseState.PENDING),  # the grace day
    ([], dt.date(2026, 3, 7), PromiseState.BROKEN),
    ([pay(4, "100000")], dt.date(2026, 3, 4), PromiseState.KEPT),  # kept early
    ([pay(6, "60000"), pay(3, "40000")], dt.date(2026, 3, 20), PromiseState.KEPT),  # in parts, last on grace day
    ([pay(7, "100000")], dt.date(2026, 3, 20), PromiseState.BROKEN),  # too late
    ([pay(1, "100000")], dt.date(2026, 3, 20), PromiseState.BROKEN),  # before the promise was made
    ([pay(4, "99999.99")], dt.date(2026, 3, 20), PromiseState.BROKEN),  # short
    ([pay(4, "100000", debtor="D-2")], dt.date(2026, 3, 20), PromiseState.BROKEN),  # someone else
    ([pay(4, "50000")], dt.date(2026, 3, 6), PromiseState.PENDING),
])
def test_promise_state(payments: list[Payment], today: dt.date, state: PromiseState) -> None:
    assert promise_state(PROMISE, payments, today=today, zone=SEOUL) == state


def test_promise_defaults_to_the_debt_and_the_day_of_the_call() -> None:
    made = dt.datetime(2026, 3, 2, 16, tzinfo=dt.UTC)  # already 3 March in Seoul
    promise = promise_from("D-1", made, {"promise_date": None}, Decimal("300000"), SEOUL)
    assert (promise.date, promise.amount) == (dt.date(2026, 3, 3), Decimal("300000"))
    promise = promise_from("D-1", made, {"promise_date": "2026-03-09", "promise_amount": "120000"},
                           Decimal("300000"), SEOUL)
    assert (promise.date, promise.amount) == (dt.date(2026, 3, 9), Decimal("120000"))




def test_cli_imports_and_reports_counts(tmp_path: Path) -> None:
    write(tmp_path, "id,name,phone,amount,currency,due_date\nD-1,Kim,010-5550-0012,300000,KRW,2026-03-01\n",
          "d.csv")
    assert collbot("import", "d.csv", cwd=tmp_path).returncode == 0
    write(tmp_path, "debtor_id,amount,paid_at\nD-1,1000,2026-03-04\nD-1,x,2026-03-04\n")
    done = collbot("payments", "import", "p.csv", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "imported 1, duplicate 0, rejected 1" in done.stdout
    assert "imported 0, duplicate 1, rejected 1" in collbot("payments", "import", "p.csv", cwd=tmp_path).stdout
    assert (tmp_path / "c.db").is_file()


@pytest.mark.parametrize(("content", "args", "expected"), [
    (None, (), "nope.csv"),
    ("debtor_id,amount\n", (), "p.csv:1: missing required column(s): paid_at"),
    ("debtor_id,amount,paid_at\n", ("--timezone", "Mars/Base"), "--timezone 'Mars/Base'"),
])
def test_cli_bad_input_is_one_line_and_exit_1(tmp_path: Path, content: str | None, args: tuple[str, ...],
                                              expected: str) -> None:
    name = "nope.csv" if content is None else "p.csv"
    if content is not None:
        write(tmp_path, content)
    done = collbot("payments", "import", name, *args, cwd=tmp_path)
    assert done.returncode == 1
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("collbot: error: ") and expected in lines[0], done.stderr
    assert not (tmp_path / "c.db").exists()
