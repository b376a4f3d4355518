"""Compliance policy: may this debt be called now, and if not, when? Pure: zones, history and the clock come in.

Ambiguous evidence takes the stricter reading: with several candidate zones a time is allowed only if it
is allowed in every one of them, and per-day caps count the busiest of the candidate local days.
Local time comes from zoneinfo (each zone's offsets and the instants they change), never from a fixed
offset, so daylight-saving days need no special case. Rolling 7 x 24 h periods are never more lenient than
counting calendar days.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import NamedTuple
from zoneinfo import ZoneInfo

from bot.campaign.zones import load_zone
from bot.compliance import requests as req
from bot.domain import CallResult
from bot.errors import ConfigError

UTC = dt.UTC
SECOND = dt.timedelta(seconds=1)
DAY = dt.timedelta(days=1)
WEEK = dt.timedelta(days=7)
SEARCH_DAYS = 400  # how far ahead next_allowed looks before it answers "never"
MAX_COOLDOWN = dt.timedelta(days=366)
DEFAULT_WINDOW = (dt.time(8), dt.time(21))
# Sampling step when looking for offset changes; no zone changes its offset twice within it.
_TRANSITION_STEP = dt.timedelta(hours=6)
_CAPS = ("max_per_day", "max_per_7_days", "max_unanswered_per_day")
_REQUEST_LIMITS = ("restriction_hours_per_week", "suspension_max_days", "retention_days")


@dataclass(frozen=True)
class Rules:
    """One rule pack: the local calling window (end exclusive) and frequency caps (None: no cap)."""

    window: tuple[dt.time, dt.time] = DEFAULT_WINDOW
    max_per_day: int | None = None  # attempts per local calendar day
    max_per_7_days: int | None = None  # rolling 7 x 24 h, every attempt to any number of the debt
    cooldown_after_conversation: dt.timedelta | None = None
    max_unanswered_per_day: int | None = None
    name: str = "custom"
    # Debtors' own contact requests (bot.compliance.requests): how much of each the pack honours.
    # None: all of it (a lender may always honour more than the law asks).
    restriction_hours_per_week: int | None = None  # blocked time slots honoured, in hours per week
    suspension_max_days: int | None = None  # one suspension (or one extension) honoured for at most this
    suspension_extensions: int | None = None  # how many times one suspension may be extended
    adjustment_business_days: int = 10  # the stop after a debt-adjustment request
    holiday_country: str | None = None  # business days skip this country's public holidays (holidays pkg)
    recording_notice: bool = False  # scripts must play a recording notice before listening
    retention_days: int | None = None  # recordings and transcripts kept this long; None: the setting

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ConfigError("a compliance rule pack needs a non-empty name")
        where = f"compliance rules {self.name!r}"
        window = self.window
        if not (
            isinstance(window, tuple)
            and len(window) == 2
            and all(isinstance(t, dt.time) and t.tzinfo is None for t in window)
        ):
            raise ConfigError(f"{where}: window must be two local times (start, end)")
        if window[1] <= window[0]:
            raise ConfigError(
                f"{where}: window end {window[1]:%H:%M} must be after its start {window[0]:%H:%M}"
                " (windows over midnight are not supported)"
            )
        for key in (*_CAPS, *_REQUEST_LIMITS):
            value = getattr(self, key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ConfigError(
                    f"{where}: {key} must be a whole number of at least 1, or null for no cap; got {value!r}"
                )
        extensions = self.suspension_extensions
        if extensions is not None and (isinstance(extensions, bool) or not isinstance(extensions, int)
                                       or extensions < 0):
            raise ConfigError(f"{where}: suspension_extensions must be a whole number of at least 0, or null")
        cooldown = self.cooldown_after_conversation
        if cooldown is not None and (
            not isinstance(cooldown, dt.timedelta) or not dt.timedelta(0) <= cooldown <= MAX_COOLDOWN
        ):
            raise ConfigError(f"{where}: the cooldown after a conversation must be between 0 and 366 days")


PACKS: dict[str, Rules] = {
    # Not a law: the strictest widely used caps that still allow a normal retry plan (Regulation F's 7
    # attempts in 7 days, China's 6 unanswered a day), so a campaign without a pack cannot hammer a debtor.
    "default": Rules(max_per_7_days=7, max_unanswered_per_day=6, name="default"),
    # US Regulation F (12 CFR 1006.14): more than 7 attempts within 7 consecutive days, or any call within
    # 7 days after a telephone conversation about the debt, is presumed harassment. FDCPA hours: 08:00-21:00.
    "us_reg_f": Rules(max_per_7_days=7, cooldown_after_conversation=WEEK, name="us_reg_f"),
    # Massachusetts and New York: 2 attempts per 7 days, on top of Regulation F.
    "us_ma_ny": Rules(max_per_7_days=2, cooldown_after_conversation=WEEK, name="us_ma_ny"),
    # China, 2026 consumer-loan collection guideline: no calls 22:00-08:00, but some sources say 21:00;
    # we keep the safe 08:00-21:00 (product notes). At most 6 unanswered attempts per day.
    "cn_2026": Rules(max_unanswered_per_day=6, name="cn_2026"),
    # Korea (docs/compliance.md): Individual Debtor Protection Act (in force 17 Oct 2024): at most 7
    # collection contacts per debt in 7 days, robot's and collectors' together (both are attempts in the
    # ledger); blocked time slots up to 28 h a week; a suspension of up to 3 months, extendable once; 10
    # business days after a debt-adjustment request. Fair Debt Collection Act: no calls 21:00-08:00.
    # Both require telling the debtor the call is recorded (Personal Information Protection Act).
    "kr": Rules(window=(dt.time(8), dt.time(21)), max_per_7_days=7, restriction_hours_per_week=28,
                suspension_max_days=92, suspension_extensions=1, adjustment_business_days=10, holiday_country="KR",
                recording_notice=True, retention_days=90, name="kr"),
}

_MAPPING_KEYS = (
    "base",
    "name",
    "window",
    "max_per_day",
    "max_per_7_days",
    "cooldown_after_conversation_days",
    "max_unanswered_per_day",
)
_WINDOW_TEXT = re.compile(r"\s*([0-9]{1,2}):([0-9]{2})\s*[-–]\s*([0-9]{1,2}):([0-9]{2})\s*")


def rules_from_mapping(data: Mapping[str, object]) -> Rules:
    """Build a custom pack from a campaign file's mapping; ``base`` names the pack it extends."""
    if not isinstance(data, Mapping):
        raise ConfigError("compliance rules must be a mapping of keys to values")
    unknown = sorted(str(key) for key in data if key not in _MAPPING_KEYS)
    if unknown:
        raise ConfigError(
            f"compliance rules: unknown key(s) {', '.join(unknown)}; known keys: {', '.join(_MAPPING_KEYS)}"
        )
    base_name = data.get("base", "default")
    if not isinstance(base_name, str) or base_name not in PACKS:
        raise ConfigError(f"compliance rules: base must be one of {', '.join(PACKS)}; got {base_name!r}")
    changes: dict[str, object] = {key: data[key] for key in _CAPS if key in data}
    if "window" in data:
        changes["window"] = _parse_window(data["window"])
    if "cooldown_after_conversation_days" in data:
        changes["cooldown_after_conversation"] = _parse_cooldown_days(data["cooldown_after_conversation_days"])
    default_name = f"{base_name}+custom" if changes else base_name
    return replace(PACKS[base_name], name=data.get("name", default_name), **changes)  # type: ignore[arg-type]


