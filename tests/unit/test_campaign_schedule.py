"""A campaign places calls only on its working days and inside its own hours."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from bot.campaign.runner import CampaignRunner
from bot.campaign.spec import Campaign
from bot.domain import Debtor
from bot.store.repo import open_store

SEOUL = dt.timezone(dt.timedelta(hours=9))


def campaign(**schedule: object) -> Campaign:
    return Campaign.model_validate({
        "campaign": "c", "script": "x.yaml", "rounds": [{"name": "first"}],
        "schedule": {"timezone": "Asia/Seoul", "start": "09:00", "end": "20:00", **schedule},
    })


@pytest.mark.parametrize(("now", "schedule", "calls"), [
    (dt.datetime(2026, 12, 1, 10, 0, tzinfo=SEOUL), {"days": ["tue"]}, 1),        # a Tuesday, in hours
    (dt.datetime(2026, 12, 1, 10, 0, tzinfo=SEOUL), {"days": ["mon", "wed"]}, 0),  # not a working day
    (dt.datetime(2026, 12, 1, 10, 0, tzinfo=SEOUL), {"dates": ["2026-12-02"]}, 0),  # not a campaign date
    (dt.datetime(2026, 12, 1, 20, 30, tzinfo=SEOUL), {}, 0),                       # after the day's end
])
async def test_schedule(tmp_path: Path, now: dt.datetime, schedule: dict[str, object], calls: int) -> None:
    placed: list[str] = []

    async def place(attempt_id: str, debtor: Debtor, rnd: object) -> tuple[object, object]:
        from bot.domain import CallResult, Outcome

        placed.append(debtor.id)
        return CallResult.ANSWERED, Outcome.REFUSED

    store = open_store(f"sqlite:///{tmp_path}/s.db")
    store.upsert_debtor(Debtor("D-1", "Kim", "+821055550001", Decimal(1), timezone="Asia/Seoul"))
    runner = CampaignRunner(campaign(**schedule), store, place=place, normalize=str,
                            clock=lambda: now.astimezone(dt.UTC))
    await runner.run()
    store.close()
    assert len(placed) == calls
