"""Several controllers on one database: attempts carry their controller, leases say who is alive,
and reconciliation leaves a live colleague's calls alone (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from bot.campaign.reconcile import reconcile
from bot.domain import Debtor
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
