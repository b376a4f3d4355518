"""A FastAGI session for a call this controller did not place (answered while the controller
that placed it was down, reaching the restarted one) is hung up politely and logged; nothing
else is disturbed."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest

from bot.config import Settings
from bot.controller import Controller

WAIT_S = 3.0


def header(uniqueid: str, script: str = "call") -> bytes:
    return (f"agi_network: yes\nagi_network_script: {script}\nagi_request: agi://127.0.0.1/{script}\n"
            f"agi_channel: Local/821055550001@collbot-sim-carrier-00000001;1\nagi_uniqueid: {uniqueid}\n"
            "agi_callerid: 821055550001\n\n").encode()


@pytest.fixture
async def port() -> AsyncIterator[int]:
    settings = Settings()
    settings = settings.model_copy(update={"agi": settings.agi.model_copy(update={"port": 0})})
    # Only the FastAGI side is exercised: no AMI link, store, recognizer or synthesizer is used.
    controller = Controller(settings, None, script=None, recognizer=None, synth=None)  # type: ignore[arg-type]
    await controller.agi.start()
    yield controller.agi.port
    await controller.agi.close()


async def session(port: int, data: bytes) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    return reader, writer


@pytest.mark.parametrize(("uniqueid", "script"), [
    ("5f0c2a9e8d7b4c1a9e8d7b4c1a9e8d7b", "call"),  # an attempt of the controller that died
    ("1700000000.7", "robot"),  # some other AGI script pointed at this server
])
async def test_an_unknown_session_is_hung_up_and_logged(
        port: int, caplog: pytest.LogCaptureFixture, uniqueid: str, script: str) -> None:
    with caplog.at_level(logging.INFO):
        reader, writer = await session(port, header(uniqueid, script))
        assert await asyncio.wait_for(reader.readline(), WAIT_S) == b"HANGUP\n"
        writer.write(b"200 result=1\n")
        await writer.drain()
        assert await asyncio.wait_for(reader.read(), WAIT_S) == b""  # then the server closes
        writer.close()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("did not place" in w and uniqueid[-2:] in w for w in warnings), warnings
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_peer_gone_before_the_hangup_reply_is_no_error(port: int, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        reader, writer = await session(port, header("5f0c2a9e8d7b4c1a9e8d7b4c1a9e8d7b"))
        assert await asyncio.wait_for(reader.readline(), WAIT_S) == b"HANGUP\n"
        writer.close()  # the channel is gone: Asterisk closes without a reply
        await asyncio.sleep(0.2)
        # the server still takes the next call
        reader2, writer2 = await session(port, header("0123456789abcdef0123456789abcdef"))
        assert await asyncio.wait_for(reader2.readline(), WAIT_S) == b"HANGUP\n"
        writer2.close()
        await asyncio.sleep(0.1)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
