"""AgiSession against a fake Asterisk on a real socket: commands, replies, hangups, bad replies."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from typing import Any

import pytest

from bot.config import AgiSettings
from bot.errors import AgiError
from bot.telephony.agi import AgiServer, AgiSession
from bot.telephony.channel import Hangup

HEADER = (
    "agi_network: yes\n"
    "agi_network_script: robot?campaign=7\n"
    "agi_request: agi://127.0.0.1/robot?campaign=7\n"
    "agi_channel: Local/100@collbot-sim-carrier-00000001;2\n"
    "agi_uniqueid: 1700000000.1\n"
    "agi_callerid: 821012345678\n"
    "agi_arg_1: attempt-42\n"
    "\n"
)
WAIT_S = 3.0


class FakeAsterisk:
    """The Asterisk end of one FastAGI connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(cls, port: int, header: str = HEADER) -> FakeAsterisk:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        peer = cls(reader, writer)
        await peer.send_raw(header.encode())
        return peer

    async def send_raw(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def send(self, *lines: str) -> None:
        await self.send_raw("".join(line + "\n" for line in lines).encode())

    async def expect(self, command: str) -> None:
        line = await asyncio.wait_for(self.reader.readline(), WAIT_S)
        assert line.decode() == command + "\n"

    async def rest(self) -> bytes:
        """Everything the server still sends until it closes the connection."""
        return await asyncio.wait_for(self.reader.read(), WAIT_S)

    async def close(self) -> None:
        self.writer.close()
        with suppress(OSError):
            await self.writer.wait_closed()


Handler = Callable[[AgiSession], Awaitable[Any]]


@asynccontextmanager
async def serving(handler: Handler, **settings: Any) -> AsyncIterator[tuple[int, asyncio.Future]]:
    """Run ``handler`` for one call; the future holds what it returned or raised."""
    loop = asyncio.get_running_loop()
    outcome: asyncio.Future = loop.create_future()

    async def run(session: AgiSession) -> None:
        try:
            outcome.set_result(await handler(session))
        except asyncio.CancelledError:
            outcome.cancel()
            raise
        except BaseException as exc:  # pytest.raises reports failures as BaseException
            outcome.set_exception(exc)

    options = {"port": 0, "header_timeout_s": 1.0, "command_timeout_s": 2.0, **settings}
    async with AgiServer(AgiSettings().model_copy(update=options), run) as server:
        yield server.port, outcome


async def test_full_session_with_several_commands() -> None:
    async def handler(session: AgiSession) -> Any:
        replies = [
            await session.command("ANSWER"),
            await session.command("STREAM FILE", "/var/lib/asterisk/sounds/collbot/hello", "12"),
            await session.command("GET VARIABLE", "CHANNEL(language)"),
            await session.command("RECORD FILE", "/tmp/rec 1", "wav", "#", "5000", "s=2"),
        ]
        return session, replies

    async with serving(handler) as (port, outcome):
        peer = await FakeAsterisk.connect(port)
        await peer.expect("ANSWER")
        await peer.send("200 result=0")
        await peer.expect('STREAM FILE "/var/lib/asterisk/sounds/collbot/hello" "12"')
        await peer.send("200 result=50 endpos=4000")
        await peer.expect('GET VARIABLE "CHANNEL(language)"')
        await peer.send("200 result=1 (ko)")
        await peer.expect('RECORD FILE "/tmp/rec 1" "wav" "#" "5000" "s=2"')
        await peer.send("100 result=0 Trying...", "200 result=0 (timeout) endpos=16000")
        session, replies = await asyncio.wait_for(outcome, WAIT_S)
        assert await peer.rest() == b""  # the server hangs up the socket when the handler ends
        await peer.close()

    assert session.script == "robot"
    assert session.env["agi_uniqueid"] == "1700000000.1"
    assert session.env["agi_network_script"] == "robot?campaign=7"
    assert session.env["agi_arg_1"] == "attempt-42"
    assert not session.hung_up
    assert [r.result for r in replies] == ["0", "50", "1", "0"]
    assert replies[1].result_int == 50 and replies[1].extra == {"endpos": "4000"}
    assert replies[2].data == "ko"
    assert replies[3].data == "timeout" and replies[3].extra == {"endpos": "16000"}


async def test_arguments_cannot_inject_words_or_lines() -> None:
    async def handler(session: AgiSession) -> Any:
        with pytest.raises(AgiError, match="CR, LF or NUL"):
            await session.command("SET VARIABLE", "NAME", "Kim\nHANGUP")
        return await session.command("SET VARIABLE", "NAME", 'Kim "x" \\ EXEC System')

    async with serving(handler) as (port, outcome):
        peer = await FakeAsterisk.connect(port)
        await peer.expect('SET VARIABLE "NAME" "Kim \\"x\\" \\\\ EXEC System"')
        await peer.send("200 result=1")
        assert (await asyncio.wait_for(outcome, WAIT_S)).result == "1"
        await peer.close()


async def test_hangup_line_before_the_reply() -> None:
    async def handler(session: AgiSession) -> Any:
        reply = await session.command("STREAM FILE", "hello", "")
        hung_up = session.hung_up
        with pytest.raises(Hangup):
            await session.command("NOOP")
        return reply, hung_up

    async with serving(handler) as (port, outcome):
        peer = await FakeAsterisk.connect(port)
        await peer.expect('STREAM FILE "hello" ""')
        await peer.send("HANGUP", "200 result=-1 endpos=0")
        reply, hung_up = await asyncio.wait_for(outcome, WAIT_S)
        assert await peer.rest() == b""  # NOOP was never written
        await peer.close()
    assert reply.result_int == -1
    assert hung_up


async def test_hangup_line_between_commands_then_511() -> None:
    async def handler(session: AgiSession) -> Any:
        await session.command("ANSWER")
        await session.command("STREAM FILE", "hello", "")

    async with serving(handler) as (port, outcome):
        peer = await FakeAsterisk.connect(port)
        await peer.expect("ANSWER")
        await peer.send("200 result=0", "HANGUP")
        await peer.expect('STREAM FILE "hello" ""')
        await peer.send("511 Command Not Permitted on a dead channel or intercept routine")
        with pytest.raises(Hangup):
            await asyncio.wait_for(outcome, WAIT_S)
        await peer.close()


async def test_511_raises_hangup_and_later_commands_are_not_written() -> None:
    async def handler(session: AgiSession) -> Any:
        with pytest.raises(Hangup) as first:
            await session.command("STREAM FILE", "hello", "")
        assert session.hung_up
        with pytest.raises(Hangup):
            await session.command("STREAM FILE", "bye", "")
        return first.value.by

    async with serving(handler) as (port, outcome):
        peer = await FakeAsterisk.connect(port)
        await peer.expect('STREAM FILE "hello" ""')
        await peer.send("511 Command Not Permitted on a dead channel")
        assert await asyncio.wait_for(outcome, WAIT_S) == "customer"
        assert await peer.rest() == b""
        await peer.close()


async def test_eof_in_the_middle_of_a_command_is_a_hangup() -> None:
    async def handler(session: AgiSession) -> Any:
        with pytest.raises(Hangup):
            await session.command("STREAM FILE", "hello", "")
        return session.hung_up

    async with serving(handler) as (port, outcome):
        peer = await FakeAsterisk.connect(port)
        await peer.expect('STREAM FILE "hello" ""')
        await peer.send_raw(b"200 resu")  # cut off mid-line
        await peer.close()
        assert await asyncio.wait_for(outcome, WAIT_S) is True


async def test_hangup_escaping_the_handler_is_not_an_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="bot.telephony.agi")
    finished = asyncio.Event()

    async def handler(session: AgiSession) -> None:
        try:
            await session.command("ANSWER")
        finally:
            finished.set()

    options = {"port": 0, "header_timeout_s": 1.0}
    async with AgiServer(AgiSettings().model_copy(update=options), handler) as server:
        peer = await FakeAsterisk.connect(server.port)
        await peer.expect("ANSWER")
        await peer.close()
        await asyncio.wait_for(finished.wait(), WAIT_S)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert any("hung up" in r.getMessage() for r in caplog.records)