def _parse_window(value: object) -> tuple[dt.time, dt.time]:
    match = _WINDOW_TEXT.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise ConfigError(f'compliance rules: window must look like "08:00-21:00"; got {value!r}')
    h1, m1, h2, m2 = (int(part) for part in match.groups())
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
        raise ConfigError(f"compliance rules: window {value!r} has an impossible time of day")
    start, end = dt.time(h1, m1), dt.time(h2, m2)
    if end <= start:
        raise ConfigError(
            f"compliance rules: window {value!r} ends before it starts (windows over midnight are not supported)"
        )
    return start, end


def _parse_cooldown_days(value: object) -> dt.timedelta | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"compliance rules: cooldown_after_conversation_days must be a number; got {value!r}")
    if not 0 <= value <= MAX_COOLDOWN.days:
        raise ConfigError(f"compliance rules: cooldown_after_conversation_days must be 0 to 366; got {value!r}")
    return dt.timedelta(days=value)


@dataclass(frozen=True)
class Attempt:
    """One earlier attempt on the debt, to any of its numbers."""

    at: dt.datetime  # timezone-aware; stored in UTC
    result: CallResult | None = None  # None: not known yet, counted as unanswered
    conversation: bool = False  # a right-party conversation took place

    def __post_init__(self) -> None:
        object.__setattr__(self, "at", _require_aware(self.at, "Attempt.at"))


