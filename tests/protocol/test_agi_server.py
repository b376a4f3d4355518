"""AgiServer against hostile and broken peers on real sockets (reliability catalogue #13)."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import tracemalloc
from contextlib import suppress
from typing import Any

import pytest

from bot.config import AgiSettings
from bot.telephony.agi import AgiServer, AgiSession

HEADER = b"agi_network: yes\nagi_network_script: robot\nagi_uniqueid: 1.1\n\n"
WAIT_S = 3.0
LOGGER = "bot.telephony.agi"


def settings(**update: Any) -> AgiSettings:
    # port 0 is below the model's bound on purpose: model_copy skips validation, tests only.
    options = {"port": 0, "header_timeout_s": 0.3, "command_timeout_s": 2.0, **update}
    return AgiSettings().model_copy(update=options)


class Recorder:
    """A handler that answers one NOOP and remembers every session it saw."""

    def __init__(self) -> None:
        self.sessions: list[AgiSession] = []
        self.done = asyncio.Event()

    async def __call__(self, session: AgiSession) -> None:
        self.sessions.append(session)
        await session.command("NOOP")
        self.done.set()


async def good_call(port: int) -> None:
    """One well-behaved Asterisk call: header, one NOOP answered, then the server closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(HEADER)
    assert await asyncio.wait_for(reader.readline(), WAIT_S) == b"NOOP\n"
    writer.write(b"200 result=0\n")
    assert await asyncio.wait_for(reader.read(), WAIT_S) == b""
    writer.close()
    await writer.wait_closed()


async def closed_by_server(reader: asyncio.StreamReader) -> bool:
    """True when the server has closed the connection (FIN or RST) within WAIT_S."""
    try:
        return await asyncio.wait_for(reader.read(), WAIT_S) == b""
    except ConnectionResetError:
        return True


