"""What the store hands out: plain frozen records, never ORM objects."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from bot.domain import CallResult, Outcome


class AttemptState(StrEnum):
    """Life of one call attempt; the first three are "active" (at most one per debtor/number)."""

    QUEUED = "queued"
    DIALING = "dialing"
    ANSWERED = "answered"
    COMPLETED = "completed"
    UNKNOWN = "unknown"


ACTIVE = frozenset({AttemptState.QUEUED, AttemptState.DIALING, AttemptState.ANSWERED})


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    """One originate towards one number, as stored."""

    id: str
    debtor_id: str
    phone: str
    state: AttemptState
    result: CallResult | None
    hangup_cause: int | None
    outcome: Outcome | None
    outcome_detail: dict[str, object] = field(default_factory=dict)
    created_at: dt.datetime | None = None
    dialed_at: dt.datetime | None = None
    answered_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None
    talk_seconds: int | None = None


@dataclass(frozen=True, slots=True)
class OutcomeRow:
    """A debtor with the result of their latest attempt (all None if never called)."""

    debtor_id: str
    name: str
    phone_masked: str
    attempt_id: str | None
    result: CallResult | None
    outcome: Outcome | None
    detail: dict[str, object]
    cause: int | None


@dataclass(frozen=True, slots=True)
class Payment:
    """Money a debtor paid, as the lender's books say."""

    debtor_id: str
    amount: Decimal
    paid_at: dt.datetime


@dataclass(frozen=True, slots=True)
class Past:
    """One of a debtor's attempts in a campaign, as a claiming transaction sees it."""

    id: str
    round: str
    at: dt.datetime  # when it was dialled (or claimed, if never dialled)
    state: str
    result: CallResult | None
    outcome: str | None


@dataclass(frozen=True, slots=True)
class FollowUp:
    """A planned call: a retry the policy scheduled, a follow-up of an interrupted call, later
    a callback the customer asked for or a call to another number."""

    id: int
    campaign: str
    round: str | None  # None: whichever round (or the follow-up phase) runs when it is due
    debtor_id: str
    phone: str
    due_at: dt.datetime | None  # None when nothing is planned (state none)
    reason: str  # retry:<result> | interrupted
    origin_attempt_id: str | None
    state: str  # pending | taken | none | dropped | void
    attempt_id: str | None  # the attempt that took it
    note: str
