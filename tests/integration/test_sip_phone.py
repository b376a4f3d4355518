"""A real SIP phone as a debtor: baresip registered to the sandbox over PJSIP, G.711 µ-law over
RTP, its microphone a WAV file, its keys RFC 4733 events (docs/sandbox.md)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from bot.campaign.commands import run_campaign
from bot.config import Settings
from bot.controller import CallReport, Controller, local_today
from bot.dialogue.compiler import CompiledScript
from bot.domain import CallResult, Debtor, EventKind, Outcome
from bot.speech.asr import Recognizer
from bot.speech.speaker import Speaker, speak
from bot.speech.tts import Synthesizer
from bot.store.repo import Store, open_store
from bot.telephony.sandbox import Sandbox
from bot.telephony.sip_phone import SipPhone
from tests.integration.conftest import SCRIPT
from tests.integration.test_campaign import mid_morning_zone

pytestmark = pytest.mark.integration

PHONE = "+821055590001"  # dialplans/collbot-sip.conf: the phone over G.711
CALL_LIMIT_S = 120.0


@pytest.fixture
async def phone(sandbox: Sandbox, sandbox_settings: Settings, tmp_path: Path) -> AsyncIterator[SipPhone]:
    async with SipPhone(tmp_path / "phone", registrar_port=sandbox_settings.sandbox.sip_port) as p:
        yield p


def _debtor(store: Store, debtor_id: str, number: str) -> Debtor:
    debtor = Debtor(debtor_id, "최유진", number, Decimal(120000))
    store.upsert_debtor(debtor)
    return debtor


async def _call(controller: Controller, debtor: Debtor, phone: SipPhone, replies: list[str | Path]) -> CallReport:
    customer = asyncio.create_task(phone.answer(replies))
    try:
        report = await asyncio.wait_for(controller.call(debtor), CALL_LIMIT_S)
    finally:
        customer.cancel()
    if customer.done() and not customer.cancelled() and customer.exception() is not None:
        raise customer.exception()  # type: ignore[misc]
    return report


def _story(store: Store, attempt_id: str) -> str:
    return "\n".join(f"{e.kind.value}: {e.data}" for e in store.events_for(attempt_id))


async def test_keyed_promise_from_a_sip_phone(controller: Controller, phone: SipPhone, store: Store) -> None:
    debtor = _debtor(store, "T-SIP-1", PHONE)
    report = await _call(controller, debtor, phone, ["1", "1"])  # it's me; I pay today
    assert report.result is CallResult.ANSWERED
    assert report.outcome is Outcome.PROMISE_TO_PAY, _story(store, report.attempt_id)
    assert report.detail["promise_date"] == local_today(debtor.phone).isoformat()
    events = store.events_for(report.attempt_id)
    assert [e.data.get("digit") for e in events if e.kind is EventKind.DTMF] == ["1", "1"]
    assert phone.sent_keys == ["1", "1"]
    await phone.wait_event("CALL_CLOSED", 10)
    heard = phone.heard()
    assert len(heard) > 5 * 8000, "the phone heard less than 5 s of the robot over RTP"
    assert max(abs(s) for s in heard) > 3000, "what the phone heard is silent"


@pytest.fixture(params=["agi", "audiosocket"])
async def any_controller(request: pytest.FixtureRequest, script: CompiledScript, sandbox: Sandbox,
                         sandbox_settings: Settings, store: Store) -> AsyncIterator[Controller]:
    """A controller on each call transport: the phone's audio takes both listening paths."""
    s = sandbox_settings.model_copy(update={"call": sandbox_settings.call.model_copy(
        update={"transport": request.param})})
    async with Synthesizer(s.tts_cache_dir(), rate=s.tts.rate, shape=s.prompt_shape()) as synth, \
            Recognizer(s.speech.model_dir, workers=s.speech.workers) as recognizer, \
            Controller(s, store, script=script, recognizer=recognizer, synth=synth) as ctl:
        yield ctl