async def test_garbage_reply_breaks_the_session() -> None:
    async def handler(session: AgiSession) -> Any:
        with pytest.raises(AgiError, match="malformed"):
            await session.command("ANSWER")
        with pytest.raises(AgiError, match="lost step"):
            await session.command("NOOP")

    async with serving(handler) as (port, outcome):
        peer = await FakeAsterisk.connect(port)
        await peer.expect("ANSWER")
        await peer.send("this is not AGI")
        await asyncio.wait_for(outcome, WAIT_S)
        assert await peer.rest() == b""  # NOOP was never written
        await peer.close()


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        ("200 ok", "without result="),
        ("200 result=1 (unclosed", "malformed"),
        ("HANGUPX", "malformed"),
    ],
)
async def test_malformed_replies(reply: str, message: str) -> None:
    async def handler(session: AgiSession) -> Any:
        with pytest.raises(AgiError, match=message):
            await session.command("ANSWER")

    async with serving(handler) as (port, outcome):
        peer = await FakeAsterisk.connect(port)
        await peer.expect("ANSWER")
        await peer.send(reply)
        await asyncio.wait_for(outcome, WAIT_S)
        await peer.close()


async def test_520_usage_and_510_keep_the_session_usable() -> None:
    async def handler(session: AgiSession) -> Any:
        with pytest.raises(AgiError, match="520") as usage:
            await session.command("STREAM FILE", "hello")
        with pytest.raises(AgiError, match="510 'Invalid or unknown command'"):
            await session.command("FROB")
        reply = await session.command("NOOP")
        return str(usage.value), reply

    async with serving(handler) as (port, outcome):
        peer = await FakeAsterisk.connect(port)
        await peer.expect('STREAM FILE "hello"')
        await peer.send(
            "520-Invalid command syntax.  Proper usage follows:",
            " Usage: STREAM FILE <filename> <escape digits> [sample offset]",
            "",
            "   Send the given file, allowing playback to be interrupted",
            "520 End of proper usage.",
        )
        await peer.expect("FROB")
        await peer.send("510 Invalid or unknown command")
        await peer.expect("NOOP")
        await peer.send("200 result=0")
        message, reply = await asyncio.wait_for(outcome, WAIT_S)
        await peer.close()
    assert "Usage: STREAM FILE <filename>" in message
    assert "\n" not in message
    assert reply.result == "0"


