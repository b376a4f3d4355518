"""Slot types: what a customer may say for a date or an amount, and what it means."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from . import amounts, dates, times

EXAMPLE_AMOUNTS = [Decimal(n) for n in (10_000, 50_000, 100_000, 300_000, 500_000, 1_000_000)]

# Grammar recognition degrades as a grammar grows: with the Korean small model and espeak-ng
# voices, 15 phrases gave 6 errors and adding the 31 days of the month broke even '오늘'
# (measured with bench/grammar.py). Korean date capture therefore listens for a compact
# set; `dates.parse_date` still understands every form a wider grammar would let through.
# No bare '내일': espeak-ng's "네" is heard as it. '모레 낼게요' is listed so that, in an open
# grammar, it outweighs '못 내요' (docs/understanding.md).
COMPACT_DATES = {"ko": ["오늘", "모레", "오늘 낼게요", "내일 낼게요", "모레 낼게요"]}


def slot_phrases(kind: str, language: str, around: Decimal | None = None) -> list[str]:
    """Phrases the recognizer listens for when a step captures a slot of this kind."""
    if kind == "date":
        return COMPACT_DATES.get(language) or dates.date_phrases(language)
    if kind == "time":
        return times.time_phrases(language)
    wanted = [around, around / 2] if around else EXAMPLE_AMOUNTS
    return amounts.amount_phrases(language, [a.quantize(Decimal(1)) for a in wanted])


def parse_slot(kind: str, text: str, language: str, today: dt.date) -> object | None:
    """The value a phrase gives a slot of this kind (None: it gives none). The checker's path
    analysis (slotflow) asks this of a script's phrases; calls go through bot.understanding."""
    if kind == "date":
        return dates.parse_date(text, language, today)
    if kind == "time":  # a callback time, resolved by the campaign against the call's end
        return times.parse_time(text, language)
    return amounts.parse_amount(text, language)


def literal(value: str, today: dt.date) -> object:
    """A value written in a script's ``set:``: today / tomorrow become dates."""
    relative = {"today": 0, "tomorrow": 1}
    if value in relative:
        return today + dt.timedelta(days=relative[value])
    return value
