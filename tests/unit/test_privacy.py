"""Forget and retention: a database dump holds no name or number after `forget`; purge removes audio and
transcripts but keeps the ledger; key and database files are not world-readable."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import stat
from decimal import Decimal
from pathlib import Path

import pytest

from bot.config import AsteriskSettings, DatabaseSettings, PrivacySettings, Settings
from bot.domain import CallResult, Debtor, DialogueEvent, EventKind, Outcome
from bot.errors import StoreError
from bot.privacy.forget import forget
from bot.privacy.keys import load_key, number_hash
from bot.privacy.prompts import PROMPTS_MANIFEST, prompt_digest
from bot.privacy.purge import purge
from bot.store.repo import open_store

NAME = "홍길동"
PHONE = "+821055512345"
ALT = "+821055567890"
NOW = dt.datetime(2026, 12, 7, 3, 0, tzinfo=dt.UTC)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(database=DatabaseSettings(url=f"sqlite:///{tmp_path / 'c.db'}"),
                    asterisk=AsteriskSettings(root=tmp_path / "ast"),
                    privacy=PrivacySettings(key_file=tmp_path / "keys" / "collbot.key", retention_days=30))


def call(settings: Settings, at: dt.datetime, *, finish: bool = True) -> str:
    with open_store(settings.database.url, clock=lambda: at) as store:
        store.upsert_debtor(Debtor("D-1", NAME, PHONE, Decimal(300000), currency="KRW", alt_phone=ALT,
                                   extra={"note": f"{NAME} works nights"}, timezone="Asia/Seoul"))
        attempt = store.create_attempt("D-1", PHONE)
        store.mark_dialing(attempt)
        store.record_result(attempt, CallResult.ANSWERED, None)
        store.mark_answered(attempt)
        store.add_event(attempt, DialogueEvent(EventKind.PROMPT, {"text": f"{NAME}님, 안녕하세요"}, at=at))
        store.add_event(attempt, DialogueEvent(EventKind.RECOGNITION, {"text": f"제 번호는 {PHONE[3:]}"}, at=at))
        store.add_event(attempt, DialogueEvent(EventKind.STATE, {"step": "greet"}, at=at))
        if finish:
            store.finish_attempt(attempt, Outcome.OPT_OUT, {"heard": NAME}, 16)
            store.suppress(PHONE, "opt_out", "D-1")
    turn = settings.host_path(settings.asterisk.spool_dir) / attempt / "turn-01.wav"
    turn.parent.mkdir(parents=True)
    turn.write_bytes(b"RIFF....")
    # The prompts the call played, as AgiChannel notes them: one with the name, one without.
    cache = settings.tts_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    for text, name in ((f"{NAME}님, 안녕하세요", "named.wav"), ("감사합니다", "shared.wav")):
        (cache / name).write_bytes(b"RIFF")
        with (turn.parent / PROMPTS_MANIFEST).open("a", encoding="ascii") as manifest:
            manifest.write(f"{prompt_digest(text)} {name}\n")
    return attempt


def dump(settings: Settings) -> str:
    connection = sqlite3.connect(settings.database.url.removeprefix("sqlite:///"))
    try:
        return "\n".join(connection.iterdump())
    finally:
        connection.close()


def test_forget_leaves_no_name_or_number_in_the_database_and_keeps_the_ledger(settings: Settings) -> None:
    attempt = call(settings, NOW - dt.timedelta(days=1))
    before = dump(settings)
    assert NAME in before and PHONE in before and PHONE[3:] in before  # the test can fail
    report = forget(settings, "D-1", by="dpo")
    assert (report.attempts, report.recordings, report.prompts) == (1, 1, 1)
    assert not (settings.tts_cache_dir() / "named.wav").exists()  # the prompt that spoke the name
    assert (settings.tts_cache_dir() / "shared.wav").exists()  # others' prompts stay
    after = dump(settings)
    for secret in (NAME, PHONE, PHONE[1:], PHONE[3:], ALT, ALT[3:]):
        assert secret not in after
    assert not (settings.host_path(settings.asterisk.spool_dir) / attempt).exists()
    key = load_key(settings.privacy.key_file)
    with open_store(settings.database.url) as store:
        assert len(store.history("D-1")) == 1  # caps still count the call
        assert store.suppression(number_hash(PHONE, key)) == "opt_out"  # and the opt-out still holds
        [kept] = store.attempts_for("D-1")
        assert (kept.outcome, kept.result) == (Outcome.OPT_OUT, CallResult.ANSWERED)
        from bot.campaign.spec import DebtorFilter

        assert store.debtors_for(DebtorFilter(), today=NOW.date()) == []  # never selected again
    assert stat.S_IMODE(settings.privacy.key_file.stat().st_mode) == 0o600


def test_forget_refuses_an_unknown_debtor_and_a_call_in_flight(settings: Settings) -> None:
    with pytest.raises(StoreError, match="no debtor 'nobody'"):
        forget(settings, "nobody", by="dpo")
    call(settings, NOW, finish=False)
    with pytest.raises(StoreError, match="has a call in flight"):
        forget(settings, "D-1", by="dpo")
    assert NAME in dump(settings)  # nothing half-erased


def test_purge_removes_old_audio_and_transcripts_but_keeps_the_ledger(settings: Settings) -> None:
    old = call(settings, NOW - dt.timedelta(days=31))
    with open_store(settings.database.url, clock=lambda: NOW) as store:
        store.upsert_debtor(Debtor("D-2", "Lee", "+821055500002", Decimal(3000), currency="CNY"))
    preview = purge(settings, now=NOW, dry_run=True)
    assert (preview.attempts, preview.recordings, preview.transcripts) == (1, 1, 2)
    assert (settings.host_path(settings.asterisk.spool_dir) / old).exists()
    done = purge(settings, now=NOW)
    assert (done.recordings, done.transcripts) == (1, 2)
    assert not (settings.host_path(settings.asterisk.spool_dir) / old).exists()
    with open_store(settings.database.url) as store:
        kinds = [(e.kind, e.data) for e in store.events_for(old)]
        assert (EventKind.RECOGNITION, {"purged": True}) in kinds
        assert (EventKind.STATE, {"step": "greet"}) in kinds
        assert store.attempts_for("D-1")[0].outcome == Outcome.OPT_OUT
    assert purge(settings, now=NOW).transcripts == 0  # idempotent


def test_recent_calls_are_not_purged(settings: Settings) -> None:
    recent = call(settings, NOW - dt.timedelta(days=29))
    assert purge(settings, now=NOW).attempts == 0
    assert (settings.host_path(settings.asterisk.spool_dir) / recent).exists()


def test_the_database_file_is_not_world_readable(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "new.db"
    with open_store(f"sqlite:///{path}"):
        pass
    assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0


def test_a_kr_campaign_keeps_audio_90_days_and_serve_purges_it(settings: Settings) -> None:
    import asyncio
    import json
    import urllib.request

    from bot.config import MetricsSettings
    from bot.privacy.service import beside_serve

    old = NOW - dt.timedelta(days=100)  # past kr's 90 days, within the setting's 180
    with open_store(settings.database.url, clock=lambda: old) as store:
        store.upsert_debtor(Debtor("K-1", NAME, PHONE, Decimal(1), timezone="Asia/Seoul"))
        store.save_definition("k", source_path="k.yaml", text="campaign: k\ncompliance: {pack: kr}\n", sha256="0" * 64)
        store.ensure_campaign("k")
        attempt = store.create_attempt("K-1", PHONE, campaign="k", round="first")
        store.mark_dialing(attempt)
        store.record_result(attempt, CallResult.NO_ANSWER, 19)
        store.finish_attempt(attempt, None, {}, 19)
    folder = settings.host_path(settings.asterisk.spool_dir) / attempt
    folder.mkdir(parents=True)
    (folder / "turn-01.wav").write_bytes(b"RIFF")
    assert purge(settings, now=NOW, dry_run=True).recordings == 1
    serving = settings.model_copy(update={"metrics": MetricsSettings(port=0)})

    async def main() -> dict[str, object]:
        with open_store(settings.database.url) as store:
            async with beside_serve(serving, store, lambda: ["k"]) as port:
                for _ in range(100):  # the purge runs at start, in a worker thread
                    if not folder.exists():
                        break
                    await asyncio.sleep(0.05)
                body = await asyncio.to_thread(
                    lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5).read())
                return json.loads(body)

    health = asyncio.run(main())
    assert not folder.exists()
    assert health == {"status": "ok", "database": "ok", "campaigns_running": ["k"]}



def test_forget_keeps_a_suppression_another_debtor_shares(settings: Settings) -> None:
    call(settings, NOW - dt.timedelta(days=1))  # D-1 opted out on PHONE
    with open_store(settings.database.url) as store:
        store.upsert_debtor(Debtor("D-2", "Park", PHONE, Decimal(5), currency="KRW"))  # same family phone
    forget(settings, "D-1", by="dpo")
    with open_store(settings.database.url) as store:
        assert store.suppression(PHONE) == "opt_out"  # D-2 is still never called on it
        assert store.get_debtor("D-1").name == ""


async def test_the_session_marks_prompts_that_speak_the_debtors_data() -> None:
    from bot.commands import compiled_script
    from bot.dialogue.session import ScriptRun
    from bot.telephony.channel import TextChannel

    script = compiled_script(Settings(), Path(__file__).parents[2] / "scripts" / "reminder-ko.yaml")
    debtor = Debtor("D1", NAME, PHONE, Decimal(300000), currency="KRW", due_date=dt.date(2026, 1, 1), language="ko")
    events: list[DialogueEvent] = []

    async def record(event: DialogueEvent) -> None:
        events.append(event)

    await ScriptRun(script, debtor, today=dt.date(2026, 1, 2), record=record).run(TextChannel(["네", "못 내요"]))
    prompts = [e.data for e in events if e.kind is EventKind.PROMPT]
    flagged = {str(p["text"]): p.get("personal", False) for p in prompts}
    # The greeting names them; the question says the amount (no name): both are personal.
    assert [personal for text, personal in flagged.items() if NAME in text] == [True]
    assert any(personal and "삼십 만" in text and NAME not in text for text, personal in flagged.items())
    assert any(not personal for personal in flagged.values())  # the script's fixed goodbye is shared


def cached(settings: Settings, folder: Path, prompts: dict[str, str], *, age_days: float) -> None:
    """Cached WAVs (name -> text) a call played, noted in its manifest, last used ``age_days`` ago."""
    cache = settings.tts_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in prompts.items():
        (cache / name).write_bytes(b"RIFF")
        used = (NOW - dt.timedelta(days=age_days)).timestamp()
        os.utime(cache / name, (used, used))
        with (folder / PROMPTS_MANIFEST).open("a", encoding="ascii") as manifest:
            manifest.write(f"{prompt_digest(text)} {name}\n")


def test_purge_deletes_the_personal_prompts_of_expired_calls_unless_used_since(settings: Settings) -> None:
    old = call(settings, NOW - dt.timedelta(days=31))  # played named.wav (the name) and shared.wav
    amount = "삼십 만 원을 납부해 주세요"
    with open_store(settings.database.url, clock=lambda: NOW) as store:
        store.add_event(old, DialogueEvent(EventKind.PROMPT, {"text": amount, "personal": True}, at=NOW))
        store.add_event(old, DialogueEvent(EventKind.PROMPT, {"text": "다시 걸겠습니다", "personal": True}, at=NOW))
    folder = settings.host_path(settings.asterisk.spool_dir) / old
    cached(settings, folder, {"amount.wav": amount}, age_days=31)
    cached(settings, folder, {"again.wav": "다시 걸겠습니다"}, age_days=2)  # another call played it since
    for name in ("named.wav", "shared.wav"):
        used = (NOW - dt.timedelta(days=31)).timestamp()
        os.utime(settings.tts_cache_dir() / name, (used, used))

    cache = settings.tts_cache_dir()
    assert purge(settings, now=NOW, dry_run=True).prompts == 2
    assert all((cache / n).exists() for n in ("named.wav", "amount.wav", "again.wav", "shared.wav"))
    done = purge(settings, now=NOW)
    assert done.prompts == 2 and "2 personal prompts" in done.line()
    assert not (cache / "named.wav").exists()  # spoke the name (an event from before the mark)
    assert not (cache / "amount.wav").exists()  # spoke the amount
    assert (cache / "again.wav").exists()  # used within the retention: the newer call's purge takes it
    assert (cache / "shared.wav").exists()  # nobody's data: shared by every call
    assert purge(settings, now=NOW).prompts == 0


def test_forget_deletes_the_prompts_that_spoke_the_amount(settings: Settings) -> None:
    attempt = call(settings, NOW - dt.timedelta(days=1))
    amount = "삼십 만 원을 납부해 주세요"
    with open_store(settings.database.url, clock=lambda: NOW) as store:
        store.add_event(attempt, DialogueEvent(EventKind.PROMPT, {"text": amount, "personal": True}, at=NOW))
    cached(settings, settings.host_path(settings.asterisk.spool_dir) / attempt, {"amount.wav": amount}, age_days=0)
    assert forget(settings, "D-1", by="dpo").prompts == 2  # the greeting with the name and the amount
    assert not (settings.tts_cache_dir() / "amount.wav").exists()
    assert (settings.tts_cache_dir() / "shared.wav").exists()
