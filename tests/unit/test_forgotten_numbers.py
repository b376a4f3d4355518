"""A forgotten debtor imported again under a new id with the same number: the suppression and the
calls kept under the number's keyed hash still match the plain number (caps and opt-outs hold), on
SQLite and PostgreSQL, in the store, inside the claim's transaction and in the dry run."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from bot.campaign import compliance
from bot.campaign.commands import dry_run
from bot.config import AsteriskSettings, DatabaseSettings, PrivacySettings, Settings
from bot.domain import CallResult, Debtor
from bot.privacy.forget import forget
from bot.privacy.keys import Hasher
from bot.store.ledger import ClaimRefused
from bot.store.repo import open_store

ROOT = Path(__file__).resolve().parents[2]
PHONE = "+821055512345"
OTHER = "+821055512399"
MONDAY_NOON = dt.datetime(2026, 12, 7, 3, 0, tzinfo=dt.UTC)  # 12:00 in Seoul


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(database=DatabaseSettings(url=database_url), asterisk=AsteriskSettings(root=tmp_path / "ast"),
                    privacy=PrivacySettings(key_file=tmp_path / "keys" / "collbot.key"))


def called(settings: Settings, debtor_id: str, phone: str, days_ago: list[int], *, opt_out: bool = False) -> None:
    for days in days_ago:
        at = MONDAY_NOON - dt.timedelta(days=days)
        with open_store(settings.database.url, clock=lambda at=at: at) as store:  # type: ignore[misc]
            attempt = store.create_attempt(debtor_id, phone)
            store.mark_dialing(attempt)
            store.record_result(attempt, CallResult.NO_ANSWER, 19)
            store.finish_attempt(attempt, None, {}, 19)
    if opt_out:
        with open_store(settings.database.url) as store:
            store.suppress(phone, "opt_out", debtor_id)


def reimported(settings: Settings, days_ago: list[int], *, opt_out: bool) -> None:
    """D-1 on PHONE, called on ``days_ago``, forgotten; the same person back as D-9."""
    with open_store(settings.database.url) as store:
        store.upsert_debtor(Debtor("D-1", "홍길동", PHONE, Decimal(300000), currency="KRW", timezone="Asia/Seoul"))
    called(settings, "D-1", PHONE, days_ago, opt_out=opt_out)
    forget(settings, "D-1", by="dpo")
    with open_store(settings.database.url) as store:
        store.upsert_debtor(Debtor("D-9", "홍길동", PHONE, Decimal(300000), currency="KRW", timezone="Asia/Seoul"))
        store.upsert_debtor(Debtor("D-8", "Park", OTHER, Decimal(1), currency="KRW", alt_phone=PHONE,
                                   timezone="Asia/Seoul"))


def decide(store_history: list[compliance.Attempt], suppressed: str | None = None) -> compliance.Decision:
    return compliance.decide(zones=("Asia/Seoul",), history=store_history, now=MONDAY_NOON,
                             rules=compliance.PACKS["kr"], suppressed=suppressed)


def test_the_suppression_kept_under_the_hash_matches_the_number_again(settings: Settings) -> None:
    reimported(settings, [3], opt_out=True)
    with open_store(settings.database.url) as store:
        assert store.suppression(PHONE) is None  # without the key the plain number cannot match (the test can fail)
    with open_store(settings.database.url, number_hash=Hasher(settings.privacy.key_file)) as store:
        assert store.suppression(PHONE) == "opt_out"
        assert store.suppression(OTHER) is None
        assert decide(store.history("D-9"), store.suppression(PHONE)).reason == "suppressed:opt_out"


def test_the_forgotten_calls_count_towards_the_caps_of_the_number_imported_again(settings: Settings) -> None:
    reimported(settings, [6, 5, 4, 3, 2, 1, 1], opt_out=False)
    hasher = Hasher(settings.privacy.key_file)
    with open_store(settings.database.url) as store:
        assert store.history("D-9") == []
    with open_store(settings.database.url, number_hash=hasher) as store:
        assert len(store.history("D-9")) == 7
        assert len(store.history("D-8")) == 7  # its alternative number was called 7 times too
        assert decide(store.history("D-9")).reason == "cap_7_days"
        # The claim reads the history again inside its transaction: refused there too.
        with pytest.raises(ClaimRefused, match="cap_7_days"):
            store.create_attempt("D-9", PHONE, gate=lambda history: decide(history))
    with open_store(settings.database.url, clock=lambda: MONDAY_NOON, number_hash=hasher) as store:
        store.upsert_debtor(Debtor("D-7", "Lee", "+821055512377", Decimal(1), timezone="Asia/Seoul"))
        assert store.history("D-7") == []  # nobody else's
        assert store.create_attempt("D-7", "+821055512377", gate=lambda history: decide(history))


def test_no_key_yet_means_nothing_was_forgotten(tmp_path: Path) -> None:
    hasher = Hasher(tmp_path / "none" / "collbot.key")
    assert hasher(PHONE) is None and not (tmp_path / "none").exists()  # looking never makes a key


def test_the_dry_run_shows_the_re_imported_number_as_suppressed(settings: Settings, tmp_path: Path) -> None:
    reimported(settings, [3], opt_out=True)
    path = tmp_path / "c.yaml"
    path.write_text(f"campaign: again\nscript: {ROOT / 'scripts' / 'reminder-ko.yaml'}\n"
                    "debtors: {ids: [D-9]}\n"
                    "schedule: {timezone: Asia/Seoul, start: '09:00', end: '18:00'}\n"
                    "rounds: [{name: first, retries: [new]}]\n", encoding="utf-8")
    [row] = dry_run(settings, path, MONDAY_NOON)
    assert (row.debtor_id, row.allow, row.reason) == ("D-9", False, "suppressed:opt_out")
