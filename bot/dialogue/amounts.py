"""Amounts of money in what a customer says, and the phrases a grammar lists for them.

Numbers are read from words or digits in Korean (sino-Korean), Mandarin and English.
Korean and Mandarin are read character by character with spaces ignored ('삼십 만' and
'삼십만' are the same number); English word by word.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from .speak import base_language, chinese_number, english_number, spoken_amount

__all__ = ["EN_NUMBER_WORDS", "amount_phrases", "parse_amount", "parse_number", "phrase_number"]

DIGIT, NUM, SMALL, LARGE, OTHER = "digit", "num", "small", "large", "other"
# English kinds
ONES, TENS, HUNDRED, SCALE, ARTICLE, AND = "ones", "tens", "hundred", "scale", "article", "and"

_CJK_WORDS = {
    "ko": {"영": (DIGIT, 0), "공": (DIGIT, 0), "일": (DIGIT, 1), "이": (DIGIT, 2), "삼": (DIGIT, 3),
           "사": (DIGIT, 4), "오": (DIGIT, 5), "육": (DIGIT, 6), "륙": (DIGIT, 6), "칠": (DIGIT, 7),
           "팔": (DIGIT, 8), "구": (DIGIT, 9), "십": (SMALL, 10), "백": (SMALL, 100), "천": (SMALL, 1000),
           "만": (LARGE, 10**4), "억": (LARGE, 10**8), "조": (LARGE, 10**12)},
    "zh": {"零": (DIGIT, 0), "〇": (DIGIT, 0), "一": (DIGIT, 1), "二": (DIGIT, 2), "两": (DIGIT, 2),
           "三": (DIGIT, 3), "四": (DIGIT, 4), "五": (DIGIT, 5), "六": (DIGIT, 6), "七": (DIGIT, 7),
           "八": (DIGIT, 8), "九": (DIGIT, 9), "十": (SMALL, 10), "百": (SMALL, 100), "千": (SMALL, 1000),
           "万": (LARGE, 10**4), "萬": (LARGE, 10**4), "亿": (LARGE, 10**8), "億": (LARGE, 10**8)},
}
_EN_ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
            "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]
_EN_TENS = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_EN_WORDS: dict[str, tuple[str, int]] = {
    **{w: (ONES, i) for i, w in enumerate(_EN_ONES)},
    **{w: (TENS, 10 * i) for i, w in enumerate(_EN_TENS, 2)},
    "hundred": (HUNDRED, 100), "thousand": (SCALE, 10**3), "k": (SCALE, 10**3), "million": (SCALE, 10**6),
    "billion": (SCALE, 10**9), "trillion": (SCALE, 10**12), "a": (ARTICLE, 1), "an": (ARTICLE, 1),
    "and": (AND, 0),
}
EN_NUMBER_WORDS = frozenset(w for w, (kind, _) in _EN_WORDS.items() if kind != AND and w != "k")
# Words naming money after a number; minor units with how many make one major unit.
_CURRENCY = {
    "ko": ("원", "달러", "위안", "불"),
    "zh": ("元", "块", "圆", "韩元", "美元", "美金", "人民币"),
    "en": ("won", "dollar", "dollars", "buck", "bucks", "yuan", "usd", "krw", "cny", "rmb"),
}
_MINOR = {
    "ko": {"센트": 100, "펀": 100},
    "zh": {"角": 10, "毛": 10, "分": 100, "美分": 100},
    "en": {"cent": 100, "cents": 100, "fen": 100},
}
_SYMBOLS = "$₩¥€£"
_DIGITS_RE = r"\d+(?:,\d{3})*(?:\.\d+)?"
_CJK_TOKEN = re.compile(rf"({_DIGITS_RE})|(\s+)|(.)", re.S)
_EN_TOKEN = re.compile(rf"({_DIGITS_RE})|([a-z]+)|([{_SYMBOLS}])")


@dataclass(frozen=True)
class _Token:
    kind: str
    value: Decimal
    text: str
    word_start: bool  # first token of a whitespace-separated word


@dataclass(frozen=True)
class _Span:
    value: Decimal
    start: int
    end: int  # token index after the number


def _normalize(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


def _tokens(text: str, lang: str) -> list[_Token]:
    text = _normalize(text)
    if lang == "en":
        return [_en_token(m) for m in _EN_TOKEN.finditer(text)]
    words = _CJK_WORDS[lang]
    out: list[_Token] = []
    start = True
    for digits, space, char in _CJK_TOKEN.findall(text):
        if space:
            start = True
            continue
        if digits:
            out.append(_Token(NUM, Decimal(digits.replace(",", "")), digits, start))
        else:
            kind, value = words.get(char, (OTHER, 0))
            out.append(_Token(kind, Decimal(value), char, start))
        start = False
    return out


def _en_token(m: re.Match[str]) -> _Token:
    digits, word, symbol = m.groups()
    if digits:
        return _Token(NUM, Decimal(digits.replace(",", "")), digits, True)
    kind, value = _EN_WORDS.get(word, (OTHER, 0)) if word else (OTHER, 0)
    return _Token(kind, Decimal(value), word or symbol, True)


def _read_cjk(tokens: list[_Token], i: int, zh: bool) -> _Span | None:
    """The longest number starting at token ``i``: units descend, no two digits in a row."""
    total = section = Decimal(0)
    current: Decimal | None = None
    small = large = Decimal("Infinity")
    j = i
    while j < len(tokens):
        t = tokens[j]
        if t.kind in (DIGIT, NUM):
            if current is not None:
                break
            if not (t.kind == DIGIT and t.value == 0):  # 零 between digits only marks a gap
                current = t.value
        elif t.kind == SMALL:
            if t.value >= small:
                break
            section += (1 if current is None else current) * t.value
            current, small = None, t.value
        elif t.kind == LARGE:
            if t.value >= large:
                break
            here = section + (current or 0)
            total += (here if here or current is not None else 1) * t.value
            section, current, small, large = Decimal(0), None, Decimal("Infinity"), t.value
        else:
            break
        j += 1
    if j == i:
        return None
    last = tokens[j - 1]
    if (zh and current is not None and j - i >= 3 and tokens[j - 2].kind in (SMALL, LARGE)
            and last.value < 10 and (last.kind == DIGIT or len(last.text) == 1)):
        current *= tokens[j - 2].value / 10  # 一万二 = 12000, 三千五 = 3500
    return _Span(total + section + (current or 0), i, j)


def _read_en(tokens: list[_Token], i: int) -> _Span | None:
    """The longest English number starting at token ``i`` ('twelve hundred', '300 thousand')."""
    total = Decimal(0)
    current: Decimal | None = None
    last: str | None = None
    scale = Decimal("Infinity")
    j = end = i
    while j < len(tokens):
        t = tokens[j]
        after = tokens[j + 1].kind if j + 1 < len(tokens) else None
        if t.kind == ARTICLE:
            if current is not None or last is not None or after not in (HUNDRED, SCALE):
                break
            current = Decimal(1)
        elif t.kind == AND:
            if last not in (HUNDRED, SCALE) or after not in (ONES, TENS):
                break
        elif t.kind == ONES:
            if last not in (None, HUNDRED, SCALE, AND) and not (last == TENS and 0 < t.value < 10):
                break
            current = (current or 0) + t.value
        elif t.kind == TENS:
            if last not in (None, HUNDRED, SCALE, AND):
                break
            current = (current or 0) + t.value
        elif t.kind == HUNDRED:
            if current is None or last in (HUNDRED, SCALE) or current >= 100:
                break
            current *= 100
        elif t.kind == SCALE:
            if current is None or t.value >= scale:
                break
            total += current * t.value
            current, scale = None, t.value
        elif t.kind == NUM:
            if last is not None:
                break
            current = t.value
        else:
            break
        last = t.kind
        j += 1
        if t.kind != AND:
            end = j
    if end == i:
        return None
    return _Span(total + (current or 0), i, end)


def _read(tokens: list[_Token], i: int, lang: str) -> _Span | None:
    return _read_en(tokens, i) if lang == "en" else _read_cjk(tokens, i, lang == "zh")


def _spans(tokens: list[_Token], lang: str) -> list[_Span]:
    spans: list[_Span] = []
    i = 0
    while i < len(tokens):
        span = _read(tokens, i, lang)
        if span is None:
            i += 1
        else:
            spans.append(span)
            i = span.end
    return spans


def parse_number(text: str, language: str) -> Decimal | None:
    """The number ``text`` says, if it says nothing else ('삼십 만', '一万二', 'twenty one', '1,500')."""
    lang = base_language(language)
    tokens = _tokens(text, lang)
    if not tokens:
        return None
    span = _read(tokens, 0, lang)
    return span.value if span is not None and span.end == len(tokens) else None


def _followed_by(tokens: list[_Token], j: int, words: Sequence[str], lang: str) -> str | None:
    """The word of ``words`` that starts at token ``j`` (longest first), if any."""
    if lang == "en":
        return tokens[j].text if j < len(tokens) and tokens[j].text in words else None
    ahead = "".join(t.text for t in tokens[j : j + 3])
    for word in sorted(words, key=len, reverse=True):
        if ahead.startswith(word):
            return word
    return None


def _past(j: int, word: str, lang: str) -> int:
    """The token after ``word`` that starts at token ``j`` (a word in English, characters otherwise)."""
    return j + (1 if lang == "en" else len(word))


def _plausible(tokens: list[_Token], span: _Span, lang: str) -> bool:
    """Whether a number that names no currency is a number and not a syllable of a word."""
    if lang == "en" or any(t.kind == NUM for t in tokens[span.start : span.end]):
        return True
    if lang == "ko" and not tokens[span.start].word_start:  # '돈이' has no 2 in it
        return False
    whole_word = tokens[span.start].word_start and (span.end == len(tokens) or tokens[span.end].word_start)
    return whole_word or span.end - span.start >= 2


def parse_amount(text: str, language: str) -> Decimal | None:
    """The amount of money in an answer ('삼십 만 원', '三千五百块', 'twelve hundred', '1,500').

    A number followed by a currency word (or after a currency sign) wins over other numbers;
    cents, 角 and 分 after it are added. None when the answer holds no number.
    """
    lang = base_language(language)
    tokens = _tokens(text, lang)
    spans = _spans(tokens, lang)
    minor = _MINOR[lang]
    for n, span in enumerate(spans):
        word = _followed_by(tokens, span.end, _CURRENCY[lang], lang)
        signed = span.start > 0 and tokens[span.start - 1].text in _SYMBOLS
        if word is None and not signed:
            continue
        after = _past(span.end, word, lang) if word else span.end
        return span.value + _minor_after(tokens, spans[n + 1 :], after, lang)
    for n, span in enumerate(spans):
        unit = _followed_by(tokens, span.end, list(minor), lang)
        # A lone 分 only at the end: 十分感谢 is 'thank you very much', 五分钟 five minutes.
        if unit and (unit != "分" or span.end + 1 == len(tokens)):
            rest = _minor_after(tokens, spans[n + 1 :], _past(span.end, unit, lang), lang, minor[unit])
            return span.value / minor[unit] + rest
    plausible = [span for span in spans if _plausible(tokens, span, lang)]
    return plausible[0].value if plausible else None


def _minor_after(tokens: list[_Token], rest: list[_Span], j: int, lang: str, per: int = 1) -> Decimal:
    """Cents (or 角, 分) said right after the unit (one ``per`` of the major) ending at token ``j``."""
    minor = _MINOR[lang]
    extra = Decimal(0)
    for span in rest:
        gap = tokens[j : span.start]
        if len(gap) > 1 or any(t.kind != AND for t in gap):  # 'twelve dollars and fifty cents'
            break
        unit = _followed_by(tokens, span.end, list(minor), lang)
        if unit is None:
            # 三块五, 五毛五: a lone digit at the end counts the next unit down
            if lang == "zh" and span.end == len(tokens) and span.end - span.start == 1 and span.value < 10:
                extra += span.value / (per * 10)
            break
        extra += span.value / minor[unit]
        j, per = _past(span.end, unit, lang), minor[unit]
    return extra


# --- Grammar phrases --------------------------------------------------------------------------

_KO_DIGITS = ["", "일", "이", "삼", "사", "오", "육", "칠", "팔", "구"]


def phrase_number(n: int, language: str) -> str:
    """A number as a grammar lists it, every word one the recognizer knows.

    Korean is split below the word level of speech, because the Korean Vosk model lacks many
    compounds ('이백', '삼만', '이십이'): tens and thousands stay whole ('이십', '오천'),
    hundreds, ones and the units 만/억/조 are words of their own: 1,205,000 -> '백 이십 만 오천'.
    """
    lang = base_language(language)
    if lang == "zh":
        return chinese_number(n)
    if lang == "en":
        return english_number(n)
    if n < 0 or n >= 10**16:
        raise ValueError(f"cannot say {n}")
    if n == 0:
        return "영"
    words: list[str] = []
    for size, unit in ((10**12, "조"), (10**8, "억"), (10**4, "만")):
        group, n = divmod(n, size)
        if group:
            words += ([] if group == 1 and unit == "만" else _ko_group_words(group)) + [unit]
    return " ".join(words + _ko_group_words(n))


def _ko_phrase_number(n: int) -> str:
    return phrase_number(n, "ko")


def _ko_group_words(n: int) -> list[str]:
    thousands, hundreds, tens, ones = n // 1000, n // 100 % 10, n // 10 % 10, n % 10
    words = []
    if thousands:
        words.append(("" if thousands == 1 else _KO_DIGITS[thousands]) + "천")
    if hundreds:
        words += ["백"] if hundreds == 1 else [_KO_DIGITS[hundreds], "백"]
    if tens:
        words.append(("" if tens == 1 else _KO_DIGITS[tens]) + "십")
    if ones:
        words.append(_KO_DIGITS[ones])
    return words


def amount_phrases(language: str, amounts: Sequence[Decimal], currency: str = "KRW") -> list[str]:
    """What a customer may say for each amount: the number alone and as the robot says it.

    Every phrase reads back as its amount with ``parse_amount`` (rounded to whole units,
    as the robot says it, for currencies without cents); Korean ones use only words of the
    Korean Vosk model (see ``phrase_number``).
    """
    lang = base_language(language)
    phrases: dict[str, None] = {}
    for amount in amounts:
        said = spoken_amount(amount, currency, lang, number=_ko_phrase_number if lang == "ko" else None)
        if amount == amount.to_integral_value() and said != phrase_number(int(amount), lang):
            phrases[phrase_number(int(amount), lang)] = None
        phrases[said] = None
    return list(phrases)
