"""The built-in payment reminder: greet, state the amount, ask, understand, answer, hang up.

It is a ``transitions`` state machine over a Channel; the script language replaces it with
operator-written scripts on the same path.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import ClassVar

from transitions.extensions.asyncio import AsyncMachine

from bot.domain import Debtor, DialogueEvent, EventKind, Heard, Outcome
from bot.telephony.channel import Channel, Hangup, ListenSpec

from .nlu import Intent, Understood, phrases, understand
from .speak import spoken_amount

Recorder = Callable[[DialogueEvent], Awaitable[None]]

TEXT = {
    "ko": {
        "greet": "안녕하세요, {name} 고객님. 콜봇 금융의 자동 안내 전화입니다. "
                 "더 이상 전화를 원하지 않으시면 9번을 눌러 주세요.",
        "ask": "납부하실 금액은 {amount} 입니다. 오늘 납부하실 수 있으신가요? "
               "네 또는 아니요로 말씀하시거나, 1번 또는 2번을 눌러 주세요.",
        "reprompt": "죄송합니다, 잘 듣지 못했습니다. 납부하실 수 있으시면 네, 아니면 아니요라고 말씀해 주세요.",
        "promise_today": "감사합니다. 오늘 납부를 약속하셨습니다. 좋은 하루 되세요.",
        "promise_date": "감사합니다. {month}월 {day}일에 납부를 약속하셨습니다. 좋은 하루 되세요.",
        "refused": "알겠습니다. 빠른 시일 안에 납부 부탁드립니다. 감사합니다.",
        "opt_out": "알겠습니다. 더 이상 전화 드리지 않겠습니다. 감사합니다.",
        "no_response": "응답이 없어 통화를 종료합니다. 감사합니다.",
    },
    "en": {
        "greet": "Hello {name}. This is an automated call from Collbot Finance. "
                 "To stop these calls, press 9.",
        "ask": "The amount due is {amount}. Can you pay it today? Say yes or no, or press 1 or 2.",
        "reprompt": "Sorry, I did not catch that. Please say yes or no.",
        "promise_today": "Thank you. You promised to pay today. Goodbye.",
        "promise_date": "Thank you. You promised to pay on {month}/{day}. Goodbye.",
        "refused": "Understood. Please pay as soon as you can. Goodbye.",
        "opt_out": "Understood. We will not call you again. Goodbye.",
        "no_response": "We did not hear you, so we will end the call. Goodbye.",
    },
}
MAX_TRIES = 3
LISTEN_KEYS = "129"


@dataclass
class CallOutcome:
    outcome: Outcome
    detail: dict[str, object] = field(default_factory=dict)
    hangup_by: str | None = None  # 'customer' when they hung up first


class Reminder:
    """One call's dialogue; its state lives here, the machine is shared by all calls."""

    states: ClassVar[list[str]] = ["start", "greeting", "asking", "closing", "ended"]
    transitions_spec: ClassVar[list[dict[str, object]]] = [
        {"trigger": "greet", "source": "start", "dest": "greeting"},
        {"trigger": "ask", "source": ["greeting", "asking"], "dest": "asking"},
        {"trigger": "close", "source": ["greeting", "asking"], "dest": "closing"},
        {"trigger": "end", "source": "*", "dest": "ended"},
    ]

    def __init__(self, debtor: Debtor, *, today: dt.date, record: Recorder,
                 no_input_s: float = 5.0, max_speech_s: float = 10.0):
        self.debtor = debtor
        self.language = debtor.language if debtor.language in TEXT else "ko"
        self.text = TEXT[self.language]
        self.today = today
        self.record = record
        self.listen_spec = ListenSpec(phrases(self.language), LISTEN_KEYS, no_input_s, max_speech_s)
        self.state = "start"
        _MACHINE.add_model(self)

    async def on_enter_state(self, *_: object) -> None:
        await self.record(DialogueEvent(EventKind.STATE, {"state": self.state}))

    async def run(self, channel: Channel) -> CallOutcome:
        """Talk until the dialogue ends; a hangup ends it with outcome hung_up."""
        try:
            result = await self._converse(channel)
            await channel.hangup()
            await self.record(DialogueEvent(EventKind.HANGUP, {"by": "robot"}))
            return result
        except Hangup as gone:
            await self.record(DialogueEvent(EventKind.HANGUP, {"by": gone.by, "state": self.state}))
            return CallOutcome(Outcome.HUNG_UP, {"state": self.state}, hangup_by=gone.by)
        finally:
            if self.state != "ended":
                await self.end()
            _MACHINE.remove_model(self)

    async def _converse(self, channel: Channel) -> CallOutcome:
        await self.greet()
        amount = spoken_amount(self.debtor.amount, self.debtor.currency, self.language)
        # One turn is one prompt: a gap between greeting and question would read as the
        # robot's turn ending, and a caller would answer into it.
        prompts = ("greet", "ask")
        understood = Understood(Intent.UNKNOWN)
        await self.ask()
        for _ in range(MAX_TRIES):
            key = await self._say(channel, prompts, name=self.debtor.name, amount=amount)
            heard = Heard(digit=key) if key else await self._listen(channel)
            understood = understand(heard, self.language, self.today)
            if understood.intent is not Intent.UNKNOWN:
                break
            prompts = ("reprompt",)
        await self.close()
        outcome, detail, closing = self._conclude(understood)
        await self._say(channel, (closing[0],), **closing[1])
        return CallOutcome(outcome, detail)

    def _conclude(self, u: Understood) -> tuple[Outcome, dict[str, object], tuple[str, dict[str, object]]]:
        if u.intent in (Intent.YES, Intent.PROMISE) and u.promise_date is not None:
            detail = {"promise_date": u.promise_date.isoformat(), "amount": str(self.debtor.amount)}
            if u.promise_date == self.today:
                return Outcome.PROMISE_TO_PAY, detail, ("promise_today", {})
            date = {"month": u.promise_date.month, "day": u.promise_date.day}
            return Outcome.PROMISE_TO_PAY, detail, ("promise_date", date)
        if u.intent is Intent.NO:
            return Outcome.REFUSED, {}, ("refused", {})
        if u.intent is Intent.OPT_OUT:
            return Outcome.OPT_OUT, {}, ("opt_out", {})
        return Outcome.NO_RESPONSE, {}, ("no_response", {})

    async def _say(self, channel: Channel, keys: tuple[str, ...], **values: object) -> str:
        text = " ".join(self.text[key].format(**values) for key in keys)
        name = "+".join(keys)
        await self.record(DialogueEvent(EventKind.PROMPT, {"prompt": name, "text": text}))
        digit = await channel.say(text, language=self.language, dtmf=LISTEN_KEYS)
        if digit:
            await self.record(DialogueEvent(EventKind.DTMF, {"digit": digit, "during": name}))
        return digit

    async def _listen(self, channel: Channel) -> Heard:
        heard = await channel.listen(self.listen_spec)
        if heard.digit:
            await self.record(DialogueEvent(EventKind.DTMF, {"digit": heard.digit}))
        elif heard.text:
            await self.record(DialogueEvent(EventKind.RECOGNITION, {
                "text": heard.text, "confidence": round(heard.confidence, 3), "audio_ms": heard.audio_ms}))
        else:
            await self.record(DialogueEvent(EventKind.NO_INPUT, {"audio_ms": heard.audio_ms}))
        return heard


_MACHINE = AsyncMachine(model=None, states=Reminder.states, transitions=Reminder.transitions_spec,
                   initial="start", auto_transitions=False, after_state_change="on_enter_state")
