"""Debtors' own contact requests, as pure data and pure checks (the clock and the zones come in).

Three kinds (docs/compliance.md):
    restriction  no contact in chosen weekly time slots (debtor's local time) and/or by chosen means
    suspension   no contact from the request until a date (disaster, surgery, hospital, bereavement)
    adjustment   no contact for N business days after a debt-adjustment request

What the debtor asked is stored as asked; the pack says how much of it must be honoured
(``Rules.restriction_hours_per_week`` and friends), and this module computes the honoured part.
Times here are local wall-clock times (naive); ``bot.campaign.compliance`` maps them to instants.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache

from bot.errors import InputError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MEANS = ("phone", "sms")
REASONS = ("disaster", "surgery", "hospital", "bereavement")
# A suspension the debtor asked for in a call: kept for a person to review the evidence, never
# honoured by the gate (only a `suspend` entered by a person is).
SUSPENSION_ASKED = "suspend_asked"
# A suppression the robot set on its own: an opt-out cue heard in a call and not confirmed. It holds
# every call to the number until a person lifts it or confirms the opt-out (docs/compliance.md).
UNCONFIRMED_OPT_OUT = "opt_out_review"
WEEK_MIN = 7 * 24 * 60
ROBOT_MEANS = "phone"  # what a robot call is
_SLOT = re.compile(r"\s*(?P<days>[a-z,\-]+)\s+(?P<h1>\d{1,2}):(?P<m1>\d{2})\s*-\s*(?P<h2>\d{1,2}):(?P<m2>\d{2})\s*")


@dataclass(frozen=True)
class Slot:
    """Weekly time slot: these weekdays (0 = Monday), local minutes [start, end) of the day."""

    days: tuple[int, ...]
    start: int
    end: int

    def text(self) -> str:
        return f"{_days_text(self.days)} {_hhmm(self.start)}-{_hhmm(self.end)}"

    def minutes(self) -> int:
        return len(self.days) * (self.end - self.start)


@dataclass(frozen=True)
class Restriction:
    id: int
    slots: tuple[Slot, ...]  # empty: every hour (then ``means`` must be given)
    means: tuple[str, ...]  # empty: every means
    at: dt.datetime

    def applies_to(self, means: str) -> bool:
        return not self.means or means in self.means


@dataclass(frozen=True)
class Suspension:
    id: int
    since: dt.date  # local date of the request
    until: dt.date  # contact may resume the day after (inclusive)
    reason: str
    extensions: int = 0


@dataclass(frozen=True)
class Adjustment:
    id: int
    since: dt.date  # local date of the request


@dataclass(frozen=True)
class ContactRequests:
    restrictions: tuple[Restriction, ...] = ()
    suspensions: tuple[Suspension, ...] = ()
    adjustments: tuple[Adjustment, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.restrictions or self.suspensions or self.adjustments)


# --- parsing what an operator types -----------------------------------------------------------------

def parse_slot(text: str) -> Slot:
    """``mon-fri 09:00-18:00``, ``sat,sun 00:00-24:00``, ``daily 12:00-13:00``."""
    match = _SLOT.fullmatch(text.lower())
    if match is None:
        raise InputError(f'--hours {text!r}: expected days and times like "mon-fri 09:00-18:00"')
    days = _parse_days(match["days"], text)
    h1, m1, h2, m2 = (int(match[k]) for k in ("h1", "m1", "h2", "m2"))
    if m1 > 59 or m2 > 59 or h1 > 23 or h2 > 24 or (h2 == 24 and m2):
        raise InputError(f"--hours {text!r}: impossible time of day")
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if end <= start:
        raise InputError(f"--hours {text!r}: ends before it starts; split a slot over midnight in two "
                         '(e.g. "mon 22:00-24:00" and "tue 00:00-07:00")')
    return Slot(days, start, end)


def _parse_days(text: str, whole: str) -> tuple[int, ...]:
    if text in ("daily", "every"):
        return tuple(range(7))
    days: set[int] = set()
    for part in text.split(","):
        ends = part.split("-")
        if len(ends) > 2 or any(e not in DAYS for e in ends):
            raise InputError(f"--hours {whole!r}: {part!r} is not a day or range of days (mon..sun, daily)")
        first, last = DAYS.index(ends[0]), DAYS.index(ends[-1])
        days.update(range(first, last + 1) if first <= last else [*range(first, 7), *range(0, last + 1)])
    return tuple(sorted(days))


def parse_means(values: Iterable[str]) -> tuple[str, ...]:
    out: list[str] = []
    for value in values:
        for part in value.lower().replace("|", ",").split(","):
            part = part.strip()
            if part not in MEANS:
                raise InputError(f"--means {value!r}: expected {' or '.join(MEANS)}")
            if part not in out:
                out.append(part)
    return tuple(out)


# --- the honoured part ------------------------------------------------------------------------------

Interval = tuple[int, int]  # minutes of the week [start, end), Monday 00:00 = 0


def honoured_intervals(restrictions: Sequence[Restriction], means: str, hours_per_week: int | None
                       ) -> list[Interval]:
    """The blocked minutes of the week the pack honours for ``means``: slots in the order the debtor asked
    them (oldest request first, then as listed), each day in week order, until ``hours_per_week`` is used."""
    budget = None if hours_per_week is None else hours_per_week * 60
    taken: list[Interval] = []
    for restriction in sorted(restrictions, key=lambda r: (r.at, r.id)):
        if not restriction.applies_to(means):
            continue
        for slot in restriction.slots or (Slot(tuple(range(7)), 0, 24 * 60),):
            for day in slot.days:
                piece = (day * 1440 + slot.start, day * 1440 + slot.end)
                for lo, hi in _minus(piece, taken):
                    if budget is not None:
                        hi = min(hi, lo + budget)
                        budget -= hi - lo
                    if hi > lo:
                        taken = _union([*taken, (lo, hi)])
                    if budget is not None and budget <= 0:
                        return taken
    return taken


def means_refused(restrictions: Sequence[Restriction], means: str) -> Restriction | None:
    """A restriction that refuses ``means`` at every hour (no slots given), if any."""
    return next((r for r in restrictions if not r.slots and r.means and means in r.means), None)


def blocked_until(intervals: Sequence[Interval], local: dt.datetime) -> dt.datetime | None:
    """If ``local`` (wall time) falls in an honoured interval, the wall time the block ends; else None."""
    minute = local.weekday() * 1440 + local.hour * 60 + local.minute
    for lo, hi in _wrapped(intervals):
        if lo <= minute < hi:
            start = local.replace(second=0, microsecond=0, tzinfo=None, fold=0)
            return start + dt.timedelta(minutes=hi - minute)
    return None


def covers_window(intervals: Sequence[Interval], window: tuple[dt.time, dt.time]) -> bool:
    """True if the intervals block the whole calling window on every day of the week."""
    open_m = window[0].hour * 60 + window[0].minute
    close_m = window[1].hour * 60 + window[1].minute + (1 if window[1].second or window[1].microsecond else 0)
    return all(not _minus((d * 1440 + open_m, d * 1440 + close_m), list(intervals)) for d in range(7))


def describe(intervals: Sequence[Interval]) -> str:
    """``mon-fri 09:00-18:00, sat 10:00-12:00``: same-time slots of several days are grouped."""
    by_time: dict[tuple[int, int], list[int]] = {}
    spanning = []
    for lo, hi in intervals:
        if lo // 1440 == (hi - 1) // 1440:
            by_time.setdefault((lo % 1440, hi - lo // 1440 * 1440), []).append(lo // 1440)
        else:
            spanning.append((lo, hi))
    parts = [f"{_days_text(days)} {_hhmm(a)}-{_hhmm(b)}" for (a, b), days in by_time.items()]
    for lo, hi in spanning:
        end_day = (hi - 1) // 1440
        parts.append(f"{DAYS[lo // 1440]} {_hhmm(lo % 1440)}-{DAYS[end_day]} {_hhmm(hi - end_day * 1440)}")
    return ", ".join(parts) or "none"


# --- suspensions and adjustments ------------------------------------------------------------------

def suspension_end(s: Suspension, max_days: int | None, extensions: int | None) -> dt.date:
    """The first local day contact may resume, as the pack honours it."""
    asked = s.until + dt.timedelta(days=1)
    if max_days is None:
        return asked
    allowed = 1 + min(s.extensions, extensions if extensions is not None else s.extensions)
    return min(asked, s.since + dt.timedelta(days=max_days * allowed))


def adjustment_end(a: Adjustment, business_days: int, country: str | None) -> dt.date:
    """The first local day after ``business_days`` business days that follow the request day."""
    day, left = a.since, business_days
    while left > 0:
        day += dt.timedelta(days=1)
        if is_business_day(day, country):
            left -= 1
    return day + dt.timedelta(days=1)


def is_business_day(day: dt.date, country: str | None) -> bool:
    return day.weekday() < 5 and (country is None or day not in _holidays(country, day.year))


@cache
def _holidays(country: str, year: int) -> frozenset[dt.date]:
    import holidays

    return frozenset(holidays.country_holidays(country, years=year))


# --- interval helpers -------------------------------------------------------------------------------

def _union(xs: Iterable[Interval]) -> list[Interval]:
    out: list[Interval] = []
    for lo, hi in sorted(xs):
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def _minus(piece: Interval, taken: Sequence[Interval]) -> list[Interval]:
    out, (lo, hi) = [], piece
    for a, b in sorted(taken):
        if b <= lo or a >= hi:
            continue
        if a > lo:
            out.append((lo, a))
        lo = max(lo, b)
        if lo >= hi:
            return out
    if lo < hi:
        out.append((lo, hi))
    return out


def _wrapped(intervals: Sequence[Interval]) -> list[Interval]:
    """Intervals with a block running over Sunday midnight joined to Monday's (the week repeats)."""
    xs = _union(intervals)
    if len(xs) > 1 and xs[0][0] == 0 and xs[-1][1] == WEEK_MIN:
        return [*xs[:-1], (xs[-1][0], WEEK_MIN + xs[0][1])]
    return xs


def _days_text(days: Sequence[int]) -> str:
    if list(days) == list(range(7)):
        return "daily"
    if list(days) == list(range(days[0], days[-1] + 1)) and len(days) > 2:
        return f"{DAYS[days[0]]}-{DAYS[days[-1]]}"
    return ",".join(DAYS[d] for d in days)


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"
