"""May a campaign claim one more call for a debtor? Judged on the ledger, inside the claim. Pure.

The claiming transaction reads the debtor's attempts in this campaign (with the debtor's row
locked) and asks ``refusal``: nothing a runner keeps in memory decides how often a number is
called, so a stop, a kill or a second controller cannot add a call the policy does not allow.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.campaign.retry import RetryPolicy, next_retry
from bot.store.records import Past

RETRY_PREFIX = "retry:"
INTERRUPTED = "interrupted"
AGAIN_PREFIX = "again:"
__all__ = ["Past", "Want", "follow_up_due", "in_round_pool", "latest", "refusal"]


@dataclass(frozen=True, slots=True)
class Want:
    """What a runner asks to claim: a place in ``round``'s pool, or a stored follow-up."""

    round: str
    retries: frozenset[str]  # the round's pool: "new" and/or results
    follow_up_reason: str | None = None  # retry:<result> | interrupted
    follow_up_origin: str | None = None  # the attempt the follow-up follows


def latest(past: Sequence[Past]) -> Past | None:
    return max(past, key=lambda p: p.at) if past else None


def in_round_pool(retries: frozenset[str], past: Sequence[Past]) -> bool:
    """New debtors if the round takes them; else those whose latest attempt ended, without an
    outcome, with one of the round's results."""
    last = latest(past)
    if last is None:
        return "new" in retries
    return (last.state == "completed" and last.outcome is None and last.result is not None
            and last.result.value in retries)


def refusal(want: Want, past: Sequence[Past], *, policy: RetryPolicy, now: dt.datetime,
            again_limits: Mapping[str, int] | None = None) -> str | None:
    """None if the claim may go ahead, else a stable reason code."""
    if want.follow_up_reason is None:
        if any(p.round == want.round for p in past):
            return "already_called_in_round"
        return None if in_round_pool(want.retries, past) else "not_in_round_pool"
    last = latest(past)
    if last is None or last.id != want.follow_up_origin:
        return "follow_up_stale"  # the debtor was called since: this follow-up is moot
    if want.follow_up_reason.startswith(RETRY_PREFIX):
        results = [(p.at, p.result) for p in past if p.result is not None]
        when = next_retry(policy, results, now=now)
        if when is None:
            return "max_attempts"
        if when > now:
            return "retry_not_due"
    if want.follow_up_reason.startswith(AGAIN_PREFIX):  # no_response / hung_up, counted on the ledger
        outcome = want.follow_up_reason[len(AGAIN_PREFIX):]
        limit = (again_limits or {}).get(outcome, 0)
        if sum(1 for p in past if p.outcome == outcome) >= limit:
            return "max_attempts"
    return None


def follow_up_due(interrupted_at: dt.datetime, delay: dt.timedelta | None, taken: int,
                  max_follow_ups: int) -> tuple[dt.datetime | None, str]:
    """What to do about an attempt cut short: (due time, why) or (None, why not)."""
    if delay is None:
        return None, "policy: none"
    if taken >= max_follow_ups:
        return None, f"max_follow_ups {max_follow_ups} reached"
    return interrupted_at + delay, f"follow up after {delay}"
