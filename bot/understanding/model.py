"""One listen step's understanding, compiled once per script, and ``understand`` for a turn.

``StepModel`` holds the step's intents (with their kinds and example phrases, normalized and
analysed once), the policy (thresholds, what is consequential) and the phrases the recognizer
listens with. ``understand`` turns what was heard into an ``Understanding``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from rapidfuzz import fuzz

from bot.dialogue import amounts, dates, times

from . import cues_ko, cues_other
from .morph import lemmas, morphs, normalize
from .plausible import opt_out_vocabulary, whole_opt_out
from .result import Kind, Result, Understanding

# Higher first: when two kinds are cued equally, the costlier one to miss wins. A question
# back outranks yes/no so "네? 뭐라고요?" is never an answer.
PRIORITY = [Kind.OPT_OUT, Kind.WRONG_NUMBER, Kind.ALREADY_PAID, Kind.REFUSE, Kind.HUMAN, Kind.CALLBACK,
            Kind.PROMISE, Kind.QUESTION, Kind.NO, Kind.YES]
DEFAULT_ACCEPT = 0.7
# An unclear opt-out cue is still taken (and confirmed): a missed opt-out costs more than a question.
DEFAULT_THRESHOLDS: Mapping[Kind, float] = {Kind.OPT_OUT: 0.5}
CERTAIN_SCORE = 0.9
# Open-grammar word salad holds whole opt-out phrases at confidences up to ~0.8 (bench/understanding.py)
SURE_OPT_OUT = 0.9
EXACT, FUZZY_MIN, LEMMA_MATCH = 1.0, 88, 0.85
FILLERS = frozenset({"네", "예", "어", "음", "아", "그냥", "쯤", "까지", "에", "요", "이", "그", "저", "좀", "한",
                     "정도", "중", "안", "때", "날", "되", "것", "같", "거", "일"})
_MONTH_ONLY = {
    "ko": re.compile(r"(다음|담|이번|다다음) ?달(?! ?말)"
                     r"|[일이삼사오육칠팔구십0-9]+ ?월(?! ?[일이삼사오육칠팔구십0-9]+ ?일)(?!요일| ?말)"),
    "en": re.compile(r"\bnext month\b|\bin (january|february|march|april|may|june|july|august|september|october|"
                     r"november|december)\b"),
    "zh": re.compile(r"下个?月(?![0-9一二三四五六七八九十]+[号日])|月底"),
}


@dataclass(frozen=True)
class IntentSpec:
    """What the understanding needs to know of one intent of a step."""

    name: str
    kind: Kind | None = None
    phrases: Sequence[str] = ()
    capture: Mapping[str, str] = field(default_factory=dict)  # slot -> 'date' | 'amount'
    consequential: bool = False


@dataclass(frozen=True)
class Policy:
    """How sure is sure enough (calibrated in docs/understanding.md)."""

    thresholds: Mapping[Kind, float] = field(default_factory=lambda: dict(DEFAULT_THRESHOLDS))
    default_threshold: float = DEFAULT_ACCEPT
    certain_score: float = CERTAIN_SCORE
    # the recognizer's confidence at or above which a clear answer needs no confirmation
    certain_confidence: float = 1.0
    # below this recognizer confidence a turn is no_match whatever the words
    min_confidence: float = 0.0
    # a clear opt-out cue heard with less confidence, or among other words, is confirmed first
    sure_opt_out: float = SURE_OPT_OUT

    def accept(self, kind: Kind | None) -> float:
        return self.thresholds.get(kind, self.default_threshold) if kind else self.default_threshold


@dataclass(frozen=True)
class _Example:
    text: str
    flat: str
    lemmas: frozenset[str]
    negated: bool
    past: bool


@dataclass(frozen=True)
class _Intent:
    spec: IntentSpec
    examples: tuple[_Example, ...]


class StepModel:
    """A listen step's intents and policy, prepared once; ``understand`` is cheap per turn."""

    def __init__(self, language: str, intents: Sequence[IntentSpec], policy: Policy | None = None,
                 grammar: Sequence[str] = ()):
        self.language = language
        self.policy = policy or Policy()
        self.intents = [_Intent(spec, tuple(_example(p, language) for p in spec.phrases)) for spec in intents]
        self.by_kind: dict[Kind, _Intent] = {}
        for intent in self.intents:
            if intent.spec.kind is not None:
                self.by_kind.setdefault(intent.spec.kind, intent)
        self.grammar = tuple(grammar)
        opt_out = self.by_kind.get(Kind.OPT_OUT)
        self.opt_out_words = opt_out_vocabulary(language, opt_out.spec.phrases if opt_out else ())

    def spec_of(self, name: str) -> IntentSpec | None:
        return next((i.spec for i in self.intents if i.spec.name == name), None)

    def kind_of(self, name: str) -> Kind | None:
        spec = self.spec_of(name)
        return spec.kind if spec is not None else None

    def understand(self, text: str, asr_confidence: float, today: dt.date, *, audio_ms: int = 0) -> Understanding:
        return understand(text, asr_confidence, self, today, audio_ms=audio_ms)


