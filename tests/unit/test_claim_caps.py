"""Frequency caps are checked again inside the claiming transaction, so runners that decided on
the same (stale) history cannot both call: SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from bot.campaign import compliance
from bot.campaign.runner import CampaignRunner
from bot.campaign.spec import Campaign
from bot.domain import CallResult, Debtor, Outcome
from bot.errors import StoreError
from bot.store.repo import ClaimRefused, Store, open_store

PHONE = "+821055500031"
ZONES = ("Asia/Seoul",)
NOW = dt.datetime(2026, 12, 1, 1, 0, tzinfo=dt.UTC)  # 10:00 in Seoul, a Tuesday
CAP = compliance.Rules(max_per_7_days=3, name="test")


def gate(rules: compliance.Rules = CAP) -> Callable[[list[compliance.Attempt]], compliance.Decision]:
    return lambda history: compliance.decide(zones=ZONES, history=history, now=NOW, rules=rules)


def seed(url: str) -> None:
    with open_store(url, clock=lambda: NOW) as store:
        store.upsert_debtor(Debtor("D-1", "Kim", PHONE, Decimal(1000), timezone="Asia/Seoul"))


def call_once(store: Store) -> str:
    attempt = store.create_attempt("D-1", PHONE, gate=gate())
    store.mark_dialing(attempt)
    store.record_result(attempt, CallResult.NO_ANSWER, 19)
    store.finish_attempt(attempt, None, {}, 19)
    return attempt


def test_a_runner_with_a_stale_decision_is_refused_at_the_claim(database_url: str) -> None:
    seed(database_url)
    with open_store(database_url, clock=lambda: NOW) as a, open_store(database_url, clock=lambda: NOW) as b:
        call_once(a)
        call_once(a)
        # both runners decide now: 2 attempts of 3 allowed, so both would call
        assert compliance.decide(zones=ZONES, history=a.history("D-1"), now=NOW, rules=CAP).allow
        assert compliance.decide(zones=ZONES, history=b.history("D-1"), now=NOW, rules=CAP).allow
        call_once(a)  # runner a calls first and reaches the cap
        with pytest.raises(ClaimRefused) as refused:
            b.create_attempt("D-1", PHONE, gate=gate())
        assert refused.value.decision.reason == "cap_7_days"
        assert len(b.attempts_for("D-1")) == 3  # nothing was stored for the refused claim


def test_concurrent_runners_never_pass_the_cap_together(database_url: str) -> None:
    seed(database_url)
    stores = [open_store(database_url, clock=lambda: NOW) for _ in range(4)]
    barrier = threading.Barrier(len(stores))
    placed: list[str] = []
    errors: list[BaseException] = []

    def runner(store: Store) -> None:
        barrier.wait()
        for _ in range(20):  # a runner without the check in the claim would call 20 times
            try:
                placed.append(call_once(store))
            except ClaimRefused:
                return
            except StoreError:  # another runner's attempt is active: try again shortly
                time.sleep(0.005)
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)
                return

    threads = [threading.Thread(target=runner, args=(s,)) for s in stores]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        for s in stores:
            s.close()
    assert not errors
    assert len(placed) == CAP.max_per_7_days


async def test_the_runner_records_a_refusal_at_the_claim(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path}/r.db", clock=lambda: NOW)
    store.upsert_debtor(Debtor("D-1", "Kim", PHONE, Decimal(1000), timezone="Asia/Seoul"))
    for _ in range(3):
        call_once(store)
    campaign = Campaign.model_validate({
        "campaign": "c", "script": "x.yaml", "rounds": [{"name": "first", "retries": ["new"]}],
        "debtors": {"ids": ["D-1"]}, "compliance": {"pack": "default", "max_per_7_days": 3},
        "schedule": {"timezone": "Asia/Seoul", "start": "00:00", "end": "23:59"},
    })
    placed: list[str] = []

    async def place(attempt_id: str, debtor: Debtor, rnd: object) -> tuple[CallResult, Outcome | None]:
        placed.append(attempt_id)
        return CallResult.ANSWERED, Outcome.REFUSED

    runner = CampaignRunner(campaign, store, place=place, normalize=str, clock=lambda: NOW)
    store.history = lambda debtor_id: []  # type: ignore[method-assign]  # a stale read before the claim
    await runner.run()
    decisions = store.decisions("c")
    store.close()
    assert placed == []
    assert [(d["allow"], d["reason"]) for d in decisions] == [(True, "ok"), (False, "cap_7_days")]
    assert decisions[1]["detail"].startswith("at the claim: 3 attempts in the last 7 days")