def warnings_in(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


async def connect_and_close_then_call(peers: int) -> tuple[int, float, int]:
    """``peers`` connect and close at once, then a good call: (ticks, call seconds, sessions)."""
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    recorder = Recorder()
    async with AgiServer(settings(), recorder) as server:
        ticking = asyncio.create_task(ticker())
        for _ in range(peers):
            _, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.close()
            await writer.wait_closed()
        await asyncio.sleep(0.2)
        started = time.monotonic()
        await good_call(server.port)
        elapsed = time.monotonic() - started
        ticking.cancel()
        with suppress(asyncio.CancelledError):
            await ticking
    return ticks, elapsed, len(recorder.sessions)


def test_connect_and_close_neither_stalls_the_loop_nor_stops_serving(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    outcome: list[tuple[int, float, int]] = []
    # A spinning event loop cannot time itself out, so it runs in a thread of its own: a
    # regression to the connect-and-close trap then fails this test instead of hanging the run.
    thread = threading.Thread(target=lambda: outcome.append(asyncio.run(connect_and_close_then_call(20))), daemon=True)
    thread.start()
    thread.join(timeout=15)
    assert not thread.is_alive(), "the event loop stalled on peers that connected and closed"
    [(ticks, elapsed, sessions)] = outcome
    assert ticks >= 5
    assert elapsed < 1.0
    assert sessions == 1
    dropped = warnings_in(caplog)
    assert len(dropped) == 20
    assert all("127.0.0.1:" in message and "closed" in message for message in dropped)


@pytest.mark.parametrize(
    "line_of_the_megabyte",
    [b"agi_network_script: " + b"x" * 65536, b"agi_padding: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n"],
    ids=["one-endless-line", "many-short-lines"],
)
async def test_megabyte_header_is_cut_off(line_of_the_megabyte: bytes, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    recorder = Recorder()
    chunk = line_of_the_megabyte * (65536 // len(line_of_the_megabyte) + 1)
    tracemalloc.start()
    try:
        async with AgiServer(settings(header_timeout_s=5.0), recorder) as server:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            baseline = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            sent = 0
            with suppress(ConnectionError):
                while sent < 1024 * 1024:
                    writer.write(chunk)
                    await writer.drain()
                    sent += len(chunk)
            assert await closed_by_server(reader)
            peak = tracemalloc.get_traced_memory()[1] - baseline
            writer.close()
            with suppress(ConnectionError):
                await writer.wait_closed()
    finally:
        tracemalloc.stop()
    assert recorder.sessions == []
    assert peak < 768 * 1024, f"{peak} bytes held for one bad peer"
    assert any("header" in message for message in warnings_in(caplog))


async def test_slow_peer_is_closed_after_the_header_timeout(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    recorder = Recorder()
    async with AgiServer(settings(header_timeout_s=0.3), recorder) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(HEADER[:30])  # half a header, then nothing
        started = time.monotonic()
        assert await closed_by_server(reader)
        elapsed = time.monotonic() - started
        await good_call(server.port)  # still serving
        writer.close()
        await writer.wait_closed()
    assert 0.25 <= elapsed < 2.0
    assert len(recorder.sessions) == 1
    assert any("in time" in message for message in warnings_in(caplog))


@pytest.mark.parametrize(
    "garbage",
    [
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"\n",
        b"agi_network: yes\nagi_network: yes\n\n",
        b"agi_calleridname: \xff\xfe\n\n",
        b"agi_network: yes\n",  # then EOF
    ],
    ids=["http", "empty", "duplicate", "not-utf8", "eof"],
)
async def test_garbage_headers_are_refused(garbage: bytes, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    recorder = Recorder()
    async with AgiServer(settings(), recorder) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(garbage)
        writer.write_eof()
        assert await closed_by_server(reader)
        writer.close()
        await writer.wait_closed()
        await good_call(server.port)
    assert len(recorder.sessions) == 1
    [message] = warnings_in(caplog)
    assert "127.0.0.1:" in message
    assert "GET" not in message and "agi_network: yes" not in message


async def test_handler_errors_are_logged_and_the_server_keeps_serving(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    calls = 0

    async def handler(session: AgiSession) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("bug in the dialogue")
        await session.command("NOOP")

    async with AgiServer(settings(), handler) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(HEADER)
        assert await closed_by_server(reader)
        writer.close()
        await writer.wait_closed()
        await good_call(server.port)
    [error] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert error.exc_info is not None and "robot" in error.getMessage()


def test_only_async_handlers_are_accepted() -> None:
    def plain(session: AgiSession) -> None:
        pass

    with pytest.raises(TypeError, match="async def"):
        AgiServer(settings(), plain)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="async def"):
        AgiServer(settings(), lambda session: asyncio.sleep(0))
    AgiServer(settings(), Recorder())  # an object with an async __call__ is fine


async def test_close_cancels_running_sessions_cleanly() -> None:
    cancelled = asyncio.Event()
    waiting = asyncio.Event()

    async def handler(session: AgiSession) -> None:
        try:
            waiting.set()
            await session.command("STREAM FILE", "long", "")
        except asyncio.CancelledError:
            cancelled.set()
            raise

    server = AgiServer(settings(command_timeout_s=60), handler)
    await server.start()
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(HEADER)
    await asyncio.wait_for(waiting.wait(), WAIT_S)
    started = time.monotonic()
    await server.close()
    assert time.monotonic() - started < 1.0
    assert cancelled.is_set()
    assert await reader.readline() == b'STREAM FILE "long" ""\n'
    assert await closed_by_server(reader)
    assert asyncio.all_tasks() == {asyncio.current_task()}
    writer.close()
    await writer.wait_closed()
    with pytest.raises(ConnectionError):
        await asyncio.open_connection("127.0.0.1", server.port)


async def test_port_and_lifecycle() -> None:
    server = AgiServer(settings(), Recorder())
    with pytest.raises(RuntimeError):
        _ = server.port
    async with server:
        assert server.port > 0
        with pytest.raises(RuntimeError):
            await server.start()
    assert AgiSettings().host == "127.0.0.1"
