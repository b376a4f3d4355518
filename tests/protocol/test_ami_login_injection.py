"""A CR/LF in the AMI username or secret cannot add a header or an action on the wire (issue 10:
a secret ending in CRLF CRLF + an Originate once placed an authenticated call)."""

from __future__ import annotations

import pytest

from bot.errors import AmiError
from bot.telephony.ami import Ami
from tests.protocol.ami_fake_peer import FakeAmi

INJECTED = "\r\n\r\nAction: Originate\r\nChannel: Local/999@evil\r\nContext: x\r\nExten: s\r\n"


@pytest.mark.parametrize("field", ["username", "secret"])
@pytest.mark.parametrize("tail", [INJECTED, "\nAction: Originate", "\rVariable: X=1", "\0", "\u2028Events: all"])
async def test_login_with_a_control_character_sends_nothing(peer: FakeAmi, field: str, tail: str) -> None:
    settings = peer.settings(**{field: getattr(peer, field) + tail})
    ami = Ami(settings)
    with pytest.raises(AmiError) as caught:
        await ami.connect()
    assert "\n" not in str(caught.value) and peer.secret not in str(caught.value)
    await ami.close()
    assert peer.actions == []  # not even the Login went out
    assert b"Originate" not in peer.raw and b"Variable" not in peer.raw
    assert peer.logins == 0


async def test_every_action_passes_the_wire_gate(peer: FakeAmi) -> None:
    async with Ami(peer.settings()) as ami:
        with pytest.raises(AmiError):
            await ami.replay_key("Local/1@x-0001;1\r\nAction: Originate", "1")
    assert [a["Action"] for a in peer.actions] == ["Login"]
    assert b"Originate" not in peer.raw
