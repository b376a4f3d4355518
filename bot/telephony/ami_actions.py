"""What collbot writes to AMI: the Originate request, checked so that no value can add a header.

Pure: no I/O. AMI frames are ``Key: value`` lines ended by CRLF and a blank line, and Asterisk
splits lines on a bare LF too, so a single control character in a value could end the header and
start a new one (``Variable: ...``, a second action ...). Every value is checked here, before
anything is written.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass

from bot.errors import AmiError

ATTEMPT_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
"""An attempt id, sent as the ChannelId (and so the Uniqueid) of the originated channel."""

# C0/C1 controls (CR, LF, NUL, TAB, NEL ...) and the Unicode line/paragraph separators.
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Zl", "Zp"})
_DIGIT_RUN = re.compile(r"\d{3,}")


@dataclass(frozen=True, slots=True, kw_only=True)
class OriginateRequest:
    """One call to place: ``channel`` is a dial string already built from an E.164 number."""

    attempt_id: str
    channel: str
    context: str
    exten: str
    priority: int = 1
    ring_timeout_s: float
    caller_id: str = ""


def check_value(name: str, value: object, *, required: bool = True) -> str:
    """Return ``value`` if it is safe as one AMI header value; AmiError otherwise.

    The message never repeats the value: it may be a phone number.
    """
    problem = unsafe_value(value, required=required)
    if problem is not None:
        raise AmiError(f"AMI {name} {problem}; nothing sent")
    return value  # type: ignore[return-value]  # unsafe_value returned None: it is a str


def unsafe_value(value: object, *, required: bool = True) -> str | None:
    """Why ``value`` cannot be one AMI header value ("is empty", ...), or None if it can."""
    if not isinstance(value, str):
        return f"must be text, not {type(value).__name__}"
    if required and not value.strip():
        return "is empty"
    for char in value:
        if unicodedata.category(char) in _FORBIDDEN_CATEGORIES:
            return f"contains control character {char!r}"
    return None


def check_headers(headers: dict[str, str]) -> dict[str, str]:
    """Every name and value of an action safe on the wire; the last gate before any write."""
    for name, value in headers.items():
        if not isinstance(name, str) or not name or any(not (c.isalnum() or c in "-_") for c in name):
            raise AmiError(f"AMI header name {loggable(str(name))[:40]!r} refused; nothing sent")
        check_value(name, value, required=False)
    return headers


def check_attempt_id(attempt_id: object) -> str:
    if not isinstance(attempt_id, str) or not ATTEMPT_ID.fullmatch(attempt_id):
        raise AmiError(
            f"attempt id {loggable(str(attempt_id))[:80]!r} must match {ATTEMPT_ID.pattern}"
        )
    return attempt_id


def originate_headers(req: OriginateRequest) -> dict[str, str]:
    """The headers of ``Action: Originate`` for ``req`` (the ActionID is added by the sender)."""
    timeout = req.ring_timeout_s
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        raise AmiError("ring timeout must be a number of seconds")
    if not math.isfinite(timeout) or timeout <= 0:
        raise AmiError(f"ring timeout must be positive, not {timeout!r}")
    if isinstance(req.priority, bool) or not isinstance(req.priority, int) or req.priority < 1:
        raise AmiError(f"dialplan priority must be a positive integer, not {req.priority!r}")
    headers = {
        "Action": "Originate",
        "ChannelId": check_attempt_id(req.attempt_id),
        "Channel": check_value("channel", req.channel),
        "Context": check_value("context", req.context),
        "Exten": check_value("exten", req.exten),
        "Priority": str(req.priority),
        "Timeout": str(max(1, round(timeout * 1000))),
        "Async": "true",
    }
    if check_value("caller id", req.caller_id, required=False):
        headers["CallerID"] = req.caller_id
    return headers


def queue_next_headers(attempt_id: str) -> dict[str, str]:
    """``Action: Setvar`` COLLBOT_NEXT=queue on the robot's channel, found by its Uniqueid (the
    attempt id): when its AudioSocket() ends, the dialplan takes it to the collectors' queue.
    Variable and value are fixed here; only the checked attempt id varies."""
    return {"Action": "Setvar", "Channel": check_attempt_id(attempt_id), "Variable": "COLLBOT_NEXT",
            "Value": "queue"}


def login_headers(username: str, secret: str, events: str) -> dict[str, str]:
    """The headers of ``Action: Login``: a CR/LF in the secret must not start a second action."""
    return {"Action": "Login", "Username": check_value("username", username),
            "Secret": check_value("secret", secret), "Events": check_value("events", events)}


def loggable(text: str) -> str:
    """``text`` safe for a log line: digit runs masked but for their last two, controls escaped."""
    masked = _DIGIT_RUN.sub(lambda m: "*" * (len(m[0]) - 2) + m[0][-2:], text)
    return "".join(
        c if unicodedata.category(c) not in _FORBIDDEN_CATEGORIES else repr(c)[1:-1]
        for c in masked
    )


def mask_channel(channel: str) -> str:
    """A dial string for logs: ``PJSIP/+821012345678@trunk`` gives ``PJSIP/+**********78@trunk``."""
    return loggable(channel)


QUEUE_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
MEMBER_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")
"""A queue member's name: the agent id, which is the desk login (same alphabet)."""
MEMBER_INTERFACE = re.compile(r"(?:PJSIP|SIP|IAX2|Local)/[A-Za-z0-9._@+-]{1,96}(?:/n)?")
"""A member's device: a technology, a plain endpoint name, and for Local channels ``/n``."""
QUEUE_ACTIONS = ("QueueAdd", "QueueRemove", "QueuePause")


