"""The labelled corpus (bench/corpus/*.yaml): loading, what a label means, and how a result scores.

Pure apart from reading the file; the rules here are the benchmark's own, written apart from
the robot's understanding code so that they can judge it.
"""

from __future__ import annotations

import calendar
import datetime as dt
import hashlib
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from bot.dialogue.checker import load_script
from bot.yamlfile import load_yaml, validate

ROOT = Path(__file__).resolve().parents[1]
NO_MATCH = "no_match"
NO_INPUT = "no_input"
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_DATE_RULE = re.compile(
    r"^(?:\+(?P<days>\d{1,3})d|(?P<week>this |next )?(?P<wd>" + "|".join(WEEKDAYS) + r")"
    r"|(?P<nm>next month )?day (?P<day>\d{1,2})|(?P<m>\d\d)-(?P<d>\d\d)|(?P<eom>end of month)|(?P<none>none))$")
# Scored by what the robot does with an answer: 'today' is a promise for today, and 'not_me'
# ends the call as a wrong number just as the global 'wrong_number' does.
CANONICAL = {"today": "promise", "not_me": "wrong_number"}
TEST_SHARE = 3  # tenths of the items in the held-out 'test' split (by a hash of step and text)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Item(_Strict):
    step: Annotated[str, StringConstraints(pattern=r"^[a-z_]{1,40}$")]
    intent: Annotated[str, StringConstraints(pattern=r"^[a-z_]{1,40}$")]
    text: Annotated[str, StringConstraints(min_length=1, max_length=300)]
    date: str | None = None
    amount: int | None = Field(None, gt=0)

    @field_validator("date")
    @classmethod
    def _date_rule(cls, value: str | None) -> str | None:
        if value is not None and not _DATE_RULE.match(value):
            raise ValueError(f"date {value!r} is not a rule (+Nd, [this|next] <weekday>, day N, "
                             "next month day N, MM-DD, end of month, none)")
        return value

    @model_validator(mode="after")
    def _slots_fit(self) -> Item:
        if self.intent not in ("today", "promise") and (self.date is not None or self.amount is not None):
            raise ValueError(f"only today/promise take a date or an amount, not {self.intent}")
        if self.intent == "promise" and self.date is None:
            raise ValueError("a promise needs a date rule (write 'none' when it names no single date)")
        if self.intent == "today" and self.date not in (None, "+0d"):
            raise ValueError("'today' is a promise for today: give no other date")
        return self

    @property
    def key(self) -> str:
        """Stable name of this item (cache files, seeds, the split)."""
        return hashlib.sha256(f"{self.step}\0{self.text}".encode()).hexdigest()[:16]

    @property
    def split(self) -> str:
        return "test" if int(self.key, 16) % 10 < TEST_SHARE else "dev"


class Corpus(_Strict):
    language: Annotated[str, StringConstraints(pattern=r"^[a-z]{2}$")]
    script: str
    debt_amount: int = Field(gt=0)
    consequential: list[str]
    items: list[Item] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> Corpus:
        seen = Counter((i.step, i.text) for i in self.items)
        twice = [f"{step}: {text!r}" for (step, text), n in seen.items() if n > 1]
        if twice:
            raise ValueError(f"items appear twice: {', '.join(twice)}")
        return self


def load_corpus(path: Path) -> Corpus:
    """Read and check a corpus: schema errors name file:line; every label must be an intent the
    script's step can take (its own or a global), or no_match."""
    loaded = load_yaml(path)
    corpus = validate(Corpus, loaded)
    script, _ = load_script(script_path(corpus))
    for n, item in enumerate(corpus.items):
        step = script.steps.get(item.step)
        if step is None or step.listen is None:
            raise loaded.error(("items", n, "step"), f"{item.step!r} is no listening step of {script.script}")
        allowed = {intent_name(name) for name, _ in script.intents_of(step.listen)} | {NO_MATCH}
        if item.intent not in allowed:
            raise loaded.error(("items", n, "intent"), f"{item.intent!r} is not one of {sorted(allowed)}")
    return corpus


def script_path(corpus: Corpus) -> Path:
    """The call script the corpus answers (a relative path is from the repository's root)."""
    return ROOT / corpus.script


# --- what a label means ---------------------------------------------------------------------

def resolve_date(rule: str | None, today: dt.date) -> dt.date | None:
    """The date a rule names, said on ``today``; None for 'none' (no single date).

    Weeks run Monday to Sunday. A bare weekday is the next one after today; 'this' is the
    first on or after today; 'next' is that day of next week; 'day N' and 'MM-DD' are the
    first such date on or after today; 'end of month' is this month's last day.
    """
    if rule is None:
        return today
    m = _DATE_RULE.match(rule)
    if m is None:
        raise ValueError(f"not a date rule: {rule!r}")
    if m["days"]:
        return today + dt.timedelta(days=int(m["days"]))
    if m["wd"]:
        wd = WEEKDAYS.index(m["wd"])
        if m["week"] == "next ":
            return today + dt.timedelta(days=7 - today.weekday() + wd)
        ahead = (wd - today.weekday()) % 7
        return today + dt.timedelta(days=ahead if m["week"] == "this " else ahead or 7)
    if m["day"]:
        day = int(m["day"])
        if m["nm"]:
            year, month = (today.year + 1, 1) if today.month == 12 else (today.year, today.month + 1)
            return dt.date(year, month, day) if day <= calendar.monthrange(year, month)[1] else None
        year, month = today.year, today.month
        while day > calendar.monthrange(year, month)[1] or dt.date(year, month, day) < today:
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return dt.date(year, month, day)
    if m["m"]:
        month, day = int(m["m"]), int(m["d"])
        year = today.year
        while day > calendar.monthrange(year, month)[1] or dt.date(year, month, day) < today:
            year += 1
        return dt.date(year, month, day)
    if m["eom"]:
        return dt.date(today.year, today.month, calendar.monthrange(today.year, today.month)[1])
    return None


