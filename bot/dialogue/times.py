"""Callback times in what a customer says ("내일 오후 세 시에", "in an hour", "明天下午三点").

Parsing needs no clock: what was said becomes a ``CallbackTime`` whose text form is what the
``callback_at`` slot stores (``"in 60 min"``, ``"tomorrow 15:00"``, ``"15:00"``, ``"tomorrow"``);
``resolve`` turns it into a moment given the time the call ended, in the debtor's zone.

Meanings (also in docs/campaigns.md, "Callbacks"):
- an hour without 오전/오후 (am/pm, 上午/下午): 1 to 6 mean the afternoon (13:00-18:00),
  7 to 11 the morning, 12 noon; "저녁/evening/晚上" alone is 18:00, "아침/morning/早上" 09:00,
  "점심/noon/中午" 12:00, "오후/afternoon/下午" alone 14:00, "밤/tonight" 20:00;
- a time without a day is its next occurrence: "오전 9시" said at 15:00 is tomorrow 09:00;
- a time with "today" that has passed is in the past: ``resolve`` returns None and the
  campaign uses its default delay, storing why;
- a day without a time ("내일 다시 전화 주세요") is that day at the time the call ended;
- without a word for calling, only a clock time or a delay counts ("내일" is a promise date).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

__all__ = ["CallbackTime", "from_text", "parse_time", "resolve", "spoken", "time_phrases"]


@dataclass(frozen=True, slots=True)
class CallbackTime:
    """``minutes`` after the call, or ``day`` days on (None: the next occurrence) at ``at``."""

    minutes: int | None = None
    day: int | None = None
    at: dt.time | None = None

    def __str__(self) -> str:
        if self.minutes is not None:
            return f"in {self.minutes} min"
        day = {None: "", 0: "today", 1: "tomorrow"}.get(self.day, f"+{self.day}d")
        clock = self.at.strftime("%H:%M") if self.at is not None else ""
        return " ".join(p for p in (day, clock) if p)


_TEXT = re.compile(r"^(?:in (\d+) min|(today|tomorrow|\+(\d+)d)?\s*(\d{2}:\d{2})?)$")


def from_text(text: str) -> CallbackTime | None:
    """The inverse of ``str(CallbackTime)``; None for anything else (a stored value is untrusted)."""
    m = _TEXT.match(text.strip())
    if m is None or not text.strip():
        return None
    if m.group(1):
        return CallbackTime(minutes=int(m.group(1)))
    day = {"today": 0, "tomorrow": 1}.get(m.group(2) or "", int(m.group(3)) if m.group(3) else None)
    try:
        at = dt.time.fromisoformat(m.group(4)) if m.group(4) else None
    except ValueError:
        return None
    if at is None and day is None:
        return None
    return CallbackTime(day=day, at=at)


def resolve(when: CallbackTime, ended: dt.datetime) -> dt.datetime | None:
    """The moment asked, in ``ended``'s zone; None when it is in the past."""
    if when.minutes is not None:
        return ended + dt.timedelta(minutes=when.minutes)
    local = ended
    if when.at is None:
        return local + dt.timedelta(days=when.day or 0) if when.day else None
    day = local.date() + dt.timedelta(days=when.day or 0)
    moment = dt.datetime.combine(day, when.at, local.tzinfo)
    if moment <= local:
        if when.day is not None:
            return None  # "today at 9" said at 15:00
        moment = dt.datetime.combine(day + dt.timedelta(days=1), when.at, local.tzinfo)
    return moment


# --- hours and periods ---------------------------------------------------------------------------

_PERIOD_DEFAULT = {"morning": 9, "noon": 12, "afternoon": 14, "evening": 18, "night": 20}
_PM = {"afternoon", "evening", "night"}


def _hour(hour: int, period: str | None) -> int | None:
    if not 0 <= hour <= 24:
        return None
    if period == "am":
        return 0 if hour == 12 else hour if hour < 12 else None
    if period in _PM or period == "pm":
        return hour + 12 if hour < 12 else hour if hour == 12 or hour < 24 else None
    if period in ("morning",):
        return hour if hour <= 12 else None
    if 1 <= hour <= 6:
        return hour + 12
    return hour % 24


