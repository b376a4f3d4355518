"""Keys pressed while no AGI command reads the call still reach the robot (through AMI).

Asterisk drops the caller's frames between two AGI commands. A loaded controller leaves a
hole between the end of a prompt and the start of the recording; these tests make that hole
on purpose (the robot starts listening late) and check the customer's keys are not lost.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping

import pytest

from bot.config import Settings
from bot.controller import Controller
from bot.dialogue.compiler import CompiledScript
from bot.domain import CallResult, Debtor, EventKind, Outcome
from bot.speech.asr import Recognizer
from bot.speech.tts import Synthesizer
from bot.store.repo import Store
from bot.telephony.agi_channel import AgiChannel
from bot.telephony.channel import ListenSpec
from bot.telephony.keys import KeyWatch
from bot.telephony.sandbox import Sandbox

pytestmark = pytest.mark.integration
KEYS_CUSTOMER = "+821055550103"  # presses 1 ("it's me") then 2 ("cannot pay") right after each prompt
LATE_S = 0.8  # the customer's key ends ~0.25 s after the prompt: well inside this hole
AMI_LAG_S = 3.0  # longer than the silent tail and the customer's pause together


@pytest.fixture
def late_listening(monkeypatch: pytest.MonkeyPatch) -> None:
    """The robot starts listening LATE_S after each prompt ended."""
    listen = AgiChannel.listen

    async def late(self: AgiChannel, spec: ListenSpec) -> object:
        await asyncio.sleep(LATE_S)  # as if the event loop were busy with a hundred other calls
        return await listen(self, spec)

    monkeypatch.setattr(AgiChannel, "listen", late)


@pytest.fixture
async def holey(script: CompiledScript, sandbox: Sandbox, sandbox_settings: Settings, store: Store,
                late_listening: None) -> AsyncIterator[Controller]:
    """A robot with a hole between each prompt and its recording, as the robot was before the
    recording started in the prompt's tail: the short tail it had (250 ms, so the customer's key
    ends after the prompt), no early start, and a late start of listening."""
    s = sandbox_settings.model_copy(update={
        "tts": sandbox_settings.tts.model_copy(update={"tail_ms": 250}),
        "listen": sandbox_settings.listen.model_copy(update={"early_start_ms": 0})})
    async with Synthesizer(s.tts_cache_dir(), rate=s.tts.rate, shape=s.prompt_shape()) as synth, \
            Recognizer(s.speech.model_dir, workers=s.speech.workers) as recognizer, \
            Controller(s, store, script=script, recognizer=recognizer, synth=synth) as ctl:
        yield ctl


def _dtmf_events(store: Store, attempt_id: str) -> list[Mapping[str, object]]:
    return [e.data for e in store.events_for(attempt_id) if e.kind is EventKind.DTMF]


async def test_key_pressed_before_the_recording_starts(holey: Controller, debtors: dict[str, Debtor],
                                                       store: Store) -> None:
    report = await holey.call(debtors[KEYS_CUSTOMER])
    assert (report.result, report.outcome) == (CallResult.ANSWERED, Outcome.REFUSED)
    events = _dtmf_events(store, report.attempt_id)
    assert [e["digit"] for e in events] == ["1", "2"]
    for event in events:  # taken from AMI before the recording began
        timing = event["timing"]
        assert isinstance(timing, dict)
        assert timing["gap_ms"] >= LATE_S * 1000 and timing["lost_key"] == 1


async def test_key_reported_after_the_recording_started_is_replayed(
        holey: Controller, debtors: dict[str, Debtor], store: Store,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # AMI delivers the key (and the AGI command events around it, in order) only after the
    # recording has begun: the robot replays the key into the channel to end that recording.
    on_event = KeyWatch.on_event
    replayed: list[str] = []

    def slow(self: KeyWatch, event: Mapping[str, object]) -> None:
        asyncio.get_running_loop().call_later(LATE_S + 0.5, on_event, self, dict(event))

    monkeypatch.setattr(KeyWatch, "on_event", slow)
    replay = holey.ami.replay_key

    async def counted(channel: str, digit: str) -> None:
        replayed.append(digit)
        await replay(channel, digit)

    monkeypatch.setattr(holey.ami, "replay_key", counted)
    report = await holey.call(debtors[KEYS_CUSTOMER])
    assert (report.result, report.outcome) == (CallResult.ANSWERED, Outcome.REFUSED)
    assert [e["digit"] for e in _dtmf_events(store, report.attempt_id)] == ["1", "2"]
    assert replayed == ["1", "2"]


async def test_without_ami_keys_the_hole_loses_the_key(holey: Controller, debtors: dict[str, Debtor],
                                                       store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    # The control: the same late robot, with the AMI key events ignored, does not hear the keys.
    monkeypatch.setattr(KeyWatch, "on_event", lambda self, event: None)
    report = await holey.call(debtors[KEYS_CUSTOMER])
    assert report.result is CallResult.ANSWERED
    assert report.outcome is not Outcome.REFUSED
    assert _dtmf_events(store, report.attempt_id) == []


@pytest.mark.usefixtures("late_listening")
async def test_speech_right_after_the_prompt_is_heard_whole(controller: Controller, debtors: dict[str, Debtor],
                                                            store: Store) -> None:
    # The turn's first recording starts inside the prompt's silent tail, before the prompt's
    # reply is even read, so a robot late to listen does not cut the start of the answer.
    await _heard_whole_from_the_tail(controller, debtors, store)


@pytest.mark.usefixtures("late_listening")
async def test_a_lagging_ami_does_not_make_the_recording_late(
        controller: Controller, debtors: dict[str, Debtor], store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    # Under load AMI events arrive seconds late. The recording is timed from when the robot
    # sent the prompt, so it still starts inside the prompt's tail and hears the whole answer,
    # even with no Timestamp on the events (manager.conf without timestampevents).
    on_event = KeyWatch.on_event

    def lagging(self: KeyWatch, event: Mapping[str, object]) -> None:
        late = {k: v for k, v in event.items() if k != "Timestamp"}
        asyncio.get_running_loop().call_later(AMI_LAG_S, on_event, self, late)

    monkeypatch.setattr(KeyWatch, "on_event", lagging)
    await _heard_whole_from_the_tail(controller, debtors, store)


async def _heard_whole_from_the_tail(controller: Controller, debtors: dict[str, Debtor], store: Store) -> None:
    """A customer who answers right after each prompt is heard whole, each turn recorded from
    inside the prompt's silent tail."""
    report = await controller.call(debtors["+821055550101"])  # "네", "모레 낼게요", "네" (confirms if asked)
    assert (report.result, report.outcome) == (CallResult.ANSWERED, Outcome.PROMISE_TO_PAY)
    heard = [e.data for e in store.events_for(report.attempt_id) if e.kind is EventKind.RECOGNITION]
    assert heard[0]["text"] == "네" and "모레" in str(heard[1]["text"])
    assert len(heard) in (2, 3)  # a third answer confirms the promise when it was not certain
    for h in heard:
        timing = h["timing"]
        assert isinstance(timing, dict)
        assert timing["early"] == 1 and timing["gap_ms"] == 0
        assert timing["lead_ms"] >= 60  # silence before the speech was recorded: its start is whole