def queue_member_headers(action: str, *, queue: str, interface: str, member: str = "",
                         paused: bool | None = None, reason: str = "") -> dict[str, str]:
    """The headers of QueueAdd / QueueRemove / QueuePause for one member, every value checked:
    the queue, interface and member name against fixed alphabets, a pause reason for controls."""
    if action not in QUEUE_ACTIONS:
        raise AmiError(f"AMI action {action!r} is not a queue member action; nothing sent")
    if not isinstance(queue, str) or not QUEUE_NAME.fullmatch(queue):
        raise AmiError(f"queue name must match {QUEUE_NAME.pattern}; nothing sent")
    if not isinstance(interface, str) or not MEMBER_INTERFACE.fullmatch(interface):
        raise AmiError(f"queue member interface {loggable(str(interface))[:80]!r} refused; nothing sent")
    headers = {"Action": action, "Queue": queue, "Interface": interface}
    if action == "QueueAdd":
        if not MEMBER_NAME.fullmatch(member):
            raise AmiError(f"queue member name must match {MEMBER_NAME.pattern}; nothing sent")
        headers["MemberName"] = member
        headers["Paused"] = "true" if paused else "false"
    elif action == "QueuePause":
        if paused is None:
            raise AmiError("QueuePause needs paused true or false; nothing sent")
        headers["Paused"] = "true" if paused else "false"
        if reason:
            headers["Reason"] = check_value("pause reason", reason[:64], required=False)
    return headers


def member_interface(template: str, agent: str) -> str:
    """The device of ``agent`` from ``template`` (``PJSIP/{agent}``), refused unless both are safe."""
    if not MEMBER_NAME.fullmatch(agent):
        raise AmiError(f"agent id must match {MEMBER_NAME.pattern}")
    interface = template.replace("{agent}", agent)
    if not MEMBER_INTERFACE.fullmatch(interface):
        raise AmiError(f"queue member interface from template {loggable(template)[:60]!r} refused")
    return interface


_DIAL_TARGET = re.compile(r"[A-Za-z0-9]+/[A-Za-z0-9._@+/-]{1,120}")


@dataclass(frozen=True, slots=True, kw_only=True)
class BridgeRequest:
    """A collector's call: ring ``agent_channel`` first; when the agent answers, Asterisk dials
    ``customer_channel`` (a dial string built from an E.164 number) and bridges the two."""

    attempt_id: str
    agent_channel: str
    customer_channel: str
    agent_ring_s: float
    customer_ring_s: float
    caller_id: str = ""


def bridge_headers(req: BridgeRequest) -> dict[str, str]:
    """``Action: Originate`` with the fixed application Dial; the dial strings may hold no
    separator (``,`` ``&`` ``|``), so nothing can add a Dial option or a second target."""
    for name, value in (("agent channel", req.agent_channel), ("customer channel", req.customer_channel)):
        check_value(name, value)
        if not _DIAL_TARGET.fullmatch(value):
            raise AmiError(f"{name} {mask_channel(value)[:60]!r} is not one plain dial string; nothing sent")
    for name, seconds in (("agent ring", req.agent_ring_s), ("customer ring", req.customer_ring_s)):
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not 0 < seconds <= 300:
            raise AmiError(f"{name} timeout must be 1-300 seconds")
    headers = {
        "Action": "Originate",
        "ChannelId": check_attempt_id(req.attempt_id),
        "Channel": req.agent_channel,
        "Application": "Dial",
        "Data": f"{req.customer_channel},{max(1, round(req.customer_ring_s))}",
        "Timeout": str(max(1, round(req.agent_ring_s * 1000))),
        "Async": "true",
    }
    if check_value("caller id", req.caller_id, required=False):
        headers["CallerID"] = req.caller_id
    return headers