async def test_no_reply_in_time_is_an_error() -> None:
    async def handler(session: AgiSession) -> Any:
        with pytest.raises(AgiError, match="no AGI reply to STREAM FILE"):
            await session.command("STREAM FILE", "hello", "")
        with pytest.raises(AgiError, match="lost step"):
            await session.command("NOOP")

    async with serving(handler, command_timeout_s=0.2) as (port, outcome):
        peer = await FakeAsterisk.connect(port)
        await peer.expect('STREAM FILE "hello" ""')
        await asyncio.wait_for(outcome, WAIT_S)
        await peer.close()


async def test_overlong_reply_line() -> None:
    async def handler(session: AgiSession) -> Any:
        with pytest.raises(AgiError, match="longer than"):
            await session.command("GET VARIABLE", "X")

    async with serving(handler) as (port, outcome):
        peer = await FakeAsterisk.connect(port)
        await peer.expect('GET VARIABLE "X"')
        await peer.send_raw(b"200 result=1 (" + b"x" * 100_000)
        await asyncio.wait_for(outcome, WAIT_S)
        await peer.close()


async def test_undecodable_reply() -> None:
    async def handler(session: AgiSession) -> Any:
        with pytest.raises(AgiError, match="UTF-8"):
            await session.command("GET VARIABLE", "X")

    async with serving(handler) as (port, outcome):
        peer = await FakeAsterisk.connect(port)
        await peer.expect('GET VARIABLE "X"')
        await peer.send_raw(b"200 result=1 (\xff\xfe)\n")
        await asyncio.wait_for(outcome, WAIT_S)
        await peer.close()


