"""Keys pressed while no AGI command reads the call still reach the robot (through AMI).

Asterisk drops the caller's frames between two AGI commands. A loaded controller leaves a
hole between the end of a prompt and the start of the recording; these tests make that hole
on purpose (the robot starts listening late) and check the customer's keys are not lost.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import pytest

from bot.controller import Controller
from bot.domain import CallResult, Debtor, EventKind, Outcome
from bot.store.repo import Store
from bot.telephony.agi_channel import AgiChannel
from bot.telephony.channel import ListenSpec
from bot.telephony.keys import KeyWatch

pytestmark = pytest.mark.integration
KEYS_CUSTOMER = "+821055550103"  # presses 1 ("it's me") then 2 ("cannot pay") right after each prompt
LATE_S = 0.8  # the customer's key ends ~0.25 s after the prompt: well inside this hole


@pytest.fixture
def late_listening(monkeypatch: pytest.MonkeyPatch) -> None:
    listen = AgiChannel.listen

    async def late(self: AgiChannel, spec: ListenSpec) -> object:
        await asyncio.sleep(LATE_S)  # as if the event loop were busy with a hundred other calls
        return await listen(self, spec)

    monkeypatch.setattr(AgiChannel, "listen", late)


def _dtmf_events(store: Store, attempt_id: str) -> list[Mapping[str, object]]:
    return [e.data for e in store.events_for(attempt_id) if e.kind is EventKind.DTMF]


@pytest.mark.usefixtures("late_listening")
async def test_key_pressed_before_the_recording_starts(controller: Controller, debtors: dict[str, Debtor],
                                                       store: Store) -> None:
    report = await controller.call(debtors[KEYS_CUSTOMER])
    assert (report.result, report.outcome) == (CallResult.ANSWERED, Outcome.REFUSED)
    events = _dtmf_events(store, report.attempt_id)
    assert [e["digit"] for e in events] == ["1", "2"]
    for event in events:  # taken from AMI before the recording began
        timing = event["timing"]
        assert isinstance(timing, dict)
        assert timing["gap_ms"] >= LATE_S * 1000 and timing["lost_key"] == 1


@pytest.mark.usefixtures("late_listening")
async def test_key_reported_after_the_recording_started_is_replayed(
        controller: Controller, debtors: dict[str, Debtor], store: Store,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # AMI delivers the key (and the AGI command events around it, in order) only after the
    # recording has begun: the robot replays the key into the channel to end that recording.
    on_event = KeyWatch.on_event
    replayed: list[str] = []

    def slow(self: KeyWatch, event: Mapping[str, object]) -> None:
        asyncio.get_running_loop().call_later(LATE_S + 0.5, on_event, self, dict(event))

    monkeypatch.setattr(KeyWatch, "on_event", slow)
    replay = controller.ami.replay_key

    async def counted(channel: str, digit: str) -> None:
        replayed.append(digit)
        await replay(channel, digit)

    monkeypatch.setattr(controller.ami, "replay_key", counted)
    report = await controller.call(debtors[KEYS_CUSTOMER])
    assert (report.result, report.outcome) == (CallResult.ANSWERED, Outcome.REFUSED)
    assert [e["digit"] for e in _dtmf_events(store, report.attempt_id)] == ["1", "2"]
    assert replayed == ["1", "2"]


async def test_without_ami_keys_the_hole_loses_the_key(controller: Controller, debtors: dict[str, Debtor],
                                                       store: Store, monkeypatch: pytest.MonkeyPatch,
                                                       late_listening: None) -> None:
    # The control: the same late robot, with the AMI key events ignored, does not hear the keys.
    monkeypatch.setattr(KeyWatch, "on_event", lambda self, event: None)
    report = await controller.call(debtors[KEYS_CUSTOMER])
    assert report.result is CallResult.ANSWERED
    assert report.outcome is not Outcome.REFUSED
    assert _dtmf_events(store, report.attempt_id) == []
