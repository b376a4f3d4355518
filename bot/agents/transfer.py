"""Warm transfer: follow a robot call through the collectors' queue, pop the agent's desk, and
offer a callback when no agent takes it.

The robot's session has already handed the live call to the dialplan (``collbot-queue``). From
then on Asterisk reports the wait as queue events (``bot.telephony.queue_events``); this module
turns them into the screen pop and into what the attempt's outcome says happened.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from bot.domain import Outcome
from bot.store.repo import Store
from bot.telephony.channel import Channel, Hangup, ListenSpec
from bot.telephony.queue_events import QueueEvent
from bot.web.live import pop_screen, push_event
from bot.web.summary import summary_of

log = logging.getLogger(__name__)

CALLBACK_KEY = "1"
OFFER = {
    "ko": "지금은 모든 상담원이 통화 중입니다. 상담원의 전화를 받으시려면 1번을 누르세요.",
    "en": "All our agents are busy. To get a call back from an agent, press 1.",
    "zh": "所有客服都在忙。如需回电，请按1。",
}
TAKEN = {"ko": "상담원이 곧 다시 전화드리겠습니다. 감사합니다.", "en": "An agent will call you back. Thank you.",
         "zh": "客服会给您回电。谢谢。"}
NOT_TAKEN = {"ko": "다음에 다시 연락드리겠습니다. 감사합니다.", "en": "We will contact you again. Thank you.",
             "zh": "我们会再联系您。谢谢。"}

Db = Callable[..., Awaitable[Any]]


@dataclasses.dataclass
class TransferResult:
    """What the transfer did, for the attempt's outcome detail."""

    outcome: Outcome
    detail: dict[str, object]
    ringing_at: float | None = None  # epoch seconds of the first AgentCalled (the first agent's ring)
    attempt_id: str = ""
    agent: str = ""


async def offer_callback(channel: Channel, *, language: str, voice: str, now: dt.datetime,
                         after: dt.timedelta, chosen: Callable[[dict[str, object]], None]) -> None:
    """The robot's short callback offer after the queue gave up: "press 1". ``chosen`` gets the
    customer's choice before the goodbye, so the hang-up that follows cannot overtake it."""
    lang = language if language in OFFER else "en"
    key = await channel.say(OFFER[lang], language=voice, dtmf=CALLBACK_KEY)
    if not key:
        heard = await channel.listen(ListenSpec(phrases=(), dtmf=CALLBACK_KEY, no_input_s=6.0))
        key = heard.digit
    accepted = key == CALLBACK_KEY
    chosen({"callback": "requested", "callback_at": (now + after).isoformat(timespec="minutes")}
           if accepted else {"callback": "declined"})
    await channel.say(TAKEN[lang] if accepted else NOT_TAKEN[lang], language=voice)
    await channel.hangup()


async def follow_transfer(*, attempt_id: str, store: Store, db: Db, events: asyncio.Queue[QueueEvent],
                          hangup: asyncio.Future[Any], callback: asyncio.Future[dict[str, object]],
                          reason: str, max_s: float) -> TransferResult:
    """Wait for the queue's verdict on a transferred call: an agent answered (their desk pops
    with the robot's summary), the callback offer ran, or the customer hung up waiting."""
    detail: dict[str, object] = {"action": "transfer"}
    result = TransferResult(Outcome.TRANSFER_REQUESTED, detail, attempt_id=attempt_id)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max_s
    offered: set[str] = set()
    while True:
        left = deadline - loop.time()
        if left <= 0:
            detail["transfer"] = "timed_out"
            return result
        getter = asyncio.ensure_future(events.get())
        done, _ = await asyncio.wait({getter, hangup, callback}, timeout=left,
                                     return_when=asyncio.FIRST_COMPLETED)
        if getter not in done:
            getter.cancel()
        if callback in done and not callback.cancelled():
            chosen = callback.result()
            detail.update({"transfer": "no_agent", **chosen})
            if chosen.get("callback") == "requested":
                result.outcome = Outcome.CALLBACK
            return result
        if getter in done:
            event = getter.result()
            if event.kind == "AgentCalled" and event.member:
                if result.ringing_at is None:
                    result.ringing_at = event.at
                if event.member not in offered:
                    offered.add(event.member)
                    await db(push_event, store, event.member, "notice",
                             {"text": "Incoming transfer from the robot: answer your phone"})
            elif event.kind == "AgentConnect" and event.member:
                result.agent = event.member
                detail.update({"transfer": "connected", "agent": event.member})
                if event.hold_s is not None:
                    detail["hold_s"] = event.hold_s
                await _pop(db, store, event.member, attempt_id, reason)
                return result
            continue
        if hangup in done:
            detail["transfer"] = "abandoned"  # the customer hung up while waiting
            return result


async def _pop(db: Db, store: Store, agent: str, attempt_id: str, reason: str) -> None:
    def build_and_pop() -> int:
        summary = dataclasses.replace(summary_of(store, attempt_id, reason),
                                      outcome=Outcome.TRANSFER_REQUESTED.value)
        return pop_screen(store, agent, summary)

    try:
        event_id = await db(build_and_pop)
        log.info("attempt %s: put through to agent %s (desk event %s)", attempt_id, agent, event_id)
    except Exception as exc:  # the call is bridged whatever the desk shows: say so, don't drop it
        log.error("attempt %s: the screen pop for agent %s failed: %s", attempt_id, agent, exc)


__all__ = ["Hangup", "TransferResult", "follow_transfer", "offer_callback"]
