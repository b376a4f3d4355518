"""Our FastAGI server: reads each connection's header block, then hands an AgiSession to a handler.

Hangup is control flow: a ``HANGUP`` line, a ``511`` reply or EOF make commands raise ``Hangup``.
"""

from __future__ import annotations

import asyncio
import inspect
import ipaddress
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from bot.config import AgiSettings
from bot.errors import AgiError, TelephonyError
from bot.telephony.agi_protocol import (
    AgiReply,
    build_command,
    parse_header_line,
    parse_reply,
    preview,
    script_name,
)
from bot.telephony.channel import Hangup

__all__ = ["AgiServer", "AgiSession", "Handler"]

log = logging.getLogger(__name__)

Handler = Callable[["AgiSession"], Awaitable[None]]

MAX_LINE_BYTES = 64 * 1024  # also bounds what a silent, newline-less peer can make us buffer
MAX_USAGE_LINES = 200  # a 520 usage text is a few dozen lines
CLOSE_TIMEOUT_S = 2.0  # a peer that stops reading must not keep a socket open forever
REFUSED_LOG_EVERY_S = 10.0  # a flood of connections over the cap is one warning per interval
# Commands res_agi answers without waiting for the caller (no playback, recording or keys): their
# reply is due at once, so a silent peer is found out after agi.idle_timeout_s, not command_timeout_s.
QUICK_VERBS = frozenset({
    "ANSWER", "ASYNCAGI BREAK", "CHANNEL STATUS", "DATABASE DEL", "DATABASE DELTREE", "DATABASE GET",
    "DATABASE PUT", "GET FULL VARIABLE", "GET VARIABLE", "GOSUB", "HANGUP", "NOOP", "SET AUTOHANGUP",
    "SET CALLERID", "SET CONTEXT", "SET EXTENSION", "SET MUSIC", "SET PRIORITY", "SET VARIABLE", "VERBOSE",
})


class _BadHeader(Exception):
    """The header block is unusable; the message says why (never what was sent)."""


