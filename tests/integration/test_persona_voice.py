"""A persona with another espeak-ng voice, line noise and a G.711 line, called through the real
sandbox: its rendered reply reaches the robot and is understood. (Fillers are checked in
tests/unit/test_speaker.py: today's grammar recognizer hears "어… 네" as "아니요", which is for
bench/understanding.py to measure, not for a test to pin down.)"""

from __future__ import annotations

import pytest

from bot.controller import Controller, local_today
from bot.domain import CallResult, Debtor, EventKind, Outcome
from bot.store.repo import Store
from bot.telephony.sim import PersonasFile

pytestmark = pytest.mark.integration


async def test_a_female_voice_on_a_noisy_g711_line_is_understood(controller: Controller, debtors: dict[str, Debtor],
                                                             personas: PersonasFile, store: Store) -> None:
    [persona] = [p for p in personas.personas if p.number == "+821055550151"]
    assert (persona.voice, persona.noise_db, persona.line) == ("ko+f2", 20, "g711")
    debtor = debtors[persona.number]
    report = await controller.call(debtor)
    events = store.events_for(report.attempt_id)
    assert (report.result, report.outcome) == (CallResult.ANSWERED, Outcome.PROMISE_TO_PAY), events
    assert report.detail["promise_date"] == local_today(debtor.phone).isoformat()  # key 1: today
    # the spoken "네" (the voiced, noisy, µ-law coded reply) was understood, not keyed
    assert [e.data["text"] for e in events if e.kind is EventKind.RECOGNITION] == ["네"]
    assert [e.data["digit"] for e in events if e.kind is EventKind.DTMF] == ["1"]