async def test_spoken_promise_from_a_sip_phone(any_controller: Controller, phone: SipPhone, store: Store,
                                               tmp_path: Path) -> None:
    controller = any_controller
    voice = Speaker("ko", rate=170)
    # not "내일 낼게요": the Korean model hears espeak-ng's "내일" badly (personas.yaml says why)
    yes, later = await asyncio.gather(
        asyncio.to_thread(speak, "네", voice, tmp_path / "yes.wav", lead_ms=100, tail_ms=500),
        asyncio.to_thread(speak, "모레 낼게요", voice, tmp_path / "later.wav", lead_ms=100, tail_ms=500))
    debtor = _debtor(store, "T-SIP-2", PHONE)
    # it's me; I pay the day after tomorrow; yes (to the confirmation, if the robot asks for one)
    report = await _call(controller, debtor, phone, [yes, later, yes])
    assert report.result is CallResult.ANSWERED
    assert report.outcome is Outcome.PROMISE_TO_PAY, _story(store, report.attempt_id)
    assert report.detail["promise_date"] == (local_today(debtor.phone) + dt.timedelta(days=2)).isoformat()
    events = store.events_for(report.attempt_id)
    heard = [str(e.data["text"]) for e in events if e.kind is EventKind.RECOGNITION]
    assert heard[0] == "네" and "모레" in heard[1], _story(store, report.attempt_id)
    assert not [e for e in events if e.kind is EventKind.DTMF]


async def test_no_common_codec_is_its_own_result_with_a_warning(
        controller: Controller, phone: SipPhone, store: Store, caplog: pytest.LogCaptureFixture) -> None:
    # the carrier leg offers only A-law; the phone speaks only µ-law: it answers 488
    debtor = _debtor(store, "T-SIP-488", "+821055590488")
    with caplog.at_level("INFO", logger="bot.telephony.ami"):
        report = await asyncio.wait_for(controller.call(debtor), CALL_LIMIT_S)
    assert report.result is CallResult.REJECTED
    assert report.cause == 58  # Asterisk's cause for SIP 488 Not Acceptable Here
    assert report.outcome is None
    [attempt] = [a for a in store.attempts_for(debtor.id) if a.id == report.attempt_id]
    assert (attempt.result, attempt.state) == ("rejected", "completed")
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "rejected" in warnings[0], warnings
    assert not [e for e in phone.events if e.get("type") == "CALL_ESTABLISHED"]
    trace = (phone.dir / "baresip.log").read_text(errors="replace")
    assert "no common audio codecs" in trace and "SIP/2.0 488" in trace


async def test_campaign_calls_the_sip_phone_and_does_not_retry_a_rejection(
        sandbox: Sandbox, sandbox_settings: Settings, phone: SipPhone, tmp_path: Path) -> None:
    settings = sandbox_settings.model_copy(update={
        "database": sandbox_settings.database.model_copy(update={"url": f"sqlite:///{tmp_path}/campaign.db"})})
    zone = mid_morning_zone()
    people = {"T-SIPC-1": PHONE, "T-SIPC-2": "+821055590488"}
    with open_store(settings.database.url) as st:
        for debtor_id, number in people.items():
            st.upsert_debtor(Debtor(debtor_id, "최유진", number, Decimal(50000), timezone=zone))
    campaign = {
        "campaign": "it-sip-phone", "script": str(SCRIPT),
        "debtors": {"ids": list(people)},
        "schedule": {"timezone": zone, "start": "00:00", "end": "23:59:59"},
        "rounds": [{"name": "first", "retries": ["new"], "ring_timeout_s": 10}],
        "retry": {"failed": {"delay": "1s", "max_attempts": 3}},
        "limits": {"max_concurrent": 2, "originates_per_second": 5},
        "compliance": {"pack": "default"},
    }
    path = tmp_path / "campaign.yaml"
    path.write_text(yaml.safe_dump(campaign, allow_unicode=True))
    customer = asyncio.create_task(phone.answer(["1", "1"]))
    try:
        await asyncio.wait_for(run_campaign(settings, path, handle_signals=False), CALL_LIMIT_S)
    finally:
        customer.cancel()
    with open_store(settings.database.url) as st:
        latest = st.campaign_latest("it-sip-phone")
        assert latest["T-SIPC-1"].outcome is Outcome.PROMISE_TO_PAY
        assert latest["T-SIPC-2"].result == CallResult.REJECTED
        assert len(st.attempts_for("T-SIPC-2")) == 1  # a rejection is not retried
        assert st.campaign_status("it-sip-phone") == "finished"
    assert phone.sent_keys == ["1", "1"]
