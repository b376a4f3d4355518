"""The AGI channel sends Asterisk only cache paths and keys, whatever the prompt text says."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.config import Settings
from bot.errors import AgiError
from bot.telephony.agi_channel import AgiChannel
from bot.telephony.agi_protocol import AgiReply, parse_reply
from bot.telephony.channel import Hangup


class FakeSession:
    """Records commands; answers each with the next scripted reply."""

    def __init__(self, replies: list[str | AgiReply]):
        self.replies = [r if isinstance(r, AgiReply) else parse_reply(r) for r in replies]
        self.commands: list[tuple[str, ...]] = []
        self.hung_up = False

    async def command(self, verb: str, *args: str) -> AgiReply:
        self.commands.append((verb, *args))
        reply = self.replies.pop(0)
        if reply.raw == "HANGUP-MARK":
            self.hung_up = True
        return reply


class FakeSynth:
    def __init__(self, root: Path):
        self.root = root

    async def prompt(self, text: str, voice: str) -> Path:
        import hashlib

        return self.root / (hashlib.sha256(f"{voice}:{text}".encode()).hexdigest()[:32] + ".wav")


def channel(session: FakeSession, tmp_path: Path) -> AgiChannel:
    return AgiChannel(session, settings=Settings(), synth=FakeSynth(tmp_path),  # type: ignore[arg-type]
                      recognizer=None, call_id="abc123")  # type: ignore[arg-type]


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(min_size=1).filter(str.strip))
async def test_prompt_text_never_reaches_an_agi_argument(tmp_path: Path, text: str) -> None:
    session = FakeSession(["200 result=0 endpos=100"])
    assert await channel(session, tmp_path).say(text, language="ko", dtmf="129") == ""
    [(verb, path, keys)] = session.commands
    assert verb == "STREAM FILE"
    assert re.fullmatch(r"/var/lib/asterisk/sounds/collbot/[0-9a-f]{32}", path)
    assert keys == "129"


async def test_key_pressed_during_a_prompt(tmp_path: Path) -> None:
    session = FakeSession(["200 result=50 endpos=800"])
    assert await channel(session, tmp_path).say("안녕하세요", language="ko", dtmf="12") == "2"


async def test_minus_one_then_hangup_line_is_a_hangup(tmp_path: Path) -> None:
    # Asterisk sends its HANGUP line after the -1; the NOOP that follows reads it.
    session = FakeSession(["200 result=-1 endpos=0", AgiReply(200, "0", "", {}, "HANGUP-MARK")])
    with pytest.raises(Hangup):
        await channel(session, tmp_path).say("x", language="ko")
    assert session.commands[1] == ("NOOP",)


async def test_minus_one_on_a_live_call_is_a_clear_error(tmp_path: Path) -> None:
    session = FakeSession(["200 result=-1 endpos=0", "200 result=0"])
    with pytest.raises(AgiError, match="STREAM FILE failed"):
        await channel(session, tmp_path).say("x", language="ko")