async def test_concurrent_commands_are_serialised() -> None:
    async def handler(session: AgiSession) -> Any:
        first, second = await asyncio.gather(session.command("GET VARIABLE", "A"), session.command("GET VARIABLE", "B"))
        return first.data, second.data

    async with serving(handler) as (port, outcome):
        peer = await FakeAsterisk.connect(port)
        await peer.expect('GET VARIABLE "A"')
        # The second command must wait for the first reply before it is written.
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(peer.reader.readline(), 0.1)
        await peer.send("200 result=1 (a)")
        await peer.expect('GET VARIABLE "B"')
        await peer.send("200 result=1 (b)")
        assert await asyncio.wait_for(outcome, WAIT_S) == ("a", "b")
        await peer.close()


def _pair(early: asyncio.Future[None] | None) -> Handler:
    async def handler(session: AgiSession) -> Any:
        return await session.command_then(
            ("STREAM FILE", "p", "12"), ("RECORD FILE", "r", "wav", "12", "5000", "s=1"), early=early,
            is_first=lambda r: r.data == "", then_if=lambda r: r.result == "0")
    return handler


async def test_second_command_interrupts_the_first_when_its_time_comes() -> None:
    # Asterisk stops a STREAM FILE without a reply when the next command arrives.
    early = asyncio.get_running_loop().create_future()
    async with serving(_pair(early)) as (port, outcome):
        peer = await FakeAsterisk.connect(port)
        await peer.expect('STREAM FILE "p" "12"')
        early.set_result(None)
        await peer.expect('RECORD FILE "r" "wav" "12" "5000" "s=1"')
        await peer.send("200 result=0 (timeout) endpos=8000")
        first, second = await asyncio.wait_for(outcome, WAIT_S)
        await peer.close()
    assert first is None and second is not None and second.data == "timeout"


async def test_first_reply_racing_the_second_command_is_read_in_order() -> None:
    early = asyncio.get_running_loop().create_future()
    async with serving(_pair(early)) as (port, outcome):
        peer = await FakeAsterisk.connect(port)
        await peer.expect('STREAM FILE "p" "12"')
        early.set_result(None)
        await peer.expect('RECORD FILE "r" "wav" "12" "5000" "s=1"')
        await peer.send("200 result=0 endpos=9000", "200 result=49 (dtmf) endpos=100")  # it had just ended
        first, second = await asyncio.wait_for(outcome, WAIT_S)
        await peer.close()
    assert first.extra == {"endpos": "9000"} and second.data == "dtmf" and second.result_int == 49


@pytest.mark.parametrize(("reply", "sent"), [("200 result=0 endpos=9000", True), ("200 result=50 endpos=10", False)])
async def test_without_its_time_the_second_waits_for_the_first(reply: str, sent: bool) -> None:
    # A key that ended the prompt: nothing follows; otherwise the recording follows the reply.
    async with serving(_pair(None)) as (port, outcome):
        peer = await FakeAsterisk.connect(port)
        await peer.expect('STREAM FILE "p" "12"')
        await peer.send(reply)
        if sent:
            await peer.expect('RECORD FILE "r" "wav" "12" "5000" "s=1"')
            await peer.send("200 result=0 (timeout) endpos=8000")
        first, second = await asyncio.wait_for(outcome, WAIT_S)
        await peer.close()
    assert first is not None and (second is not None) == sent
