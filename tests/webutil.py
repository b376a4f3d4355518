"""Helpers for the web desk's tests: a real SQLite store with users, debtors and a robot call."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from bot.domain import CallResult, Debtor, DialogueEvent, EventKind, Outcome
from bot.store.repo import Store
from bot.web.passwords import hash_password

PASSWORD = "correct horse 1"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def add_users(store: Store, **roles: str) -> None:
    for name, role in roles.items():
        store.add_web_user(name, hash_password(PASSWORD), role)


def add_debtor(store: Store, debtor_id: str, name: str = "김민수", phone: str = "+821012345678",
               amount: str = "350000") -> Debtor:
    debtor = Debtor(id=debtor_id, name=name, phone=phone, amount=Decimal(amount), due_date=dt.date(2026, 10, 1),
                    overdue_since=dt.date(2026, 10, 2))
    store.upsert_debtor(debtor)
    return debtor


def robot_call(store: Store, debtor_id: str, phone: str = "+821012345678") -> str:
    """A finished robot attempt in which the customer asked for a person."""
    attempt = store.create_attempt(debtor_id, phone)
    store.mark_dialing(attempt)
    store.record_result(attempt, CallResult.ANSWERED, None)
    store.mark_answered(attempt)
    for kind, data in [
        (EventKind.PROMPT, {"text": "안녕하세요, 김민수 고객님이신가요?"}),
        (EventKind.RECOGNITION, {"text": "네", "confidence": 0.9}),
        (EventKind.STATE, {"step": "identify", "intent": "yes"}),
        (EventKind.PROMPT, {"text": "삼십오만 원이 연체되었습니다. 언제 납부하시겠어요?"}),
        (EventKind.RECOGNITION, {"text": "상담원 연결", "confidence": 0.8}),
        (EventKind.STATE, {"step": "ask_date", "intent": "agent"}),
    ]:
        store.add_event(attempt, DialogueEvent(kind, data))
    store.finish_attempt(attempt, Outcome.TRANSFER_REQUESTED, {"action": "transfer"}, 16)
    return attempt


def csrf(html: str) -> str:
    found = CSRF.search(html)
    assert found, "no CSRF token in the page"
    return found.group(1)
