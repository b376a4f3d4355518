"""Two small defects: the dialogue's "today" in the debtor's own zone, and a claim lost again and
again to another controller stored once a minute rather than on every try."""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal

from bot.campaign.runner import CampaignRunner
from bot.controller import local_today
from bot.domain import CallResult, Debtor
from bot.store.repo import open_store
from tests.unit.test_follow_ups import TUE_10, Clock, Network, spec


def test_today_is_the_debtors_own_zone_when_known() -> None:
    now = dt.datetime(2026, 1, 1, 16, 0, tzinfo=dt.UTC)  # 01:00 on the 2nd in Seoul, 05:00 on the 1st in Pago Pago
    assert local_today("+821055500001", now) == dt.date(2026, 1, 2)  # the number's zone
    assert local_today("+821055500001", now, zone="Pacific/Pago_Pago") == dt.date(2026, 1, 1)
    assert local_today("+821055500001", now, zone=None) == dt.date(2026, 1, 2)


async def test_a_claim_lost_to_a_live_controller_is_stored_once_not_on_every_try(database_url: str) -> None:
    """"alive" holds a call on D-0's number for a few seconds; c1 tries D-0 again every couple of
    seconds meanwhile, then calls it once the number is free."""
    clock = Clock(TUE_10)
    clock.speed = 1.0
    phone = "+821055500300"
    with open_store(database_url, clock=clock) as store:
        store.upsert_debtor(Debtor("D-0", "Kim", phone, Decimal(1000), timezone="Asia/Seoul"))
        store.upsert_debtor(Debtor("X-0", "Lee", phone, Decimal(1000), timezone="Asia/Seoul"))
        store.ensure_campaign("c")
        store.heartbeat("alive", starting=True)
        held = store.create_attempt("X-0", phone, campaign="c", round="first", controller="alive")
        store.mark_dialing(held)
        net = Network(store, clock, {phone: [(CallResult.BUSY, None, {})]})
        runner = CampaignRunner(spec(retry={"busy": {"delay": "1h", "max_attempts": 1}}), store, place=net.place,
                                normalize=str, clock=clock, controller="c1", exclusive=False)

        async def hang_up_later() -> None:
            await asyncio.sleep(5.5)  # long enough for c1 to be refused two or three times
            store.record_result(held, CallResult.BUSY, None)
            store.finish_attempt(held, None, {}, 17)

        ender = asyncio.create_task(hang_up_later())
        progress = await asyncio.wait_for(runner.run(), 30)
        await ender
        assert progress.finished
        assert net.calls[phone] == 1  # D-0, once the number was free
        lost = [d for d in store.decisions("c") if d["debtor_id"] == "D-0" and d["reason"] == "claimed_elsewhere"]
        assert len(lost) == 1, lost
