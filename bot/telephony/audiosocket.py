"""Our AudioSocket server: one TCP connection per answered call, frames in both directions.

The connection's first message must be the call's UUID, within ``uuid_timeout_s``; the
handler then owns the connection until the call ends. A malformed message, a peer that
stops reading what we send (``write_timeout_s``) or EOF ends the connection: the channel
above sees a hangup. Asterisk's idle Local channels send no frames, so silence from the
peer is not a fault.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
import time
import uuid
from collections.abc import Awaitable, Callable

from bot.errors import TelephonyError
from bot.telephony import audiosocket_protocol as wire
from bot.telephony.audiosocket_protocol import AudioSocketError, Frame, Kind

__all__ = ["AudioSocketConnection", "AudioSocketServer", "Handler"]

log = logging.getLogger(__name__)

Handler = Callable[["AudioSocketConnection"], Awaitable[None]]
CLOSE_TIMEOUT_S = 2.0
SEND_BUFFER = 8192  # bytes; about 0.25 s of audio (Linux doubles it)
QUEUED_FRAMES = 16  # frames our side may queue before a write waits for the peer


class AudioSocketConnection:
    """One call's socket: ``frames`` yields what Asterisk sends; ``send_audio``/``hangup`` write."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, call: uuid.UUID, *,
                 write_timeout_s: float):
        self.uuid = call
        self._reader = reader
        self._writer = writer
        self._write_timeout = write_timeout_s
        self.closed = False
        self.ended_by = ""  # why the connection ended: hangup, eof, error text, robot
        self.frames_in = 0
        self.frames_out = 0
        sock = writer.get_extra_info("socket")
        if sock is not None:
            # A peer that stops reading must show within seconds, not after megabytes of audio
            # fill the kernel's buffers: we never need more than a few frames queued.
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
        writer.transport.set_write_buffer_limits(high=QUEUED_FRAMES * (wire.FRAME_BYTES + wire.HEADER.size))

    async def read(self) -> Frame | None:
        """The next frame, or None once the call is gone (hangup, EOF or a bad message)."""
        if self.closed:
            return None
        try:
            kind, length = wire.check_header(await self._reader.readexactly(wire.HEADER.size))
            frame = wire.check_frame(kind, await self._reader.readexactly(length) if length else b"")
        except asyncio.IncompleteReadError:
            self._end("eof")
            return None
        except AudioSocketError as exc:
            log.warning("AudioSocket %s: %s; closing", self.uuid, exc)
            self._end(f"malformed: {exc}")
            return None
        except OSError as exc:
            self._end(f"socket error: {exc}")
            return None
        if frame.kind is Kind.HANGUP:
            self._end("hangup")
            return None
        if frame.kind is Kind.ERROR:
            self._end(f"peer error 0x{frame.payload.hex() or '00'}")
            return None
        self.frames_in += 1
        return frame

    async def send_audio(self, pcm: bytes) -> bool:
        """Write one audio frame; False (and the connection closed) if the peer is gone or stalls."""
        if self.closed:
            return False
        try:
            self._writer.write(wire.audio(pcm))
            async with asyncio.timeout(self._write_timeout):
                await self._writer.drain()  # returns at once unless QUEUED_FRAMES are waiting
        except TimeoutError:
            self._end("stalled: the peer stopped reading")
            return False
        except (OSError, RuntimeError) as exc:
            self._end(f"socket error: {exc}")
            return False
        self.frames_out += 1
        return True

    async def send_dtmf(self, digit: str) -> bool:
        """Send one key (what a far end that dials does; Asterisk's side never needs it from us)."""
        if self.closed:
            return False
        try:
            self._writer.write(wire.encode(Kind.DTMF, digit.encode("ascii")))
        except (OSError, RuntimeError) as exc:
            self._end(f"socket error: {exc}")
            return False
        return True

    async def hangup(self) -> None:
        """Ask Asterisk to end the AudioSocket application (the dialplan then hangs up), and close."""
        if not self.closed:
            with contextlib.suppress(OSError, RuntimeError):
                self._writer.write(wire.HANGUP)
            self._end("robot")
        await self.wait_closed()

    def _end(self, why: str) -> None:
        if not self.closed:
            self.closed = True
            self.ended_by = why
            if why.startswith(("stalled", "malformed", "socket error")):
                self._writer.transport.abort()  # nothing we could still send would be read
            else:
                self._writer.close()

    def abort(self) -> None:
        """Drop the connection now (server shutdown): reads end, the handler finishes."""
        self._end("aborted")
        self._writer.transport.abort()

    async def wait_closed(self) -> None:
        self._end("robot")
        with contextlib.suppress(OSError, TimeoutError, RuntimeError):
            async with asyncio.timeout(CLOSE_TIMEOUT_S):
                await self._writer.wait_closed()
        if not self._writer.transport.is_closing():
            self._writer.transport.abort()


