"""The simulated carrier's dialplan is built from digits, numbers and hashes only."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from bot.telephony.sim import DtmfReply, HangupReply, Persona, PersonasFile, SilenceReply, render_dialplan

SAFE_LINE = re.compile(r"^(;.*|\[collbot-sim-carrier\]|exten => \d+,1,Gosub\(collbot-sim-count,s,1\(\d+\)\)"
                       r"|exten => _X\.,1,Hangup\(1\)| same => n,Go(sub|to)\(collbot-sim-[a-z-]+,s,1"
                       r"(\((\d+(\.\d+)?|[0-9*#A-D]+|/var/lib/asterisk/sounds/collbot-sim/[0-9a-f]+"
                       r"|\$\{COLLBOT_SIM_TURN_MS\})\))?\))$")


def test_each_behavior_and_reply_kind() -> None:
    personas = PersonasFile(personas=[
        Persona(number="+821055550001", answer_after_s=1.5,
                replies=["네", DtmfReply(dtmf="1#"), SilenceReply(silence=True), HangupReply(hangup=True)]),
        Persona(number="+821055550002", behavior="busy"),
        Persona(number="+821055550003", behavior="no_answer"),
        Persona(number="+821055550004", behavior="congestion"),
    ])
    plan = render_dialplan(personas, {"ko\x00네": "abc123"})
    assert "exten => 821055550001,1,Gosub(collbot-sim-count,s,1(821055550001))" in plan
    assert " same => n,Gosub(collbot-sim-answer,s,1(1.5))" in plan
    assert "Gosub(collbot-sim-say,s,1(/var/lib/asterisk/sounds/collbot-sim/abc123))" in plan
    assert "Gosub(collbot-sim-dtmf,s,1(1#))" in plan
    assert "Goto(collbot-sim-hangup,s,1)" in plan
    assert ("exten => 821055550002,1,Gosub(collbot-sim-count,s,1(821055550002))\n"
            " same => n,Goto(collbot-sim-busy,s,1)") in plan
    assert plan.rstrip().endswith("exten => _X.,1,Hangup(1)")
    assert all(SAFE_LINE.match(line) for line in plan.splitlines()), plan


@given(st.lists(st.text(min_size=1, max_size=40).filter(lambda s: s.strip()), min_size=1, max_size=5))
def test_reply_text_never_reaches_the_dialplan(phrases: list[str]) -> None:
    persona = Persona(number="+821055550001", replies=phrases)
    files = {f"ko\x00{p}": f"{i:032x}" for i, p in enumerate(phrases)}
    plan = render_dialplan(PersonasFile(personas=[persona]), files)
    for line in plan.splitlines():
        assert SAFE_LINE.match(line), line