def _build(day: int | None, period: str | None, hour: int | None, minute: int) -> CallbackTime | None:
    if hour is None:
        if period is None:
            return CallbackTime(day=day) if day is not None else None
        return CallbackTime(day=day, at=dt.time(_PERIOD_DEFAULT[period if period in _PERIOD_DEFAULT
                                                                   else "afternoon"], 0))
    h = _hour(hour, period)
    if h is None or not 0 <= minute < 60:
        return None
    return CallbackTime(day=day, at=dt.time(h % 24, minute))


# --- Korean --------------------------------------------------------------------------------------

_KO_NATIVE = {"한": 1, "두": 2, "세": 3, "네": 4, "다섯": 5, "여섯": 6, "일곱": 7, "여덟": 8, "아홉": 9, "열": 10,
              "열한": 11, "열두": 12, "스물": 20}
_KO_SINO = {"일": 1, "이": 2, "삼": 3, "사": 4, "오": 5, "육": 6, "칠": 7, "팔": 8, "구": 9}
_KO_DAYS = {"오늘": 0, "내일": 1, "낼": 1, "모레": 2}
_KO_PERIODS = {"오전": "am", "오후": "pm", "아침": "morning", "점심": "noon", "낮": "afternoon", "저녁": "evening",
               "밤": "night"}


def _ko_sino(text: str) -> int | None:
    """'삼십' 30, '십오' 15, '오' 5, digits as they are."""
    text = text.replace(" ", "")
    if text.isdigit():
        return int(text)
    if not text or any(c not in _KO_SINO and c != "십" for c in text):
        return None
    if "십" in text:
        tens, _, ones = text.partition("십")
        t = _KO_SINO.get(tens, 1 if tens == "" else -100)
        o = _KO_SINO.get(ones, 0 if ones == "" else -100)
        value = t * 10 + o
        return value if value >= 0 else None
    return _KO_SINO.get(text) if len(text) == 1 else None


def _ko_count(text: str) -> int | None:
    text = text.strip()
    if text in _KO_NATIVE:
        return _KO_NATIVE[text]
    if text.startswith("열") and text[1:].strip() in _KO_NATIVE:
        return 10 + _KO_NATIVE[text[1:].strip()]
    return _ko_sino(text)


_KO_NUM = r"(?:\d+|열 ?한|열 ?두|스물|[한두세네]|다섯|여섯|일곱|여덟|아홉|열|[일이삼사오육칠팔구십 ]+?)"
_KO_REL = re.compile(rf"(?:({_KO_NUM}) ?시간)? ?(?:({_KO_NUM}) ?분|(?<=간) ?(반)|(반) ?분)? ?(?:뒤|후|있다가|지나서)")
_KO_CLOCK = re.compile(rf"({_KO_NUM}) ?시(?! ?간)(?: ?(반|(?:{_KO_NUM}) ?분))?")


def _parse_ko(text: str) -> CallbackTime | None:
    day = next((v for k, v in _KO_DAYS.items() if k in text), None)
    period = next((v for k, v in _KO_PERIODS.items() if k in text), None)
    rel = _KO_REL.search(text)
    if rel and (rel.group(1) or rel.group(2) or rel.group(4)) and day is None:
        hours = _ko_count(rel.group(1)) if rel.group(1) else 0
        half = bool(rel.group(3) or rel.group(4))  # "한 시간 반", "반 분" (sic) read as half an hour
        minutes = 30 if half else _ko_count(rel.group(2)) if rel.group(2) else 0
        if hours is None or minutes is None or hours + minutes == 0:
            return None
        return CallbackTime(minutes=hours * 60 + minutes)
    if "이따" in text and day is None and period is None and not _KO_CLOCK.search(text):
        return CallbackTime(minutes=60)  # "이따 (다시 전화 주세요)": later today, an hour on
    clock = _KO_CLOCK.search(text)
    hour = minute = None
    if clock:
        hour = _ko_count(clock.group(1))
        if hour is None:
            return None
        extra = clock.group(2)
        minute = 30 if extra == "반" else (_ko_count(extra.replace("분", "")) if extra else 0)
        if minute is None:
            return None
    return _build(day, period, hour, minute or 0)


# --- English -------------------------------------------------------------------------------------

_EN_WORDS = {w: i for i, w in enumerate(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
                                         "ten", "eleven", "twelve"])}