class AudioSocketServer:
    """Accepts Asterisk's AudioSocket connections and hands each, with its UUID, to ``handler``."""

    def __init__(self, handler: Handler, *, host: str = "127.0.0.1", port: int = 0, uuid_timeout_s: float = 5.0,
                 write_timeout_s: float = 2.0, allow_remote: bool = False, max_connections: int = 1000):
        if not allow_remote and not ipaddress.ip_address(host).is_loopback:
            raise TelephonyError(f"audiosocket.host {host} is not loopback; set audiosocket.allow_remote to allow it")
        self.handler = handler
        self.host = host
        self.port = port
        self.uuid_timeout_s = uuid_timeout_s
        self.write_timeout_s = write_timeout_s
        self.max_connections = max_connections
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._conns: set[AudioSocketConnection] = set()
        self.refused = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("AudioSocket server on %s:%d", self.host, self.port)

    @property
    def live(self) -> int:
        return len(self._tasks)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        started = time.monotonic()
        conn: AudioSocketConnection | None = None
        try:
            if len(self._tasks) > self.max_connections:
                raise AudioSocketError(f"more than {self.max_connections} AudioSocket connections")
            call = await self._read_uuid(reader)
            conn = AudioSocketConnection(reader, writer, call, write_timeout_s=self.write_timeout_s)
            self._conns.add(conn)
            await self.handler(conn)
        except AudioSocketError as exc:
            self.refused += 1
            log.warning("AudioSocket peer refused after %.1f s: %s", time.monotonic() - started, exc)
        except Exception:
            log.exception("AudioSocket handler failed")
        finally:
            if conn is not None:
                self._conns.discard(conn)
                await conn.wait_closed()
            else:
                writer.close()
                with contextlib.suppress(OSError, TimeoutError, RuntimeError):
                    async with asyncio.timeout(CLOSE_TIMEOUT_S):
                        await writer.wait_closed()
            self._tasks.discard(task)

    async def _read_uuid(self, reader: asyncio.StreamReader) -> uuid.UUID:
        try:
            async with asyncio.timeout(self.uuid_timeout_s):
                kind, length = wire.check_header(await reader.readexactly(wire.HEADER.size))
                payload = await reader.readexactly(length)
        except TimeoutError:
            raise AudioSocketError(f"no UUID within {self.uuid_timeout_s:g} s") from None
        except asyncio.IncompleteReadError:
            raise AudioSocketError("closed before sending its UUID") from None
        except OSError as exc:
            raise AudioSocketError(f"socket error before the UUID: {exc}") from None
        if kind is not Kind.UUID:
            raise AudioSocketError(f"first message is {kind.name}, not UUID")
        return uuid.UUID(bytes=payload)

    async def close(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for conn in list(self._conns):
            conn.abort()
        tasks = list(self._tasks)
        if tasks:  # handlers see their call end and finish; only a stuck one is cancelled
            _, stuck = await asyncio.wait(tasks, timeout=CLOSE_TIMEOUT_S)
            for task in stuck:
                task.cancel()
            await asyncio.gather(*stuck, return_exceptions=True)
        if server is not None:
            await server.wait_closed()

    async def __aenter__(self) -> AudioSocketServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
