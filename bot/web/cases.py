"""Which cases a user may open, and a case's history as the case page shows it.

An agent opens a case they own (case allocation) or one whose call was put through to them;
supervisors and admins open any. The rule is checked here, on the server, for every request.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo

from bot.agents.records import CaseFilter, CaseRecord
from bot.campaign.promises import Promise, PromiseState, promise_from, promise_state
from bot.domain import Debtor, EventKind, Outcome
from bot.errors import StoreError
from bot.phone import mask
from bot.store.records import AttemptRecord, Payment
from bot.store.repo import Store
from bot.web.auth import Denied, User

# Case ownership comes from case allocation; until a store provides it, nobody owns a case.
Owner = Callable[[Store, str], str | None]


def no_owner(_store: Store, _debtor_id: str) -> str | None:
    return None


def agent_cases(store: Store, owned: list[CaseRecord], agent: str, today: dt.date) -> list[CaseRecord]:
    """The agent's own cases, then the ones whose call was put through to them."""
    ids = {c.id for c in owned}
    popped = sorted(store.popped_debtors(agent) - ids)
    extra = store.list_cases(CaseFilter(ids=tuple(popped)), today=today) if popped else []
    return [*owned, *extra]


def may_open(store: Store, user: User, debtor_id: str, owner: Owner) -> bool:
    if user.role in ("supervisor", "admin"):
        return True
    return owner(store, debtor_id) == user.name or debtor_id in store.popped_debtors(user.name)


def open_case(store: Store, user: User, debtor_id: str, owner: Owner) -> Debtor:
    """The debtor, or Denied (404: an agent does not learn whether another's case exists).
    Every look, allowed or not, goes to the audit trail."""
    try:
        debtor = store.get_debtor(debtor_id)
    except StoreError:
        debtor = None
    if debtor is None or not may_open(store, user, debtor_id, owner):
        store.audit(user.name, "denied", f"case:{debtor_id}", {"exists": debtor is not None})
        raise Denied("no such case among yours", status=404)
    store.audit(user.name, "view", f"case:{debtor_id}")
    return debtor


@dataclass(frozen=True, slots=True)
class CallRow:
    attempt: AttemptRecord
    phone_masked: str
    by: str  # "robot" or the agent's name
    turns: list[tuple[str, str]] = field(default_factory=list)
    promise: Promise | None = None
    promise_state: PromiseState | None = None


@dataclass(frozen=True, slots=True)
class CaseHistory:
    debtor: Debtor
    phone_masked: str
    days_overdue: int | None
    calls: list[CallRow]
    payments: list[Payment]
    paid: Decimal
    promises: dict[str, int]  # kept / broken / pending counts


def days_past_due(debtor: Debtor, today: dt.date) -> int | None:
    """As case allocation counts it (from ``overdue_since``), else from the due date."""
    since = debtor.overdue_since or debtor.due_date
    return None if since is None else max(0, (today - since).days)


def case_history(store: Store, debtor: Debtor, *, now: dt.datetime, zone: ZoneInfo) -> CaseHistory:
    """Every call with its outcome and the turns heard, promises kept or broken, payments."""
    payments = store.payments_of(debtor.id)
    today = now.astimezone(zone).date()
    calls: list[CallRow] = []
    counts = {s.value: 0 for s in PromiseState}
    for attempt in reversed(store.attempts_for(debtor.id)):
        by = str(attempt.outcome_detail.get("agent") or "robot")
        turns: list[tuple[str, str]] = []
        if by == "robot":
            for event in store.events_for(attempt.id):
                text = event.data.get("text")
                if event.kind is EventKind.PROMPT and isinstance(text, str):
                    turns.append(("robot", text))
                elif event.kind is EventKind.RECOGNITION and isinstance(text, str):
                    turns.append(("customer", text))
                elif event.kind is EventKind.DTMF:
                    turns.append(("customer", f"(pressed {event.data.get('digit', '?')})"))
        promise = state = None
        if attempt.outcome is Outcome.PROMISE_TO_PAY:
            made = attempt.ended_at or attempt.created_at or now
            promise = promise_from(debtor.id, made, attempt.outcome_detail, debtor.amount, zone)
            state = promise_state(promise, payments, today=today, zone=zone)
            counts[state.value] += 1
        calls.append(CallRow(attempt=attempt, phone_masked=mask(attempt.phone), by=by, turns=turns,
                             promise=promise, promise_state=state))
    return CaseHistory(
        debtor=debtor, phone_masked=mask(debtor.phone),
        days_overdue=days_past_due(debtor, today),
        calls=calls, payments=payments, paid=sum((p.amount for p in payments), Decimal(0)), promises=counts)
