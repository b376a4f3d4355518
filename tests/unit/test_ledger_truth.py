"""The ledger is the only truth for "how many calls": the claim's pure rule, stored follow-ups,
and a seeded simulation in which runners are killed (every task cancelled mid-flight, as
SIGKILL leaves things), stopped (as SIGTERM) and restarted, against a fake network that counts
every call it is given: never beyond the policy, exactly the policy once the campaign is done."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

from bot.campaign.claims import Want, follow_up_due, refusal
from bot.campaign.retry import RetryPolicy, RetryRule
from bot.campaign.runner import CampaignRunner
from bot.campaign.spec import Campaign
from bot.domain import CallResult, Debtor, DialogueEvent, EventKind, Outcome
from bot.errors import NotDialled
from bot.store.records import Past
from bot.store.repo import LedgerRefused, Store, open_store

NOW = dt.datetime(2026, 12, 1, 1, 0, tzinfo=dt.UTC)  # 10:00 in Seoul, a Tuesday
POLICY = RetryPolicy({CallResult.NO_ANSWER: RetryRule(dt.timedelta(minutes=30), 2),
                      CallResult.BUSY: RetryRule(dt.timedelta(minutes=10), 2)})


def past(id: str, round: str, minutes: int, result: CallResult | None, state: str = "completed",
         outcome: str | None = None) -> Past:
    return Past(id=id, round=round, at=NOW + dt.timedelta(minutes=minutes), state=state, result=result,
                outcome=outcome)


def test_a_round_claims_each_debtor_once_and_only_from_its_pool() -> None:
    first = Want("first", frozenset({"new"}))
    second = Want("second", frozenset({"no_answer"}))
    assert refusal(first, [], policy=POLICY, now=NOW) is None
    called = [past("a1", "first", 0, CallResult.NO_ANSWER)]
    assert refusal(first, called, policy=POLICY, now=NOW) == "already_called_in_round"
    assert refusal(second, called, policy=POLICY, now=NOW) is None
    assert refusal(second, [*called, past("a2", "second", 40, CallResult.NO_ANSWER)], policy=POLICY,
                   now=NOW) == "already_called_in_round"
    assert refusal(second, [past("a1", "first", 0, CallResult.BUSY)], policy=POLICY, now=NOW) == "not_in_round_pool"
    answered = [past("a1", "first", 0, CallResult.ANSWERED, outcome="refused")]
    assert refusal(second, answered, policy=POLICY, now=NOW) == "not_in_round_pool"
    cut = [past("a1", "first", 0, CallResult.UNKNOWN, state="unknown")]
    assert refusal(second, cut, policy=POLICY, now=NOW) == "not_in_round_pool"  # never re-dialled blindly


def test_a_retry_is_claimed_only_when_due_under_max_attempts_and_still_the_latest() -> None:
    one = [past("a1", "first", 0, CallResult.NO_ANSWER)]
    retry = Want("first", frozenset({"new"}), follow_up_reason="retry:no_answer", follow_up_origin="a1")
    assert refusal(retry, one, policy=POLICY, now=NOW + dt.timedelta(minutes=10)) == "retry_not_due"
    assert refusal(retry, one, policy=POLICY, now=NOW + dt.timedelta(minutes=30)) is None
    two = [*one, past("a2", "first", 30, CallResult.NO_ANSWER)]
    assert refusal(retry, two, policy=POLICY, now=NOW + dt.timedelta(hours=2)) == "follow_up_stale"
    again = Want("first", frozenset({"new"}), follow_up_reason="retry:no_answer", follow_up_origin="a2")
    assert refusal(again, two, policy=POLICY, now=NOW + dt.timedelta(hours=2)) == "max_attempts"


def test_an_interrupted_call_is_followed_up_only_as_the_policy_says() -> None:
    assert follow_up_due(NOW, None, 0, 1) == (None, "policy: none")
    assert follow_up_due(NOW, dt.timedelta(hours=2), 1, 1) == (None, "max_follow_ups 1 reached")
    assert follow_up_due(NOW, dt.timedelta(hours=2), 0, 1)[0] == NOW + dt.timedelta(hours=2)


def test_a_follow_up_is_taken_by_one_claim_and_put_back_when_the_claim_is_released(tmp_path: Path) -> None:
    with open_store(f"sqlite:///{tmp_path}/f.db", clock=lambda: NOW) as store:
        store.upsert_debtor(Debtor("D-1", "Kim", "+821055500001", Decimal(1000), timezone="Asia/Seoul"))
        store.ensure_campaign("c")
        first = store.create_attempt("D-1", "+821055500001", campaign="c", round="r")
        store.mark_dialing(first)
        store.record_result(first, CallResult.NO_ANSWER, 19)
        store.finish_attempt(first, None, {}, 19)
        planned = store.plan_follow_up("c", debtor_id="D-1", phone="+821055500001", reason="retry:no_answer",
                                       origin_attempt_id=first, due_at=NOW, round="r", note="retry policy")
        assert store.plan_follow_up("c", debtor_id="D-1", phone="+821055500001", reason="retry:no_answer",
                                    origin_attempt_id=first, due_at=NOW, round="r", note="again") == planned
        claim = store.create_attempt("D-1", "+821055500001", campaign="c", round="r", follow_up=planned.id)
        with pytest.raises(LedgerRefused, match="follow_up_taken"):
            store.create_attempt("D-1", "+821055500001", campaign="c", round="r", follow_up=planned.id)
        store.mark_dialing(claim)
        assert store.undo_dialing(claim)  # Asterisk never took it
        assert [f.id for f in store.follow_ups("c")] == [planned.id]
        assert [a.id for a in store.campaign_attempts("c")] == [first]
        cut = store.plan_follow_up("c", debtor_id="D-1", phone="+821055500001", reason="interrupted",
                                   origin_attempt_id=first, due_at=NOW + dt.timedelta(days=1), round="r", note="x")
        late = store.plan_follow_up("c", debtor_id="D-1", phone="+821055500001", reason="retry:busy",
                                    origin_attempt_id=first, due_at=NOW + dt.timedelta(days=1), round="r", note="y")
        assert store.drop_round_follow_ups("c", "r", due_after=NOW + dt.timedelta(hours=10), note="ended") == 1
        assert {f.id for f in store.follow_ups("c")} == {planned.id, cut.id}  # a cut call's follow-up stays
        assert store.follow_ups("c", states=("dropped",))[0].id == late.id


# --- the simulation ---------------------------------------------------------------------------

KINDS = {"no_answer": CallResult.NO_ANSWER, "busy": CallResult.BUSY, "talk": CallResult.ANSWERED}
# Clean counts with the campaign below: round one new + retries up to max_attempts, round two one more.
CLEAN = {"no_answer": 3, "busy": 3, "talk": 1}
SPEED = 120.0  # simulated seconds per real second


class Network:
    """Counts the calls it is given, as the sandbox personas do; can refuse Originates (AMI down).
    ``place`` records the attempt as the controller does."""

    def __init__(self, kinds: dict[str, str]):
        self.kinds = kinds
        self.calls: Counter[str] = Counter()
        self.down = False
        self.store: Store | None = None

    async def place(self, attempt_id: str, debtor: Debtor, rnd: object) -> tuple[CallResult, Outcome | None]:
        store = self.store
        assert store is not None
        store.mark_dialing(attempt_id)
        if self.down:
            store.undo_dialing(attempt_id)
            raise NotDialled("AMI link down")
        await asyncio.sleep(random.uniform(0, 0.01))  # the Originate on its way
        self.calls[debtor.phone] += 1
        result = KINDS[self.kinds[debtor.phone]]
        if result is CallResult.ANSWERED:
            store.record_result(attempt_id, result, None)
            store.mark_answered(attempt_id)
        await asyncio.sleep(random.uniform(0.01, 0.08))  # ringing or talking
        if result is not CallResult.ANSWERED:
            store.record_result(attempt_id, result, None)
        outcome = Outcome.REFUSED if result is CallResult.ANSWERED else None
        store.finish_attempt(attempt_id, outcome, {}, 16)
        return result, outcome


def campaign() -> Campaign:
    return Campaign.model_validate({
        "campaign": "sim", "script": "x.yaml",
        "debtors": {"ids": [f"D-{n}" for n in range(6)]},
        "schedule": {"timezone": "Asia/Seoul", "start": "00:00", "end": "23:59:59"},
        "rounds": [{"name": "first", "retries": ["new"]},
                   {"name": "second", "retries": ["no_answer", "busy"], "after": "60s"}],
        "retry": {"no_answer": {"delay": "30s", "max_attempts": 2}, "busy": {"delay": "20s", "max_attempts": 2}},
        "limits": {"max_concurrent": 4, "originates_per_second": 200},
        "interrupted": {"follow_up": "30s", "max_follow_ups": 5},
        # this measures the retry policy against the ledger; frequency caps (tested in
        # test_claim_caps, test_kr_pack) would cut the many follow-ups of a kill loop short
        "compliance": {"max_per_7_days": 100, "max_unanswered_per_day": 100},
    })


def fast_clock() -> tuple[float, callable]:  # type: ignore[valid-type]
    start = time.monotonic()
    return start, lambda: NOW + dt.timedelta(seconds=(time.monotonic() - start) * SPEED)


async def kill(task: asyncio.Task[object]) -> None:
    """As SIGKILL leaves it: every task of the runner stops where it is, nothing is cleaned up."""
    others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for t in others:
        t.cancel()
    await asyncio.gather(*others, return_exceptions=True)
    assert task.done()


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_kills_stops_and_restarts_never_call_beyond_the_policy(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    random.seed(seed)
    _, clock = fast_clock()
    phones = {f"D-{n}": f"+82105550{n:04d}" for n in range(6)}
    kinds = dict(zip(phones.values(), ["no_answer", "no_answer", "busy", "busy", "talk", "talk"], strict=True))
    network = Network(kinds)
    url = f"sqlite:///{tmp_path}/sim.db"
    with open_store(url, clock=clock) as store:
        for debtor_id, phone in phones.items():
            store.upsert_debtor(Debtor(debtor_id, "Kim", phone, Decimal(1000), timezone="Asia/Seoul"))
    kills = stops = 0
    for run in range(60):
        with open_store(url, clock=clock) as store:
            network.store = store
            runner = CampaignRunner(campaign(), store, place=network.place, normalize=str, clock=clock)
            task = asyncio.create_task(runner.run())
            # cut runs short until enough faults were injected (bounded), then let it finish
            cut = rng.uniform(0.01, 0.15) if kills + stops < 10 and run < 40 else None
            done, _ = await asyncio.wait({task}, timeout=cut)
            if not done:
                if rng.random() < 0.7:
                    kills += 1
                    await kill(task)
                else:
                    stops += 1
                    runner.stop()
                    await task
            if store.campaign_status("sim") == "finished":
                break
    assert kills + stops >= 8
    with open_store(url, clock=clock) as store:
        assert store.campaign_status("sim") == "finished"
        attempts = store.campaign_attempts("sim")
        assert not [a for a in attempts if a.state.value in ("queued", "dialing", "answered")]
        dialled = Counter(a.phone for a in attempts if a.dialed_at is not None)
        cut_short = Counter(a.phone for a in attempts if a.state.value == "unknown")
        given_up = {f.phone for f in store.follow_ups("sim", states=("none",))}  # max_follow_ups reached
        for phone, kind in kinds.items():
            results = Counter(a.result for a in attempts if a.phone == phone and a.state.value == "completed")
            # every call the network saw is in the ledger; a cut one may not have reached it
            assert dialled[phone] - cut_short[phone] <= network.calls[phone] <= dialled[phone], phone
            # the policy, counted on completed calls, holds exactly; cut calls were followed up
            if phone in given_up:
                assert sum(results.values()) <= CLEAN[kind], (phone, results, cut_short[phone])
            else:
                assert sum(results.values()) == CLEAN[kind], (phone, results, cut_short[phone])
            assert network.calls[phone] <= CLEAN[kind] + cut_short[phone], phone


async def test_an_ami_outage_holds_dialling_and_consumes_nobody(tmp_path: Path) -> None:
    _, clock = fast_clock()
    phones = {f"D-{n}": f"+82105550{n:04d}" for n in range(6)}
    kinds = dict(zip(phones.values(), ["talk"] * 6, strict=True))
    network = Network(kinds)
    network.down = True
    with open_store(f"sqlite:///{tmp_path}/o.db", clock=clock) as store:
        for debtor_id, phone in phones.items():
            store.upsert_debtor(Debtor(debtor_id, "Kim", phone, Decimal(1000), timezone="Asia/Seoul"))
        network.store = store
        runner = CampaignRunner(campaign(), store, place=network.place, normalize=str, clock=clock)
        task = asyncio.create_task(runner.run())
        await asyncio.sleep(0.5)
        assert not task.done()  # not finished, not exited: held
        assert runner.progress.paused.startswith("Asterisk took no Originate")
        assert store.campaign_attempts("sim") == []  # nobody consumed
        network.down = False
        progress = await asyncio.wait_for(task, 60)
        assert progress.finished and network.calls == Counter(phones.values())


CUT_SPEC = {"campaign": "c", "script": "x.yaml", "rounds": [{"name": "first"}],
            "schedule": {"timezone": "Asia/Seoul", "start": "09:00", "end": "20:00"},
            "interrupted": {"follow_up": "1h", "max_follow_ups": 2}}


def _cut_calls(store: Store, events: list[DialogueEvent]) -> None:
    """Debtor D-n's answered call of campaign c, cut after ``events[n-1]`` was stored."""
    store.ensure_campaign("c")
    for n, event in enumerate(events, 1):
        phone = f"+82105550000{n}"
        store.upsert_debtor(Debtor(f"D-{n}", "Kim", phone, Decimal(1000), timezone="Asia/Seoul"))
        attempt = store.create_attempt(f"D-{n}", phone, campaign="c", round="first")
        store.mark_dialing(attempt)
        store.mark_answered(attempt)
        store.add_event(attempt, event)
        store.close_interrupted(attempt, "controller_error")


