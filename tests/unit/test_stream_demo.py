"""The streamed demo's turn-by-turn line: what was heard, and how fast speech over a prompt stopped it."""

from __future__ import annotations

from bot.domain import DialogueEvent, EventKind
from bot.stream_demo import describe_turns
from bot.telephony.sim_stream import ReplyLog


def _heard(text: str, barge_in: int, stop_ms: int | None = None) -> DialogueEvent:
    timing = {"barge_in": barge_in} | ({"barge_in_stop_ms": stop_ms} if stop_ms is not None else {})
    return DialogueEvent(EventKind.RECOGNITION, {"text": text, "confidence": 0.9, "timing": timing})


def test_turns_say_what_was_heard_and_how_fast_the_prompt_stopped() -> None:
    events = [DialogueEvent(EventKind.STATE, {"step": "greet"}), _heard("네", 1, 140), _heard("모레 낼게요", 0),
              DialogueEvent(EventKind.DTMF, {"digit": "1"}), DialogueEvent(EventKind.NO_INPUT, {"audio_ms": 0})]
    logs = [ReplyLog("+821055550010", 1, prompt_end=14.0, spoke=10.0, robot_stopped=10.18),
            ReplyLog("+821055550010", 2, spoke=20.0), ReplyLog("+821055550010", 3, spoke=30.0),
            ReplyLog("+821055550010", 4, spoke=40.0)]
    assert describe_turns(events, logs) == (
        '"네" said over the prompt, which stopped 140 ms after the speech began, 3.8 s of it unsaid; "모레 낼게요"; '
        "key 1; no input")


def test_without_the_customer_side_only_the_robot_side_is_told() -> None:
    assert describe_turns([_heard("네", 1)], []) == '"네" said over the prompt, which stopped'