_EN_WORDS.update({"an": 1, "a": 1, "half an": 0, "fifteen": 15, "twenty": 20, "thirty": 30, "forty five": 45})
_EN_N = r"(?:\d+|half an|forty five|an|a|" + "|".join(sorted(_EN_WORDS, key=len, reverse=True)) + ")"
_EN_REL = re.compile(rf"\bin ({_EN_N}) (hour|hours|minute|minutes)\b")
_EN_CLOCK = re.compile(
    rf"\b(?:at )?({_EN_N})(?::(\d\d)| (thirty|fifteen|forty five))? ?(a\.?m\.?|p\.?m\.?|o'?clock)?\b")
_EN_PERIODS = {"this morning": "morning", "tomorrow morning": "morning", "morning": "morning", "noon": "noon",
               "afternoon": "afternoon", "evening": "evening", "tonight": "night", "night": "night"}


def _en_n(text: str) -> int | None:
    return int(text) if text.isdigit() else _EN_WORDS.get(text)


def _parse_en(text: str) -> CallbackTime | None:
    rel = _EN_REL.search(text)
    if rel:
        if rel.group(1) == "half an":
            return CallbackTime(minutes=30)
        n = _en_n(rel.group(1))
        return None if not n else CallbackTime(minutes=n * (60 if rel.group(2).startswith("hour") else 1))
    if "later" in text and not re.search(r"\d|tomorrow|today|\bat\b", text):
        return CallbackTime(minutes=60)
    day = 1 if "tomorrow" in text else 0 if ("today" in text or "tonight" in text or "this " in text) else None
    period = next((v for k, v in _EN_PERIODS.items() if k in text), None)
    hour = minute = None
    for m in _EN_CLOCK.finditer(text):
        if not (m.group(2) or m.group(3) or m.group(4) or text[max(0, m.start()):m.start() + 3] == "at "):
            continue
        hour = _en_n(m.group(1))
        minute = int(m.group(2)) if m.group(2) else (_en_n(m.group(3)) if m.group(3) else 0)
        suffix = (m.group(4) or "").replace(".", "")
        if suffix in ("am", "pm"):
            period = suffix
        break
    if hour is None and period is None and day is None:
        return None
    return _build(day, period, hour, minute or 0)


# --- Chinese -------------------------------------------------------------------------------------

