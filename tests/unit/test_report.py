"""`collbot report`: figures on a small campaign built in the test, the terminal table and the HTML file."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.campaign.report import Figures, Report, build_report, cells, share
from bot.campaign.report_html import render, write_html
from bot.domain import CallResult, Debtor, Outcome
from bot.errors import StoreError
from bot.store.records import Payment
from bot.store.repo import Store, open_store
from tests.cli import collbot as _collbot


def collbot(*args: str, cwd: Path):
    return _collbot(*args, cwd=cwd, database=True)

SEOUL = ZoneInfo("Asia/Seoul")
MORNING = dt.datetime(2026, 3, 2, 0, 30, tzinfo=dt.UTC)  # 09:30 in Seoul
EVENING = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)  # 19:00 in Seoul
NOW = dt.datetime(2026, 3, 10, 3, 0, tzinfo=dt.UTC)


class Clock:
    def __init__(self) -> None:
        self.now = MORNING

    def __call__(self) -> dt.datetime:
        return self.now


def call(store: Store, clock: Clock, debtor: str, round: str, at: dt.datetime, result: CallResult,
         outcome: Outcome | None = None, script: str | None = None, **detail: str) -> None:
    clock.now = at
    attempt = store.create_attempt(debtor, phone_of(debtor), campaign="m1", round=round, script=script)
    store.mark_dialing(attempt)
    store.record_result(attempt, result, 16)
    if result == CallResult.ANSWERED:
        store.mark_answered(attempt)
    clock.now = at + dt.timedelta(minutes=1)
    store.finish_attempt(attempt, outcome, dict(detail), 16)


def phone_of(debtor: str) -> str:
    return f"+8210555000{debtor[-1]}0"


def build(url: str) -> Store:
    """Five debtors: a promise kept, one pending, one broken, a wrong number and one never reached.

    The morning attempts record no script (as before revision 0004), the evening ones 'short'."""
    clock = Clock()
    store = open_store(url, clock=clock)
    store.upsert_debtors([Debtor(id=f"D-{i}", name="Kim", phone=phone_of(f"D-{i}"), amount=Decimal("300000"))
                          for i in range(1, 6)])
    store.ensure_campaign("m1")
    call(store, clock, "D-1", "morning", MORNING, CallResult.ANSWERED, Outcome.PROMISE_TO_PAY,
         promise_date="2026-03-05", promise_amount="100000")
    call(store, clock, "D-2", "morning", MORNING, CallResult.NO_ANSWER)
    call(store, clock, "D-3", "morning", MORNING, CallResult.ANSWERED, Outcome.WRONG_NUMBER)
    call(store, clock, "D-4", "morning", MORNING, CallResult.BUSY)
    call(store, clock, "D-5", "morning", MORNING, CallResult.NO_ANSWER)
    call(store, clock, "D-2", "evening", EVENING, CallResult.ANSWERED, Outcome.PROMISE_TO_PAY, "short",
         promise_date="2026-03-20")  # no amount said: the whole debt
    call(store, clock, "D-4", "evening", EVENING, CallResult.ANSWERED, Outcome.PROMISE_TO_PAY, "short",
         promise_date="2026-03-06", promise_amount="50000")
    store.add_payments([
        Payment("D-1", Decimal("100000"), dt.datetime(2026, 3, 4, 12, tzinfo=SEOUL)),
        Payment("D-4", Decimal("10000"), dt.datetime(2026, 3, 5, 12, tzinfo=SEOUL)),
        Payment("D-3", Decimal("300000"), dt.datetime(2026, 3, 1, 23, 59, tzinfo=SEOUL)),  # the day before
    ])
    return store


@pytest.fixture
def report(database_url: str) -> Report:
    with build(database_url) as store:
        return build_report(store, "m1", zone=SEOUL, now=NOW, script="reminder-ko")


def numbers(f: Figures) -> tuple[object, ...]:
    return (f.debtors, f.attempts, f.reached, f.right_party, f.promises, f.kept, f.broken, f.pending,
            krw(f.promised), krw(f.recovered))


def krw(sums: dict[str, Decimal]) -> Decimal:
    """Every debtor of this fixture owes KRW: one sum, in KRW only."""
    assert set(sums) <= {"KRW"}, sums
    return sums.get("KRW", Decimal(0))


def test_totals(report: Report) -> None:
    assert numbers(report.total) == (5, 7, 4, 3, 3, 1, 1, 1, Decimal("450000"), Decimal("110000"))
    assert cells(report.total)[-2:] == ["450,000.00 KRW", "110,000.00 KRW"]
    assert (report.total.reach_rate, report.total.ptp_rate, report.total.kept_rate) == (0.8, 0.75, 0.5)
    assert report.first_attempt == MORNING
    assert cells(report.total)[3:7] == ["4 (80.0%)", "3 (75.0%)", "3 (75.0%)", "1 (50.0%)"]


def test_breakdowns_by_round_hour_and_script(report: Report) -> None:
    by_round = {f.label: numbers(f) for f in report.by_round}
    assert by_round == {
        "morning": (5, 5, 2, 1, 1, 1, 0, 0, Decimal("100000"), Decimal("110000")),  # D-4 was called too
        "evening": (2, 2, 2, 2, 2, 0, 1, 1, Decimal("350000"), Decimal("10000")),
    }
    assert {f.label: numbers(f) for f in report.by_hour} == {"09:00": by_round["morning"],
                                                             "19:00": by_round["evening"]}
    assert {f.label: numbers(f) for f in report.by_script} == {"reminder-ko": by_round["morning"],
                                                               "short": by_round["evening"]}


def test_hours_follow_the_time_zone(database_url: str) -> None:
    with build(database_url) as store:
        report = build_report(store, "m1", zone=ZoneInfo("UTC"), now=NOW)
    assert [f.label for f in report.by_hour] == ["00:00", "10:00"]
    assert {f.label for f in report.by_script} == {"(not recorded)", "short"}


def test_nothing_to_divide_by_is_a_dash(tmp_path: Path) -> None:
    with open_store(f"sqlite:///{tmp_path / 'c.db'}") as store:
        store.ensure_campaign("empty")
        report = build_report(store, "empty", zone=SEOUL, now=NOW)
    assert numbers(report.total)[:8] == (0,) * 8
    assert report.total.reach_rate is None and share(0, 0) == "0 (-)"
    assert report.by_round == [] and "<svg" in render(report)


def test_unknown_campaign_is_a_store_error(tmp_path: Path) -> None:
    with open_store(f"sqlite:///{tmp_path / 'c.db'}") as store, pytest.raises(StoreError, match="no campaign"):
        build_report(store, "nope", zone=SEOUL, now=NOW)


def test_html_is_one_self_contained_file(report: Report, tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    path = tmp_path / "out" / "r.html"
    write_html(report, path)
    page = path.read_text(encoding="utf-8")
    assert "<svg" in page and "reach rate" in page and "80.0%" in page
    for reference in ("http://", "https://", "<link", "src=", "url("):
        assert reference not in page
    assert [p.name for p in path.parent.iterdir()] == ["r.html"]  # no temporary file left, nothing beside it


def test_html_escapes_names(report: Report) -> None:
    page = render(Report(**{**{f: getattr(report, f) for f in Report.__slots__}, "campaign": "<b>&"}))
    assert "<b>&" not in page and "&lt;b&gt;&amp;" in page




def test_cli_prints_tables_and_writes_html(tmp_path: Path) -> None:
    build(f"sqlite:///{tmp_path / 'c.db'}").close()
    done = collbot("report", "m1", "--html", "r.html", "--script", "reminder-ko", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "m1: by round" in done.stdout and "4 (80.0%)" in done.stdout and "reminder-ko" in done.stdout
    assert "<svg" in (tmp_path / "r.html").read_text(encoding="utf-8")


@pytest.mark.parametrize(("args", "expected"), [
    (("report", "nope"), "no campaign 'nope'"),
    (("report", "m1", "--timezone", "Nowhere/City"), "--timezone 'Nowhere/City'"),
    (("report", "m1", "--html", "missing-dir/r.html"), "cannot write the report"),
])
def test_cli_bad_input_is_one_line_and_exit_1(tmp_path: Path, args: tuple[str, ...], expected: str) -> None:
    build(f"sqlite:///{tmp_path / 'c.db'}").close()
    done = collbot(*args, cwd=tmp_path)
    assert done.returncode == 1
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("collbot: error: ") and expected in lines[0], done.stderr


def test_payments_dated_on_the_first_day_count_as_recovered(database_url: str) -> None:
    with build(database_url) as store:
        store.add_payments([Payment("D-5", Decimal("5000"), dt.datetime(2026, 3, 2, tzinfo=SEOUL))])  # a date only
        report = build_report(store, "m1", zone=SEOUL, now=NOW)
    assert report.total.recovered == {"KRW": Decimal("115000")}


def test_amounts_are_summed_per_currency_never_across(database_url: str) -> None:
    with build(database_url) as store:
        store.upsert_debtor(Debtor(id="D-9", name="Wang", phone=phone_of("D-9"), amount=Decimal("3000"),
                                   currency="CNY"))
        call(store, Clock(), "D-9", "evening", EVENING, CallResult.ANSWERED, Outcome.PROMISE_TO_PAY,
             promise_date="2026-03-20")  # the whole debt: 3,000 CNY
        report = build_report(store, "m1", zone=SEOUL, now=NOW)
    assert report.total.promised == {"CNY": Decimal("3000"), "KRW": Decimal("450000")}
    assert cells(report.total)[-2] == "3,000.00 CNY + 450,000.00 KRW"
    assert "453,000" not in render(report)
    assert "3,000.00 CNY + 450,000.00 KRW" in render(report)


def test_status_shows_amounts_per_currency(tmp_path: Path) -> None:
    from bot.campaign.commands import status_of
    from bot.config import DatabaseSettings, Settings

    url = f"sqlite:///{tmp_path / 'c.db'}"
    with build(url) as store:
        store.upsert_debtor(Debtor(id="D-9", name="Wang", phone=phone_of("D-9"), amount=Decimal("3000"),
                                   currency="CNY"))
        call(store, Clock(), "D-9", "evening", EVENING, CallResult.ANSWERED, Outcome.PROMISE_TO_PAY,
             promise_date="2026-03-20")
    info = status_of(Settings(database=DatabaseSettings(url=url)), "m1")
    assert info["promised"] == "3,000.00 CNY + 450,000.00 KRW"
