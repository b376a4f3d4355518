"""The AMI client: place calls with Originate and learn how they ended, never dialling twice.

Built on panoramisk (``ami_link``) for the wire protocol and the matching of replies to actions.
This module owns the connection: it logs in, pings, detects a dead link and reconnects; when the
link drops, every originate still waiting resolves as ``CallResult.UNKNOWN`` and nothing that was
sent before is ever sent again.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from panoramisk.message import Message

from bot.config import AmiSettings
from bot.domain import CallResult
from bot.errors import AmiError, NotDialled
from bot.telephony.ami_actions import (
    BridgeRequest,
    OriginateRequest,
    bridge_headers,
    check_attempt_id,
    check_value,
    loggable,
    login_headers,
    mask_channel,
    originate_headers,
    queue_member_headers,
    queue_next_headers,
)
from bot.telephony.ami_events import (
    OriginateResult,
    hangup_cause,
    originate_result,
    succeeded,
    unknown_result,
)
from bot.telephony.ami_link import LinkManager, LinkProtocol
from bot.telephony.keys import DTMF_DIGITS, KeyWatch
from bot.telephony.queue_events import QUEUE_EVENTS, QueueWatch

__all__ = ["Ami", "OriginateRequest", "OriginateResult"]

log = logging.getLogger(__name__)

HangupCause = tuple[int | None, str]
"""``(cause, cause_txt)`` of a channel's Hangup event."""

_MAX_TRACKED = 4096  # attempt ids whose Hangup event we listen for
_MAX_REMEMBERED = 10_000  # attempt ids already originated, refused if originated again