_ZH_DIGITS = {"零": 0, "〇": 0, "一": 1,
              "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_ZH_DAYS = {"今天": 0, "明天": 1, "后天": 2}
_ZH_PERIODS = {"上午": "am", "早上": "morning", "中午": "noon", "下午": "pm", "晚上": "evening",
               "今晚": "night"}
_ZH_N = r"[零〇一二两三四五六七八九十0-9]+"


def _zh_n(text: str) -> int | None:
    if text.isdigit():
        return int(text)
    if "十" in text:
        tens, _, ones = text.partition("十")
        t = _ZH_DIGITS.get(tens, 1 if tens == "" else -100)
        o = _ZH_DIGITS.get(ones, 0 if ones == "" else -100)
        return t * 10 + o if t * 10 + o >= 0 else None
    return _ZH_DIGITS.get(text) if len(text) == 1 else None


def _parse_zh(text: str) -> CallbackTime | None:
    text = text.replace(" ", "")
    rel = re.search(rf"({_ZH_N}|半)个?(小时|钟头|分钟)(?:以后|之后|后)", text)
    if rel:
        if rel.group(1) == "半":
            return CallbackTime(minutes=30)
        n = _zh_n(rel.group(1))
        return None if not n else CallbackTime(minutes=n * (1 if rel.group(2) == "分钟" else 60))
    day = next((v for k, v in _ZH_DAYS.items() if k in text), None)
    period = next((v for k, v in _ZH_PERIODS.items() if k in text), None)
    clock = re.search(rf"({_ZH_N})点(半|({_ZH_N})分?)?", text)
    hour = minute = None
    if clock:
        hour = _zh_n(clock.group(1))
        minute = 30 if clock.group(2) == "半" else (_zh_n(clock.group(3)) if clock.group(3) else 0)
        if hour is None or minute is None:
            return None
    if "晚点" in text and hour is None and day is None:
        return CallbackTime(minutes=60)
    return _build(day, period, hour, minute or 0)


_PARSERS = {"ko": _parse_ko, "en": _parse_en, "zh": _parse_zh}


_CALL_WORDS = {"ko": ("전화", "연락"), "en": ("call", "ring"), "zh": ("打", "电话", "联系")}
_CLOCK_WORDS = {"ko": _KO_CLOCK, "en": re.compile(r"\bat \w+|\d\s*(?:a\.?m|p\.?m)|o'?clock"),
                "zh": re.compile(r"点")}


def parse_time(text: str, language: str) -> CallbackTime | None:
    """The callback time in ``text``; None when it names none (or one that cannot be).

    Without a word for calling ("전화", "call", "打"), only a clock time or a delay counts: "내일"
    or "내일 오후" alone answers "when will you pay?", and must stay a promise date."""
    lang = language.split("-")[0].lower()
    parser = _PARSERS.get(lang)
    if parser is None or not text.strip():
        return None
    text = " ".join(text.lower().split())
    found = parser(text)
    if found is None or found.minutes is not None or any(w in text for w in _CALL_WORDS[lang]):
        return found
    return found if _CLOCK_WORDS[lang].search(text) else None


# What a recognizer listens for when a step captures a time: a compact set, since grammar
# recognition degrades as a grammar grows (see bot.dialogue.slots).
_PHRASES = {
    "ko": ["내일 오후 세 시쯤 다시 전화 주세요", "한 시간 뒤에 다시 전화 주세요", "저녁때 다시 전화 주세요",
           "내일 다시 전화 주세요", "세 시쯤 다시 전화 주세요"],  # the model knows neither 시에 nor 이따
    "en": ["call me back in an hour", "call me back tomorrow at three pm", "call me back this evening",
           "call me back tomorrow", "call me back later"],
    "zh": ["一个 小时 以后 再 打", "明天 下午 三点 再 打", "晚上 再 打", "明天 再 打"],
}


def time_phrases(language: str) -> list[str]:
    return list(_PHRASES.get(language.split("-")[0].lower(), []))


# --- said back to the customer (the confirmation question) -------------------------------------

_KO_HOURS = ["열두", "한", "두", "세", "네", "다섯", "여섯", "일곱", "여덟", "아홉", "열", "열한"]
_ZH_HOURS = ["十二", "一", "两", "三", "四", "五", "六", "七", "八", "九", "十", "十一"]


def spoken(when: CallbackTime, language: str) -> str:
    """The time as the robot says it back: "내일 오후 세 시", "한 시간 뒤", "tomorrow at 3 pm"."""
    from .speak import spoken_number

    lang = language.split("-")[0].lower()
    if when.minutes is not None:
        hours, minutes = divmod(when.minutes, 60)
        if lang == "ko":
            parts = ([f"{_KO_HOURS[hours] if 0 < hours < 12 else spoken_number(hours, lang)} 시간"] if hours else []) \
                + ([f"{spoken_number(minutes, lang)} 분"] if minutes else [])
            return " ".join(parts) + " 뒤"
        if lang == "zh":
            return (f"{spoken_number(hours, lang)}个小时" if hours else "") + \
                (f"{spoken_number(minutes, lang)}分钟" if minutes else "") + "以后"
        return f"in {when.minutes} minutes"
    days = {"ko": {0: "오늘", 1: "내일", 2: "모레"}, "zh": {0: "今天", 1: "明天", 2: "后天"},
            "en": {0: "today", 1: "tomorrow", 2: "the day after tomorrow"}}.get(lang, {})
    day = days.get(when.day, "") if when.day is not None else ""
    if when.day is not None and not day:
        day = {"ko": f"{spoken_number(when.day, lang)} 일 뒤", "zh": f"{spoken_number(when.day, lang)}天以后"}.get(
            lang, f"in {when.day} days")
    if when.at is None:
        return day
    h, m = when.at.hour, when.at.minute
    if lang == "ko":
        minutes = f" {spoken_number(m, lang)} 분" if m else ""
        clock = f"{'오전' if h < 12 else '오후'} {_KO_HOURS[h % 12]} 시{minutes}"
        return f"{day} {clock}".strip()
    if lang == "zh":
        clock = f"{'上午' if h < 12 else '下午'}{_ZH_HOURS[h % 12]}点" + (f"{spoken_number(m, lang)}分" if m else "")
        return day + clock
    clock = f"{h % 12 or 12}" + (f":{m:02d}" if m else "") + (" am" if h < 12 else " pm")
    return f"{day} at {clock}".strip()
