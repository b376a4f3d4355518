"""Reconciling what a dead controller left, with a fake Asterisk: live channels are hung up, every
attempt is closed with what the ledger knows, none is ever re-dialled."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from bot.campaign.reconcile import (
    ASTERISK_NOT_ASKED,
    LIVE_CHANNEL_HUNG_UP,
    LIVE_CHANNEL_NOT_HUNG_UP,
    NO_LIVE_CHANNEL,
    reconcile,
)
from bot.campaign.runner import CampaignRunner
from bot.campaign.spec import Campaign
from bot.domain import CallResult, Debtor, EventKind, Outcome
from bot.errors import AmiError
from bot.store.records import AttemptState
from bot.store.repo import Store, open_store

NOW = dt.datetime(2026, 12, 1, 1, 0, tzinfo=dt.UTC)  # 10:00 in Seoul


class FakeAsterisk:
    def __init__(self, live: dict[str, str], *, listing_fails: bool = False, hangup_fails: bool = False):
        self.live = dict(live)
        self.listing_fails = listing_fails
        self.hangup_fails = hangup_fails
        self.hung_up: list[str] = []

    async def live_channels(self) -> dict[str, str]:
        if self.listing_fails:
            raise AmiError("AMI link to 127.0.0.1:5038 is down; cannot list channels")
        return dict(self.live)

    async def hangup(self, channel: str) -> bool:
        if self.hangup_fails:
            raise AmiError("AMI at 127.0.0.1:5038 did not answer Hangup")
        self.hung_up.append(channel)
        return True


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(f"sqlite:///{tmp_path}/r.db", clock=lambda: NOW) as opened:
        for n in range(1, 8):
            opened.upsert_debtor(Debtor(f"D-{n}", "Kim", f"+8210555000{n:02d}", Decimal(1000), timezone="Asia/Seoul"))
        opened.ensure_campaign("c")
        opened.ensure_campaign("other")
        yield opened


def attempt(store: Store, n: int, state: str, campaign: str = "c") -> str:
    """An attempt of debtor D-n left in ``state`` (queued, dialing, answered, completed)."""
    attempt_id = store.create_attempt(f"D-{n}", f"+8210555000{n:02d}", campaign=campaign, round="first")
    if state == "queued":
        return attempt_id
    store.mark_dialing(attempt_id)
    if state == "answered":
        store.record_result(attempt_id, CallResult.ANSWERED, None)
        store.mark_answered(attempt_id)
    if state == "completed":
        store.record_result(attempt_id, CallResult.BUSY, 17)
        store.finish_attempt(attempt_id, None, {}, 17)
    return attempt_id


def channel(n: int) -> str:
    return f"Local/8210555000{n:02d}@collbot-sim-carrier-0000000{n};1"


async def test_live_channels_are_hung_up_and_everything_is_closed_with_what_the_ledger_knows(store: Store) -> None:
    ringing, talking, talked, rang = (attempt(store, 1, "dialing"), attempt(store, 2, "answered"),
                                      attempt(store, 3, "answered"), attempt(store, 4, "dialing"))
    queued, done = attempt(store, 5, "queued"), attempt(store, 6, "completed")
    other = attempt(store, 7, "dialing", campaign="other")  # another campaign's live call in this Asterisk
    asterisk = FakeAsterisk({ringing: channel(1), talking: channel(2), other: channel(7), "1700000.9": "PJSIP/x-1"})

    result = await reconcile(store, "c", asterisk)

    assert sorted(asterisk.hung_up) == [channel(1), channel(2)]  # only this campaign's, by listed name
    assert result.released == 1 and result.closed == {LIVE_CHANNEL_HUNG_UP: 2, NO_LIVE_CHANNEL: 2}
    by_id = {a.id: a for a in store.campaign_attempts("c")}
    assert queued not in by_id  # a claim never dialled is forgotten
    expected = {ringing: (CallResult.UNKNOWN, LIVE_CHANNEL_HUNG_UP),
                talking: (CallResult.ANSWERED, LIVE_CHANNEL_HUNG_UP),
                talked: (CallResult.ANSWERED, NO_LIVE_CHANNEL), rang: (CallResult.UNKNOWN, NO_LIVE_CHANNEL)}
    for attempt_id, (result_, how) in expected.items():
        a = by_id[attempt_id]
        assert (a.state, a.result, a.outcome, a.ended_at) == (AttemptState.UNKNOWN, result_, None, NOW)
        assert a.outcome_detail == {"interrupted": how}
        events = store.events_for(attempt_id)
        assert [(e.kind, e.data["how"]) for e in events] == [(EventKind.RECONCILED, how)]
    assert by_id[done].state is AttemptState.COMPLETED and store.events_for(done) == []
    assert store.attempts_for("D-7")[0].state is AttemptState.DIALING  # not this campaign's to close


async def test_without_an_answer_from_asterisk_attempts_are_closed_from_the_ledger(store: Store) -> None:
    ringing, talking = attempt(store, 1, "dialing"), attempt(store, 2, "answered")
    asterisk = FakeAsterisk({ringing: channel(1)}, listing_fails=True)
    result = await reconcile(store, "c", asterisk)
    assert asterisk.hung_up == [] and result.closed == {ASTERISK_NOT_ASKED: 2}
    assert {a.id: a.result for a in store.campaign_attempts("c")} == {
        ringing: CallResult.UNKNOWN, talking: CallResult.ANSWERED}
    assert (await reconcile(store, "c", None)).closed == {}  # a second pass finds nothing left


async def test_a_channel_that_cannot_be_hung_up_is_still_closed_and_said_so(store: Store) -> None:
    ringing = attempt(store, 1, "dialing")
    result = await reconcile(store, "c", FakeAsterisk({ringing: channel(1)}, hangup_fails=True))
    assert result.closed == {LIVE_CHANNEL_NOT_HUNG_UP: 1}
    assert store.campaign_attempts("c")[0].state is AttemptState.UNKNOWN


async def test_nothing_to_reconcile_asks_asterisk_nothing(store: Store) -> None:
    attempt(store, 6, "completed")
    asterisk = FakeAsterisk({}, listing_fails=True)  # would fail if asked
    assert (await reconcile(store, "c", asterisk)).closed == {}


async def test_reconciled_attempts_are_never_redialled_by_any_round(store: Store) -> None:
    ringing, talking = attempt(store, 1, "dialing"), attempt(store, 2, "answered")
    attempt(store, 3, "completed")  # busy: the retry round calls this one
    campaign = Campaign.model_validate({
        "campaign": "c", "script": "x.yaml", "debtors": {"ids": ["D-1", "D-2", "D-3", "D-4"]},
        "schedule": {"timezone": "Asia/Seoul", "start": "00:00", "end": "23:59"},
        "rounds": [{"name": "first", "retries": ["new"]},
                   {"name": "again", "retries": ["no_answer", "busy", "congestion", "failed"]}],
    })
    placed: list[str] = []

    async def place(attempt_id: str, debtor: Debtor, rnd: object) -> tuple[CallResult, Outcome | None]:
        placed.append(debtor.id)
        return CallResult.ANSWERED, Outcome.REFUSED

    runner = CampaignRunner(campaign, store, place=place, normalize=str, clock=lambda: NOW,
                            asterisk=FakeAsterisk({ringing: channel(1), talking: channel(2)}))
    await runner.run()
    assert sorted(placed) == ["D-3", "D-4"]  # the busy one retried, the new one called; D-1, D-2 never