def test_a_call_cut_after_the_robot_took_an_opt_out_is_suppressed_and_never_followed_up(tmp_path: Path) -> None:
    from bot.campaign.interrupted import OPTED_OUT, plan_interrupted
    from bot.store.followups import NONE, PENDING

    spec = Campaign.model_validate(CUT_SPEC)
    with open_store(f"sqlite:///{tmp_path}/f.db", clock=lambda: NOW) as store:
        _cut_calls(store, [DialogueEvent(EventKind.STATE, {"step": "greet", "intent": "x", "kind": said})
                           for said in ("opt_out", "promise")])
        planned = plan_interrupted(store, spec, now=NOW)
        decided = {f.debtor_id: f for f in store.follow_ups("c", states=(PENDING, NONE))}
        assert [f.debtor_id for f in planned] == ["D-2"]
        assert decided["D-1"].state == NONE and decided["D-1"].note == OPTED_OUT
        assert store.suppression("+821055500001") == "opt_out"
        assert store.suppression("+821055500002") is None
        assert plan_interrupted(store, spec, now=NOW) == []  # decided once


def test_a_call_cut_after_an_unconfirmed_opt_out_cue_holds_the_number_for_review(tmp_path: Path) -> None:
    from bot.campaign.interrupted import HELD, plan_interrupted
    from bot.store.followups import NONE, PENDING

    spec = Campaign.model_validate(CUT_SPEC)
    with open_store(f"sqlite:///{tmp_path}/h.db", clock=lambda: NOW) as store:
        _cut_calls(store, [DialogueEvent(EventKind.NO_MATCH, {"step": "ask", "text": "하지 마세요", "reason": reason})
                           for reason in ("opt_out_review", "no_match")])
        planned = plan_interrupted(store, spec, now=NOW)
        decided = {f.debtor_id: f for f in store.follow_ups("c", states=(PENDING, NONE))}
        assert [f.debtor_id for f in planned] == ["D-2"]
        assert decided["D-1"].state == NONE and decided["D-1"].note == HELD
        assert store.suppression("+821055500001") == "opt_out_review"
        [(_, action, _, by, _)] = store.suppression_trail("+821055500001")
        assert action == "add" and by.startswith("call:")
        assert store.suppression("+821055500002") is None