@dataclass(frozen=True)
class Decision:
    """The verdict: ``reason`` is a stable code, ``not_before`` the earliest UTC time the rules allow."""

    allow: bool
    # ok, suppressed:<why>, no_time_zone, no_common_window, cap_day, cap_7_days,
    # cooldown_after_conversation, cap_unanswered_day, outside_window
    reason: str
    detail: str
    not_before: dt.datetime | None = None  # None when allowed, or when no later time will be


def decide(
    *,
    zones: Sequence[str],
    history: Sequence[Attempt],
    now: dt.datetime,
    rules: Rules,
    suppressed: str | None = None,
    requests: req.ContactRequests | None = None,
) -> Decision:
    """May the debt be called at ``now``? The first failing check names the reason.
    ``requests`` are the debtor's own contact requests (bot.compliance.requests)."""
    now = _require_aware(now, "now")
    if suppressed is not None:
        why = suppressed or "unspecified"
        if why == req.UNCONFIRMED_OPT_OUT:
            return Decision(False, f"suppressed:{why}", "held: an opt-out the customer may have asked for in a call "
                            "awaits a person's review (collbot suppress list)")
        return Decision(False, f"suppressed:{why}", f"the debtor is suppressed ({why}) and is never called again")
    loaded = _load(zones)
    if not loaded:
        return Decision(False, "no_time_zone", "no candidate time zone is known; use the configured default zone")
    never = _never_by_request(requests, rules)
    if never is not None:
        return never
    blocks = _blocks(loaded, history, now, rules, requests)
    if not blocks:
        return Decision(True, "ok", "every rule allows a call now")
    not_before = _search(loaded, history, now, rules, blocks, requests)
    if not_before is None:
        names = ", ".join(name for name, _ in loaded[:5]) + (f" and {len(loaded) - 5} more" if len(loaded) > 5 else "")
        return Decision(
            False,
            "no_common_window",
            f"the calling windows of the candidate zones ({names}) do not overlap in the next {SEARCH_DAYS} days",
        )
    return Decision(False, blocks[0].reason, blocks[0].detail, not_before)


def next_allowed(
    *,
    zones: Sequence[str],
    history: Sequence[Attempt],
    after: dt.datetime,
    rules: Rules,
    suppressed: str | None = None,
    requests: req.ContactRequests | None = None,
) -> dt.datetime | None:
    """The earliest UTC instant at or after ``after`` that ``decide`` allows; None if there is none."""
    after = _require_aware(after, "after")
    if suppressed is not None:
        return None
    loaded = _load(zones)
    if not loaded or _never_by_request(requests, rules) is not None:
        return None
    return _search(loaded, history, after, rules, None, requests)


# --- internals ------------------------------------------------------------------------------------------

_Zones = tuple[tuple[str, ZoneInfo], ...]


class _Block(NamedTuple):
    reason: str
    detail: str
    clears: dt.datetime | None  # no instant before this can be allowed by this check; None: never


def _require_aware(value: dt.datetime, what: str) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        raise TypeError(f"{what} must be a datetime")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware (naive datetimes are ambiguous)")
    return value.astimezone(UTC)


def _load(zones: Sequence[str]) -> _Zones:
    if isinstance(zones, str):
        raise TypeError("zones must be a sequence of zone names, not one string")
    return tuple((name, load_zone(name)) for name in dict.fromkeys(zones))


