"""What follows an answered call or a failed number: pure decisions, the clock comes in.

- a ``callback``: the time the debtor asked for (``callback_at``, bot.dialogue.times) or the
  campaign's default delay, never past the campaign's end;
- ``no_response`` and ``hung_up`` before identification: retried only when the campaign's
  retry policy has a rule for them (delay and max_attempts of their own);
- ``alt_phone``: the debtor's second number once the primary failed.

Every decision is a (due time, note) pair: None with the reason when nothing is planned. The
compliance gate then moves a due time to the nearest allowed one (``next_allowed``).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from bot.campaign.claims import AGAIN_PREFIX
from bot.campaign.retry import RetryRule
from bot.campaign.spec import AltPhoneSpec, Campaign
from bot.dialogue import times
from bot.domain import CallResult, Outcome

if TYPE_CHECKING:
    from bot.store.repo import Store

CALLBACK = "callback"
ALT_PHONE = "alt_phone"
__all__ = ["AGAIN_PREFIX", "ALT_PHONE", "CALLBACK", "again_due", "alt_phone_due", "answered_rules", "callback_due"]
ANSWERED_AGAIN = (Outcome.NO_RESPONSE, Outcome.HUNG_UP)


def answered_rules(campaign: Campaign) -> Mapping[Outcome, RetryRule]:
    """The retry rules for answered-but-unfinished calls; none unless the campaign sets them."""
    from bot.campaign.retry import parse_duration

    rules = {}
    for key, spec in campaign.retry.items():
        if key in ANSWERED_AGAIN:
            rules[Outcome(key)] = RetryRule(parse_duration(spec.delay, f"retry: {key}.delay"), spec.max_attempts)
    return rules


def callback_due(callback_at: object, *, ended: dt.datetime, zone: str, default_delay: dt.timedelta | None,
                 end: dt.datetime | None) -> tuple[dt.datetime | None, str]:
    """When to call back a debtor who asked to be (UTC), and why; None with the reason if never.

    ``callback_at`` is the slot as stored (text); ``ended`` when the call ended; ``zone`` the
    debtor's; ``end`` the campaign's end (None: open-ended)."""
    local = ended.astimezone(ZoneInfo(zone))
    asked = times.from_text(callback_at) if isinstance(callback_at, str) and callback_at else None
    note = ""
    when: dt.datetime | None = None
    if asked is not None:
        when = times.resolve(asked, local)
        note = f"asked: {asked}" if when is not None else f"asked {asked}, which is in the past; "
    elif callback_at:
        note = f"callback_at {str(callback_at)[:40]!r} not understood; "
    if when is None:
        if default_delay is None:
            return None, note + "no time asked and callbacks.default_delay is none"
        when = local + default_delay
        note += f"default delay {default_delay}"
    when = when.astimezone(dt.UTC)
    if end is not None and when > end:
        return None, f"{note}; {when:%Y-%m-%d %H:%M} UTC is after the campaign ends ({end:%Y-%m-%d %H:%M} UTC)"
    return when, note


def again_due(rules: Mapping[Outcome, RetryRule], outcome: Outcome, detail: Mapping[str, object],
              past_outcomes: Sequence[str | None], *, ended: dt.datetime) -> tuple[dt.datetime | None, str]:
    """A retry of an answered call that ended ``no_response`` or ``hung_up`` before identification."""
    rule = rules.get(outcome)
    if rule is None:
        return None, f"no retry rule for {outcome.value}"
    if outcome is Outcome.HUNG_UP and detail.get("identified"):
        return None, "hung up after identification: not retried"
    ended_so = sum(1 for o in past_outcomes if o == outcome.value)
    if ended_so >= rule.max_attempts:
        return None, f"max_attempts {rule.max_attempts} reached"
    return ended + rule.delay, f"retry policy {outcome.value}"


def alt_phone_due(spec: AltPhoneSpec, result: CallResult, *, retry_planned: bool, alt: str | None, primary: str,
                  dialled: str, tried: bool, ended: dt.datetime) -> tuple[dt.datetime | None, str] | None:
    """Whether to try the alt phone now: None if the question does not arise, else (due, note)."""
    if spec.after == "never" or result.value not in spec.results or dialled != primary or tried:
        return None
    if spec.after == "retries" and retry_planned:
        return None  # the primary number still has retries
    if not alt:
        return None
    if alt == primary:
        return None, "alt_phone is the primary number"
    return ended, f"primary number {result.value}" + (", retries spent" if spec.after == "retries" else "")


def summary_lines(store: Store, campaign: str) -> list[str]:
    """Report lines: callbacks, answered retries and alt-phone calls planned, and those not made (why)."""
    lines = []
    for reason, words in ((CALLBACK, "callback"), (AGAIN_PREFIX, "retry of an answered call"),
                          (ALT_PHONE, "alt_phone call")):
        rows = store.follow_ups(campaign, states=("pending", "taken", "none", "void", "dropped"),
                                reason_prefix=reason)
        if not rows:
            continue
        states = Counter(r.state for r in rows)
        line = f"{words}: " + ", ".join(f"{state} {n}" for state, n in sorted(states.items()))
        why = Counter(r.note for r in rows if r.state == "none")
        if why:
            line += "; not scheduled: " + "; ".join(f"{note} ({n})" for note, n in sorted(why.items()))
        lines.append(line)
    return lines
