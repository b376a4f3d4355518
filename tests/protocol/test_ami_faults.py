"""A lost, silent or half-open AMI link never dials anyone twice (reliability catalogue #1, #2)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.domain import CallResult
from bot.errors import AmiError
from bot.telephony.ami import Ami, OriginateRequest
from tests.protocol.ami_fake_peer import CHANNEL, FakeAmi, originate_response, until


def request(attempt_id: str, ring_timeout_s: float = 30.0) -> OriginateRequest:
    return OriginateRequest(attempt_id=attempt_id, channel=CHANNEL, context="collbot-robot",
                            exten="s", ring_timeout_s=ring_timeout_s)


@pytest.mark.parametrize("queued", [True, False], ids=["queued", "unanswered"])
async def test_socket_drop_while_ringing_gives_unknown_and_no_redial(
    peer: FakeAmi, queued: bool
) -> None:
    # "unanswered": Asterisk had not even acknowledged the Originate, the case panoramisk replays.
    peer.queue_originates = queued
    async with Ami(peer.settings(), reconnect_delay_s=0.01) as ami:
        calls = [asyncio.create_task(ami.originate(request(f"att-{n}"))) for n in range(3)]
        await until(lambda: len(peer.originates) == 3)
        await peer.drop()
        results = await asyncio.gather(*calls)
        assert [r.result for r in results] == [CallResult.UNKNOWN] * 3

        await until(lambda: peer.logins == 2 and ami.connected)  # reconnected, FullyBooted seen
        assert await ami.check_privileges() == []  # a full round trip on the new link
        with pytest.raises(AmiError, match="never dialled twice"):
            await ami.originate(request("att-0"))
    assert len(peer.originates) == 3


async def test_late_originate_response_after_reconnect_is_ignored(peer: FakeAmi) -> None:
    async with Ami(peer.settings(), reconnect_delay_s=0.01) as ami:
        call = asyncio.create_task(ami.originate(request("att-late")))
        await until(lambda: len(peer.originates) == 1)
        action = peer.originates[0]
        await peer.drop()
        assert (await call).result is CallResult.UNKNOWN
        await until(lambda: ami.connected)
        await peer.emit(originate_response(action, "Success", 4))
        await ami.check_privileges()
        assert ami.connected
    assert len(peer.originates) == 1


async def test_missing_originate_response_ends_by_watchdog(
    peer: FakeAmi, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="bot.telephony.ami")
    settings = peer.settings(originate_margin_s=0.05)
    async with Ami(settings, reconnect_delay_s=0.01) as ami:
        result = await ami.originate(request("att-dog", ring_timeout_s=0.05))
        assert result.result is CallResult.UNKNOWN
        assert ami.connected  # the link itself is fine
        # the answer that finally comes is not mistaken for anything
        await peer.emit(originate_response(peer.originates[0], "Failure", 3))
        await ami.check_privileges()
    assert "no OriginateResponse within" in caplog.text
    assert peer.logins == 1
    assert len(peer.originates) == 1


async def test_half_open_link_is_detected_by_ping(
    peer: FakeAmi, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="bot.telephony.ami")
    settings = peer.settings(ping_interval_s=0.05, ping_timeout_s=0.1)
    async with Ami(settings, reconnect_delay_s=0.01) as ami:
        call = asyncio.create_task(ami.originate(request("att-half")))
        await until(lambda: len(peer.originates) == 1)
        peer.answer_pings = False  # the peer is there but silent: a half-open link
        result = await call
        assert result.result is CallResult.UNKNOWN
        peer.answer_pings = True
        await until(lambda: peer.logins >= 2 and ami.connected)
    assert "ping" in caplog.text
    assert len(peer.originates) == 1


async def test_reconnect_keeps_trying_while_asterisk_is_down(peer: FakeAmi) -> None:
    settings = peer.settings(connect_timeout_s=0.1)
    async with Ami(settings, reconnect_delay_s=0.01, reconnect_max_s=0.02) as ami:
        peer.answer_login = False  # Asterisk restarting: accepts, but does not log in yet
        await peer.drop()
        await until(lambda: not ami.connected)
        with pytest.raises(AmiError, match="is down"):
            await ami.originate(request("att-down"))
        await until(lambda: sum(a["Action"] == "Login" for a in peer.actions) >= 3)
        peer.answer_login = True
        await until(lambda: ami.connected)
    assert peer.originates == []
