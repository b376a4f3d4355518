"""Retry policy: delays and limits per result, unknown never re-dialled, and retries only when compliant."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.campaign.compliance import PACKS, Attempt, decide
from bot.campaign.retry import (
    DEFAULT_POLICY,
    RetryPolicy,
    RetryRule,
    next_retry,
    parse_duration,
    schedule_retry,
)
from bot.domain import CallResult
from bot.errors import ConfigError

UTC = dt.UTC
NY = ("America/New_York",)
T0 = dt.datetime(2026, 6, 10, 14, 0, tzinfo=UTC)  # 10:00 in New York
MIN = dt.timedelta(minutes=1)
R = CallResult


def ny(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=ZoneInfo("America/New_York")).astimezone(UTC)  # type: ignore[misc]


def test_default_policy() -> None:
    assert RetryPolicy() == DEFAULT_POLICY == RetryPolicy.default()
    assert dict(DEFAULT_POLICY.rules) == {
        R.NO_ANSWER: RetryRule(30 * MIN, 3),
        R.BUSY: RetryRule(10 * MIN, 3),
        R.CONGESTION: RetryRule(15 * MIN, 2),
        R.FAILED: RetryRule(15 * MIN, 2),
    }


@pytest.mark.parametrize(("result", "delay"), [
    (R.NO_ANSWER, 30 * MIN), (R.BUSY, 10 * MIN), (R.CONGESTION, 15 * MIN), (R.FAILED, 15 * MIN),
])
def test_delay_after_the_last_result(result: CallResult, delay: dt.timedelta) -> None:
    assert next_retry(DEFAULT_POLICY, [(T0, result)], now=T0 + MIN) == T0 + delay


@pytest.mark.parametrize("result", [R.ANSWERED, R.UNKNOWN])
def test_answered_and_unknown_are_never_retried(result: CallResult) -> None:
    assert next_retry(DEFAULT_POLICY, [(T0, result)], now=T0) is None
    assert next_retry(DEFAULT_POLICY, [(T0 - 60 * MIN, R.BUSY), (T0, result)], now=T0) is None


def test_max_attempts_counts_attempts_with_that_result() -> None:
    two = [(T0, R.NO_ANSWER), (T0 + 30 * MIN, R.NO_ANSWER)]
    assert next_retry(DEFAULT_POLICY, two, now=T0 + 31 * MIN) == T0 + 60 * MIN
    three = [*two, (T0 + 60 * MIN, R.NO_ANSWER)]
    assert next_retry(DEFAULT_POLICY, three, now=T0 + 61 * MIN) is None
    # Other results do not use up the no-answer allowance.
    mixed = [(T0, R.BUSY), (T0 + 10 * MIN, R.BUSY), (T0 + 20 * MIN, R.CONGESTION), (T0 + 40 * MIN, R.NO_ANSWER)]
    assert next_retry(DEFAULT_POLICY, mixed, now=T0 + 41 * MIN) == T0 + 70 * MIN
    congested = [(T0, R.CONGESTION), (T0 + 20 * MIN, R.CONGESTION)]
    assert next_retry(DEFAULT_POLICY, congested, now=T0 + 21 * MIN) is None


def test_the_latest_attempt_decides_whatever_the_order() -> None:
    results = [(T0 + 30 * MIN, R.BUSY), (T0, R.NO_ANSWER)]
    assert next_retry(DEFAULT_POLICY, results, now=T0 + 31 * MIN) == T0 + 40 * MIN


def test_a_retry_is_never_in_the_past() -> None:
    late = T0 + 5 * 60 * MIN
    assert next_retry(DEFAULT_POLICY, [(T0, R.BUSY)], now=late) == late


def test_no_attempt_yet_means_now() -> None:
    assert next_retry(DEFAULT_POLICY, [], now=T0) == T0


def test_naive_times_are_rejected() -> None:
    naive = dt.datetime(2026, 6, 10, 14, 0)
    with pytest.raises(ValueError, match="timezone-aware"):
        next_retry(DEFAULT_POLICY, [(T0, R.BUSY)], now=naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        next_retry(DEFAULT_POLICY, [(naive, R.BUSY)], now=T0)


def test_from_mapping_overrides_the_defaults() -> None:
    policy = RetryPolicy.from_mapping({
        "no_answer": {"delay": "2h", "max_attempts": 5},
        "busy": {"delay": "90s"},
        "congestion": {"delay": 45, "max_attempts": 1},
        "failed": None,
    })
    assert policy.rules[R.NO_ANSWER] == RetryRule(dt.timedelta(hours=2), 5)
    assert policy.rules[R.BUSY] == RetryRule(dt.timedelta(seconds=90), 3)
    assert policy.rules[R.CONGESTION] == RetryRule(dt.timedelta(seconds=45), 1)
    assert R.FAILED not in policy.rules
    assert next_retry(policy, [(T0, R.FAILED)], now=T0) is None
    assert RetryPolicy.from_mapping({}) == DEFAULT_POLICY


def test_max_attempts_zero_disables_a_result() -> None:
    policy = RetryPolicy.from_mapping({"busy": {"max_attempts": 0}})
    assert next_retry(policy, [(T0, R.BUSY)], now=T0) is None


@pytest.mark.parametrize(("text", "expected"), [
    ("90s", dt.timedelta(seconds=90)),
    ("30m", dt.timedelta(minutes=30)),
    ("2h", dt.timedelta(hours=2)),
    ("1d", dt.timedelta(days=1)),
    (" 15 m ", dt.timedelta(minutes=15)),
    ("600", dt.timedelta(minutes=10)),
    (600, dt.timedelta(minutes=10)),
    (1.5, dt.timedelta(seconds=1.5)),
])
def test_durations(text: object, expected: dt.timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("data", [
    {"unknown": {"delay": "1m", "max_attempts": 1}},
    {"answered": {"delay": "1m", "max_attempts": 1}},
    {"no_answer": {"delay": "-5m"}},
    {"no_answer": {"delay": "5x"}},
    {"no_answer": {"delay": "1.5h"}},
    {"no_answer": {"delay": 0}},
    {"no_answer": {"delay": True}},
    {"no_answer": {"delay": float("nan")}},
    {"no_answer": {"delay": "400d"}},
    {"no_answer": {"max_attempts": -1}},
    {"no_answer": {"max_attempts": "3"}},
    {"no_answer": {"max_attempts": True}},
    {"no_answer": {"delay": "1m", "tries": 2}},
    {"no_answer": "30m"},
])
def test_from_mapping_rejects_bad_input(data: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        RetryPolicy.from_mapping(data)


def test_from_mapping_needs_a_mapping() -> None:
    with pytest.raises(ConfigError, match="mapping"):
        RetryPolicy.from_mapping([("busy", "1m")])  # type: ignore[arg-type]


def test_unknown_cannot_be_given_a_rule_directly() -> None:
    with pytest.raises(ConfigError, match="cannot be retried"):
        RetryPolicy({R.UNKNOWN: RetryRule(MIN, 1)})
    with pytest.raises(ConfigError):
        RetryRule(dt.timedelta(0), 1)


def test_the_policy_is_immutable() -> None:
    with pytest.raises(TypeError):
        DEFAULT_POLICY.rules[R.BUSY] = RetryRule(MIN, 1)  # type: ignore[index]
    assert hash(DEFAULT_POLICY) == hash(RetryPolicy())


# --- combined with compliance -----------------------------------------------------------------------------


def schedule(results, history=(), now=None, rules=PACKS["default"], zones=NY, suppressed=None):
    now = now or max(at for at, _ in results)
    return schedule_retry(DEFAULT_POLICY, results, now=now, zones=zones, history=history, rules=rules,
                          suppressed=suppressed)


def test_a_retry_inside_the_window_is_kept() -> None:
    assert schedule([(ny(2026, 6, 10, 10, 0), R.NO_ANSWER)]) == ny(2026, 6, 10, 10, 30)


def test_a_retry_after_closing_moves_to_the_next_opening() -> None:
    assert schedule([(ny(2026, 6, 10, 20, 50), R.NO_ANSWER)]) == ny(2026, 6, 11, 8, 0)


def test_a_retry_across_spring_forward_opens_at_local_eight() -> None:
    assert schedule([(ny(2026, 3, 7, 20, 45), R.NO_ANSWER)]) == ny(2026, 3, 8, 8, 0)
    assert ny(2026, 3, 8, 8, 0) == dt.datetime(2026, 3, 8, 12, 0, tzinfo=UTC)


def test_a_retry_waits_for_the_reg_f_cap() -> None:
    last = ny(2026, 6, 10, 10, 0)
    history = [Attempt(ny(2026, 6, 4 + i, 11, 0), R.NO_ANSWER) for i in range(6)] + [Attempt(last, R.NO_ANSWER)]
    assert schedule([(last, R.NO_ANSWER)], history, rules=PACKS["us_reg_f"]) == ny(2026, 6, 11, 11, 0)


def test_no_retry_for_a_suppressed_debtor() -> None:
    assert schedule([(ny(2026, 6, 10, 10, 0), R.NO_ANSWER)], suppressed="opt_out") is None


def test_no_retry_when_the_policy_says_no() -> None:
    assert schedule([(ny(2026, 6, 10, 10, 0), R.UNKNOWN)]) is None


zone_sets = st.lists(
    st.sampled_from(["Asia/Seoul", "America/New_York", "America/Chicago", "America/Phoenix", "Europe/Moscow"]),
    min_size=1, max_size=2, unique=True,
)


@settings(max_examples=80, deadline=None)
@given(
    zones=zone_sets,
    offsets=st.lists(st.tuples(st.integers(0, 3 * 24 * 60), st.sampled_from(list(CallResult))), min_size=1,
                     max_size=8),
    start=st.integers(0, 365 * 24 * 60),
    pack=st.sampled_from(sorted(PACKS)),
    wait=st.integers(0, 120),
)
def test_a_scheduled_retry_is_always_allowed(zones, offsets, start, pack, wait) -> None:
    base = dt.datetime(2026, 1, 1, tzinfo=UTC) + start * MIN
    results = [(base + m * MIN, result) for m, result in offsets]
    history = [Attempt(at, result, conversation=result == R.ANSWERED) for at, result in results]
    now = max(at for at, _ in results) + wait * MIN
    rules = PACKS[pack]
    when = schedule_retry(DEFAULT_POLICY, results, now=now, zones=zones, history=history, rules=rules)
    proposed = next_retry(DEFAULT_POLICY, results, now=now)
    if proposed is None:
        assert when is None
        return
    assert when is not None and when >= proposed >= now
    assert decide(zones=zones, history=history, now=when, rules=rules).allow
