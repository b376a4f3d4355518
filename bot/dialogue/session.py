"""Runs one call through a compiled script over a Channel, recording every event.

A hangup ends the run with ``hung_up``. Debtor data the script needs but this debtor lacks
ends the call politely with outcome ``error`` and the reason, so a campaign goes on.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from bot.domain import OPT_OUT_REVIEW, Debtor, DialogueEvent, EventKind, Heard, Outcome
from bot.telephony.channel import Channel, Hangup, ListenSpec
from bot.understanding import Kind, Result, StepModel, Understanding

from . import speak, times
from .compiler import CompiledScript
from .listening import ASK_DAY, CONFIRM_STEP, confirm_text
from .schema import PLACEHOLDER, Condition, Intent, Listen, Recording, Rule, Say
from .slots import literal

Recorder = Callable[[DialogueEvent], Awaitable[None]]
MAX_STEPS = 200
APOLOGY = {
    "ko": "죄송합니다. 지금은 안내를 계속할 수 없습니다. 다시 연락 드리겠습니다.",
    "zh": "抱歉，现在无法继续。我们会再联系您。",
    "en": "We are sorry, we cannot continue this call now. We will contact you again.",
}


class ScriptDataError(Exception):
    """The script needs something this call does not have (e.g. an empty debtor field)."""


@dataclass
class CallOutcome:
    outcome: Outcome
    detail: dict[str, object] = field(default_factory=dict)
    hangup_by: str | None = None
    path: list[str] = field(default_factory=list)
    slots: dict[str, object] = field(default_factory=dict)



def _unclear_opt_out(u: Understanding, model: StepModel) -> bool:
    """An opt-out cue not heard surely enough to honour without asking (docs/understanding.md)."""
    return u.kind is Kind.OPT_OUT and u.score < model.policy.certain_score

class ScriptRun:
    """One call's walk through a script; the compiled machine is shared by all calls."""

    def __init__(self, compiled: CompiledScript, debtor: Debtor, *, today: dt.date, record: Recorder,
                 min_confidence: float = 0.0):
        self.compiled = compiled
        self.script = compiled.script
        self.debtor = debtor
        self.today = today
        self.record = record
        self.voice = self.script.voice or self.script.language
        self.slots: dict[str, object] = {}
        self.counters: Counter[str] = Counter()
        self.path: list[str] = []
        self._held: list[str] = []
        self._held_personal = False  # a held text filled a placeholder (the debtor's data)
        self.state = self.script.start
        # Recognitions less sure than this are not taken as an answer: a misheard "paid" or
        # "wrong number" costs more than asking again.
        self.min_confidence = min_confidence
        self._heard_at: float | None = None  # when the last answer was heard (monotonic)
        self.contact_requests: list[dict[str, object]] = []  # asked for in this call (step contact_request)
        # an opt-out cue whose confirmation stayed unclear (understanding.unclear_opt_out: review)
        self.unconfirmed_opt_out: dict[str, object] | None = None

    async def on_state_change(self, *_: object) -> None:
        await self._entered()

    async def _entered(self) -> None:
        self.path.append(self.state)
        self.counters[self.state] += 1
        await self.record(DialogueEvent(EventKind.STATE, {"step": self.state}))
        asked = self.script.steps[self.state].contact_request
        if asked is not None:  # the customer asked for it: kept whatever happens next, hang-up included
            request: dict[str, object] = {"hours": list(asked.hours), "means": list(asked.means), "step": self.state}
            if asked.suspension is not None:  # stored for a person to review, never granted here
                request["suspension"] = asked.suspension
            if request not in self.contact_requests:
                self.contact_requests.append(request)

    async def run(self, channel: Channel) -> CallOutcome:
        machine = self.compiled.machine
        machine.add_model(self, initial=self.script.start)
        try:
            result = await self._walk(channel)
            transfer = getattr(channel, "transfer", None)
            if result.detail.get("action") == "transfer" and transfer is not None:
                # Someone asked for a person: the call goes on to the collectors' queue.
                await transfer()
                await self.record(DialogueEvent(EventKind.STATE, {"step": self.state, "transfer": "queue"}))
                return result
            await channel.hangup()
            await self.record(DialogueEvent(EventKind.HANGUP, {"by": "robot"}))
            return result
        except Hangup as gone:
            await self.record(DialogueEvent(EventKind.HANGUP, {"by": gone.by, "step": self.state}))
            # the campaign's follow-up policy retries only hang-ups before the right party was confirmed
            identified = self.script.identification is not None and self.script.identification in self.path
            return self._outcome(Outcome.HUNG_UP, {"step": self.state, "identified": identified}, hangup_by=gone.by)
        except ScriptDataError as problem:
            await self.record(DialogueEvent(EventKind.ERROR, {"reason": str(problem), "step": self.state}))
            try:
                await channel.say(APOLOGY[self.script.language], language=self.voice)
                await channel.hangup()
            except Hangup:
                pass
            return self._outcome(Outcome.ERROR, {"reason": str(problem), "step": self.state})
        finally:
            machine.remove_model(self)

    def _outcome(self, outcome: Outcome, detail: dict[str, object], hangup_by: str | None = None) -> CallOutcome:
        if self.contact_requests:
            detail = {**detail, "contact_requests": [dict(r) for r in self.contact_requests]}
        if self.unconfirmed_opt_out is not None and outcome is not Outcome.OPT_OUT:
            detail = {**detail, OPT_OUT_REVIEW: dict(self.unconfirmed_opt_out)}
        return CallOutcome(outcome, detail, hangup_by, list(self.path), dict(self.slots))

    async def _walk(self, channel: Channel) -> CallOutcome:
        await self._entered()
        for _ in range(MAX_STEPS):
            step = self.script.steps[self.state]
            keys = self.compiled.keys.get(self.state, "")
            key = ""
            spec = None
            if step.say is not None and (step.goto or step.branch):
                await self._hold(channel, step.say)  # the robot's turn goes on
            elif step.say is not None:
                spec = self._spec(step.listen) if step.listen is not None else None
                key = await self._say(channel, step.say, keys, spec)
            if step.end:
                assert step.outcome is not None
                return self._outcome(step.outcome, self._detail(step.outcome, step.action))
            if step.goto:
                target = step.goto
            elif step.branch:
                target = self._branch(step.branch)
            else:
                assert step.listen is not None
                target = await self._listen(channel, step.listen, step.say, keys, key,
                                            spec or self._spec(step.listen))
            await self.trigger(f"to_{target}")
        raise ScriptDataError(f"the script went through {MAX_STEPS} steps without ending")

    def _detail(self, outcome: Outcome, action: str | None) -> dict[str, object]:
        detail: dict[str, object] = {}
        if outcome is Outcome.PROMISE_TO_PAY:
            date = self.slots.get("promise_date")
            detail["promise_date"] = date.isoformat() if isinstance(date, dt.date) else None
            detail["promise_amount"] = str(self.slots.get("promise_amount") or self.debtor.amount)
        if "callback_at" in self.slots:
            detail["callback_at"] = str(self.slots["callback_at"])
        if action:
            detail["action"] = action
        return detail

    # --- speaking ---------------------------------------------------------------------------
    async def _hold(self, channel: Channel, say: Say) -> None:
        """Keep text to speak with the next prompt: one turn of the robot is one prompt, since
        a pause between prompts reads as the end of its turn and callers answer into it."""
        if isinstance(say, Recording):
            await self._say(channel, say, "")
        else:
            self._held.append(self.render(say))
            self._held_personal |= personal(say)

    async def _say(self, channel: Channel, say: Say, keys: str, listen: ListenSpec | None = None) -> str:
        if isinstance(say, Recording):
            if self._held:
                text, self._held = " ".join(self._held), []
                await self._prompt(channel, text, self._held_personal)
                await channel.say(text, language=self.voice)
            await self.record(DialogueEvent(EventKind.PROMPT, {"file": say.file}))
            digit = await channel.play_file(say.file, dtmf=keys)
        else:
            text, self._held = " ".join([*self._held, self.render(say)]), []
            await self._prompt(channel, text, self._held_personal or personal(say))
            digit = await channel.say(text, language=self.voice, dtmf=keys, listen=listen)
        if digit:
            await self.record(DialogueEvent(EventKind.DTMF, {"digit": digit, "during": "prompt"}))
        return digit

    async def _prompt(self, channel: Channel, text: str, is_personal: bool) -> None:
        """Record the prompt about to be said. ``personal``: it spoke the debtor's data, so its cached
        audio is erased with the call's transcript (bot.privacy.purge, bot.privacy.forget)."""
        self._held_personal = False
        data: dict[str, object] = {"text": text, **({"personal": True} if is_personal else {})}
        await self.record(DialogueEvent(EventKind.PROMPT, data | await self._ready(channel, text)))

    async def _ready(self, channel: Channel, text: str) -> dict[str, object]:
        """Synthesize the prompt; when it answers the customer, how long the answer took."""
        started = time.monotonic()
        await channel.prepare(text, language=self.voice)
        ready = time.monotonic()
        heard_at, self._heard_at = self._heard_at, None
        if heard_at is None:
            return {}
        return {"timing": {"decide_ms": round((ready - heard_at) * 1000), "tts_ms": round((ready - started) * 1000)}}

    def render(self, text: str, extra: dict[str, object] | None = None) -> str:
        return PLACEHOLDER.sub(lambda m: self._spoken(m.group(1), extra or {}), text)

    def _spoken(self, name: str, extra: dict[str, object]) -> str:
        value = extra[name] if name in extra else self.slots[name] if name in self.slots else self._field(name)
        if value is None or value == "":
            raise ScriptDataError(f"debtor field {name!r} is empty for this debtor")
        lang = self.script.language
        if isinstance(value, dt.date):
            return speak.spoken_date(value, lang)
        if isinstance(value, times.CallbackTime):
            return times.spoken(value, lang)
        if name in ("amount", "promise_amount"):
            return speak.spoken_amount(Decimal(str(value)), self.debtor.currency, lang)
        if isinstance(value, int):
            return speak.spoken_number(value, lang)
        return str(value)

    def _field(self, name: str) -> object:
        d = self.debtor
        if name == "days_overdue":
            return (self.today - d.due_date).days if d.due_date else d.extra.get(name)
        builtin = {"name": d.name, "amount": d.amount, "currency": d.currency, "due_date": d.due_date}
        return builtin[name] if name in builtin else d.extra.get(name)

    # --- listening --------------------------------------------------------------------------
    def _spec(self, listen: Listen) -> ListenSpec:
        keys = self.compiled.keys.get(self.state, "")
        return ListenSpec(self.compiled.models[self.state].grammar, keys, listen.timeout_s, listen.max_speech_s,
                          interruptible=self.script.steps[self.state].interruptible)

    async def _listen(self, channel: Channel, listen: Listen, say: Say | None, keys: str, key: str,
                      spec: ListenSpec) -> str:
        intents = dict(self.script.intents_of(listen))
        model = self.compiled.models[self.state]
        misses: Counter[str] = Counter()
        while True:
            heard = Heard(digit=key) if key else await self._hear(channel, spec)
            reprompt: Say | None = None
            if heard.digit:
                matched = self._by_key(heard.digit, intents)
                if matched is not None:
                    return await self._take(*matched, self._filled(matched[1], None), {"dtmf": heard.digit})
                kind = "no_match"
                await self.record(DialogueEvent(EventKind.NO_MATCH, {"step": self.state, "digit": heard.digit}))
            else:
                u = model.understand(heard.text, heard.confidence, self.today, audio_ms=heard.audio_ms)
                if heard.text and heard.confidence < self.min_confidence:  # listen.min_confidence
                    u = Understanding(Result.NO_MATCH, heard.text, asr_confidence=heard.confidence,
                                      reason="low_confidence")
                if u.matched and u.intent is not None:
                    intent = intents[u.intent]
                    if u.missing:
                        await self._no_match(u, "missing_" + "_".join(u.missing))
                        kind, reprompt = "no_match", listen.ask_slot or ASK_DAY[self.script.language]
                    else:
                        verdict = await self._confirmed(channel, u, intent, model)
                        if verdict == "yes":
                            return await self._take(u.intent, intent, self._filled(intent, u),
                                                    {"score": round(u.score, 3), "certain": u.certain})
                        if verdict == "opt_out":
                            return await self._opt_out(intents, u)
                        kind, reprompt = "no_match", say  # "no" or unclear: ask the question again
                elif u.result is Result.NO_INPUT:
                    kind = "no_input"
                else:
                    await self._no_match(u, u.reason)
                    kind = "question" if u.reason == "question" and listen.question is not None else "no_match"
            retry = getattr(listen, kind) or listen.no_input or listen.no_match
            assert retry is not None  # the checker requires no_input
            misses[kind] += 1
            if misses[kind] > retry.retries:
                return retry.goto
            if reprompt is None:
                reprompt = retry.say if retry.say is not None else say
            key = await self._say(channel, reprompt, keys, spec) if reprompt is not None else ""

    async def _take(self, name: str, intent: Intent, filled: dict[str, object], how: dict[str, object]) -> str:
        captured = {k: v for k, v in filled.items() if v is not None}
        self.slots.update(captured)
        model = self.compiled.models.get(self.state)
        kind = model.kind_of(name) if model is not None else None
        if kind is None and name == "globals.opt_out":
            kind = Kind.OPT_OUT
        meaning = {"kind": kind.value} if kind is not None else {}  # read if the call is cut (interrupted.py)
        await self.record(DialogueEvent(EventKind.STATE, {
            "step": self.state, "intent": name, "slots": {k: str(v) for k, v in captured.items()}, **meaning,
            **how}))
        return intent.goto

    async def _opt_out(self, intents: dict[str, Intent], u: Understanding) -> str:
        name = next((n for n, i in intents.items() if self.compiled.models[self.state].kind_of(n) is Kind.OPT_OUT),
                    None)
        if name is None:  # the confirm step heard an opt-out in a step whose opt-out is the global one
            name = "globals.opt_out"
        intent = intents.get(name) or self.script.globals["opt_out"]
        return await self._take(name, intent, {}, {"score": round(u.score, 3), "during": "confirmation"})

    async def _no_match(self, u: Understanding, reason: str) -> None:
        data: dict[str, object] = {"step": self.state, "text": u.text, "reason": reason}
        if u.kind is not None:
            data |= {"kind": u.kind.value, "score": round(u.score, 3)}
        await self.record(DialogueEvent(EventKind.NO_MATCH, data))

    async def _confirmed(self, channel: Channel, u: Understanding, intent: Intent | None, model: StepModel) -> str:
        """'yes' when the answer may be stored: certain, not consequential, or confirmed by the customer.

        'opt_out' when the customer opted out while asked; 'no' or 'unclear' otherwise.
        """
        spec = model.spec_of(u.intent or "")
        unclear_opt_out = _unclear_opt_out(u, model)
        if u.certain and not unclear_opt_out:
            return "yes"
        if not (spec is not None and spec.consequential) and not unclear_opt_out:
            return "yes"
        confirm = self.compiled.models[CONFIRM_STEP]
        template = confirm_text(self.script, intent, u.kind, u.slots)
        text = self.render(template, extra=u.slots)
        listen = ListenSpec(confirm.grammar, "12", 5.0, 10.0)
        for _ in range(self.script.understanding.confirm_retries + 1):
            await self._prompt(channel, text, personal(template))
            key = await channel.say(text, language=self.voice, dtmf="12", listen=listen)
            heard = Heard(digit=key) if key else await self._hear(channel, listen)
            if heard.digit:
                answer = {"1": "yes", "2": "no"}.get(heard.digit, "unclear")
            else:
                v = confirm.understand(heard.text, heard.confidence, self.today, audio_ms=heard.audio_ms)
                answer = {Kind.YES: "yes", Kind.NO: "no", Kind.OPT_OUT: "opt_out"}.get(v.kind, "unclear") \
                    if v.matched and v.kind is not None else "unclear"
            await self.record(DialogueEvent(EventKind.CONFIRM, {
                "step": self.state, "intent": u.intent, "answer": answer, "text": heard.text, "digit": heard.digit}))
            if answer == "opt_out":
                if u.kind is Kind.OPT_OUT:
                    return "yes"
                if v.certain and not _unclear_opt_out(v, confirm):
                    return "opt_out"
                # an opt-out cue heard unclearly while confirming another answer (a salad of the
                # model's words, or a request misheard): confirmed as an opt-out in its own right
                asked = await self._confirmed(channel, v, self.script.globals.get("opt_out"), confirm)
                return "opt_out" if asked == "yes" else "unclear"
            if answer != "unclear":
                return answer
        if unclear_opt_out and self.script.understanding.unclear_opt_out == "honour":
            return "yes"
        if unclear_opt_out and self.script.understanding.unclear_opt_out == "review":
            # not stored as an opt-out (the customer did not confirm one), but the number is held
            # for a person to review: a missed opt-out costs more than a call not made
            self.unconfirmed_opt_out = {"step": self.state, "score": round(u.score, 3)}
            await self.record(DialogueEvent(EventKind.NO_MATCH, {
                "step": self.state, "text": u.text, "reason": OPT_OUT_REVIEW, "kind": Kind.OPT_OUT.value,
                "score": round(u.score, 3)}))
        return "unclear"

    async def _hear(self, channel: Channel, spec: ListenSpec) -> Heard:
        heard = await channel.listen(spec)
        self._heard_at = time.monotonic()
        timing = {"timing": dict(heard.timing)} if heard.timing else {}
        if heard.digit:
            await self.record(DialogueEvent(EventKind.DTMF, {"digit": heard.digit, **timing}))
        elif heard.text:
            data: dict[str, object] = {
                "text": heard.text, "confidence": round(heard.confidence, 3), "audio_ms": heard.audio_ms, **timing}
            if heard.confidence < self.min_confidence:
                data["below_min_confidence"] = True
            await self.record(DialogueEvent(EventKind.RECOGNITION, data))
        elif heard.audio_ms > 0:
            # speech with no words recognized: heard, not understood (not no_input)
            await self.record(DialogueEvent(EventKind.NO_MATCH, {"text": "", "audio_ms": heard.audio_ms,
                                                                 "reason": "unrecognized", **timing}))
        else:
            await self.record(DialogueEvent(EventKind.NO_INPUT, {"audio_ms": heard.audio_ms, **timing}))
        return heard

    def _by_key(self, digit: str, intents: dict[str, Intent]) -> tuple[str, Intent] | None:
        for name, intent in intents.items():
            if intent.dtmf and digit in intent.dtmf:
                return name, intent
        return None

    def _filled(self, intent: Intent, u: Understanding | None) -> dict[str, object]:
        """Slot values an intent sets, and those it captures from what was understood."""
        values: dict[str, object] = {k: literal(v, self.today) for k, v in intent.set.items()}
        for slot in intent.capture:
            values[slot] = u.slots.get(slot) if u is not None else None
        return values

    # --- branching --------------------------------------------------------------------------
    def _branch(self, rules: list[Rule]) -> str:
        for rule in rules:
            if rule.else_ or (rule.if_ is not None and self._holds(rule.if_)):
                return rule.goto
        raise ScriptDataError("no branch rule applied")  # the schema requires a final else

    def _holds(self, c: Condition) -> bool:
        if c.counter is not None:
            value: object = self.counters[c.counter]
        elif c.slot is not None:
            value = self.slots.get(c.slot)
        else:
            value = self._field(c.field or "")
        if c.set is not None:
            return (value not in (None, "")) == c.set
        if value in (None, ""):
            return False
        if c.within_days is not None:
            return isinstance(value, dt.date) and self.today <= value <= self.today + dt.timedelta(c.within_days)
        if c.eq is not None:
            return _number(value) == _number(c.eq) if _number(value) is not None else str(value) == str(c.eq)
        number = _number(value)
        if number is None:
            return False
        for bound, holds in ((c.gt, number > Decimal(str(c.gt or 0))), (c.ge, number >= Decimal(str(c.ge or 0))),
                             (c.lt, number < Decimal(str(c.lt or 0))), (c.le, number <= Decimal(str(c.le or 0)))):
            if bound is not None:
                return holds
        return False


def _number(value: object) -> Decimal | None:
    if isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def personal(template: str) -> bool:
    """Whether a prompt's template fills a placeholder: every placeholder is the debtor's data or
    what they said (name, amount, dates, imported fields, slots)."""
    return PLACEHOLDER.search(template) is not None
