"""Streamed personas: their dialplan and the customer's audio helpers (bot.telephony.sim_stream)."""

from __future__ import annotations

from array import array

import pytest
from pydantic import ValidationError

from bot.telephony.sim import Persona, extension
from bot.telephony.sim_stream import _mix, persona_uuid, speech_of


def test_a_streamed_persona_hands_its_call_to_the_audiosocket_customer() -> None:
    persona = Persona(number="+821055550202", barge_in_after_s=1.5, replies=["네"])
    assert persona.streamed
    lines = extension(persona, {})
    assert lines[-1] == " same => n,Gosub(collbot-sim-stream,s,1(821055550202))"
    assert not Persona(number="+821055550202", replies=["네"]).streamed


@pytest.mark.parametrize("field", [{"answer_gap_ms": 301}, {"barge_in_after_s": -1}, {"echo_db": 3}])
def test_timing_out_of_range_is_refused(field: dict[str, float]) -> None:
    with pytest.raises(ValidationError):
        Persona(number="+821055550202", **field)


def test_echo_is_mixed_at_its_level() -> None:
    own = array("h", [1000] * 160).tobytes()
    back = array("h", [10000] * 160).tobytes()
    mixed = array("h", _mix(own, back, 0.1))
    assert set(mixed) == {2000}
    assert _mix(None, None, 0.1) == bytes(320)


def test_speech_of_drops_the_silence_around_a_reply() -> None:
    loud = array("h", [500] * 160).tobytes()
    assert speech_of(bytes(640) + loud + bytes(320) + loud + bytes(960)) == loud + bytes(320) + loud
    assert speech_of(bytes(640)) == b""


def test_persona_uuid_depends_on_the_number_only() -> None:
    assert persona_uuid("+821055550202") == persona_uuid("821055550202") != persona_uuid("+821055550203")
