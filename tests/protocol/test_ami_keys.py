"""AMI carries the keys FastAGI drops: events reach the call's inbox; a key is replayed with PlayDTMF."""

from __future__ import annotations

import pytest

from bot.errors import AmiError
from bot.telephony.ami import Ami
from tests.protocol.ami_fake_peer import FakeAmi, until


async def test_key_events_reach_the_watched_call(peer: FakeAmi) -> None:
    async with Ami(peer.settings()) as ami:
        keys = ami.keys.watch("att1")
        for event in ({"Event": "AGIExecStart", "Uniqueid": "att1", "Command": "STREAM FILE x"},
                      {"Event": "AGIExecEnd", "Uniqueid": "att1", "ResultCode": "200"},
                      {"Event": "DTMFEnd", "Uniqueid": "att1", "Digit": "7", "Direction": "Received",
                       "DurationMs": "120"}):
            await peer.emit(event)
        await until(lambda: bool(keys._lost))
        assert keys.take("0123456789") == "7"


async def test_replaying_a_key_keeps_the_link(peer: FakeAmi) -> None:
    async with Ami(peer.settings()) as ami:
        await ami.replay_key("Local/robot-00000001;1", "5")
        await ami.replay_key("Local/robot-00000001;1", "#")
        assert ami.connected and peer.logins == 1
        played = [a for a in peer.actions if a.get("Action") == "PlayDTMF"]
        assert [(a["Digit"], a["Receive"]) for a in played] == [("5", "yes"), ("#", "yes")]


@pytest.mark.parametrize(("channel", "digit"), [("Local/x;1\r\nAction: Originate", "1"), ("Local/x;1", "12"),
                                                 ("Local/x;1", "x")])
async def test_a_bad_replay_is_refused_before_anything_is_sent(peer: FakeAmi, channel: str, digit: str) -> None:
    async with Ami(peer.settings()) as ami:
        with pytest.raises(AmiError):
            await ami.replay_key(channel, digit)
        assert not [a for a in peer.actions if a.get("Action") == "PlayDTMF"]
