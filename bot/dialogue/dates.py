"""Promise dates in what a customer says, and the phrases a grammar lists for them.

What an expression means, given today's date (weeks run Monday to Sunday):

- a bare weekday ("monday", 월요일, 周一) is the next one strictly after today, so said on a
  Monday, "monday" is a week later;
- "this <weekday>" (이번주, 这周/本周) is the first one on or after today: this week's, or
  next week's once it has passed;
- "next <weekday>" (다음주, 下周) is that day of next week, so said on a Sunday, "next
  monday" is tomorrow; "next week" alone is seven days later;
- a day of the month ("the 15th", 십오일, 十五号) is the first date with that day on or after
  today, skipping months that lack it (the 31st said in April is May 31st);
- "<day> of next month" is that day in next month, None if next month lacks it;
- a month and day ("December first", 십이월 일일, 十二月一号) is the first such date on or
  after today (None for February 30th);
- the end of the month is the last day of this month.

An expression is found anywhere in the answer, so words around it ("낼게요", "还",
"i will pay") do not matter. One kind of expression is read: the first, in the order of the
rules below, that occurs in the answer.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from .amounts import EN_NUMBER_WORDS, parse_number, phrase_number
from .speak import base_language, chinese_number, english_number, english_ordinal, spoken_ordinal_day

__all__ = ["date_phrases", "day_phrase", "parse_date"]

_Resolve = Callable[[re.Match[str], dt.date], dt.date | None]


@dataclass(frozen=True)
class _Rule:
    pattern: re.Pattern[str]
    resolve: _Resolve


# --- Meanings -----------------------------------------------------------------------------------


def _days(n: int) -> _Resolve:
    return lambda _m, today: today + dt.timedelta(days=n)


def _later(today: dt.date, days: int | None) -> dt.date | None:
    if days is None:
        return None
    try:
        return today + dt.timedelta(days=days)
    except OverflowError:
        return None


def _weekday(today: dt.date, weekday: int, week: str | None) -> dt.date:
    """``week`` is None (bare), 'this', 'next' or 'after' (the week after next)."""
    if week is None:
        return today + dt.timedelta(days=(weekday - today.weekday()) % 7 or 7)
    if week == "this":
        return today + dt.timedelta(days=(weekday - today.weekday()) % 7)
    weeks = 1 if week == "next" else 2
    return today + dt.timedelta(days=7 * weeks - today.weekday() + weekday)


def _month_after(year: int, month: int, k: int = 1) -> tuple[int, int]:
    year, month0 = divmod(year * 12 + month - 1 + k, 12)
    return year, month0 + 1


def _day_of_month(today: dt.date, day: int | None, next_month: bool = False) -> dt.date | None:
    if day is None or not 1 <= day <= 31:
        return None
    if next_month:
        year, month = _month_after(today.year, today.month)
        return dt.date(year, month, day) if day <= calendar.monthrange(year, month)[1] else None
    for k in range(3):  # every day 1..31 occurs within three months
        year, month = _month_after(today.year, today.month, k)
        if day <= calendar.monthrange(year, month)[1] and (k or day >= today.day):
            return dt.date(year, month, day)
    return None


def _month_day(today: dt.date, month: int | None, day: int | None) -> dt.date | None:
    if month is None or day is None or not 1 <= month <= 12 or not 1 <= day <= calendar.monthrange(2000, month)[1]:
        return None
    for year in range(today.year, today.year + 9):  # February 29th may be eight years away
        if day <= calendar.monthrange(year, month)[1] and (found := dt.date(year, month, day)) >= today:
            return found
    return None


def _end_of_month(today: dt.date, next_month: bool) -> dt.date:
    year, month = _month_after(today.year, today.month, 1 if next_month else 0)
    return dt.date(year, month, calendar.monthrange(year, month)[1])


def _int(text: str | None, lang: str) -> int | None:
    value = parse_number(text, lang) if text else None
    return int(value) if value is not None and value == int(value) else None


# --- Korean -------------------------------------------------------------------------------------

_KO_NUM = "영공일이삼사오육칠팔구십백0-9"
_KO_N = rf"[{_KO_NUM}](?:[{_KO_NUM} ]*[{_KO_NUM}])?"  # '십오', '십 오', '15'
_KO_START = r"(?<![^\s달월])"  # a number starts a word ('돈이 십오일' is not the 25th)
_KO_AFTER = r"(?:뒤|후|안에|내에|이내|지나서|이따가)"
_KO_NATIVE_DAYS = {"하루": 1, "이틀": 2, "사흘": 3, "나흘": 4, "닷새": 5, "엿새": 6, "이레": 7, "열흘": 10, "보름": 15}
_KO_WEEKDAYS = "월화수목금토일"
_KO_WEEKS = {"이번주": "this", "다음주": "next", "담주": "next", "다다음주": "after"}
_KO_MONTH_WORDS = {"유": 6, "시": 10}
_KO_NOT_MONTH = r"(?! ?월(?! ?요))"  # 십일월 is November, not the 10th


def _ko_month(text: str) -> int | None:
    return _KO_MONTH_WORDS.get(text) or _int(text, "ko")


_KO_RULES = [
    _Rule(re.compile(rf"{_KO_START}(?P<n>{_KO_N}) ?일 ?{_KO_AFTER}"),
          lambda m, t: _later(t, _int(m["n"], "ko"))),
    _Rule(re.compile(rf"(?P<n>{'|'.join(_KO_NATIVE_DAYS)}) ?{_KO_AFTER}"),
          lambda m, t: _later(t, _KO_NATIVE_DAYS[m["n"]])),
    _Rule(re.compile(rf"{_KO_START}(?P<n>{_KO_N}) ?주(?:일)? ?{_KO_AFTER}"),
          lambda m, t: _later(t, None if (n := _int(m["n"], "ko")) is None else 7 * n)),
    _Rule(re.compile("글피"), _days(3)),
    _Rule(re.compile("모레"), _days(2)),  # also 내일모레
    _Rule(re.compile("내일"), _days(1)),
    _Rule(re.compile("오늘"), _days(0)),
    _Rule(re.compile(r"(?:(?P<which>이번|다음|담)달 ?말일?|월 ?말|말일)"),
          lambda m, t: _end_of_month(t, m["which"] in ("다음", "담"))),
    _Rule(re.compile(rf"(?:(?P<week>{'|'.join(_KO_WEEKS)}) ?)?(?P<wd>[{_KO_WEEKDAYS}])요일"),
          lambda m, t: _weekday(t, _KO_WEEKDAYS.index(m["wd"]), _KO_WEEKS.get(m["week"] or ""))),
    _Rule(re.compile(rf"{_KO_START}(?P<m>{_KO_N}|유|시) ?월 ?(?P<d>{_KO_N}) ?일{_KO_NOT_MONTH}"),
          lambda m, t: _month_day(t, _ko_month(m["m"]), _int(m["d"], "ko"))),
    _Rule(re.compile(rf"(?:(?P<next>다음달|담달) ?)?{_KO_START}(?P<d>{_KO_N}) ?일{_KO_NOT_MONTH}"),
          lambda m, t: _day_of_month(t, _int(m["d"], "ko"), bool(m["next"]))),
    _Rule(re.compile("다다음주"), _days(14)),
    _Rule(re.compile("다음주|담주"), _days(7)),
]
_KO_JOIN = re.compile(r"(다다음|다음|이번|담) (주|달)")


# --- Mandarin -----------------------------------------------------------------------------------

_ZH_NUM = "零〇一二两三四五六七八九十0-9"
_ZH_WEEKDAYS = {**{c: i for i, c in enumerate("一二三四五六日")}, "天": 6,
                **{str(i): i - 1 for i in range(1, 8)}}
_ZH_WEEKS = {"这": "this", "这个": "this", "本": "this", "下": "next", "下个": "next",
             "下下": "after", "下下个": "after"}
_ZH_AFTER = "(?:以后|之后|后|以内|内)"
_ZH_WEEK = "(?:星期|礼拜|周)"

_ZH_RULES = [
    _Rule(re.compile(rf"(?P<n>[{_ZH_NUM}]+)天{_ZH_AFTER}|过(?P<n2>[{_ZH_NUM}]+)天"),
          lambda m, t: _later(t, _int(m["n"] or m["n2"], "zh"))),
    _Rule(re.compile(rf"(?P<n>[{_ZH_NUM}]+)个?{_ZH_WEEK}{_ZH_AFTER}"),
          lambda m, t: _later(t, None if (n := _int(m["n"], "zh")) is None else 7 * n)),
    _Rule(re.compile("大后天"), _days(3)),
    _Rule(re.compile("后天"), _days(2)),
    _Rule(re.compile("明天|明儿|明日"), _days(1)),
    _Rule(re.compile("今天|今儿|今日"), _days(0)),
    _Rule(re.compile(r"(?:(?P<next>下个?)|这个?|本)?月[底末]"), lambda m, t: _end_of_month(t, bool(m["next"]))),
    _Rule(re.compile(rf"(?P<week>下下个?|下个?|这个?|本)?{_ZH_WEEK}(?P<wd>[一二三四五六日天1-7])"),
          lambda m, t: _weekday(t, _ZH_WEEKDAYS[m["wd"]], _ZH_WEEKS.get(m["week"] or ""))),
    _Rule(re.compile(rf"(?P<m>[{_ZH_NUM}]+)月(?P<d>[{_ZH_NUM}]+)[号日]"),
          lambda m, t: _month_day(t, _int(m["m"], "zh"), _int(m["d"], "zh"))),
    _Rule(re.compile(rf"(?P<next>下个?月)?(?P<d>[{_ZH_NUM}]+)[号日]"),
          lambda m, t: _day_of_month(t, _int(m["d"], "zh"), bool(m["next"]))),
    _Rule(re.compile(rf"下下个?{_ZH_WEEK}"), _days(14)),
    _Rule(re.compile(rf"下个?{_ZH_WEEK}"), _days(7)),
]


# --- English ------------------------------------------------------------------------------------

_EN_WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_EN_WEEKS = {"this": "this", "this coming": "this", "coming": "this", "the coming": "this",
             "next": "next", "the following": "next"}
_EN_MONTHS = {name: i for i, name in enumerate(
    ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
     "november", "december"], 1)}
_EN_MONTHS |= {name[:3]: i for name, i in _EN_MONTHS.items()} | {"sept": 9}
_EN_ORDINALS = {english_ordinal(n): n for n in range(1, 32)}
_EN_NUMBER = "|".join(sorted(EN_NUMBER_WORDS, key=len, reverse=True))
_EN_N = rf"(?:\d+|{_EN_NUMBER})(?: (?:\d+|and|{_EN_NUMBER}))*"
_EN_ORD = "|".join(sorted(_EN_ORDINALS, key=len, reverse=True))
_EN_DAY = rf"(?:{_EN_ORD}|\d{{1,2}}(?:st|nd|rd|th))"
_EN_MONTH = "|".join(sorted(_EN_MONTHS, key=len, reverse=True))
_EN_WD = "|".join(_EN_WEEKDAYS)


def _en_count(text: str) -> int | None:
    return 1 if text in ("a", "an") else _int(text, "en")


def _en_day(text: str) -> int | None:
    return _EN_ORDINALS.get(text) or _int(text.rstrip("stndrh"), "en")


def _en_in(m: re.Match[str], today: dt.date) -> dt.date | None:
    n = _en_count(m["n"])
    return _later(today, None if n is None else n * (7 if m["u"].startswith("week") else 1))


_EN_RULES = [
    _Rule(re.compile(rf"\b(?:in|after|within) (?P<n>{_EN_N}) (?P<u>days?|weeks?)\b"), _en_in),
    _Rule(re.compile(rf"\b(?P<n>{_EN_N}) (?P<u>days?|weeks?) (?:from (?:now|today)|later)\b"), _en_in),
    _Rule(re.compile(r"\bday after tomorrow\b"), _days(2)),
    _Rule(re.compile(r"\btomorrow\b"), _days(1)),
    _Rule(re.compile(r"\b(?:today|tonight)\b"), _days(0)),
    _Rule(re.compile(r"\bend of (?:(?P<next>next) |the |this )?month\b|\bmonth end\b"),
          lambda m, t: _end_of_month(t, bool(m["next"]))),
    _Rule(re.compile(rf"\bnext week (?:on )?(?P<wd>{_EN_WD})\b"),
          lambda m, t: _weekday(t, _EN_WEEKDAYS.index(m["wd"]), "next")),
    _Rule(re.compile(rf"\b(?:(?P<week>{'|'.join(sorted(_EN_WEEKS, key=len, reverse=True))}) )?"
                     rf"(?P<wd>{_EN_WD})\b(?P<nw> (?:of )?next week)?"),
          lambda m, t: _weekday(t, _EN_WEEKDAYS.index(m["wd"]), "next" if m["nw"] else _EN_WEEKS.get(m["week"]))),
    _Rule(re.compile(rf"\b(?P<m>{_EN_MONTH}) (?:the )?(?P<d>{_EN_DAY}|\d{{1,2}})\b"
                     rf"|\b(?P<d2>{_EN_DAY}|\d{{1,2}}) of (?P<m2>{_EN_MONTH})\b"),
          lambda m, t: _month_day(t, _EN_MONTHS[m["m"] or m["m2"]], _en_day(m["d"] or m["d2"]))),
    _Rule(re.compile(rf"\b(?P<pre>next month (?:on )?)?(?:the )?(?P<d>{_EN_DAY})\b(?P<post> (?:of )?next month)?"
                     rf"|\bthe (?P<d2>\d{{1,2}})\b(?! (?:days?|weeks?)\b)(?P<post2> (?:of )?next month)?"),
          lambda m, t: _day_of_month(t, _en_day(m["d"] or m["d2"]), bool(m["pre"] or m["post"] or m["post2"]))),
    _Rule(re.compile(r"\bweek after next\b"), _days(14)),
    _Rule(re.compile(r"\bnext week\b"), _days(7)),
]

_RULES = {"ko": _KO_RULES, "zh": _ZH_RULES, "en": _EN_RULES}


def _normalize(text: str, lang: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    if lang == "en":
        return " ".join(re.sub(r"[^a-z0-9]+", " ", text).split())
    words = re.sub(r"[\W_]+", " ", text).split()
    if lang == "zh":
        return "".join(words)
    return _KO_JOIN.sub(r"\1\2", " ".join(words))


def parse_date(text: str, language: str, today: dt.date) -> dt.date | None:
    """The promise date an answer names ('내일 낼게요', '下周一还', 'on the 15th'), or None."""
    lang = base_language(language)
    normalized = _normalize(text, lang)
    for rule in _RULES[lang]:
        matches = list(rule.pattern.finditer(normalized))
        if matches:
            # The first kind of expression found decides: 'February 30th' is no date, not the 30th.
            return next((found for m in matches if (found := rule.resolve(m, today)) is not None), None)
    return None


# --- Grammar phrases ----------------------------------------------------------------------------


def day_phrase(n: int, language: str) -> str:
    """The n-th day of the month as a grammar lists it: '십 오 일', '十五号', 'the fifteenth'."""
    lang = base_language(language)
    if lang == "ko":
        if not 1 <= n <= 31:
            raise ValueError(f"no day {n} in a month")
        return f"{phrase_number(n, 'ko')} 일"
    return spoken_ordinal_day(n, lang)


def date_phrases(language: str) -> list[str]:
    """Every promise date a grammar listens for, bare and with the usual promise words.

    Korean phrases use only words of the Korean Vosk model; Mandarin ones are written
    without spaces (segment them for a Mandarin model's vocabulary).
    """
    lang = base_language(language)
    bare = {"ko": _ko_dates, "zh": _zh_dates, "en": _en_dates}[lang]()
    if lang == "ko":
        return [p for b in bare for p in (b, f"{b} 낼게요", f"{b} 까지")]
    if lang == "zh":
        return [p for b in bare for p in (b, f"{b}还")]
    return list(dict.fromkeys(p for b in bare for p in (b, "i will pay " + _en_with_preposition(b))))


def _ko_dates() -> list[str]:
    weekdays = [f"{d}요일" for d in _KO_WEEKDAYS]
    in_days = ["하루", "이틀", "사흘", "일주일"] + [f"{phrase_number(n, 'ko')} 일" for n in (*range(2, 11), 14)]
    return [
        "오늘", "내일", "모레", "글피",
        *weekdays, *(f"이번주 {d}" for d in weekdays), *(f"다음주 {d}" for d in weekdays), "다음주",
        *(f"{n} {after}" for n in in_days for after in ("뒤", "후")),
        "월말", "이번달 말", "말일",
        *(day_phrase(n, "ko") for n in range(1, 32)),
    ]


def _zh_dates() -> list[str]:
    days = "一二三四五六日"
    weekdays = [f"{week}{d}" for week in ("周", "星期", "礼拜") for d in days] + ["星期天", "礼拜天"]
    this_week = [f"{p}{d}" for p in ("这周", "本周", "这个星期", "这礼拜") for d in days]
    next_week = [f"{p}{d}" for p in ("下周", "下星期", "下个星期", "下礼拜", "下个礼拜") for d in days]
    in_days = [f"{'两' if n == 2 else chinese_number(n)}天后" for n in (*range(1, 11), 14)]
    return [
        "今天", "明天", "后天", "大后天",
        *weekdays, *this_week, *next_week, "下周", "下个星期",
        *in_days, "一个星期后", "两个星期后",
        "月底", "这个月底",
        *(day_phrase(n, "zh") for n in range(1, 32)),
    ]


def _en_dates() -> list[str]:
    return [
        "today", "tomorrow", "the day after tomorrow",
        *_EN_WEEKDAYS, *(f"this {d}" for d in _EN_WEEKDAYS), *(f"next {d}" for d in _EN_WEEKDAYS), "next week",
        *(f"in {english_number(n)} days" for n in (*range(2, 11), 14)), "in a week", "in two weeks",
        "the end of the month", "end of the month",
        *(day_phrase(n, "en") for n in range(1, 32)),
    ]


def _en_with_preposition(phrase: str) -> str:
    if "end of" in phrase:
        return "by the end of the month"
    if phrase in _EN_WEEKDAYS or (phrase.startswith("the ") and phrase != "the day after tomorrow"):
        return "on " + phrase
    return phrase