@dataclass(frozen=True)
class Understood:
    """What an understanding of one answer amounts to: an intent of the step, no_match or
    no_input, and the slots it filled (a date; an amount, None meaning the whole debt)."""

    intent: str
    date: dt.date | None = None
    amount: Decimal | None = None
    heard: str = ""
    confidence: float = 0.0
    asks: bool = False  # the robot confirms with the customer before storing this


def stored(intent: str, date: dt.date | None, amount: Decimal | None, debt: Decimal,
           consequential: Iterable[str]) -> tuple[object, ...] | None:
    """The consequential record an answer leads to, or None when nothing is stored.

    A promise is stored only with a date: without one the robot must ask again.
    """
    name = CANONICAL.get(intent, intent)
    if intent not in set(consequential) and name not in set(consequential):
        return None
    if name == "promise":
        return None if date is None else ("promise", date, amount if amount is not None else debt)
    return (name,)


def expected(item: Item, today: dt.date, debt: Decimal) -> Understood:
    date = resolve_date(item.date, today) if item.intent in ("today", "promise") else None
    amount = Decimal(item.amount) if item.amount is not None else None
    return Understood(item.intent, date, amount)


# --- scores -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Trial:
    item: Item
    voice: str
    line: str
    got: Understood


def _pct(n: int, d: int) -> float | None:
    return round(100 * n / d, 2) if d else None


def score(trials: list[Trial], corpus: Corpus, today: dt.date) -> dict[str, object]:
    """Every figure the bench reports, for one set of trials."""
    debt = Decimal(corpus.debt_amount)
    confusion: Counter[tuple[str, str]] = Counter()
    in_scope = correct = conseq = opt_total = opt_hit = 0
    dated = dated_right = dated_asked = 0
    nm_total = 0
    nm_to: Counter[str] = Counter()
    unasked = asked = asked_wrong = opt_asked = got_no_match = in_scope_no_match = 0
    errors: list[dict[str, object]] = []
    for t in trials:
        want = expected(t.item, today, debt)
        want_c = CANONICAL.get(want.intent, want.intent)
        got_c = CANONICAL.get(t.got.intent, t.got.intent)
        confusion[(want_c, got_c)] += 1
        if want_c != NO_MATCH:
            in_scope += 1
            correct += want_c == got_c
        else:
            nm_total += 1
            nm_to[got_c if got_c in (NO_MATCH, NO_INPUT) else "forced"] += 1
        if want.intent == "opt_out":
            opt_total += 1
            opt_hit += got_c == "opt_out"  # stored at once or confirmed: either way the robot asks or honours
            opt_asked += got_c == "opt_out" and t.got.asks
        got_no_match += got_c == NO_MATCH
        in_scope_no_match += got_c == NO_MATCH and want_c != NO_MATCH
        asked += t.got.asks
        if want_c == "promise" and want.date is not None and got_c == "promise":
            dated += 1
            dated_right += t.got.date == want.date
            dated_asked += t.got.date is None  # the robot asks for the day: nothing stored
        got_s = stored(t.got.intent, t.got.date, t.got.amount, debt, corpus.consequential)
        want_s = stored(want.intent, want.date, want.amount, debt, corpus.consequential)
        if got_s is not None and got_s != want_s:
            conseq += 1
            asked_wrong += t.got.asks
            unasked += not t.got.asks
            errors.append({"step": t.item.step, "text": t.item.text, "voice": t.voice, "line": t.line,
                           "expected": _show(want_s) or want_c, "stored": _show(got_s),
                           "heard": t.got.heard, "confidence": round(t.got.confidence, 3),
                           "asks": t.got.asks})
    return {
        "trials": len(trials),
        "in_scope": in_scope,
        "intent_accuracy_pct": _pct(correct, in_scope),
        "consequential_errors": conseq,
        "consequential_error_pct": _pct(conseq, len(trials)),
        "opt_out_recall_pct": _pct(opt_hit, opt_total),
        "opt_out_trials": opt_total,
        "opt_out_confirmed": opt_asked,
        "stored_unasked_errors": unasked,
        "stored_unasked_error_pct": _pct(unasked, len(trials)),
        "confirmations": asked,
        "confirmation_pct": _pct(asked, len(trials)),
        "confirmations_of_wrong": asked_wrong,
        "no_match_pct": _pct(got_no_match, len(trials)),
        "in_scope_no_match_pct": _pct(in_scope_no_match, in_scope),
        "promise_date_accuracy_pct": _pct(dated_right, dated),
        # of the same promises: a date other than the customer's (stored or confirmed), and no
        # date heard so that the robot asks for the day again
        "promise_date_wrong_pct": _pct(dated - dated_right - dated_asked, dated),
        "promise_date_asked_pct": _pct(dated_asked, dated),
        "no_match_trials": nm_total,
        "no_match_handled_pct": _pct(nm_to[NO_MATCH], nm_total),
        "no_match_as_no_input_pct": _pct(nm_to[NO_INPUT], nm_total),
        "no_match_forced_pct": _pct(nm_to["forced"], nm_total),
        "confusion": {f"{a} -> {b}": n for (a, b), n in sorted(confusion.items())},
        "consequential_examples": errors,
    }


def _show(record: tuple[object, ...] | None) -> str | None:
    if record is None:
        return None
    if record[0] == "promise":
        return f"promise {record[1]} {record[2]}"
    return str(record[0])


def intent_name(name: str) -> str:
    """A script's intent name without its section: 'globals.opt_out' -> 'opt_out'."""
    return name.rsplit(".", 1)[-1]
