"""Intents of the built-in reminder: phrases the recognizer listens for, keys, promise dates."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from bot.domain import Heard


class Intent(StrEnum):
    YES = "yes"
    NO = "no"
    PROMISE = "promise"
    OPT_OUT = "opt_out"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Understood:
    intent: Intent
    promise_date: dt.date | None = None


# Phrase -> (intent, days from today | 'monday'). Every word is in the Korean Vosk model.
_KO: dict[str, tuple[Intent, int | str | None]] = {
    "네": (Intent.YES, 0),
    "네 낼게요": (Intent.YES, 0),
    "낼게요": (Intent.YES, 0),
    "아니요": (Intent.NO, None),
    "돈이 없어요": (Intent.NO, None),
    "내일": (Intent.PROMISE, 1),
    "내일 낼게요": (Intent.PROMISE, 1),
    "모레 낼게요": (Intent.PROMISE, 2),
    "다음주 월요일": (Intent.PROMISE, "monday"),
    "다음주 월요일 낼게요": (Intent.PROMISE, "monday"),
    "전화 하지 마세요": (Intent.OPT_OUT, None),
}
_EN: dict[str, tuple[Intent, int | str | None]] = {
    "yes": (Intent.YES, 0),
    "yes i will pay": (Intent.YES, 0),
    "no": (Intent.NO, None),
    "i cannot pay": (Intent.NO, None),
    "tomorrow": (Intent.PROMISE, 1),
    "i will pay tomorrow": (Intent.PROMISE, 1),
    "next monday": (Intent.PROMISE, "monday"),
    "stop calling me": (Intent.OPT_OUT, None),
}
_TABLES = {"ko": _KO, "en": _EN}
KEYS = {"1": Intent.YES, "2": Intent.NO, "9": Intent.OPT_OUT}


def phrases(language: str) -> list[str]:
    return list(_TABLES.get(language, _KO))


def understand(heard: Heard, language: str, today: dt.date) -> Understood:
    """Map what was heard (speech or a key) to an intent; promise dates are absolute."""
    if heard.digit:
        intent = KEYS.get(heard.digit, Intent.UNKNOWN)
        return Understood(intent, today if intent is Intent.YES else None)
    entry = _TABLES.get(language, _KO).get(heard.text.strip().lower())
    if entry is None:
        return Understood(Intent.UNKNOWN)
    intent, when = entry
    if when is None:
        return Understood(intent)
    if when == "monday":
        return Understood(intent, today + dt.timedelta(days=7 - today.weekday()))
    return Understood(intent, today + dt.timedelta(days=int(when)))
