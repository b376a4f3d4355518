"""The overload governor's policy (pure) and its run-time sampler (with fake probes)."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot import metrics
from bot.campaign.governor import Ramp, Readings, State, Thresholds, ceiling, decide, over_limits
from bot.campaign.load import Governor, thresholds
from bot.config import GovernorSettings
from bot.speech.pressure import RecentMax

T0 = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)
LIMITS = Thresholds(loop_lag_s=0.2, recognition_queue=10, recognition_wait_s=1.0, synthesis_queue=4,
                    asterisk_calls=100, resume=0.5, min_hold_s=2.0)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def test_calm_readings_admit() -> None:
    assert decide(Readings(loop_lag_s=0.01, recognition_queue=3, recognition_wait_s=0.2, synthesis_queue=1,
                           asterisk_calls=40), LIMITS, State(), T0) == State()


@pytest.mark.parametrize(("readings", "check"), [
    (Readings(loop_lag_s=0.5), "event loop lag"),
    (Readings(recognition_queue=11), "recognition queue"),
    (Readings(recognition_wait_s=1.2), "recognition wait"),
    (Readings(synthesis_queue=5), "synthesis queue"),
    (Readings(asterisk_calls=101), "Asterisk calls"),
])
def test_each_reading_over_its_limit_holds_with_its_reason(readings: Readings, check: str) -> None:
    state = decide(readings, LIMITS, State(), T0)
    assert state.held and state.check == check and state.since == T0
    assert state.reason.startswith(check) and ">" in state.reason


def test_unmeasured_readings_and_zero_limits_never_hold() -> None:
    assert not decide(Readings(), LIMITS, State(), T0).held
    off = Thresholds(loop_lag_s=0, recognition_queue=0, recognition_wait_s=0, synthesis_queue=0, asterisk_calls=0)
    assert not decide(Readings(loop_lag_s=9.0, recognition_queue=999, recognition_wait_s=60.0,
                               synthesis_queue=999, asterisk_calls=10_000), off, State(), T0).held


def test_hysteresis_holds_until_well_below_and_min_hold_passed() -> None:
    held = decide(Readings(loop_lag_s=0.3), LIMITS, State(), at(0))
    assert held.held
    # Below the limit but above resume x limit (0.1 s): still held, same start and reason.
    mid = decide(Readings(loop_lag_s=0.15), LIMITS, held, at(5))
    assert mid.held and mid.since == at(0) and mid.reason == held.reason
    # Well below, but the hold is younger than min_hold_s: still held.
    young = decide(Readings(loop_lag_s=0.01), LIMITS, held, at(1))
    assert young.held
    assert decide(Readings(loop_lag_s=0.01), LIMITS, held, at(2.5)) == State()


def test_reason_follows_the_check_that_stays_over() -> None:
    held = decide(Readings(loop_lag_s=0.3, synthesis_queue=9), LIMITS, State(), at(0))
    assert held.check == "event loop lag" and len(held.over) == 2
    moved = decide(Readings(loop_lag_s=0.0, synthesis_queue=9), LIMITS, held, at(1))
    assert moved.held and moved.check == "synthesis queue" and moved.since == at(0)


readings = st.builds(
    Readings,
    loop_lag_s=st.none() | st.floats(0, 5), recognition_queue=st.none() | st.integers(0, 50),
    recognition_wait_s=st.none() | st.floats(0, 10), synthesis_queue=st.none() | st.integers(0, 20),
    asterisk_calls=st.none() | st.integers(0, 300))


@given(st.lists(st.tuples(readings, st.floats(0, 5)), max_size=40))
def test_never_admits_over_a_limit_and_never_holds_when_all_calm(steps: list[tuple[Readings, float]]) -> None:
    state, now = State(), T0
    for r, gap in steps:
        now += dt.timedelta(seconds=gap)
        before = state
        state = decide(r, LIMITS, state, now)
        if over_limits(r, LIMITS):
            assert state.held and state.reason
        if not before.held:  # a hold starts only on a reading over its limit
            assert state.held == bool(over_limits(r, LIMITS))
        if state.held and before.held:
            assert state.since == before.since  # one hold, one start: no flapping in between
        if before.held and not state.held:
            assert not over_limits(r, LIMITS, scale=LIMITS.resume)
            assert before.since is not None and (now - before.since).total_seconds() >= LIMITS.min_hold_s


def test_settings_map_onto_thresholds() -> None:
    t = thresholds(GovernorSettings(max_loop_lag_s=0.3, max_asterisk_calls=150, resume=0.6))
    assert (t.loop_lag_s, t.asterisk_calls, t.resume, t.synthesis_queue) == (0.3, 150, 0.6, 8)


def test_recent_max_forgets_after_its_span() -> None:
    now = [100.0]
    recent = RecentMax(span_s=3, clock=lambda: now[0])
    assert recent.value() == 0.0
    recent.record(0.4)
    recent.record(2.5)
    now[0] = 101.5
    recent.record(1.0)
    assert recent.value() == 2.5
    now[0] = 103.5  # the 2.5 s bucket (second 100) is out of the span
    assert recent.value() == 1.0
    now[0] = 110.0
    assert recent.value() == 0.0


# --- the sampler, with fake probes ---------------------------------------------------------------

class FakeClock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now


async def test_holds_on_a_probe_and_resumes_with_hysteresis(caplog: pytest.LogCaptureFixture) -> None:
    clock, queue = FakeClock(), [0]
    gov = Governor(Thresholds(synthesis_queue=4, resume=0.5, min_hold_s=1.0), synthesis_queue=lambda: queue[0],
                   clock=clock)
    caplog.set_level(logging.INFO, "bot.campaign.load")
    assert not gov.update().held
    queue[0] = 6
    assert gov.update().held and gov.describe() == "held: synthesis queue 6 > 4"
    assert metrics.REGISTRY.get_sample_value("collbot_governor_held") == 1
    assert metrics.REGISTRY.get_sample_value("collbot_synthesis_queue_depth") == 6
    assert "holding new calls: synthesis queue 6 > 4" in caplog.text
    queue[0], clock.now = 3, at(5)  # under the limit, not under half of it
    assert gov.update().held
    queue[0] = 1
    assert not gov.update().held and gov.describe() == ""
    assert metrics.REGISTRY.get_sample_value("collbot_governor_held") == 0
    assert gov.holds == 1 and "resume after 5.0s" in caplog.text


async def test_loop_lag_is_the_worst_of_the_window() -> None:
    gov = Governor(Thresholds(loop_lag_s=0.2, min_hold_s=0), interval_s=0.1, window_s=0.3, clock=FakeClock())
    gov.update(0.5)
    assert gov.held and gov.readings.loop_lag_s == 0.5
    gov.update(0.01)
    gov.update(0.01)
    assert gov.held  # 0.5 is still in the window of 3 samples
    gov.update(0.01)
    assert not gov.held and gov.readings.loop_lag_s == 0.01


async def test_a_broken_probe_skips_its_check(caplog: pytest.LogCaptureFixture) -> None:
    def broken() -> int:
        raise RuntimeError("gone")

    gov = Governor(Thresholds(synthesis_queue=1), synthesis_queue=broken, clock=FakeClock())
    assert not gov.update().held and gov.readings.synthesis_queue is None
    assert "reading synthesis_queue failed" in caplog.text


async def test_admit_waits_for_release_and_warns_on_long_holds(caplog: pytest.LogCaptureFixture) -> None:
    queue = [9]
    gov = Governor(Thresholds(synthesis_queue=4, min_hold_s=0), synthesis_queue=lambda: queue[0],
                   clock=FakeClock(), warn_after_s=0.05)
    gov.update()
    waiter = asyncio.create_task(gov.admit())
    await asyncio.sleep(0.15)
    assert not waiter.done()
    assert "new calls held for" in caplog.text and "synthesis queue 9 > 4" in caplog.text
    queue[0] = 0
    gov.update()
    assert await asyncio.wait_for(waiter, 1) is True


async def test_admit_returns_false_when_stopped() -> None:
    gov = Governor(Thresholds(synthesis_queue=1), synthesis_queue=lambda: 5, clock=FakeClock())
    gov.update()
    stop = asyncio.Event()
    waiter = asyncio.create_task(gov.admit(stop))
    await asyncio.sleep(0.02)
    stop.set()
    assert await asyncio.wait_for(waiter, 1) is False


async def test_sampler_measures_a_blocked_loop_and_polls_asterisk() -> None:
    calls = [0]

    async def asterisk_calls() -> int:
        calls[0] += 1
        return 250

    async with Governor(Thresholds(loop_lag_s=0.1, asterisk_calls=200), interval_s=0.02, window_s=1.0,
                        asterisk_calls=asterisk_calls, asterisk_every_s=0.2) as gov:
        await asyncio.sleep(0.05)
        time.sleep(0.3)  # noqa: ASYNC251  (on purpose: the loop is blocked, the next timer runs ~0.3 s late)
        await asyncio.sleep(0.1)
        assert gov.readings.loop_lag_s is not None and gov.readings.loop_lag_s >= 0.2
        assert gov.readings.asterisk_calls == 250 and calls[0] >= 1
        assert gov.held and set(gov.state.over) >= {"Asterisk calls 250 > 200"}
    assert metrics.REGISTRY.get_sample_value("collbot_governor_held") == 0


# --- the ramp: a cap on calls in flight, because the readings trail the calls ----------------------

RAMP = Ramp(start=10, grow_per_s=2.0, backoff=0.5)


def test_ramp_grows_while_calm_freezes_while_held_and_backs_off_on_a_new_hold() -> None:
    calm, held = State(), State(held=True, check="event loop lag", reason="x", since=T0)
    assert ceiling(10, ramp=RAMP, before=calm, after=calm, in_flight=10, elapsed_s=3) == 16
    assert ceiling(40, ramp=RAMP, before=held, after=held, in_flight=40, elapsed_s=3) == 40
    assert ceiling(40, ramp=RAMP, before=calm, after=held, in_flight=60, elapsed_s=1) == 30
    assert ceiling(40, ramp=RAMP, before=calm, after=held, in_flight=12, elapsed_s=1) == 10  # never under start
    assert ceiling(5, ramp=Ramp(start=0), before=calm, after=held, in_flight=60, elapsed_s=1) == math.inf


@given(st.lists(st.tuples(st.booleans(), st.integers(0, 400), st.floats(0, 5)), max_size=50))
def test_ramp_never_under_its_start(steps: list[tuple[bool, int, float]]) -> None:
    cap, state = float(RAMP.start), State()
    for held, in_flight, gap in steps:
        after = State(held=True, check="c", reason="r", since=T0) if held else State()
        cap = ceiling(cap, ramp=RAMP, before=state, after=after, in_flight=in_flight, elapsed_s=gap)
        state = after
        assert cap >= RAMP.start


async def test_admit_waits_at_the_ramp_cap_until_a_call_ends() -> None:
    flying = [10]
    gov = Governor(Thresholds(), ramp=Ramp(start=10, grow_per_s=1.0), in_flight=lambda: flying[0],
                   interval_s=0.01, clock=FakeClock())
    gov.update()
    assert gov.cap == 10
    waiter = asyncio.create_task(gov.admit())
    await asyncio.sleep(0.1)
    assert not waiter.done()  # 10 in flight, 10 allowed
    flying[0] = 9
    assert await asyncio.wait_for(waiter, 1) is True
    assert metrics.REGISTRY.get_sample_value("collbot_governor_cap") == 10