def _search(
    zones: _Zones, history: Sequence[Attempt], after: dt.datetime, rules: Rules, blocks: list[_Block] | None,
    requests: req.ContactRequests | None = None,
) -> dt.datetime | None:
    # Every block's ``clears`` is a lower bound, so jumping to the latest skips nothing that is allowed.
    limit = after + SEARCH_DAYS * DAY + (rules.cooldown_after_conversation or dt.timedelta(0))
    t = after
    while True:
        if blocks is None:
            blocks = _blocks(zones, history, t, rules, requests)
        if not blocks:
            return t
        clears = [block.clears for block in blocks]
        if None in clears:
            return None
        t = max(c for c in clears if c is not None)
        if t > limit:
            return None
        blocks = None


def _blocks(zones: _Zones, history: Sequence[Attempt], t: dt.datetime, rules: Rules,
            requests: req.ContactRequests | None = None) -> list[_Block]:
    found: list[_Block | None] = list(_request_blocks(zones, t, rules, requests)) if requests else []
    if rules.max_per_day is not None:
        found.append(_day_cap(zones, history, t, rules.max_per_day, _every, "cap_day", "attempts"))
    if rules.max_per_7_days is not None:
        found.append(_week_cap(history, t, rules.max_per_7_days))
    if rules.cooldown_after_conversation:
        found.append(_cooldown(history, t, rules.cooldown_after_conversation))
    if rules.max_unanswered_per_day is not None:
        found.append(
            _day_cap(zones, history, t, rules.max_unanswered_per_day, _unanswered, "cap_unanswered_day",
                     "unanswered attempts")
        )
    found.append(_window(zones, t, rules.window))
    return [block for block in found if block is not None]


def _never_by_request(requests: req.ContactRequests | None, rules: Rules) -> Decision | None:
    """A request that leaves no hour at all for a robot call: said plainly instead of searching 400 days."""
    if not requests:
        return None
    refused = req.means_refused(requests.restrictions, req.ROBOT_MEANS)
    if refused is not None:
        return Decision(False, "request_means_refused",
                        f"the debtor asked for no contact by {', '.join(refused.means)} (request {refused.id});"
                        " nothing can be dialled until the request is lifted")
    honoured = req.honoured_intervals(requests.restrictions, req.ROBOT_MEANS, rules.restriction_hours_per_week)
    if honoured and req.covers_window(honoured, rules.window):
        return Decision(False, "request_blocks_window",
                        f"the debtor's restricted hours ({req.describe(honoured)}) cover the whole calling window "
                        f"{rules.window[0]:%H:%M}-{rules.window[1]:%H:%M} on every day of the week;"
                        " nothing can be dialled until a restriction is lifted")
    return None


def _request_blocks(zones: _Zones, t: dt.datetime, rules: Rules, requests: req.ContactRequests
                    ) -> Iterable[_Block]:
    for s in requests.suspensions:
        end = req.suspension_end(s, rules.suspension_max_days, rules.suspension_extensions)
        block = _date_block(zones, t, s.since, end, "request_suspended",
                            f"collection suspended ({s.reason}, request {s.id}) until {end - DAY:%Y-%m-%d}")
        if block is not None:
            yield block
    for a in requests.adjustments:
        end = req.adjustment_end(a, rules.adjustment_business_days, rules.holiday_country)
        block = _date_block(zones, t, a.since, end, "request_adjustment",
                            f"debt-adjustment request {a.id} of {a.since:%Y-%m-%d}: no collection for "
                            f"{rules.adjustment_business_days} business days, until {end - DAY:%Y-%m-%d}")
        if block is not None:
            yield block
    honoured = req.honoured_intervals(requests.restrictions, req.ROBOT_MEANS, rules.restriction_hours_per_week)
    if honoured:
        ends = [(name, until) for name, zone in zones
                if (until := req.blocked_until(honoured, t.astimezone(zone))) is not None]
        if ends:
            zone_of = dict(zones)
            clears = max(_first_at_or_after(zone_of[name], until) for name, until in ends)
            yield _Block("request_restricted_hours",
                         f"the debtor asked for no calls at this time ({req.describe(honoured)}, local time in "
                         f"{ends[0][0]})", clears)


def _date_block(zones: _Zones, t: dt.datetime, since: dt.date, end: dt.date, reason: str, detail: str
                ) -> _Block | None:
    # Blocked while any candidate zone's local date is inside [since, end): the stricter reading.
    inside = [zone for _, zone in zones if since <= t.astimezone(zone).date() < end]
    if not inside:
        return None
    clears = max(_first_at_or_after(zone, dt.datetime.combine(end, dt.time())) for _, zone in zones)
    return _Block(reason, detail, clears)


