"""The campaign runner under the overload governor: nothing is claimed or dialled while it holds,
nobody is consumed, and the campaign completes once it admits again."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from decimal import Decimal
from pathlib import Path

from bot.campaign.governor import Ramp, Thresholds
from bot.campaign.load import Governor
from bot.campaign.runner import CampaignRunner
from bot.campaign.spec import Campaign
from bot.domain import CallResult, Debtor, Outcome
from bot.store.repo import Store, open_store

NOW = dt.datetime(2026, 12, 7, 1, 0, tzinfo=dt.UTC)  # 10:00 in Seoul


def campaign() -> Campaign:
    return Campaign.model_validate({
        "campaign": "gov", "script": "x.yaml",
        "debtors": {"ids": [f"D-{n}" for n in range(8)]},
        "schedule": {"timezone": "Asia/Seoul", "start": "00:00", "end": "23:59:59"},
        "rounds": [{"name": "first", "retries": ["new"]}],
        "limits": {"max_concurrent": 3, "originates_per_second": 200},
    })


class Lines:
    def __init__(self, store: Store):
        self.store = store
        self.calls: Counter[str] = Counter()

    async def place(self, attempt_id: str, debtor: Debtor, rnd: object) -> tuple[CallResult, Outcome | None]:
        self.store.mark_dialing(attempt_id)
        self.calls[debtor.phone] += 1
        self.store.record_result(attempt_id, CallResult.ANSWERED, None)
        self.store.mark_answered(attempt_id)
        await asyncio.sleep(0.01)
        self.store.finish_attempt(attempt_id, Outcome.REFUSED, {}, 16)
        return CallResult.ANSWERED, Outcome.REFUSED


def seeded(tmp_path: Path) -> Store:
    store = open_store(f"sqlite:///{tmp_path}/gov.db", clock=lambda: NOW)
    for n in range(8):
        store.upsert_debtor(Debtor(f"D-{n}", "Kim", f"+82105550{n:04d}", Decimal(1000), timezone="Asia/Seoul"))
    return store


async def test_a_held_governor_claims_nobody_then_the_campaign_completes(tmp_path: Path) -> None:
    queue = [20]
    governor = Governor(Thresholds(synthesis_queue=4, min_hold_s=0), synthesis_queue=lambda: queue[0],
                        clock=lambda: NOW)
    governor.update()
    shown: list[str] = []
    with seeded(tmp_path) as store:
        lines = Lines(store)
        runner = CampaignRunner(campaign(), store, place=lines.place, normalize=str, clock=lambda: NOW,
                                governor=governor, on_progress=lambda p: shown.append(p.governor))
        task = asyncio.create_task(runner.run())
        await asyncio.sleep(0.5)
        assert not task.done()
        assert store.campaign_attempts("gov") == [] and not lines.calls  # nobody claimed, nobody consumed
        assert runner.progress.governor == "held: synthesis queue 20 > 4"
        queue[0] = 0
        governor.update()
        progress = await asyncio.wait_for(task, 30)
    assert progress.finished and progress.governor == ""
    assert lines.calls == Counter(f"+82105550{n:04d}" for n in range(8))  # each exactly once
    assert "held: synthesis queue 20 > 4" in shown and shown[-1] == ""


async def test_a_claim_waiting_for_its_originate_is_held_and_released_on_stop(tmp_path: Path) -> None:
    queue = [0]
    governor = Governor(Thresholds(synthesis_queue=4, min_hold_s=0), synthesis_queue=lambda: queue[0],
                        clock=lambda: NOW)
    with seeded(tmp_path) as store:
        lines = Lines(store)
        runner = CampaignRunner(campaign(), store, place=lines.place, normalize=str, clock=lambda: NOW,
                                governor=governor)
        original = runner._decide

        def decide_then_overload(debtor: Debtor):  # type: ignore[no-untyped-def]
            queue[0] = 9  # overload arrives between the claim and the Originate
            governor.update()
            return original(debtor)

        runner._decide = decide_then_overload  # type: ignore[method-assign]
        task = asyncio.create_task(runner.run())
        await asyncio.sleep(0.5)
        assert not task.done() and not lines.calls  # claims made before the hold wait, undialled
        assert store.campaign_attempts("gov")  # (the claims exist while they wait)
        runner.stop()
        progress = await asyncio.wait_for(task, 30)
        assert progress.stopped and not lines.calls
        # every claim was released: nobody is consumed, nothing is left in flight
        assert all(a.state.value not in ("queued", "dialing", "answered") for a in store.campaign_attempts("gov"))
        assert not [a for a in store.campaign_attempts("gov") if a.dialed_at is not None]


async def test_the_ramp_caps_calls_in_flight_below_max_concurrent(tmp_path: Path) -> None:
    peak = [0]
    with seeded(tmp_path) as store:
        lines = Lines(store)
        runner: CampaignRunner | None = None

        def in_flight() -> int:
            assert runner is not None
            return runner.progress.in_flight

        governor = Governor(Thresholds(), ramp=Ramp(start=2, grow_per_s=0.001), in_flight=in_flight,
                            interval_s=0.01, clock=lambda: NOW)
        runner = CampaignRunner(campaign(), store, place=lines.place, normalize=str, clock=lambda: NOW,
                                governor=governor, on_progress=lambda p: peak.__setitem__(0, max(peak[0], p.in_flight)))
        progress = await asyncio.wait_for(runner.run(), 30)
    assert progress.finished and sum(lines.calls.values()) == 8
    assert peak[0] == 2  # max_concurrent is 3; the ramp allowed 2
