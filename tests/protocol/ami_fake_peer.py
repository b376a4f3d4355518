"""A scripted Asterisk manager interface on a real loopback socket, speaking AMI's wire format.

It records every action it receives (parsed, and the raw bytes) so tests can count Originates
and check exactly what was written; how it answers an Originate is up to ``FakeAmi.script``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

from bot.config import AmiSettings

Headers = dict[str, str]
BANNER = b"Asterisk Call Manager/9.0.0\r\n"
NUMBER = "821012345678"
CHANNEL = f"Local/{NUMBER}@collbot-sim-carrier/n"


def frame(headers: Headers) -> bytes:
    return "".join(f"{k}: {v}\r\n" for k, v in headers.items()).encode() + b"\r\n"


def originate_response(
    action: Headers, response: str, reason: int, *, with_action_id: bool = True
) -> Headers:
    """The event Asterisk sends when an async Originate is answered or has failed."""
    event = {"Event": "OriginateResponse", "Privilege": "call,all"}
    if with_action_id:
        event["ActionID"] = action["ActionID"]
    event |= {
        "Response": response,
        "Channel": action["Channel"],
        "Context": action["Context"],
        "Exten": action["Exten"],
        "Application": "",
        "Data": "",
        "Reason": str(reason),
        "Uniqueid": action["ChannelId"],
        "CallerIDNum": NUMBER,
        "CallerIDName": "<unknown>",
    }
    return event


def hangup(uniqueid: str, cause: int, text: str) -> Headers:
    return {
        "Event": "Hangup",
        "Privilege": "call,all",
        "Channel": f"Local/{NUMBER}@collbot-sim-carrier-00000001;1",
        "ChannelState": "5",
        "CallerIDNum": NUMBER,
        "Uniqueid": uniqueid,
        "Linkedid": uniqueid,
        "Cause": str(cause),
        "Cause-txt": text,
    }


def no_reply(action: Headers) -> list[Headers]:
    """Default script: the call rings and Asterisk says nothing more."""
    return []


class FakeAmi:
    """One fake Asterisk: ``start()``, point an ``Ami`` at ``settings()``, then ``stop()``."""

    def __init__(self) -> None:
        self.username = "collbot"
        self.secret = "s3cret-Pw"
        self.answer_login = True
        self.answer_pings = True
        self.queue_originates = True  # reply "Originate successfully queued" first
        self.command_allowed = False  # the account has rights it should not have
        self.script: Callable[[Headers], list[Headers]] = no_reply
        self.actions: list[Headers] = []
        self.raw = bytearray()
        self.logins = 0
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[Any]] = set()

    @property
    def originates(self) -> list[Headers]:
        return [a for a in self.actions if a.get("Action", "").lower() == "originate"]

    def settings(self, **update: Any) -> AmiSettings:
        options = {"port": self.port, "username": self.username, "secret": self.secret,
                   "connect_timeout_s": 2.0, **update}
        return AmiSettings(**options)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        await self.drop()

    async def drop(self) -> None:
        """Close every client connection, as a crashing Asterisk or a broken network would."""
        for writer in list(self._writers):
            writer.transport.abort()
        await asyncio.gather(*self._handlers, return_exceptions=True)

    async def emit(self, headers: Headers) -> None:
        """Send an event to every connected client."""
        for writer in list(self._writers):
            writer.write(frame(headers))
            await writer.drain()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self._writers.add(writer)
        try:
            writer.write(BANNER)
            while True:
                block = await reader.readuntil(b"\r\n\r\n")
                self.raw += block
                action = parse(block)
                self.actions.append(action)
                replies, stay = self._answer(action)
                for reply in replies:
                    writer.write(frame(reply))
                await writer.drain()
                if not stay:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
            self._handlers.discard(task)

    def _answer(self, action: Headers) -> tuple[list[Headers], bool]:
        """Replies to one action, and whether to keep the connection open."""
        name = action.get("Action", "").lower()
        ok = {"Response": "Success", "ActionID": action.get("ActionID", "")}
        error = {"Response": "Error", "ActionID": action.get("ActionID", "")}
        if name == "login":
            if not self.answer_login:
                return [], True
            if action.get("Username") == self.username and action.get("Secret") == self.secret:
                self.logins += 1
                booted = {"Event": "FullyBooted", "Privilege": "system,all",
                          "Uptime": "12", "LastReload": "12", "Status": "Fully Booted"}
                return [ok | {"Message": "Authentication accepted"}, booted], True
            return [error | {"Message": "Authentication failed"}], False
        if name == "ping":
            if not self.answer_pings:
                return [], True
            return [ok | {"Ping": "Pong", "Timestamp": f"{time.time():.6f}"}], True
        if name == "originate":
            queued = [ok | {"Message": "Originate successfully queued"}]
            return (queued if self.queue_originates else []) + self.script(action), True
        if name == "playdtmf":  # Asterisk's reply, which panoramisk once read as an event list
            return [ok | {"Message": "DTMF successfully queued"}], True
        if name == "command":
            if not self.command_allowed:
                return [error | {"Message": "Permission denied"}], True
            return [ok | {"Message": "Command output follows",
                          "Output": "Asterisk 22.1.0 built by root"}], True
        if name == "getconfig":
            if not self.command_allowed:
                return [error | {"Message": "Permission denied"}], True
            return [error | {"Message": "Config file not found"}], True
        return [error | {"Message": "Invalid/unknown command"}], True


def parse(block: bytes) -> Headers:
    headers: Headers = {}
    for line in block.decode("utf-8", "replace").split("\r\n"):
        key, sep, value = line.partition(": ")
        if sep:
            headers.setdefault(key, value)
    return headers


async def until(predicate: Callable[[], bool], within: float = 3.0) -> None:
    """Wait for ``predicate`` to hold; fail the test (not hang) if it never does."""
    async with asyncio.timeout(within):
        while not predicate():  # noqa: ASYNC110 - polls state owned by the code under test
            await asyncio.sleep(0.005)
