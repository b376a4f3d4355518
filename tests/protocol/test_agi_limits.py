"""FastAGI session limits on real sockets (issue 10: 3,000 silent sessions were all accepted, and a
peer silent after a valid header held its session for the whole command timeout)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from bot.config import AgiSettings, Settings
from bot.controller import Controller
from bot.telephony.agi import AgiServer, AgiSession
from tests.protocol.test_agi_server import HEADER, WAIT_S, Recorder, closed_by_server, good_call

LOGGER = "bot.telephony.agi"
CALLER = "821055550001"
CALLER_HEADER = HEADER.replace(b"\n\n", f"\nagi_callerid: {CALLER}\n\n".encode())


def settings(**update: Any) -> AgiSettings:
    options = {"port": 0, "header_timeout_s": 30.0, "command_timeout_s": 30.0, **update}
    return AgiSettings().model_copy(update=options)


async def held_open(reader: asyncio.StreamReader) -> bool:
    """True when the server keeps the connection open (nothing read, no close) for a moment."""
    try:
        await asyncio.wait_for(reader.read(1), 0.3)
    except TimeoutError:
        return True
    return False


async def test_connections_over_the_cap_are_closed_at_once_and_logged_without_numbers(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    release = asyncio.Event()
    calls: list[AgiSession] = []

    async def busy(session: AgiSession) -> None:  # three calls in progress fill the cap
        calls.append(session)
        if len(calls) <= 3:
            await release.wait()
        await session.command("NOOP")

    async with AgiServer(settings(max_sessions=3), busy) as server:
        held = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(3)]
        for _, writer in held:
            writer.write(HEADER)
        for _ in range(100):
            if len(calls) == 3:
                break
            await asyncio.sleep(0.01)
        extra = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(20)]
        for reader, writer in extra:
            writer.write(CALLER_HEADER)
            assert await closed_by_server(reader)  # over the cap: closed at once, not served
            writer.close()
        assert len(calls) == 3
        release.set()  # the calls end: there is room again
        for reader, writer in held:
            assert await asyncio.wait_for(reader.readline(), WAIT_S) == b"NOOP\n"
            writer.write(b"200 result=0\n")
            assert await closed_by_server(reader)
            writer.close()
        await good_call(server.port)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    refused = [w for w in warnings if "refused" in w and "agi.max_sessions" in w]
    assert refused and all("127.0.0.1:" in w for w in refused)
    assert len(refused) < 20  # a flood is not a log line per connection
    assert not any(CALLER in r.getMessage() or CALLER[-8:] in r.getMessage() for r in caplog.records)


async def test_peers_without_a_header_make_room_for_a_call_oldest_first() -> None:
    recorder = Recorder()
    async with AgiServer(settings(max_sessions=3), recorder) as server:
        silent = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(3)]
        for reader, _ in silent:
            assert await held_open(reader)  # within the cap: each waits for its header (30 s)
        await good_call(server.port)  # the cap is full of silent peers, yet the call is served
        assert len(recorder.sessions) == 1
        assert await closed_by_server(silent[0][0])  # the oldest silent peer made room
        for reader, _ in silent[1:]:
            assert await held_open(reader)
        for _, writer in silent:
            writer.close()


async def test_a_peer_silent_after_its_header_is_dropped_after_the_idle_timeout(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    outcome: list[BaseException] = []

    async def hang_up(session: AgiSession) -> None:
        try:
            await session.command("HANGUP")
        except BaseException as exc:
            outcome.append(exc)
            raise

    async with AgiServer(settings(idle_timeout_s=0.3), hang_up) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(HEADER)
        assert await asyncio.wait_for(reader.readline(), WAIT_S) == b"HANGUP\n"
        assert await closed_by_server(reader)  # after 0.3 s, not the 30 s command timeout
        writer.close()
    assert "no AGI reply to HANGUP within 0.3 s" in str(outcome[0])


async def test_a_long_command_may_still_take_longer_than_the_idle_timeout() -> None:
    replies: list[str] = []

    async def play(session: AgiSession) -> None:
        replies.append((await session.command("STREAM FILE", "hello", "")).result)

    async with AgiServer(settings(idle_timeout_s=0.1), play) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(HEADER)
        assert await asyncio.wait_for(reader.readline(), WAIT_S) == b'STREAM FILE "hello" ""\n'
        await asyncio.sleep(0.5)  # the prompt plays: Asterisk answers when it has ended
        writer.write(b"200 result=0 endpos=4000\n")
        assert await closed_by_server(reader)
        writer.close()
    assert replies == ["0"]


async def test_the_controller_drops_a_silent_unknown_session_after_the_idle_timeout(
        caplog: pytest.LogCaptureFixture) -> None:
    base = Settings()
    agi = base.agi.model_copy(update={"port": 0, "idle_timeout_s": 0.3, "command_timeout_s": 30.0})
    controller = Controller(base.model_copy(update={"agi": agi}), None, script=None,  # type: ignore[arg-type]
                            recognizer=None, synth=None)  # type: ignore[arg-type]
    await controller.agi.start()
    try:
        with caplog.at_level(logging.INFO):
            reader, writer = await asyncio.open_connection("127.0.0.1", controller.agi.port)
            writer.write(HEADER.replace(b"robot", b"call"))
            assert await asyncio.wait_for(reader.readline(), WAIT_S) == b"HANGUP\n"
            assert await closed_by_server(reader)
            writer.close()
    finally:
        await controller.agi.close()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("ended before its HANGUP" in r.getMessage() for r in caplog.records)

