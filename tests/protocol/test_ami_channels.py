"""Listing live channels (CoreShowChannels) and hanging one up, against a fake AMI on a real
socket: what reconciliation after a restart asks of Asterisk."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from bot.errors import AmiError
from bot.telephony.ami import Ami
from tests.protocol.ami_fake_peer import FakeAmi, Headers

ROBOT = "Local/821055550001@collbot-sim-carrier-00000001;1"
CUSTOMER = "Local/821055550001@collbot-sim-carrier-00000001;2"


class ChannelsAmi(FakeAmi):
    """A fake AMI that also answers CoreShowChannels and Hangup."""

    def __init__(self) -> None:
        super().__init__()
        self.channels: list[tuple[str, str]] = [("a1b2c3", ROBOT), ("1700000000.2", CUSTOMER)]
        self.listing = "ok"  # ok | denied | silent | drop
        self.known: set[str] = {ROBOT, CUSTOMER}

    def _answer(self, action: Headers) -> tuple[list[Headers], bool]:
        name = action.get("Action", "").lower()
        action_id = {"ActionID": action.get("ActionID", "")}
        if name == "coreshowchannels":
            if self.listing == "denied":
                return [{"Response": "Error", **action_id, "Message": "Permission denied"}], True
            if self.listing == "silent":
                return [], True
            start = {"Response": "Success", **action_id, "EventList": "start", "Message": "Channels will follow"}
            items = [{"Event": "CoreShowChannel", **action_id, "Channel": channel, "Uniqueid": uniqueid,
                      "Linkedid": "a1b2c3", "ChannelState": "5", "ChannelStateDesc": "Ringing",
                      "CallerIDNum": "821055550001", "Context": "collbot-robot", "Exten": "s"}
                     for uniqueid, channel in self.channels]
            if self.listing == "drop":
                return [start, *items[:1]], False  # the connection closes in the middle of the list
            # an unrelated event between the items must not end or spoil the listing
            noise = {"Event": "Newstate", "Privilege": "call,all", "Channel": ROBOT, "Uniqueid": "zzz"}
            done = {"Event": "CoreShowChannelsComplete", **action_id, "EventList": "Complete",
                    "ListItems": str(len(items))}
            return [start, *items[:1], noise, *items[1:], done], True
        if name == "hangup":
            if action.get("Channel") in self.known:
                self.known.discard(action["Channel"])
                return [{"Response": "Success", **action_id, "Message": "Channel Hungup"}], True
            return [{"Response": "Error", **action_id, "Message": "No such channel"}], True
        return super()._answer(action)


@pytest.fixture
async def fake() -> AsyncIterator[ChannelsAmi]:
    peer = ChannelsAmi()
    await peer.start()
    yield peer
    await peer.stop()


@pytest.fixture
async def ami(fake: ChannelsAmi) -> AsyncIterator[Ami]:
    async with Ami(fake.settings(connect_timeout_s=0.5), reconnect_delay_s=0.01) as client:
        yield client


async def test_live_channels_maps_uniqueids_to_channel_names(ami: Ami, fake: ChannelsAmi) -> None:
    assert await ami.live_channels() == {"a1b2c3": ROBOT, "1700000000.2": CUSTOMER}
    fake.channels = []
    assert await ami.live_channels() == {}
    assert [a["Action"] for a in fake.actions if a["Action"] != "Login"] == ["CoreShowChannels"] * 2


@pytest.mark.parametrize(("listing", "message"), [
    ("denied", "refused CoreShowChannels: Permission denied"),
    ("silent", "did not list its channels"),
    ("drop", "did not list its channels"),
])
async def test_a_listing_that_fails_is_an_ami_error(ami: Ami, fake: ChannelsAmi, listing: str, message: str) -> None:
    fake.listing = listing
    with pytest.raises(AmiError, match=message):
        await asyncio.wait_for(ami.live_channels(), 3)


async def test_hangup_names_the_listed_channel_and_says_if_it_was_gone(ami: Ami, fake: ChannelsAmi) -> None:
    assert await ami.hangup(ROBOT) is True
    assert await ami.hangup(ROBOT) is False  # already gone: not an error
    hangups = [a for a in fake.actions if a["Action"] == "Hangup"]
    assert [(a["Channel"], a["Cause"]) for a in hangups] == [(ROBOT, "16")] * 2


@pytest.mark.parametrize("name", [f"{ROBOT}\r\nAction: Originate", "/Local/.*/", ""])
async def test_hangup_refuses_a_name_that_could_add_a_header_or_match_many(
        ami: Ami, fake: ChannelsAmi, name: str) -> None:
    with pytest.raises(AmiError):
        await ami.hangup(name)
    assert b"Hangup" not in fake.raw


async def test_without_a_link_nothing_is_listed(fake: ChannelsAmi) -> None:
    ami = Ami(fake.settings())
    with pytest.raises(AmiError, match="is down"):
        await ami.live_channels()
