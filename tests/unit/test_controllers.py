"""Several controllers on one database: attempts carry their controller, leases say who is alive,
and reconciliation leaves a live colleague's calls alone (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal

from bot.campaign.reconcile import reconcile
from bot.campaign.runner import CampaignRunner
from bot.domain import CallResult, Debtor
from bot.store.repo import open_store

NOW = dt.datetime(2026, 12, 1, 1, 0, tzinfo=dt.UTC)


async def test_a_controller_reconciles_its_own_and_expired_calls_only(database_url: str) -> None:
    clock = [NOW]
    with open_store(database_url, clock=lambda: clock[0]) as store:
        store.ensure_campaign("c")
        assert store.ensure_campaign("c") == "active"  # a second start changes nothing
        ids = {}
        for n, who in enumerate(("alive", "dead", "me")):
            phone = f"+8210555000{n:02d}"
            store.upsert_debtor(Debtor(f"D-{n}", "Kim", phone, Decimal(1000), timezone="Asia/Seoul"))
            ids[who] = store.create_attempt(f"D-{n}", phone, campaign="c", round="r", controller=who)
            store.mark_dialing(ids[who])
        store.heartbeat("dead")
        clock[0] = NOW + dt.timedelta(seconds=40)
        store.heartbeat("alive")
        store.heartbeat("me", starting=True)
        live = store.live_controllers(dt.timedelta(seconds=30))
        assert live == {"alive", "me"}
        done = await reconcile(store, "c", None, keep=live - {"me"})  # at start: my own leftovers too
        assert sum((done.closed or {}).values()) == 2
        states = {who: store.attempts_for(f"D-{n}")[0].state.value for n, who in enumerate(("alive", "dead", "me"))}
        assert states == {"alive": "dialing", "dead": "unknown", "me": "unknown"}
        store.finish_round("c", "r")
        store.finish_round("c", "r")  # two controllers ending the round: no conflict
        assert store.round_finished("c", "r")


async def test_a_debtor_whose_claim_a_dead_controller_held_is_called_once_its_lease_expires(
        database_url: str) -> None:
    """c1 starts while "dead" holds a claim it never dials; once the lease expires the claim is
    released, and the round is not over for that debtor: c1 calls them before finishing."""
    from tests.unit.test_follow_ups import TUE_10, Clock, Network, spec

    clock = Clock(TUE_10)
    clock.speed = 1.0  # the lease expires in real time
    phones = {f"D-{n}": f"+8210555001{n:02d}" for n in range(4)}
    with open_store(database_url, clock=clock) as store:
        for debtor_id, phone in phones.items():
            store.upsert_debtor(Debtor(debtor_id, "Kim", phone, Decimal(1000), timezone="Asia/Seoul"))
        store.ensure_campaign("c")
        store.heartbeat("dead", starting=True)
        held = store.create_attempt("D-1", phones["D-1"], campaign="c", round="first", controller="dead")
        net = Network(store, clock, {p: [(CallResult.BUSY, None, {})] for p in phones.values()})
        runner = CampaignRunner(spec(retry={"busy": {"delay": "1h", "max_attempts": 1}}), store, place=net.place,
                                normalize=str, clock=clock, controller="c1", exclusive=False,
                                lease=dt.timedelta(seconds=1))
        progress = await asyncio.wait_for(runner.run(), 20)
        assert progress.finished
        assert dict(net.calls) == {phone: 1 for phone in phones.values()}  # D-1 too, and nobody twice
        assert [a.id for a in store.attempts_for("D-1") if a.state.value == "queued"] == []
        assert held not in {a.id for a in store.attempts_for("D-1")}  # the dead claim was released
