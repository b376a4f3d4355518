"""Keys a customer pressed while no AGI command was reading the call, seen through AMI.

Between two AGI commands Asterisk reads the caller's frames and drops them, so a key pressed
in that gap (a prompt just ended, the next RECORD FILE not yet started) never reaches the
robot over FastAGI. Asterisk still reports every key in a ``DTMFEnd`` event, and each AGI
command between ``AGIExecStart`` and ``AGIExecEnd`` events of the same channel, in the order
they happened on that channel. A key that ends outside a command is a **lost key**: it waits
here until the listening robot takes it. A key that ends inside a command was that command's
to see (STREAM FILE or RECORD FILE return it when it is one of their escape digits), so it is
not kept.

Pure and synchronous; the AMI client feeds events in, the call's channel takes keys out.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, deque
from collections.abc import Mapping

DTMF_DIGITS = frozenset("0123456789*#ABCD")
_MAX_CALLS = 10_000  # calls watched at once; the oldest are forgotten first
_MAX_KEYS = 32  # lost keys kept per call


class CallKeys:
    """One call's lost keys and whether an AGI command is running on it."""

    def __init__(self) -> None:
        self.busy = 0  # AGI commands started and not yet ended (0 or 1 in practice)
        self.started = 0  # AGI commands Asterisk has started on this call
        self._lost: deque[str] = deque(maxlen=_MAX_KEYS)
        self._arrived: asyncio.Event | None = None
        self._starts: list[tuple[int, asyncio.Future[float | None]]] = []

    def command_started(self, at: float | None = None) -> None:
        """Asterisk began an AGI command (AMI ``AGIExecStart``), ``at`` that monotonic time
        when the event said when (its ``Timestamp``), None when it did not."""
        self.busy += 1
        self.started += 1
        waiting, self._starts = self._starts, []
        for count, future in waiting:
            if future.done():
                continue
            if self.started >= count:
                future.set_result(at)
            else:
                self._starts.append((count, future))

    def command_ended(self) -> None:
        """An AGI command finished (AMI ``AGIExecEnd``)."""
        self.busy = max(0, self.busy - 1)

    def when_started(self, count: int) -> asyncio.Future[float | None]:
        """Completes once ``count`` commands have started, with the monotonic time Asterisk
        started the last (None when its event carried no ``Timestamp``)."""
        future: asyncio.Future[float | None] = asyncio.get_running_loop().create_future()
        if self.started >= count:
            future.set_result(None)
        else:
            self._starts.append((count, future))
        return future

    def pressed(self, digit: str) -> None:
        """A key ended on the call (AMI ``DTMFEnd``, received)."""
        if self.busy or digit not in DTMF_DIGITS:
            return
        self._lost.append(digit)
        if self._arrived is not None:
            self._arrived.set()

    def take(self, allowed: str) -> str:
        """The first lost key that is one of ``allowed``; keys that are not are dropped."""
        while self._lost:
            digit = self._lost.popleft()
            if digit in allowed:
                return digit
        return ""

    def clear(self) -> None:
        """Forget keys pressed before now (a new prompt starts; earlier keys answer nothing)."""
        self._lost.clear()

    async def wait(self) -> None:
        """Until a lost key arrives (returns at once when one is waiting)."""
        if self._lost:
            return
        if self._arrived is None:
            self._arrived = asyncio.Event()
        self._arrived.clear()
        await self._arrived.wait()


def event_time(event: Mapping[str, object]) -> float | None:
    """When Asterisk raised ``event``, on this process's monotonic clock, from its
    ``Timestamp`` header (manager.conf ``timestampevents = yes``); None without one. Never
    later than now: the event cannot have been raised after it arrived, whatever the clocks say."""
    try:
        stamp = float(str(event.get("Timestamp", "")))
    except ValueError:
        return None
    now = time.monotonic()
    return min(now, stamp - time.time() + now)


class KeyWatch:
    """Routes AMI events to the calls being watched, by the channel's Uniqueid."""

    def __init__(self) -> None:
        self._calls: OrderedDict[str, CallKeys] = OrderedDict()

    def watch(self, uniqueid: str) -> CallKeys:
        keys = self._calls.get(uniqueid)
        if keys is None:
            keys = self._calls[uniqueid] = CallKeys()
            while len(self._calls) > _MAX_CALLS:
                self._calls.popitem(last=False)
        return keys

    def forget(self, uniqueid: str) -> None:
        self._calls.pop(uniqueid, None)

    def on_event(self, event: Mapping[str, object]) -> None:
        """Feed one AMI event (any kind; only DTMFEnd and AGIExecStart/End matter)."""
        keys = self._calls.get(str(event.get("Uniqueid", "")))
        if keys is None:
            return
        name = event.get("Event")
        if name == "AGIExecStart":
            keys.command_started(event_time(event))
        elif name == "AGIExecEnd":
            keys.command_ended()
        elif name == "DTMFEnd" and event.get("Direction") == "Received":
            keys.pressed(str(event.get("Digit", "")))