def _every(attempt: Attempt) -> bool:
    return True


def _unanswered(attempt: Attempt) -> bool:
    # An attempt whose result is not known (yet) is counted: the stricter reading.
    return attempt.result != CallResult.ANSWERED


def _day_cap(
    zones: _Zones,
    history: Sequence[Attempt],
    t: dt.datetime,
    cap: int,
    counts: Callable[[Attempt], bool],
    reason: str,
    what: str,
) -> _Block | None:
    # Zones may disagree about which local day it is: every candidate day must stay under the cap.
    worst, worst_zone, clears = 0, "", None
    for name, zone in zones:
        start, end = _day_span(zone, t)
        n = sum(1 for a in history if start <= a.at < end and counts(a))
        if n > worst:
            worst, worst_zone = n, name
        if n >= cap:
            clears = end if clears is None else max(clears, end)
    if clears is None:
        return None
    return _Block(reason, f"{worst} {what} already on the local day in {worst_zone}; the limit is {cap}", clears)


def _week_cap(history: Sequence[Attempt], t: dt.datetime, cap: int) -> _Block | None:
    recent = sorted(a.at for a in history if a.at > t - WEEK)
    if len(recent) < cap:
        return None
    # Allowed again once only cap - 1 attempts remain inside the rolling window.
    clears = recent[len(recent) - cap] + WEEK
    return _Block("cap_7_days", f"{len(recent)} attempts in the last 7 days; the limit is {cap}", clears)


def _cooldown(history: Sequence[Attempt], t: dt.datetime, cooldown: dt.timedelta) -> _Block | None:
    talks = [a.at for a in history if a.conversation]
    if not talks:
        return None
    clears = max(talks) + cooldown
    if t >= clears:
        return None
    return _Block(
        "cooldown_after_conversation",
        f"a conversation took place at {max(talks).astimezone(UTC):%Y-%m-%d %H:%M} UTC;"
        f" no call within {_days(cooldown)} after it",
        clears,
    )


def _days(span: dt.timedelta) -> str:
    days = span / DAY
    return f"{days:g} days" if days != 1 else "1 day"


def _window(zones: _Zones, t: dt.datetime, window: tuple[dt.time, dt.time]) -> _Block | None:
    closed = [(name, zone) for name, zone in zones if not _in_window(zone, t, window)]
    if not closed:
        return None
    name, zone = closed[0]
    more = f" (and {len(closed) - 1} more candidate zones)" if len(closed) > 1 else ""
    detail = (
        f"it is {t.astimezone(zone):%H:%M} in {name}{more}, outside the calling window"
        f" {window[0]:%H:%M}-{window[1]:%H:%M}"
    )
    return _Block("outside_window", detail, _next_common_open(zones, t, window, t + SEARCH_DAYS * DAY))


def _in_window(zone: ZoneInfo, t: dt.datetime, window: tuple[dt.time, dt.time]) -> bool:
    local = t.astimezone(zone).time()  # comparisons ignore ``fold``: a repeated hour reads as itself
    return window[0] <= local < window[1]


def _next_common_open(
    zones: _Zones, t: dt.datetime, window: tuple[dt.time, dt.time], limit: dt.datetime
) -> dt.datetime | None:
    """Earliest instant in [t, limit] at which every zone's clock is inside the window; None if none."""
    # Between two offset changes (of any zone) local time is UTC plus constant offsets, so the common
    # window is plain arithmetic there; zoneinfo supplies the offsets and where they change.
    start = t
    while start <= limit:
        near = start + 2 * DAY
        changes = [c for _, zone in zones if (c := _next_transition(zone, start, near)) is not None]
        end = min(changes, default=near)
        offsets = [start.astimezone(zone).utcoffset() or dt.timedelta(0) for _, zone in zones]
        found = _first_common(offsets, window, start, end)
        if found is not None:
            return found if found <= limit else None
        if not changes:
            # Two days with fixed offsets repeat forever: nothing until some zone's offset changes.
            later = [c for _, zone in zones if (c := _next_transition(zone, near, limit)) is not None]
            if not later:
                return None
            end = min(later)
        start = end
    return None


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = dt.timedelta(microseconds=1)
_DAY_US = DAY // _MICRO


