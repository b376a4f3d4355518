"""panoramisk, tamed: its wire protocol and action matching, without its reconnect-and-replay.

panoramisk's Manager reconnects by itself and, once Asterisk says FullyBooted, re-sends every
action that had no answer when the link dropped. For an Originate that means dialling a debtor
twice. Here the Manager keeps what it is good at (framing, parsing, matching replies to actions by
ActionID, dispatching events) while ``bot.telephony.ami.Ami`` owns the lifecycle: every action is
forgettable, nothing awaiting is ever sent again, and a lost link is reported, never reopened here.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from typing import Any

from panoramisk.actions import Action
from panoramisk.ami_protocol import AMIProtocol
from panoramisk.manager import Manager

from bot.telephony.ami_actions import check_headers, loggable

NEVER_REPLAYED = ("login", "logoff", "ping", "originate", "command", "getconfig", "coreshowchannels",
                  "hangup", "playdtmf", "queueadd", "queueremove", "queuepause")
"""Lower-case names of every action collbot sends: none is ever re-sent after a reconnect."""

_SECRET = re.compile(r"""(secret['"]?\s*[:=]\s*['"]?)[^'"\s,}]+""", re.IGNORECASE)


class RedactingFilter(logging.Filter):
    """Masks secrets and phone numbers in panoramisk's own log lines (it logs whole messages)."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = _SECRET.sub(r"\1***", record.getMessage())
        record.msg, record.args = loggable(text), None
        return True


wire_log = logging.getLogger("bot.telephony.ami.wire")
wire_log.addFilter(RedactingFilter())


class LinkProtocol(AMIProtocol):
    """One AMI connection; ``gone`` completes when the socket is closed, whoever closed it."""

    def __init__(self, manager: LinkManager):
        super().__init__()
        self.manager = manager
        self.gone: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        # What Manager.connection_made would set, minus its automatic login and pinger.
        self.factory = self.manager
        self.log = self.manager.log
        self.config = self.manager.config
        self.encoding = self.manager.config["encoding"]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed:
            self.close()
            self.manager.protocol_lost(self, exc)
        if not self.gone.done():
            self.gone.set_result(None)

    def abort(self) -> None:
        """Drop the connection now, without flushing: used on a dead or unwanted link."""
        self.transport.abort()

    def send_headers(self, headers: dict[str, str], *, as_list: bool | None = None,
                     ) -> tuple[Action, asyncio.Future[Any]]:
        """Write one action; its future gets the reply (a list when Asterisk sends several).

        ``as_list=None`` lets panoramisk wait for the events that complete an action: for an
        async Originate, "successfully queued" and then the OriginateResponse (same ActionID).
        ``False`` takes the first reply as the whole answer (PlayDTMF's "DTMF successfully
        queued" would otherwise be read as the start of an event list).
        """
        action = Action(check_headers(headers))  # nothing reaches the wire unchecked
        return action, self.send(action, as_list=as_list)

    def handle_message(self, message: Any) -> None:
        """panoramisk's matching of one message; a message it cannot interpret is logged and
        dropped rather than taking the whole link (and every call's events) down with it."""
        try:
            super().handle_message(message)
        except Exception as exc:
            wire_log.error("AMI message (%s) not handled: %s: %s", loggable(str(message.get("Event") or
                           message.get("Response") or "?"))[:40], type(exc).__name__, loggable(str(exc))[:80])


class LinkManager(Manager):
    """panoramisk's Manager with the connection lifecycle left to its owner."""

    def __init__(self, on_lost: Callable[[LinkProtocol, Exception | None], None]):
        super().__init__(forgetable_actions=NEVER_REPLAYED, events="call", log=wire_log)
        self._on_lost = on_lost

    async def open(self, host: str, port: int) -> LinkProtocol:
        """Open a TCP connection; the caller logs in and then calls ``use``."""
        self.loop = asyncio.get_running_loop()
        _, protocol = await self.loop.create_connection(lambda: LinkProtocol(self), host, port)
        return protocol

    def use(self, protocol: LinkProtocol) -> None:
        self.protocol = protocol
        self.authenticated = True

    def protocol_lost(self, protocol: LinkProtocol, exc: Exception | None) -> None:
        if protocol is self.protocol:
            self.protocol = None
            self.authenticated = False
        self.awaiting_actions.clear()
        self._on_lost(protocol, exc)

    def connection_lost(self, exc: Exception | None) -> None:
        """Base-class hook (would schedule a reconnect): route it to the owner instead."""
        if isinstance(self.protocol, LinkProtocol):
            self.protocol_lost(self.protocol, exc)

    def send_awaiting_actions(self, *_: object) -> None:
        """Registered by Manager for FullyBooted to replay unanswered actions: never replay."""
        if self.awaiting_actions:
            names = sorted({str(a.get("Action", "?")) for a in self.awaiting_actions})
            self.log.warning("dropping %d unanswered action(s) %s: AMI actions are never re-sent",
                             len(self.awaiting_actions), names)
            self.awaiting_actions.clear()