def _example(phrase: str, language: str) -> _Example:
    norm = normalize(phrase)
    lem = lemmas(norm) if language == "ko" else frozenset(norm.split())
    return _Example(norm, norm.replace(" ", ""), lem - FILLERS if language == "ko" else lem, _negated(norm, language),
                    _past(norm, language))


def _past(text: str, language: str) -> bool:
    """Tense matters: '냈어요' (paid) is no example of '낼게요' (will pay)."""
    if language == "ko":
        return bool(cues_ko.SURFACE_PAST.search(text)) or any(
            m.tag == "EP" and m.form in cues_ko.PAST for m in morphs(text))
    if language == "en":
        return bool(re.search(r"\b(paid|sent|did|was|were|already)\b", text))
    return "了" in text or "过" in text


def _negated(text: str, language: str) -> bool:
    if language == "ko":
        return bool(re.search(r"(^| )(안|못)( |$)|지 (않|못)|아니|아닙", text))
    if language == "en":
        return bool(re.search(r"\b(not|no|never|don'?t|can'?t|won'?t)\b", text))
    return "不" in text or "没" in text


def kind_scores(text: str, language: str, today: dt.date) -> tuple[dict[Kind, float], dt.date | None, bool]:
    """Cue scores per kind, the date the answer names, and whether it names a month without a day."""
    scores = cues_ko.kinds(text) if language == "ko" else cues_other.kinds(text, language)
    date = dates.parse_date(text, language, today)
    month_only = date is None and bool(_MONTH_ONLY[language].search(text))
    if date is not None or month_only:
        if Kind.PROMISE in scores:
            scores[Kind.PROMISE] = cues_ko.CLEAR
        elif _only_a_date(text, language):
            # "모레요": a date alone answers "when?"; "오늘 날씨가 좋네요" does not
            scores[Kind.PROMISE] = cues_ko.LIKELY
        else:
            scores[Kind.PROMISE] = max(scores.get(Kind.PROMISE, 0.0), cues_ko.UNCLEAR)
    return scores, date, month_only


_DATE_WORDS = re.compile(
    r"오늘|내일|모레|글피|이번|다음|담|다다음|주|달|월|말일|월말|[월화수목금토일]요일|하루|이틀|사흘|나흘|일주일|보름|뒤|후|안에|"
    r"[일이삼사오육칠팔구십백0-9]+|today|tomorrow|next|this|week|month|day|days|the|of|on|by|in|end|"
    r"monday|tuesday|wednesday|thursday|friday|saturday|sunday|\d+(st|nd|rd|th)?")


def _only_a_date(text: str, language: str) -> bool:
    if language == "zh":
        return len(text.replace(" ", "")) <= 8
    rest = _DATE_WORDS.sub(" ", text)
    words = lemmas(rest) if language == "ko" else frozenset(rest.split())
    return not (words - FILLERS - {"?", "요", "에", "까지"})


_AMOUNT_WORDS = re.compile(r"[영공일이삼사오육칠팔구십백천만억조0-9,.]+|원|달러|위안|won|dollars?|yuan|[元块万千百十]")


def _only_an_amount(text: str, language: str) -> bool:
    rest = _AMOUNT_WORDS.sub(" ", text)
    words = lemmas(rest) if language == "ko" else frozenset(rest.split())
    return not (words - FILLERS - {"?", "요", "에", "까지"})


def _example_score(text: str, flat: str, words: frozenset[str], negated: bool, past: bool, intent: _Intent) -> float:
    best = 0.0
    for ex in intent.examples:
        if text == ex.text or flat == ex.flat:
            return EXACT
        if ex.negated == negated and ex.past == past and len(ex.flat) >= 2:
            ratio = fuzz.ratio(flat, ex.flat)
            if ratio >= FUZZY_MIN:
                best = max(best, ratio / 100 * 0.95)
            # every content word of the example, and (for a one-word example) nothing else
            if ex.lemmas and ex.lemmas <= words and (len(ex.lemmas) >= 2 or words == ex.lemmas):
                best = max(best, LEMMA_MATCH)
    return best


