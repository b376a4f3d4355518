"""Each listen step of a script compiled once: its understanding (StepModel) and grammar.

The kind of an intent is what the script says (``kind:``) or follows from the outcome its
step leads to; an intent is consequential when it can reach an outcome the script lists as
consequential without another listen step in between.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping

from bot.domain import Outcome
from bot.understanding import IntentSpec, Kind, Policy, StepModel
from bot.understanding.phrases import builtin_phrases

from .schema import Intent, Script
from .slots import slot_phrases

OPEN = "[unk]"  # in ListenSpec.phrases: the recognizer returns what it heard, not the nearest phrase
KIND_OF_OUTCOME = {
    Outcome.OPT_OUT: Kind.OPT_OUT, Outcome.WRONG_NUMBER: Kind.WRONG_NUMBER, Outcome.ALREADY_PAID: Kind.ALREADY_PAID,
    Outcome.REFUSED: Kind.REFUSE, Outcome.CALLBACK: Kind.CALLBACK, Outcome.TRANSFER_REQUESTED: Kind.HUMAN,
    Outcome.PROMISE_TO_PAY: Kind.PROMISE,
}
CONFIRM = {
    "ko": {
        Kind.PROMISE: "{promise_date}에 납부하시는 거 맞으세요? 네 또는 아니요로 말씀해 주세요.",
        Kind.REFUSE: "지금은 납부가 어려우시다는 말씀이신가요? 네 또는 아니요로 말씀해 주세요.",
        Kind.ALREADY_PAID: "이미 납부하셨다는 말씀이신가요? 네 또는 아니요로 말씀해 주세요.",
        Kind.WRONG_NUMBER: "{name} 고객님 전화가 아니라는 말씀이신가요? 네 또는 아니요로 말씀해 주세요.",
        Kind.NO: "{name} 고객님 전화가 아니라는 말씀이신가요? 네 또는 아니요로 말씀해 주세요.",
        Kind.OPT_OUT: "더 이상 전화를 원하지 않으시는 건가요? 네 또는 아니요로 말씀해 주세요.",
        Kind.CALLBACK: "{callback_at}에 다시 전화드릴까요? 네 또는 아니요로 말씀해 주세요.",
    },
    "en": {
        Kind.PROMISE: "You will pay on {promise_date}, is that right? Please say yes or no.",
        Kind.REFUSE: "You cannot pay at this time, is that right? Please say yes or no.",
        Kind.ALREADY_PAID: "You have already paid, is that right? Please say yes or no.",
        Kind.WRONG_NUMBER: "This is not the number of {name}, is that right? Please say yes or no.",
        Kind.NO: "This is not the number of {name}, is that right? Please say yes or no.",
        Kind.OPT_OUT: "You do not want any more calls from us, is that right? Please say yes or no.",
        Kind.CALLBACK: "Shall we call you back {callback_at}? Please say yes or no.",
    },
    "zh": {
        Kind.PROMISE: "您是说{promise_date}还款，对吗？请说是或不是。",
        Kind.REFUSE: "您是说现在无法还款，对吗？请说是或不是。",
        Kind.ALREADY_PAID: "您是说已经还款了，对吗？请说是或不是。",
        Kind.WRONG_NUMBER: "这不是{name}的电话，对吗？请说是或不是。",
        Kind.NO: "这不是{name}的电话，对吗？请说是或不是。",
        Kind.OPT_OUT: "您是不希望我们再打电话，对吗？请说是或不是。",
        Kind.CALLBACK: "我们{callback_at}再给您打电话，对吗？请说是或不是。",
    },
}
# a callback heard without a time: nothing to say back but the wish itself
CONFIRM_CALLBACK_LATER = {"ko": "나중에 다시 전화드릴까요? 네 또는 아니요로 말씀해 주세요.",
                          "en": "Shall we call you back later? Please say yes or no.",
                          "zh": "我们以后再给您打电话，对吗？请说是或不是。"}
CONFIRM_GENERIC = {"ko": "맞으세요? 네 또는 아니요로 말씀해 주세요.", "en": "Is that right? Please say yes or no.",
                   "zh": "对吗？请说是或不是。"}
ASK_DAY = {"ko": "며칠에 납부하실 수 있으신가요? 날짜를 말씀해 주세요.",
           "en": "On which day can you pay? Please say a date.", "zh": "您哪一天可以还款？请说一个日期。"}
CONFIRM_STEP = "__confirm__"


def intent_kind(script: Script, intent: Intent) -> Kind | None:
    if intent.kind is not None:
        return Kind(intent.kind)
    if any(kind == "date" for kind in intent.capture.values()):
        return Kind.PROMISE
    outcomes = _outcomes(script, intent.goto)
    kinds = {KIND_OF_OUTCOME[o] for o in outcomes if o in KIND_OF_OUTCOME}
    return kinds.pop() if len(kinds) == 1 else None


def _outcomes(script: Script, start: str) -> set[Outcome]:
    """Outcomes reachable from ``start`` without passing another listen step."""
    found: set[Outcome] = set()
    seen = {start}
    todo = deque([start])
    while todo:
        step = script.steps.get(todo.popleft())
        if step is None or step.listen is not None:
            continue
        if step.end and step.outcome is not None:
            found.add(step.outcome)
        targets = [step.goto] if step.goto else [r.goto for r in step.branch or []]
        for target in targets:
            if target and target not in seen:
                seen.add(target)
                todo.append(target)
    return found


def step_models(script: Script) -> dict[str, StepModel]:
    """The StepModel of every listen step, plus the yes/no step used to confirm."""
    policy = _policy(script)
    consequential = set(script.understanding.consequential)
    lang = script.language
    models: dict[str, StepModel] = {}
    for name, step in script.steps.items():
        if step.listen is None:
            continue
        specs: list[IntentSpec] = []
        grammar: list[str] = []
        for intent_name, intent in script.intents_of(step.listen):
            kind = intent_kind(script, intent)
            specs.append(IntentSpec(intent_name, kind, list(intent.phrases), dict(intent.capture),
                                    bool(_outcomes(script, intent.goto) & consequential)))
            grammar += intent.phrases
            if kind is not None:
                grammar += builtin_phrases(kind, lang)
            for slot_kind in intent.capture.values():
                grammar += slot_phrases(slot_kind, lang)
        grammar += builtin_phrases(Kind.QUESTION, lang)
        models[name] = StepModel(lang, specs, policy, [*dict.fromkeys(grammar), OPEN])
    yes_no = [IntentSpec("yes", Kind.YES, builtin_phrases(Kind.YES, lang)),
              IntentSpec("no", Kind.NO, builtin_phrases(Kind.NO, lang))]
    opt_out = script.globals.get("opt_out")
    if opt_out is not None:
        yes_no.append(IntentSpec("globals.opt_out", Kind.OPT_OUT, list(opt_out.phrases)))
    # small on purpose: every extra phrase is one more that "아니요" can be heard as
    grammar = [p for s in yes_no for p in s.phrases]
    models[CONFIRM_STEP] = StepModel(lang, yes_no, policy, [*dict.fromkeys(grammar), OPEN])
    return models


def _policy(script: Script) -> Policy:
    u = script.understanding
    thresholds = {Kind.OPT_OUT: 0.5, **{Kind(k): v for k, v in u.thresholds.items()}}
    return Policy(thresholds=thresholds, certain_confidence=u.certain_confidence)


def confirm_text(script: Script, intent: Intent | None, kind: Kind | None,
                 heard: Mapping[str, object] | None = None) -> str:
    """The confirmation question; ``heard``: the slots understood from the answer being confirmed."""
    if intent is not None and intent.confirm:
        return intent.confirm
    lang = script.language
    if kind is Kind.CALLBACK and "callback_at" not in (heard or {}):
        return CONFIRM_CALLBACK_LATER[lang]
    return CONFIRM.get(lang, {}).get(kind, CONFIRM_GENERIC[lang]) if kind else CONFIRM_GENERIC[lang]
