"""The two text channels (the test channel and the operator's chat) hear a reply the same way."""

from __future__ import annotations

import asyncio

import pytest

from bot.dialogue.chat import ChatChannel
from bot.domain import Heard
from bot.telephony.channel import Hangup, ListenSpec, TextChannel, heard_reply

SPEC = ListenSpec(phrases=["네", "아니요"], dtmf="12")
CASES = [
    ("네", Heard(text="네", confidence=1.0, audio_ms=100)),
    ("모르겠어요", Heard(audio_ms=500)),  # speech outside the grammar: no match
    ("", Heard()),  # no input
    ("  ", Heard()),
    (None, Heard()),
    ({"silence": True}, Heard()),
    ({"dtmf": "2"}, Heard(digit="2")),
    ({"dtmf": "21"}, Heard(digit="2")),  # one key a turn, as on a phone line
    ({"dtmf": "7"}, Heard()),  # a key the step does not take is ignored, as a real channel does
]


@pytest.mark.parametrize(("reply", "heard"), CASES)
def test_a_reply_is_heard_alike_by_both_channels(reply: object, heard: Heard) -> None:
    assert heard_reply(reply, SPEC) == heard  # type: ignore[arg-type]
    text = TextChannel([reply] if reply is not None else [])  # type: ignore[list-item]
    assert asyncio.run(text.listen(SPEC)) == heard
    chat = ChatChannel(lambda _spec: reply, lambda _line: None)  # type: ignore[arg-type, return-value]
    assert asyncio.run(chat.listen(SPEC)) == heard


def test_open_grammar_hears_any_words() -> None:
    assert heard_reply("다음 주에 낼게요", ListenSpec(phrases=["[unk]"])).text == "다음 주에 낼게요"


def test_hangup_reply_ends_the_call_in_both() -> None:
    with pytest.raises(Hangup) as gone:
        asyncio.run(TextChannel([{"hangup": "yes"}]).listen(SPEC))
    assert gone.value.by == "customer"
    shown: list[str] = []
    with pytest.raises(Hangup):
        asyncio.run(ChatChannel(lambda _spec: {"hangup": True}, shown.append).listen(SPEC))
    assert shown == ["you: (hang up)"]