class AgiSession:
    """One FastAGI connection: the ``agi_*`` environment and a command/reply exchange."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        env: dict[str, str],
        *,
        command_timeout_s: float,
        idle_timeout_s: float | None = None,
    ):
        self.env = env
        self.script = script_name(env)
        self._reader = reader
        self._writer = writer
        self._timeout = command_timeout_s
        self._quick_timeout = min(command_timeout_s, idle_timeout_s or command_timeout_s)
        self._lock = asyncio.Lock()  # replies come back in order: one command at a time
        self._hung_up = False
        self._broken = False
        self.sent = 0  # commands written so far (Asterisk announces each in an AGIExecStart event)
        self.sent_at: float | None = None  # when the last of them was written (monotonic)

    @property
    def hung_up(self) -> bool:
        """True once Asterisk sent HANGUP, answered 511 or closed the connection."""
        return self._hung_up

    async def command(self, verb: str, *args: str) -> AgiReply:
        """Send ``verb`` with quoted ``args`` and return the final ``200`` reply."""
        line = build_command(verb, *args)
        timeout = self._quick_timeout if verb in QUICK_VERBS else self._timeout
        async with self._lock:
            if self._hung_up:
                raise Hangup("customer")
            if self._broken:
                raise AgiError(f"AGI {verb} not sent: the session lost step with Asterisk")
            try:
                async with asyncio.timeout(timeout):
                    await self._send(line)
                    reply = await self._read_reply()
            except TimeoutError:
                self._broken = True
                raise AgiError(f"no AGI reply to {verb} within {timeout:g} s") from None
            except BaseException:
                # A reply not (fully) read would be taken for the next command's reply.
                self._broken = True
                raise
        return _checked(verb, reply)

    async def command_then(
        self, first: Sequence[str], second: Sequence[str], *,
        early: Awaitable[object] | None,
        is_first: Callable[[AgiReply], bool],
        then_if: Callable[[AgiReply], bool],
        on_first: Callable[[AgiReply], Awaitable[None]] | None = None,
    ) -> tuple[AgiReply | None, AgiReply | None]:
        """Send ``first``, then ``second`` with no hole between them.

        ``second`` goes out as soon as ``early`` completes, even while ``first`` runs: Asterisk
        stops a STREAM FILE without a reply when a new command arrives, so sending at the
        prompt's silent tail starts the next command with no frames dropped in between. If
        ``first`` replies before that, ``second`` goes out only when ``then_if(reply)``.
        ``is_first`` tells the two commands' replies apart; ``on_first`` runs on the first
        reply while the second command still runs. Returns both replies, None for one that
        never came (``first`` interrupted) or was never sent.
        """
        async with self._lock:
            if self._hung_up:
                raise Hangup("customer")
            if self._broken:
                raise AgiError(f"AGI {first[0]} not sent: the session lost step with Asterisk")
            pending: set[asyncio.Future[Any]] = set()
            try:
                async with asyncio.timeout(self._timeout):
                    await self._send(build_command(*first))
                    reading = asyncio.ensure_future(self._read_reply())
                    pending.add(reading)
                    if early is not None:
                        pending.add(asyncio.ensure_future(early))
                    await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                    if reading.done():  # first ended before its time: the usual order
                        reply = _checked(first[0], reading.result())
                        if not then_if(reply):
                            return reply, None
                        await self._send(build_command(*second))
                        return reply, _checked(second[0], await self._read_reply())
                    await self._send(build_command(*second))
                    reply = await reading
                    if not is_first(reply):
                        return None, _checked(second[0], reply)  # first was interrupted
                    reply = _checked(first[0], reply)
                    if on_first is not None:
                        await on_first(reply)
                    return reply, _checked(second[0], await self._read_reply())
            except TimeoutError:
                self._broken = True
                raise AgiError(f"no AGI reply to {first[0]} then {second[0]} within {self._timeout:g} s") from None
            except BaseException:
                self._broken = True  # a reply may still be on its way: nothing else can be sent
                raise
            finally:
                for future in pending:
                    future.cancel()

    async def _send(self, line: bytes) -> None:
        self.sent += 1
        self.sent_at = time.monotonic()
        try:
            self._writer.write(line)
            await self._writer.drain()
        except OSError:
            self._hung_up = True
            raise Hangup("customer") from None

    async def _read_reply(self) -> AgiReply:
        while True:
            line = await self._read_line()
            if line == "HANGUP":
                # Sent asynchronously when the channel hangs up; the reply still follows.
                self._hung_up = True
                continue
            reply = parse_reply(line)
            if reply.code == 100:
                continue
            if reply.code == 511:
                self._hung_up = True
                raise Hangup("customer")
            if reply.code == 520 and line[3:4] == "-":
                return await self._read_usage(reply)
            return reply

    async def _read_usage(self, first: AgiReply) -> AgiReply:
        lines = [first.data]
        for _ in range(MAX_USAGE_LINES):
            line = await self._read_line()
            if line.startswith("520 "):
                lines.append(line[4:])
                text = " / ".join(part.strip() for part in lines if part.strip())
                return AgiReply(520, "", text, {}, first.raw)
            lines.append(line)
        raise AgiError(f"AGI 520 usage text longer than {MAX_USAGE_LINES} lines")

    async def _read_line(self) -> str:
        try:
            raw = await self._reader.readuntil(b"\n")
        except asyncio.IncompleteReadError:
            self._hung_up = True  # Asterisk closes the socket when the AGI ends with the call
            raise Hangup("customer") from None
        except asyncio.LimitOverrunError:
            raise AgiError(f"AGI reply line longer than {MAX_LINE_BYTES} bytes") from None
        except OSError:
            self._hung_up = True
            raise Hangup("customer") from None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise AgiError("AGI reply is not valid UTF-8") from None
        return text.removesuffix("\n").removesuffix("\r")


def _checked(verb: str, reply: AgiReply) -> AgiReply:
    log.debug("AGI %s -> %d result=%s (%s)", verb, reply.code, preview(reply.result, 12), preview(reply.data, 20))
    if reply.code != 200:
        # 510/520 leave the exchange in step: the session stays usable.
        raise AgiError(f"AGI {verb} refused: {reply.code} {preview(reply.data, 300)}")
    return reply


class AgiServer:
    """Accepts FastAGI connections from Asterisk and runs ``handler`` for each of them."""

    def __init__(self, settings: AgiSettings, handler: Handler):
        call = getattr(handler, "__call__", None)  # noqa: B004 - an async __call__ is fine too
        if not (inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(call)):
            raise TypeError("the FastAGI handler must be an 'async def' function")
        self._settings = settings
        self._handler = handler
        self._server: asyncio.Server | None = None
        self._port: int | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        # Connections still waiting for their header, oldest first: at the cap, the oldest of
        # them makes room for a new one (Asterisk sends its header at once; a flood does not).
        self._unheard: dict[asyncio.Task[None], None] = {}
        self._leaving: set[asyncio.Task[None]] = set()  # dropped to make room, still closing
        self._closing = False
        self._refused = 0  # connections closed over agi.max_sessions, not yet logged
        self._refused_logged_at = -REFUSED_LOG_EVERY_S

    @property
    def port(self) -> int:
        """The port actually bound (useful when settings.port is 0)."""
        if self._port is None:
            raise RuntimeError("the FastAGI server is not started")
        return self._port

    async def start(self) -> None:
        if self._server is not None or self._closing:
            raise RuntimeError("the FastAGI server can be started only once")
        host, port = self._settings.host, self._settings.port
        try:
            self._server = await asyncio.start_server(self._accept, host, port, limit=MAX_LINE_BYTES)
        except OSError as exc:
            raise TelephonyError(f"cannot listen for FastAGI on {host}:{port}: {exc}") from exc
        self._port = self._server.sockets[0].getsockname()[1]
        if not _is_loopback(host):
            log.warning("FastAGI listens on %s beyond loopback: firewall port %d", host, self._port)
        log.info("FastAGI listening on %s:%d", host, self._port)

    async def close(self) -> None:
        """Stop listening, cancel running sessions and wait until they are gone."""
        self._closing = True
        if self._server is not None:
            self._server.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def __aenter__(self) -> AgiServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # A plain callback, so that the connection task is ours to track and cancel.
        if self._closing:
            writer.transport.abort()
            return
        if len(self._tasks) - len(self._leaving) >= self._settings.max_sessions:
            if not self._unheard:
                writer.transport.abort()  # at once: a flood must not cost more than the accept
                self._note_refused(writer)
                return
            oldest = next(iter(self._unheard))
            del self._unheard[oldest]
            self._leaving.add(oldest)
            oldest.cancel()  # its socket is closed by its own clean-up
            self._note_refused(writer)
        task = asyncio.get_running_loop().create_task(self._serve(reader, writer))
        self._tasks.add(task)
        self._unheard[task] = None
        task.add_done_callback(self._forget)

    def _forget(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._leaving.discard(task)
        self._unheard.pop(task, None)

    def _note_refused(self, writer: asyncio.StreamWriter) -> None:
        # Only the peer's address: no header was read, so no caller number can reach the log.
        self._refused += 1
        now = time.monotonic()
        if now - self._refused_logged_at >= REFUSED_LOG_EVERY_S:
            log.warning("FastAGI: %d connection(s) refused or dropped before their header, the last "
                        "from %s: %d sessions open (agi.max_sessions)", self._refused, _peer(writer),
                        len(self._tasks) - len(self._leaving))
            self._refused, self._refused_logged_at = 0, now

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = _peer(writer)
        try:
            try:
                async with asyncio.timeout(self._settings.header_timeout_s):
                    env = await _read_header(reader, self._settings.max_header_bytes)
            except TimeoutError:
                log.warning("FastAGI peer %s: no complete header in time; closed", peer)
                return
            except _BadHeader as exc:
                log.warning("FastAGI peer %s: %s; closed", peer, exc)
                return
            task = asyncio.current_task()
            if task is not None:
                self._unheard.pop(task, None)  # a call now: never dropped to make room
            session = AgiSession(reader, writer, env, command_timeout_s=self._settings.command_timeout_s,
                                 idle_timeout_s=self._settings.idle_timeout_s)
            try:
                await self._handler(session)
            except Hangup as exc:
                log.debug("FastAGI %r: hung up by %s", session.script, exc.by)
            except Exception:
                log.exception("FastAGI handler for %r failed", session.script)
        finally:
            await _close(writer)


async def _read_header(reader: asyncio.StreamReader, max_bytes: int) -> dict[str, str]:
    env: dict[str, str] = {}
    size = 0
    while True:
        try:
            raw = await reader.readuntil(b"\n")
        except asyncio.IncompleteReadError:
            raise _BadHeader("connection closed before the end of the header") from None
        except asyncio.LimitOverrunError:
            raise _BadHeader(f"header line longer than {MAX_LINE_BYTES} bytes") from None
        except OSError as exc:
            raise _BadHeader(f"connection error ({type(exc).__name__})") from None
        size += len(raw)
        if size > max_bytes:
            raise _BadHeader(f"header larger than {max_bytes} bytes")
        try:
            line = raw.decode("utf-8").removesuffix("\n").removesuffix("\r")
        except UnicodeDecodeError:
            raise _BadHeader("header is not valid UTF-8") from None
        if not line:
            if not env:
                raise _BadHeader("empty header")
            return env
        try:
            key, value = parse_header_line(line)
        except AgiError:
            raise _BadHeader("malformed header line") from None
        if key in env:
            # A value with an embedded newline could forge a header: refuse rather than guess.
            raise _BadHeader(f"duplicate header {preview(key)}")
        env[key] = value


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    try:
        async with asyncio.timeout(CLOSE_TIMEOUT_S):
            await writer.wait_closed()
    except (TimeoutError, OSError):
        writer.transport.abort()


def _peer(writer: asyncio.StreamWriter) -> str:
    peer = writer.get_extra_info("peername")
    if isinstance(peer, tuple) and len(peer) >= 2:
        return f"{peer[0]}:{peer[1]}"
    return str(peer)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
