"""Ami connecting, logging in and judging its own rights, against a fake AMI on a real socket."""

from __future__ import annotations

import asyncio
import logging
import socket

import pytest

from bot.errors import AmiError
from bot.telephony.ami import Ami
from tests.protocol.ami_fake_peer import FakeAmi


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_login_succeeds_and_subscribes_to_call_key_and_agi_events_only(peer: FakeAmi) -> None:
    async with Ami(peer.settings()) as ami:
        assert ami.connected
    login = peer.actions[0]
    assert login["Action"] == "Login"
    assert login["Username"] == "collbot"
    assert login["Events"] == "call,dtmf,agi,agent"  # calls; keys and AGI commands for lost keys; queue
    assert peer.logins == 1


async def test_bad_secret_is_one_clear_line_without_the_secret(peer: FakeAmi) -> None:
    ami = Ami(peer.settings(secret="wrong-Secret-123"))
    with pytest.raises(AmiError) as caught:
        await ami.connect()
    message = str(caught.value)
    assert "\n" not in message
    assert "Authentication failed" in message
    assert "collbot" in message
    assert "wrong-Secret-123" not in message
    assert not ami.connected
    await ami.close()


async def test_connection_refused_is_an_ami_error(peer: FakeAmi) -> None:
    ami = Ami(peer.settings(port=closed_port()))
    refused = r"^cannot connect to AMI at 127\.0\.0\.1:\d+: Connection refused$"
    with pytest.raises(AmiError, match=refused):
        await ami.connect()


async def test_silent_peer_times_out(peer: FakeAmi) -> None:
    peer.answer_login = False
    ami = Ami(peer.settings(connect_timeout_s=0.2))
    with pytest.raises(AmiError, match=r"did not complete login within 0\.2s"):
        await ami.connect()


async def test_remote_host_refused_unless_allowed(peer: FakeAmi) -> None:
    ami = Ami(peer.settings(host="192.0.2.7"))
    with pytest.raises(AmiError, match="allow_remote"):
        await ami.connect()
    assert peer.actions == []


async def test_least_privileged_account_gives_no_warning(peer: FakeAmi) -> None:
    async with Ami(peer.settings()) as ami:
        assert await ami.check_privileges() == []
    sent = [a for a in peer.actions if a["Action"] == "Command"]
    assert [a["Command"] for a in sent] == ["core show version"]


async def test_over_privileged_account_is_reported(
    peer: FakeAmi, caplog: pytest.LogCaptureFixture
) -> None:
    peer.command_allowed = True
    caplog.set_level(logging.WARNING, logger="bot.telephony.ami")
    async with Ami(peer.settings()) as ami:
        warnings = await ami.check_privileges()
    assert any("Action: Command" in w for w in warnings)
    assert any("GetConfig" in w for w in warnings)
    assert "Action: Command" in caplog.text


async def test_close_without_connect_and_twice_is_harmless(peer: FakeAmi) -> None:
    ami = Ami(peer.settings())
    await ami.close()
    await ami.connect()
    await ami.close()
    await ami.close()
    await asyncio.sleep(0)
    assert not ami.connected