def _first_common(
    offsets: Sequence[dt.timedelta], window: tuple[dt.time, dt.time], start: dt.datetime, end: dt.datetime
) -> dt.datetime | None:
    """Earliest instant in [start, end) inside the window at every fixed UTC offset given (exact, in µs)."""
    lo, hi = (start - _EPOCH) // _MICRO, (end - _EPOCH) // _MICRO
    open_us, close_us = (_time_us(t) for t in window)
    common = [(lo, hi)]
    for offset in offsets:
        off = offset // _MICRO
        # Local time-of-day in [open, close) <=> UTC in [k days + open - off, k days + close - off).
        first, last = (lo + off - close_us) // _DAY_US, (hi + off - open_us) // _DAY_US + 1
        arcs = [(k * _DAY_US + open_us - off, k * _DAY_US + close_us - off) for k in range(first, last + 1)]
        common = _intersect(common, arcs)
        if not common:
            return None
    return _EPOCH + common[0][0] * _MICRO


def _time_us(t: dt.time) -> int:
    return ((t.hour * 60 + t.minute) * 60 + t.second) * 1_000_000 + t.microsecond


def _intersect(xs: list[tuple[int, int]], ys: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Intersection of two sorted lists of disjoint half-open intervals."""
    out, i, j = [], 0, 0
    while i < len(xs) and j < len(ys):
        lo, hi = max(xs[i][0], ys[j][0]), min(xs[i][1], ys[j][1])
        if lo < hi:
            out.append((lo, hi))
        if xs[i][1] < ys[j][1]:
            i += 1
        else:
            j += 1
    return out


def _next_transition(zone: ZoneInfo, start: dt.datetime, until: dt.datetime) -> dt.datetime | None:
    """The first instant in (start, until] at which ``zone`` changes its UTC offset, or None."""
    t = start.replace(microsecond=0)  # tz transitions fall on whole seconds: keep the bisection on them
    offset = t.astimezone(zone).utcoffset()
    while t < until:
        step = min(t + _TRANSITION_STEP, until)
        if step.astimezone(zone).utcoffset() != offset:
            return _first_true(t, step, lambda u: u.astimezone(zone).utcoffset() != offset)
        t = step
    return None


def _wall(zone: ZoneInfo, t: dt.datetime) -> dt.datetime:
    return t.astimezone(zone).replace(tzinfo=None, fold=0)


def _first_at_or_after(zone: ZoneInfo, wall: dt.datetime) -> dt.datetime:
    """The first UTC instant at which ``zone``'s wall clock reads ``wall`` or later."""
    early = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    late = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    lo, hi = min(early, late), max(early, late)
    if _wall(zone, lo) >= wall:
        return lo  # an ordinary or a repeated wall time: its first occurrence
    # ``wall`` falls in a gap (clocks jumped forward over it): the answer is the jump itself.
    return _first_true(lo, hi, lambda u: _wall(zone, u) >= wall)


def _first_true(lo: dt.datetime, hi: dt.datetime, holds: Callable[[dt.datetime], bool]) -> dt.datetime:
    # ``holds`` is false at lo and true at hi, and flips once in between; offsets change on whole seconds.
    a, b = 0, math.ceil((hi - lo) / SECOND)
    while b - a > 1:
        mid = (a + b) // 2
        if holds(lo + mid * SECOND):
            b = mid
        else:
            a = mid
    return min(lo + b * SECOND, hi)


def _day_span(zone: ZoneInfo, t: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The UTC instants [start, end) of the local calendar day that contains ``t`` in ``zone``."""
    day = t.astimezone(zone).date()
    start = _first_at_or_after(zone, dt.datetime.combine(day, dt.time()))
    end = _first_at_or_after(zone, dt.datetime.combine(day + DAY, dt.time()))
    if t >= end:  # the clock fell back over midnight: ``t`` already belongs to the next day
        start, end = end, _first_at_or_after(zone, dt.datetime.combine(day + 2 * DAY, dt.time()))
    return start, end

