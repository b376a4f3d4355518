"""The agent's wrap-up codes and what each records: the same ``Outcome`` and detail keys as
the robot's (``promise_date``, ``promise_amount``), so reports, exports and promise tracking
read human results exactly like the robot's. Pure: ``today`` is passed in."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from bot.domain import Outcome
from bot.errors import InputError

MAX_PROMISE_DAYS = 90
MAX_NOTE = 500


@dataclass(frozen=True, slots=True)
class Disposition:
    code: str
    label: str
    outcome: Outcome
    promise: bool = False  # needs a promise date and amount


DISPOSITIONS = (
    Disposition("ptp", "Promise to pay", Outcome.PROMISE_TO_PAY, promise=True),
    Disposition("paid", "Says already paid", Outcome.ALREADY_PAID),
    Disposition("refused", "Refused to pay", Outcome.REFUSED),
    Disposition("dispute", "Disputes the debt", Outcome.DISPUTE),
    Disposition("callback", "Call back later", Outcome.CALLBACK),
    Disposition("wrong_party", "Wrong person / number", Outcome.WRONG_NUMBER),
    Disposition("opt_out", "Asked not to be called", Outcome.OPT_OUT),
    Disposition("hung_up", "Customer hung up", Outcome.HUNG_UP),
    Disposition("silent", "Nobody spoke", Outcome.NO_RESPONSE),
)
BY_CODE = {d.code: d for d in DISPOSITIONS}
# Numbers that must never be called again after this result, as the robot's runner does.
SUPPRESSING = {Outcome.OPT_OUT: "opt_out", Outcome.WRONG_NUMBER: "wrong_number"}


def wrap_up_detail(code: str, promise_date: str, promise_amount: str, note: str, *, today: dt.date,
                   debt: Decimal) -> tuple[Outcome, dict[str, object]]:
    """The outcome and detail a wrap-up form records, or InputError naming the bad field."""
    disposition = BY_CODE.get(code.strip())
    if disposition is None:
        raise InputError("choose a disposition")
    detail: dict[str, object] = {"disposition": disposition.code, "via": "agent"}
    if disposition.promise:
        detail["promise_date"] = _date(promise_date, today).isoformat()
        detail["promise_amount"] = str(_amount(promise_amount, debt))
    elif promise_date.strip() or promise_amount.strip():
        raise InputError(f"a promise date or amount only goes with '{BY_CODE['ptp'].label}'")
    note = note.strip()
    if len(note) > MAX_NOTE:
        raise InputError(f"the note is longer than {MAX_NOTE} characters")
    if note:
        detail["note"] = note
    return disposition.outcome, detail


def _date(raw: str, today: dt.date) -> dt.date:
    try:
        date = dt.date.fromisoformat(raw.strip())
    except ValueError:
        raise InputError("promise date: give a date as YYYY-MM-DD") from None
    if date < today:
        raise InputError("promise date: the date is in the past")
    if date > today + dt.timedelta(days=MAX_PROMISE_DAYS):
        raise InputError(f"promise date: more than {MAX_PROMISE_DAYS} days ahead")
    return date


def _amount(raw: str, debt: Decimal) -> Decimal:
    text = raw.strip().replace(",", "")
    if not text:
        return debt  # as the robot: no amount said means the whole debt
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise InputError("promise amount: not a number") from None
    if not amount.is_finite() or amount <= 0 or amount != amount.quantize(Decimal("0.01")):
        raise InputError("promise amount: give a positive amount with at most 2 decimals")
    if amount > debt:
        raise InputError(f"promise amount: more than the debt ({debt})")
    return amount
