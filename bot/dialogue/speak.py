"""Numbers, money and dates as the robot says them, in Korean, Mandarin and English.

Everything is spelled out in words: espeak-ng reads digits too, but words are what a
recognizer hears back, so the same text serves a prompt and a grammar. English numbers use
spaces, not hyphens ("twenty one"), as recognizers write them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal

__all__ = [
    "base_language",
    "chinese_number",
    "english_number",
    "english_ordinal",
    "korean_number",
    "spoken_amount",
    "spoken_date",
    "spoken_number",
    "spoken_ordinal_day",
]

_ALIASES = {"ko": "ko", "kor": "ko", "zh": "zh", "cmn": "zh", "zho": "zh", "chi": "zh", "en": "en", "eng": "en"}


def base_language(language: str) -> str:
    """'ko', 'zh' or 'en' for a language code or voice ('cmn', 'en-us', 'ko-KR' ...)."""
    base = _ALIASES.get(language.strip().lower().replace("_", "-").split("-")[0])
    if base is None:
        raise ValueError(f"unsupported language {language!r} (ko, zh or en)")
    return base


# --- Korean (sino-Korean numerals) ------------------------------------------------------------

_KO_DIGITS = ["", "일", "이", "삼", "사", "오", "육", "칠", "팔", "구"]
_KO_SMALL = [(1000, "천"), (100, "백"), (10, "십")]
_KO_LARGE = [(10**12, "조"), (10**8, "억"), (10**4, "만")]
_KO_MONTHS = ["", "일월", "이월", "삼월", "사월", "오월", "유월", "칠월", "팔월", "구월", "시월", "십일월", "십이월"]


def korean_number(n: int) -> str:
    """Sino-Korean reading with a space between groups: 300000 -> '삼십 만', 10000 -> '만'.

    Groups are split by a space because the Korean Vosk model knows '삼십' and '만' but not
    '삼십만'; espeak-ng reads both forms the same way. Below 10**16.
    """
    _check_range(n, 10**16)
    if n == 0:
        return "영"
    parts: list[str] = []
    for size, unit in _KO_LARGE:
        group, n = divmod(n, size)
        if group:
            # 10,000 is '만', not '일만'; 10**8 and 10**12 keep their '일'.
            parts.extend([] if group == 1 and unit == "만" else [_korean_below_10000(group)])
            parts.append(unit)
    if n:
        parts.append(_korean_below_10000(n))
    return " ".join(parts)


def _korean_below_10000(n: int) -> str:
    out = ""
    for size, unit in _KO_SMALL:
        digit, n = divmod(n, size)
        if digit:
            out += ("" if digit == 1 else _KO_DIGITS[digit]) + unit
    return out + _KO_DIGITS[n]


# --- Mandarin ---------------------------------------------------------------------------------

_ZH_DIGITS = "零一二三四五六七八九"
_ZH_LARGE = [(10**8, "亿"), (10**4, "万"), (1, "")]


def chinese_number(n: int) -> str:
    """Mandarin reading: 300000 -> '三十万', 2000 -> '两千', 10500 -> '一万零五百'. Below 10**12."""
    _check_range(n, 10**12)
    if n == 0:
        return "零"
    out = ""
    gap = False  # a whole group of zeros since the last group said
    for size, unit in _ZH_LARGE:
        group, n = divmod(n, size)
        if not group:
            gap = gap or bool(out)
            continue
        if out and (gap or group < 1000):
            out += "零"
        out += _chinese_below_10000(group, first=not out, before_unit=bool(unit)) + unit
        gap = False
    return out


def _chinese_below_10000(n: int, *, first: bool, before_unit: bool) -> str:
    if n == 2 and before_unit:
        return "两"  # 两万, 两亿
    out = ""
    zero = False
    for size, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        digit = n // size % 10
        if not digit:
            zero = zero or bool(out)
            continue
        if zero:
            out += "零"
            zero = False
        if digit == 2 and unit in ("千", "百"):
            out += "两"
        elif not (digit == 1 and unit == "十" and first and not out):  # 十五, not 一十五, at the start
            out += _ZH_DIGITS[digit]
        out += unit
    return out


# --- English ----------------------------------------------------------------------------------

_EN_ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
            "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
            "nineteen"]
_EN_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_EN_SCALES = [(10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (10**3, "thousand"), (1, "")]
_EN_ORDINAL_WORDS = {"one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
                     "nine": "ninth", "twelve": "twelfth"}
_EN_MONTHS = ["", "January", "February", "March", "April", "May", "June", "July", "August", "September",
              "October", "November", "December"]


def english_number(n: int) -> str:
    """'three hundred thousand', 'one thousand two hundred five' (no 'and', no hyphens). Below 10**15."""
    _check_range(n, 10**15)
    if n == 0:
        return "zero"
    words: list[str] = []
    for size, scale in _EN_SCALES:
        group, n = divmod(n, size)
        if group:
            words.extend(_english_below_1000(group))
            if scale:
                words.append(scale)
    return " ".join(words)


def _english_below_1000(n: int) -> list[str]:
    hundreds, rest = divmod(n, 100)
    words = [_EN_ONES[hundreds], "hundred"] if hundreds else []
    if rest >= 20:
        words.append(_EN_TENS[rest // 10])
        rest %= 10
        if rest:
            words.append(_EN_ONES[rest])
    elif rest:
        words.append(_EN_ONES[rest])
    return words


def english_ordinal(n: int) -> str:
    """'first', 'fifteenth', 'twenty first', 'one hundredth' (n >= 1)."""
    if n < 1:
        raise ValueError(f"no ordinal for {n}")
    *head, last = english_number(n).split()
    if last in _EN_ORDINAL_WORDS:
        last = _EN_ORDINAL_WORDS[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return " ".join([*head, last])


# --- Any language -----------------------------------------------------------------------------


def spoken_number(n: int, language: str) -> str:
    """A whole number in words: '삼십 만', '三十万', 'three hundred thousand'; '마이너스', '负', 'minus'."""
    lang = base_language(language)
    if n < 0:  # a count such as days overdue can go below zero
        return {"ko": "마이너스 ", "zh": "负", "en": "minus "}[lang] + spoken_number(-n, lang)
    if lang == "ko":
        return korean_number(n)
    if lang == "zh":
        return chinese_number(n)
    return english_number(n)


# Major and minor unit names, (singular, plural) per language. Currencies without a minor
# unit here (KRW, or any unknown code, which is said as its code) are rounded to whole units.
_MAJOR = {
    "KRW": {"ko": ("원", "원"), "zh": ("韩元", "韩元"), "en": ("won", "won")},
    "USD": {"ko": ("달러", "달러"), "zh": ("美元", "美元"), "en": ("dollar", "dollars")},
    "CNY": {"ko": ("위안", "위안"), "zh": ("元", "元"), "en": ("yuan", "yuan")},
}
_MINOR = {
    "USD": {"ko": ("센트", "센트"), "zh": ("美分", "美分"), "en": ("cent", "cents")},
    "CNY": {"ko": ("펀", "펀"), "zh": ("分", "分"), "en": ("fen", "fen")},
}


def spoken_amount(amount: Decimal, currency: str, language: str, *,
                  number: Callable[[int], str] | None = None) -> str:
    """Money as the robot says it: '삼십 만 원', '三十万韩元', 'twelve dollars and fifty cents'.

    Cents are said only for currencies that have them (USD, CNY); others round half up.
    ``number`` says the whole numbers instead of the language's usual words (a grammar's
    vocabulary-safe Korean, say).
    """
    lang = base_language(language)
    if amount < 0:
        raise ValueError("negative amount")
    minor_names = _MINOR.get(currency, {}).get(lang)
    step = Decimal("0.01") if minor_names else Decimal(1)
    exact = amount.quantize(step, rounding=ROUND_HALF_UP)
    whole = int(exact)
    cents = int((exact - whole) * 100)
    say = number or (lambda n: "两" if lang == "zh" and n == 2 else spoken_number(n, lang))
    if lang == "zh" and currency == "CNY":
        return _chinese_yuan(whole, cents, say)
    major = _MAJOR.get(currency, {}).get(lang, (currency, currency))
    parts: list[str] = []
    if whole or not cents:
        parts.append(_counted(say(whole), whole, major, lang))
    if cents and minor_names:
        parts.append(_counted(say(cents), cents, minor_names, lang))
    if lang == "en":
        return " and ".join(parts)
    return ("" if lang == "zh" else " ").join(parts)


def _counted(words: str, n: int, names: tuple[str, str], lang: str) -> str:
    if lang == "zh":
        return words + names[1]
    return f"{words} {names[0] if n == 1 else names[1]}"


def _chinese_yuan(whole: int, cents: int, say: Callable[[int], str]) -> str:
    jiao, fen = divmod(cents, 10)
    out = say(whole) + "元" if whole or not cents else ""
    if jiao:
        out += say(jiao) + "角"
    if fen:
        out += ("零" if out and not jiao else "") + say(fen) + "分"
    return out


def spoken_date(day: dt.date, language: str) -> str:
    """Month and day in words, no year: '십이월 일일', '十二月一号', 'December first'."""
    lang = base_language(language)
    if lang == "ko":
        return f"{_KO_MONTHS[day.month]} {korean_number(day.day)}일"
    if lang == "zh":
        return f"{chinese_number(day.month)}月{chinese_number(day.day)}号"
    return f"{_EN_MONTHS[day.month]} {english_ordinal(day.day)}"


def spoken_ordinal_day(n: int, language: str) -> str:
    """A day of the month: '십오일', '十五号', 'the fifteenth'."""
    if not 1 <= n <= 31:
        raise ValueError(f"no day {n} in a month")
    lang = base_language(language)
    if lang == "ko":
        return korean_number(n) + "일"
    if lang == "zh":
        return chinese_number(n) + "号"
    return "the " + english_ordinal(n)


def _check_range(n: int, limit: int) -> None:
    if n < 0:
        raise ValueError("negative number")
    if n >= limit:
        raise ValueError(f"{n} is too large to say")