def understand(text: str, asr_confidence: float, step: StepModel, today: dt.date, *,
               audio_ms: int = 0) -> Understanding:
    """What an answer means to a listen step.

    ``text`` is what the recognizer heard ('' for nothing), ``asr_confidence`` its
    confidence (0-1; 1.0 for typed text), ``audio_ms`` how much speech was captured (speech
    with no words recognized is no_match, not no_input). Pure: the clock is ``today``.
    """
    norm = normalize(text)
    if not norm or norm == "?":
        if audio_ms > 0:
            return Understanding(Result.NO_MATCH, text, asr_confidence=asr_confidence, reason="unrecognized")
        return Understanding(Result.NO_INPUT, text)
    lang = step.language
    if asr_confidence < step.policy.min_confidence:
        return Understanding(Result.NO_MATCH, text, asr_confidence=asr_confidence, reason="low_confidence")
    scores, date, month_only = kind_scores(norm, lang, today)
    flat = norm.replace(" ", "").replace("?", "")
    words = (lemmas(norm) if lang == "ko" else frozenset(norm.split())) - FILLERS
    negated = _negated(norm, lang)
    past = _past(norm, lang)

    amount = amounts.parse_amount(text, lang) if any(
        k == "amount" for i in step.intents for k in i.spec.capture.values()) else None
    per_intent: list[tuple[float, int, _Intent]] = []
    for intent in step.intents:
        kind = intent.spec.kind
        score = max(scores.get(kind, 0.0) if kind else 0.0, _example_score(norm, flat, words, negated, past, intent))
        if amount is not None and "amount" in intent.spec.capture.values():
            # "오십 만 원이요" answers "how much?" as a date alone answers "when?"
            score = max(score, cues_ko.LIKELY if _only_an_amount(norm, lang) else cues_ko.UNCLEAR)
        rank = len(PRIORITY) - PRIORITY.index(kind) if kind in PRIORITY else 0
        if score > 0:
            per_intent.append((score, rank, intent))

    def no_match(reason: str, kind: Kind | None = None, score: float = 0.0) -> Understanding:
        return Understanding(Result.NO_MATCH, text, kind=kind, score=score, asr_confidence=asr_confidence,
                             reason=reason)

    # Opt-out first, on any cue that passes its (low) threshold, whatever else was said.
    opt_out = step.by_kind.get(Kind.OPT_OUT)
    opt_score = scores.get(Kind.OPT_OUT, 0.0)
    if opt_out is not None and opt_score >= step.policy.accept(Kind.OPT_OUT):
        if opt_score >= step.policy.certain_score and not _heard_clearly(norm, asr_confidence, step):
            opt_score = cues_ko.LIKELY  # below certain_score: the dialogue confirms it
        return _matched(text, opt_out, opt_score, asr_confidence, step, date, month_only, norm)
    if not per_intent:
        top = _top(scores)
        return no_match("question" if top and top[0] is Kind.QUESTION else "not_understood",
                        top[0] if top else None, top[1] if top else 0.0)
    score, _, best = max(per_intent, key=lambda item: (item[0], item[1]))
    top = _top(scores)
    # A stronger (or equally strong, costlier) meaning the step has no intent for: not an answer.
    if top is not None and top[0] != best.spec.kind and _beats(top, (best.spec.kind, score)):
        return no_match("question" if top[0] is Kind.QUESTION else "not_expected", top[0], top[1])
    if score < step.policy.accept(best.spec.kind):
        return no_match("unclear", best.spec.kind, score)
    return _matched(text, best, score, asr_confidence, step, date, month_only, norm)


def _heard_clearly(norm: str, asr_confidence: float, step: StepModel) -> bool:
    """Typed text, or speech heard surely whose words are all an opt-out sentence's (plausible.py)."""
    if asr_confidence >= 1.0:
        return True
    return asr_confidence >= step.policy.sure_opt_out and whole_opt_out(norm, step.language, step.opt_out_words)


def _top(scores: Mapping[Kind, float]) -> tuple[Kind, float] | None:
    if not scores:
        return None
    kind = max(scores, key=lambda k: (scores[k], len(PRIORITY) - PRIORITY.index(k)))
    return kind, scores[kind]


def _beats(a: tuple[Kind, float], b: tuple[Kind | None, float]) -> bool:
    if a[1] != b[1]:
        return a[1] > b[1]
    return b[0] is None or PRIORITY.index(a[0]) < PRIORITY.index(b[0])


def _matched(text: str, intent: _Intent, score: float, asr_confidence: float, step: StepModel,
             date: dt.date | None, month_only: bool, norm: str) -> Understanding:
    slots: dict[str, object] = {}
    missing: list[str] = []
    for slot, kind in intent.spec.capture.items():
        if kind == "time":  # a callback time is optional: without one the campaign's default delay applies
            asked = times.parse_time(text, step.language)
            if asked is not None:
                slots[slot] = asked
            continue
        # amounts from the text as heard: normalizing would split "300,000"
        value: object | None = date if kind == "date" else amounts.parse_amount(text, step.language)
        if value is None:
            missing.append(slot)
        else:
            slots[slot] = value
    policy = step.policy
    certain = score >= policy.certain_score and asr_confidence >= policy.certain_confidence and not missing
    return Understanding(Result.INTENT, text, intent.spec.name, intent.spec.kind, score, asr_confidence, certain,
                         slots, tuple(missing), "month_without_day" if month_only and missing else "")
