"""The daily rules on a real store: last contact and pending promises read from the ledger."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from bot.agents.records import Why
from bot.agents.service import plan_rules
from bot.config import AllocationSettings
from bot.domain import CallResult, Debtor, Outcome
from bot.store.records import Payment
from bot.store.repo import Store, open_store

START = dt.datetime(2026, 10, 1, 1, 0, tzinfo=dt.UTC)
NOW = dt.datetime(2026, 12, 7, 1, 0, tzinfo=dt.UTC)
SETTINGS = AllocationSettings(unbind_days=30, handover_days=14, replenish_below=0)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(database_url: str, clock: Clock) -> Store:
    with open_store(database_url, clock=clock) as s:
        s.upsert_debtors([Debtor(id=f"D{i}", name="N", phone=f"+82100000000{i}", amount=Decimal(1000),
                                 due_date=dt.date(2026, 9, 1), overdue_since=dt.date(2026, 9, 1),
                                 timezone="Asia/Seoul") for i in range(4)])
        s.add_agent("kim", cap=10)
        s.add_agent("lee", cap=10)
        s.assign(["D0", "D1", "D2", "D3"], "kim", versions={f"D{i}": 0 for i in range(4)}, reason="start",
                 actor="boss")
        yield s


def call(store: Store, clock: Clock, debtor: str, at: dt.datetime, outcome: Outcome, **detail: object) -> None:
    clock.now = at
    attempt = store.create_attempt(debtor, f"+82100000000{debtor[1]}")
    store.mark_dialing(attempt)
    store.record_result(attempt, CallResult.ANSWERED, 16)
    store.mark_answered(attempt)
    store.finish_attempt(attempt, outcome, dict(detail), 16)


def test_rules_read_contacts_and_promises_from_the_ledger(store: Store, clock: Clock) -> None:
    # D0: a promise made 2 days ago for 3 days from now: pending -> retain
    call(store, clock, "D0", NOW - dt.timedelta(days=2), Outcome.PROMISE_TO_PAY, promise_date="2026-12-10")
    # D1: a promise long ago, kept by a payment -> not pending; reached 20 days ago without promise since
    call(store, clock, "D1", START + dt.timedelta(days=1), Outcome.PROMISE_TO_PAY, promise_date="2026-10-05")
    store.add_payments([Payment("D1", Decimal(1000), START + dt.timedelta(days=3))])
    call(store, clock, "D1", NOW - dt.timedelta(days=20), Outcome.REFUSED)
    # D2: talked 5 days ago -> contact recent; but no promise in 67 days -> hand-over
    call(store, clock, "D2", NOW - dt.timedelta(days=5), Outcome.CALLBACK)
    # D3: never reached (a no-answer does not count) -> unbind
    call(store, clock, "D3", NOW - dt.timedelta(days=1), Outcome.NO_RESPONSE)
    clock.now = NOW
    decisions = {d.case_id: d for d in plan_rules(store, SETTINGS, now=NOW)}
    assert decisions["D0"].rule == "retain"
    assert decisions["D0"].reason == "retain: promise pending (1,000.00 by 2026-12-10)"
    assert decisions["D1"].rule == "hand-over"  # contact 20 days ago is within 30: no unbind
    assert decisions["D1"].reason.startswith("hand-over: 14+ days with 'kim' without a promise")
    assert decisions["D2"].rule == "hand-over" and decisions["D2"].move.to_agent == "lee"
    assert decisions["D3"].rule == "unbind"
    assert decisions["D3"].reason == "unbind: no contact in 67 days (assigned 2026-10-01; limit 30)"
    moves = [d.move for d in decisions.values() if d.move is not None]
    assert store.apply_moves(moves, actor="rules") == 3
    assert store.get_case("D3").owner is None and store.get_case("D3").why is Why.RULE
    assert [h.actor for h in store.case_history("D2")] == ["boss", "rules"]
    # the second run the same day moves nothing
    later = NOW + dt.timedelta(hours=10)
    clock.now = later
    assert [d for d in plan_rules(store, SETTINGS, now=later) if d.move is not None] == []
