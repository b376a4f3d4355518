"""The collectors' queue as AMI reports it: per caller, the events of its wait and its bridge.

app_queue names the waiting caller by its Uniqueid (for the robot's calls, the attempt id) and the
agent by MemberName (the agent id given at QueueAdd). Pure bookkeeping, no I/O: ``Ami`` feeds it.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

QUEUE_EVENTS = ("QueueCallerJoin", "AgentCalled", "AgentRingNoAnswer", "AgentConnect",
                "AgentComplete", "QueueCallerAbandon", "QueueCallerLeave")


@dataclass(frozen=True, slots=True)
class QueueEvent:
    """One queue event of a waiting caller: ``kind`` is the AMI event name."""

    kind: str
    caller: str  # Uniqueid of the caller's channel
    queue: str
    member: str = ""  # MemberName (the agent id), for Agent* events
    hold_s: float | None = None  # HoldTime of AgentConnect
    at: float = 0.0  # wall-clock time (epoch seconds) when it arrived


class QueueWatch:
    """Callers being watched, each with a queue of its events; unknown callers are ignored."""

    def __init__(self) -> None:
        self._callers: dict[str, asyncio.Queue[QueueEvent]] = {}

    def watch(self, caller: str) -> asyncio.Queue[QueueEvent]:
        return self._callers.setdefault(caller, asyncio.Queue())

    def forget(self, caller: str) -> None:
        self._callers.pop(caller, None)

    def on_event(self, event: dict[str, object]) -> None:
        caller = str(event.get("Uniqueid", ""))
        events = self._callers.get(caller)
        if events is None:
            return
        hold = event.get("HoldTime")
        try:
            hold_s = float(str(hold)) if hold not in (None, "") else None
        except ValueError:
            hold_s = None
        events.put_nowait(QueueEvent(
            kind=str(event.get("Event", "")), caller=caller, queue=str(event.get("Queue", "")),
            member=str(event.get("MemberName", "")), hold_s=hold_s,
            at=time.time()))
