"""FastAGI against the real Asterisk: hostile values arrive as exactly one argument."""

from __future__ import annotations

import asyncio

import pytest

from bot.config import Settings
from bot.domain import CallResult
from bot.telephony.agi import AgiServer, AgiSession
from bot.telephony.ami import Ami, OriginateRequest
from bot.telephony.sandbox import Sandbox

pytestmark = pytest.mark.integration

HOSTILE = [
    "plain", "two words", 'a "quoted" name', "back\\slash", "it's", "x & PJSIP/evil", "123@evil",
    "semi;colon", "comma,separated", "${EXTEN}", "$(SHELL rm -rf /)", "김민준", "  leading", "trailing\\",
    "", "tab\there",
]


async def test_hostile_values_round_trip_as_one_argument(sandbox: Sandbox, sandbox_settings: Settings) -> None:
    seen: dict[str, str] = {}
    done = asyncio.get_running_loop().create_future()

    async def handler(session: AgiSession) -> None:
        try:
            for i, value in enumerate(HOSTILE):
                name = f"COLLBOT_T{i}"
                await session.command("SET VARIABLE", name, value)
                reply = await session.command("GET VARIABLE", name)
                seen[value] = reply.data if reply.result == "1" else "<unset>"
            await session.command("HANGUP")
        finally:
            if not done.done():
                done.set_result(None)

    async with AgiServer(sandbox_settings.agi, handler), Ami(sandbox_settings.ami) as ami:
        result = await ami.originate(OriginateRequest(
            attempt_id="agi-roundtrip-1", channel="Local/821055550108@collbot-sim-carrier/n",
            context="collbot-robot", exten="s", ring_timeout_s=5))
        assert result.result is CallResult.ANSWERED
        await asyncio.wait_for(done, 30)
    assert seen == {value: value for value in HOSTILE}
