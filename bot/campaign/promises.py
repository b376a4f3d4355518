"""Kept and broken promises to pay: a pure function of the promise, the payments and today.

A promise is KEPT once the debtor's payments made from the day of the promise up to its date
plus ``GRACE`` (local dates) add up to the promised amount; BROKEN when that day has passed
without it; PENDING until then.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from zoneinfo import ZoneInfo

from bot.store.records import Payment

GRACE = dt.timedelta(days=1)


class PromiseState(StrEnum):
    KEPT = "kept"
    BROKEN = "broken"
    PENDING = "pending"


@dataclass(frozen=True, slots=True)
class Promise:
    """A promise to pay captured on a call: by ``date`` (local), ``amount`` (the debt when none was said)."""

    debtor_id: str
    made_at: dt.datetime  # when the call happened (aware)
    date: dt.date
    amount: Decimal

    def deadline(self, grace: dt.timedelta = GRACE) -> dt.date:
        return self.date + grace


def promise_from(debtor_id: str, made_at: dt.datetime, detail: dict[str, object], debt: Decimal,
                 zone: ZoneInfo) -> Promise:
    """The promise an attempt's ``outcome_detail`` records; a missing or unreadable date means
    "today" (the day of the call), a missing or unreadable amount the whole debt."""
    made_on = made_at.astimezone(zone).date()
    try:
        date = dt.date.fromisoformat(str(detail.get("promise_date")))
    except ValueError:
        date = made_on
    try:
        amount = Decimal(str(detail.get("promise_amount")))
        if not amount.is_finite() or amount <= 0:
            raise ValueError
    except (ArithmeticError, ValueError):
        amount = debt
    return Promise(debtor_id=debtor_id, made_at=made_at, date=date, amount=amount)


def promise_state(promise: Promise, payments: Iterable[Payment], *, today: dt.date, zone: ZoneInfo,
                  grace: dt.timedelta = GRACE) -> PromiseState:
    """KEPT, BROKEN or PENDING on ``today`` (a local date in ``zone``, as are the promise's dates)."""
    first, last = promise.made_at.astimezone(zone).date(), promise.deadline(grace)
    paid = sum((p.amount for p in payments if p.debtor_id == promise.debtor_id
                and first <= p.paid_at.astimezone(zone).date() <= last), Decimal(0))
    if paid >= promise.amount:
        return PromiseState.KEPT
    return PromiseState.BROKEN if today > last else PromiseState.PENDING