@dataclass(eq=False, slots=True)
class _Pending:
    """An originate written on ``link`` and waiting for its OriginateResponse."""

    attempt_id: str
    link: LinkProtocol
    # The OriginateResponse event, or None when the link dropped first.
    reply: asyncio.Future[Message | None]


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Ami:
    """One AMI account's connection to Asterisk."""

    def __init__(
        self,
        settings: AmiSettings,
        *,
        reconnect_delay_s: float = 1.0,
        reconnect_max_s: float = 30.0,
        hangup_grace_s: float = 0.5,
    ):
        self._settings = settings
        self._where = f"{settings.host}:{settings.port}"
        self._reconnect_delay_s = reconnect_delay_s
        self._reconnect_max_s = reconnect_max_s
        # A failed originate's Hangup event may trail its OriginateResponse: wait this long for it.
        self._hangup_grace_s = hangup_grace_s
        self._manager = LinkManager(on_lost=self._link_lost)
        self._manager.register_event("OriginateResponse", self._on_originate_response)
        self._manager.register_event("Hangup", self._on_hangup)
        # Keys pressed between two AGI commands reach the robot only through these events.
        self.keys = KeyWatch()
        for name in ("DTMFEnd", "AGIExecStart", "AGIExecEnd"):
            self._manager.register_event(name, self._on_key_event)
        # A transferred caller's wait in the collectors' queue (agent class events).
        self.queue = QueueWatch()
        for name in QUEUE_EVENTS:
            self._manager.register_event(name, self._on_queue_event)
        self._link: LinkProtocol | None = None
        self._keeper: asyncio.Task[None] | None = None
        self._pending: dict[str, _Pending] = {}
        self._hangups: OrderedDict[str, asyncio.Future[HangupCause]] = OrderedDict()
        self._originated: OrderedDict[str, None] = OrderedDict()

    @property
    def connected(self) -> bool:
        """True while logged in on a live link."""
        return self._link is not None

    async def __aenter__(self) -> Ami:
        await self.connect()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def connect(self) -> None:
        """Connect and log in; from then on keep the link alive until ``close``."""
        if self._keeper is not None:
            return
        host = self._settings.host
        if not is_loopback(host) and not self._settings.allow_remote:
            raise AmiError(
                f"AMI host {host!r} is not loopback; AMI is plaintext, so set ami.allow_remote "
                "only for a trusted network"
            )
        self._link = await self._open()
        self._keeper = asyncio.create_task(self._keep_alive(), name="collbot-ami-keepalive")

    async def close(self) -> None:
        """Drop the link and stop reconnecting; originates still waiting resolve as UNKNOWN."""
        keeper, self._keeper = self._keeper, None
        if keeper is not None:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
        link, self._link = self._link, None
        if link is not None:
            self._fail_pending(link)
            link.abort()
            await asyncio.wait({link.gone}, timeout=1.0)

    async def originate(self, req: OriginateRequest | BridgeRequest) -> OriginateResult:
        """Place one call and wait until Asterisk says how the dialling ended.

        Raises NotDialled, with nothing dialled, for an unsafe value, a link that is down, or an
        action Asterisk refuses; AmiError for a reused attempt id. Once written, the Originate is
        never written again: a lost link or a missing answer gives UNKNOWN.
        """
        try:
            headers = bridge_headers(req) if isinstance(req, BridgeRequest) else originate_headers(req)
        except AmiError as exc:
            raise NotDialled(str(exc)) from exc
        attempt = req.attempt_id
        link = self._link
        if link is None:
            raise NotDialled(f"AMI link to {self._where} is down; attempt {attempt} not dialled")
        if attempt in self._originated or attempt in self._pending:
            raise AmiError(f"attempt {attempt} was already originated; it is never dialled twice")
        hangup = self._watch_hangup(attempt)
        call = _Pending(attempt, link, asyncio.get_running_loop().create_future())
        self._pending[attempt] = call
        self._remember_originated(attempt)
        action, replied = link.send_headers(headers)
        replied.add_done_callback(lambda fut: self._on_action_reply(call, fut))
        ring_s = req.agent_ring_s if isinstance(req, BridgeRequest) else req.ring_timeout_s
        log.info("originate %s via %s (ring %gs)", attempt, mask_channel(headers["Channel"]), ring_s)
        deadline = ring_s + self._settings.originate_margin_s
        try:
            event = await asyncio.wait_for(call.reply, deadline)
        except AmiError:
            self._hangups.pop(attempt, None)  # refused: no channel will ever hang up
            raise
        except TimeoutError:
            log.warning("attempt %s: no OriginateResponse within %gs; result unknown",
                        attempt, deadline)
            return unknown_result(attempt, _seen(hangup))
        finally:
            del self._pending[attempt]
            link.responses.pop(action.id, None)  # a late reply must not find a waiting action
        if event is None:
            log.warning("attempt %s: AMI link lost before its OriginateResponse; result unknown",
                        attempt)
            return unknown_result(attempt, _seen(hangup))
        if not succeeded(event.get("Response")) and not hangup.done():
            await asyncio.wait({hangup}, timeout=self._hangup_grace_s)
        result = originate_result(attempt, event, _seen(hangup))
        log.info("attempt %s: %s (reason %s, cause %s %r)", attempt, result.result,
                 result.reason, result.cause, loggable(result.cause_txt))
        if result.result is CallResult.REJECTED:
            log.warning("attempt %s: the far end rejected the call (cause %s %r, e.g. SIP 488: no common "
                        "codec); check the codecs of the carrier's endpoint", attempt, result.cause,
                        loggable(result.cause_txt))
        if result.result is not CallResult.ANSWERED:
            self._hangups.pop(attempt, None)  # the call is over; nothing left to wait for
        return result

    # A timeout here is an answer (None), not an error: the API keeps the parameter.
    async def wait_hangup(
        self, attempt_id: str, timeout: float  # noqa: ASYNC109
    ) -> HangupCause | None:
        """``(cause, cause_txt)`` once the channel of ``attempt_id`` hangs up; None on timeout."""
        check_attempt_id(attempt_id)
        hangup = self._watch_hangup(attempt_id)
        await asyncio.wait({hangup}, timeout=timeout)
        if not hangup.done() or hangup.cancelled():
            return None
        self._hangups.pop(attempt_id, None)
        return hangup.result()

    async def replay_key(self, channel: str, digit: str) -> None:
        """Make ``channel`` receive ``digit`` again (AMI PlayDTMF with Receive), so an AGI
        command running on it sees a key that was pressed before the command started."""
        check_value("channel", channel)
        if len(digit) != 1 or digit not in DTMF_DIGITS:
            raise AmiError("refusing to replay a key that is not one DTMF digit")
        reply = await self._ask({"Action": "PlayDTMF", "Channel": channel, "Digit": digit,
                                 "Receive": "yes", "Duration": "100"}, as_list=False)
        if not succeeded(reply.get("Response")):
            log.warning("PlayDTMF on the robot's channel failed: %s", reply.get("Message", ""))

    async def send_to_queue(self, attempt_id: str) -> None:
        """Mark the call of ``attempt_id`` for the collectors' queue (its streaming session then ends
        and the dialplan goes on there, as after AGI's SET VARIABLE); AmiError if Asterisk refused."""
        reply = await self._ask(queue_next_headers(attempt_id), as_list=False)
        if not succeeded(reply.get("Response")):
            why = loggable(str(reply.get("Message") or "no reason"))[:120]
            raise AmiError(f"AMI at {self._where} refused to mark the call for the queue: {why}")

    async def queue_member(self, action: str, *, queue: str, interface: str, member: str = "",
                           paused: bool | None = None, reason: str = "") -> tuple[bool, str]:
        """QueueAdd / QueueRemove / QueuePause one member; (succeeded, Asterisk's message)."""
        headers = queue_member_headers(action, queue=queue, interface=interface, member=member,
                                       paused=paused, reason=reason)
        reply = await self._ask(headers, as_list=False)
        return succeeded(reply.get("Response")), loggable(str(reply.get("Message", "")))[:120]

    async def check_privileges(self) -> list[str]:
        """Warnings if this AMI account can do more than originate calls and read call events.

        Probes with harmless actions; "Permission denied" is the answer we want.
        """
        warnings = []
        if not is_loopback(self._settings.host):
            warnings.append(
                f"AMI at {self._where} is reached over the network in plaintext (secret included)"
            )
        reply = await self._ask({"Action": "Command", "Command": "core show version"})
        if not _denied(reply):
            warnings.append(
                f"AMI account {self._settings.username!r} can run CLI commands (Action: Command); "
                "give it only 'originate' write and 'call' read rights"
            )
        # A file that does not exist: reads nothing, but "not found" shows the right to read.
        reply = await self._ask({"Action": "GetConfig", "Filename": "collbot-privilege-probe.conf"})
        if not _denied(reply):
            warnings.append(
                f"AMI account {self._settings.username!r} can read Asterisk configuration "
                "(Action: GetConfig), including other accounts' secrets"
            )
        for warning in warnings:
            log.warning("%s", warning)
        return warnings

    # -- the link ------------------------------------------------------------------------------

    async def _open(self) -> LinkProtocol:
        """A new logged-in link, or AmiError in one line."""
        timeout = self._settings.connect_timeout_s
        protocol: LinkProtocol | None = None
        try:
            async with asyncio.timeout(timeout):
                protocol = await self._manager.open(self._settings.host, self._settings.port)
                # Events: OriginateResponse and Hangup; DTMFEnd and AGIExecStart/End for lost keys
                reply = await self._answer(protocol, login_headers(
                    self._settings.username, self._settings.secret, "call,dtmf,agi,agent"))
        except TimeoutError as exc:
            _abort(protocol)
            raise AmiError(f"AMI at {self._where} did not complete login within {timeout:g}s"
                           ) from exc
        except OSError as exc:
            _abort(protocol)
            raise AmiError(f"cannot connect to AMI at {self._where}: {_os_reason(exc)}") from exc
        except BaseException:
            _abort(protocol)
            raise
        if not succeeded(reply.get("Response")):
            _abort(protocol)
            why = loggable(str(reply.get("Message") or reply.get("Response") or "no reason"))
            raise AmiError(
                f"AMI at {self._where} refused login for {self._settings.username!r}: {why}"
            )
        self._manager.use(protocol)
        log.info("AMI logged in at %s as %r", self._where, self._settings.username)
        return protocol

    async def _answer(self, link: LinkProtocol, headers: dict[str, str], *, as_list: bool | None = None,
                      ) -> Message:
        """Send one action and return its reply; AmiError if the link closes first."""
        _, replied = link.send_headers(headers, as_list=as_list)
        await asyncio.wait({replied, link.gone}, return_when=asyncio.FIRST_COMPLETED)
        if not replied.done():
            raise AmiError(
                f"AMI at {self._where} closed the connection before answering {headers['Action']}"
            )
        reply = replied.result()
        return reply[-1] if isinstance(reply, list) else reply

    async def _ask(self, headers: dict[str, str], *, as_list: bool | None = None) -> Message:
        link = self._link
        if link is None:
            raise AmiError(f"AMI link to {self._where} is down")
        try:
            async with asyncio.timeout(self._settings.connect_timeout_s):
                return await self._answer(link, headers, as_list=as_list)
        except TimeoutError as exc:
            raise AmiError(f"AMI at {self._where} did not answer {headers['Action']}") from exc

    async def _keep_alive(self) -> None:
        """Ping while the link lives; after it dies, reconnect with backoff. Never re-sends."""
        while True:
            link = self._link
            if link is not None:
                await self._watch_link(link)
            self._link = await self._reconnect()

    async def _watch_link(self, link: LinkProtocol) -> None:
        """Return once ``link`` is gone; abort it if a ping goes unanswered (half-open link)."""
        settings = self._settings
        while True:
            done, _ = await asyncio.wait({link.gone}, timeout=settings.ping_interval_s)
            if done:
                return
            _, pong = link.send_headers({"Action": "Ping"})
            await asyncio.wait({pong, link.gone}, timeout=settings.ping_timeout_s,
                               return_when=asyncio.FIRST_COMPLETED)
            if not pong.done() and not link.gone.done():
                log.warning("AMI ping to %s unanswered within %gs; dropping the link",
                            self._where, settings.ping_timeout_s)
                link.abort()
                await link.gone
                return

    async def _reconnect(self) -> LinkProtocol:
        delay = self._reconnect_delay_s
        while True:
            await asyncio.sleep(delay)
            try:
                link = await self._open()
            except AmiError as exc:
                delay = min(delay * 2, self._reconnect_max_s)
                log.warning("AMI reconnect failed: %s (next try in %gs)", exc, delay)
            else:
                log.info("AMI link to %s restored; nothing sent before the loss is re-sent",
                         self._where)
                return link

    def _link_lost(self, link: LinkProtocol, exc: Exception | None) -> None:
        if link is not self._link:
            return  # a link we were opening or already closing
        self._link = None
        pending = sum(call.link is link for call in self._pending.values())
        log.warning("AMI link to %s lost (%s); %d originate(s) in flight become unknown",
                    self._where, loggable(str(exc)) if exc else "closed", pending)
        self._fail_pending(link)

    def _fail_pending(self, link: LinkProtocol) -> None:
        for call in self._pending.values():
            if call.link is link and not call.reply.done():
                call.reply.set_result(None)

    # -- events --------------------------------------------------------------------------------

    def _on_action_reply(self, call: _Pending, replied: asyncio.Future[Any]) -> None:
        """panoramisk matched the reply(ies) to our Originate by ActionID."""
        if call.reply.done():
            return
        reply = replied.result()
        messages = reply if isinstance(reply, list) else [reply]
        for message in messages:
            if message.get("Event") == "OriginateResponse":
                call.reply.set_result(message)
                return
        last = messages[-1]
        if not succeeded(last.get("Response")):
            why = loggable(str(last.get("Message") or last.get("Response") or "no reason"))
            call.reply.set_exception(
                NotDialled(f"Asterisk refused the originate of attempt {call.attempt_id}: {why}")
            )
        # A lone Success: the OriginateResponse will come as an event (_on_originate_response).

    def _on_originate_response(self, _manager: object, event: Message) -> None:
        """An OriginateResponse that no action claimed by ActionID: match it by Uniqueid."""
        call = self._pending.get(str(event.get("Uniqueid", "")))
        if call is not None and not call.reply.done():
            call.reply.set_result(event)

    def _on_hangup(self, _manager: object, event: Message) -> None:
        hangup = self._hangups.get(str(event.get("Uniqueid", "")))
        if hangup is not None and not hangup.done():
            hangup.set_result(hangup_cause(event))

    def _on_key_event(self, _manager: object, event: Message) -> None:
        self.keys.on_event(event)

    def _on_queue_event(self, _manager: object, event: Message) -> None:
        self.queue.on_event(event)

    def _watch_hangup(self, attempt_id: str) -> asyncio.Future[HangupCause]:
        hangup = self._hangups.get(attempt_id)
        if hangup is None:
            hangup = asyncio.get_running_loop().create_future()
            self._hangups[attempt_id] = hangup
            while len(self._hangups) > _MAX_TRACKED:
                self._hangups.popitem(last=False)
        return hangup

    def _remember_originated(self, attempt_id: str) -> None:
        self._originated[attempt_id] = None
        while len(self._originated) > _MAX_REMEMBERED:
            self._originated.popitem(last=False)

    # -- reconciliation after a restart ----------------------------------------------------------

    async def live_channels(self) -> dict[str, str]:
        """Uniqueid → name of every channel Asterisk has now (CoreShowChannels: 'reporting' rights)."""
        link = self._link
        if link is None:
            raise AmiError(f"AMI link to {self._where} is down; cannot list channels")
        action, replied = link.send_headers({"Action": "CoreShowChannels"})
        await asyncio.wait({replied, link.gone}, timeout=self._settings.connect_timeout_s,
                           return_when=asyncio.FIRST_COMPLETED)
        if not replied.done():
            link.responses.pop(action.id, None)
            raise AmiError(f"AMI at {self._where} did not list its channels (CoreShowChannels)")
        reply = replied.result()
        messages = reply if isinstance(reply, list) else [reply]
        if not succeeded(messages[0].get("Response")):
            why = loggable(str(messages[0].get("Message") or "no reason"))
            raise AmiError(f"AMI at {self._where} refused CoreShowChannels: {why}")
        return {str(m["Uniqueid"]): str(m["Channel"]) for m in messages
                if m.get("Event") == "CoreShowChannel" and m.get("Uniqueid") and m.get("Channel")}

    async def current_calls(self) -> int:
        """Asterisk's count of calls in progress (CoreStatus: 'reporting' rights), for the overload governor."""
        reply = await self._ask({"Action": "CoreStatus"}, as_list=False)
        if not succeeded(reply.get("Response")):
            why = loggable(str(reply.get("Message") or "no reason"))
            raise AmiError(f"AMI at {self._where} refused CoreStatus: {why}")
        try:
            return int(str(reply.get("CoreCurrentCalls", "")))
        except ValueError as exc:
            raise AmiError(f"AMI at {self._where}: CoreStatus gave no CoreCurrentCalls") from exc

    async def hangup(self, channel: str) -> bool:
        """Hang up a channel by the name ``live_channels`` gave; False if it was gone already."""
        check_value("channel", channel)
        if channel.startswith("/"):  # Hangup would read /.../ as a pattern over every channel
            raise AmiError("refusing to hang up a channel whose name reads as a pattern")
        reply = await self._ask({"Action": "Hangup", "Channel": channel, "Cause": "16"})
        return succeeded(reply.get("Response"))


def _seen(hangup: asyncio.Future[HangupCause]) -> HangupCause | None:
    return hangup.result() if hangup.done() and not hangup.cancelled() else None


def _denied(reply: Message) -> bool:
    return str(reply.get("Message", "")).strip().lower() == "permission denied"


def _abort(protocol: LinkProtocol | None) -> None:
    if protocol is not None:
        protocol.abort()


def _os_reason(exc: OSError) -> str:
    if exc.errno:
        return os.strerror(exc.errno)
    return " ".join(str(exc).split()) or type(exc).__name__
