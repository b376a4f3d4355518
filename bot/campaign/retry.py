"""Retry policy: when a debtor's unsuccessful attempt is tried again. Pure: results and the clock come in.

An attempt whose result is unknown is never re-dialled by the policy: it is reconciled first, because the
call may have been answered. The time the policy proposes is then moved forward into what compliance allows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from bot import durations
from bot.campaign.compliance import Attempt, Rules, next_allowed
from bot.domain import CallResult
from bot.errors import ConfigError

RETRYABLE = (CallResult.NO_ANSWER, CallResult.BUSY, CallResult.CONGESTION, CallResult.FAILED)
_RULE_KEYS = ("delay", "max_attempts")


@dataclass(frozen=True)
class RetryRule:
    """Retry after ``delay``, until ``max_attempts`` attempts have ended with this result (0: never)."""

    delay: dt.timedelta
    max_attempts: int

    def __post_init__(self) -> None:
        if not isinstance(self.delay, dt.timedelta) or self.delay <= dt.timedelta(0):
            raise ConfigError(f"retry delay must be a positive duration; got {self.delay!r}")
        if isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int) or self.max_attempts < 0:
            raise ConfigError(f"retry max_attempts must be a whole number >= 0; got {self.max_attempts!r}")


def _default_rules() -> Mapping[CallResult, RetryRule]:
    return {
        CallResult.NO_ANSWER: RetryRule(dt.timedelta(minutes=30), 3),
        CallResult.BUSY: RetryRule(dt.timedelta(minutes=10), 3),
        CallResult.CONGESTION: RetryRule(dt.timedelta(minutes=15), 2),
        CallResult.FAILED: RetryRule(dt.timedelta(minutes=15), 2),
    }


@dataclass(frozen=True)
class RetryPolicy:
    """Which results are retried, how soon and how often; results without a rule are never retried."""

    rules: Mapping[CallResult, RetryRule] = field(default_factory=_default_rules)

    def __post_init__(self) -> None:
        for result, rule in self.rules.items():
            if result not in RETRYABLE:
                raise ConfigError(
                    f"'{result}' cannot be retried automatically; retryable results: {', '.join(RETRYABLE)}"
                )
            if not isinstance(rule, RetryRule):
                raise ConfigError(f"the retry rule for {result} must be a RetryRule")
        object.__setattr__(self, "rules", MappingProxyType({CallResult(k): v for k, v in self.rules.items()}))

    def __hash__(self) -> int:
        return hash(tuple(sorted(self.rules.items())))

    @classmethod
    def default(cls) -> RetryPolicy:
        """no_answer 30 min x 3, busy 10 min x 3, congestion and failed 15 min x 2; nothing else retried."""
        return cls()

    @classmethod
    def from_mapping(cls, data: Mapping[str, object]) -> RetryPolicy:
        """Override the defaults per result: ``{no_answer: {delay: "30m", max_attempts: 3}, busy: null}``.

        A result set to null is never retried; a missing field keeps the default for that result.
        """
        if not isinstance(data, Mapping):
            raise ConfigError("retry policy must be a mapping from results to {delay, max_attempts}")
        defaults = _default_rules()
        rules = dict(defaults)
        for key, value in data.items():
            if key not in RETRYABLE:
                raise ConfigError(
                    f"retry policy: {key!r} is not a retryable result; use one of {', '.join(RETRYABLE)}"
                    " (unknown results are reconciled, never re-dialled)"
                )
            result = CallResult(key)
            if value is None:
                del rules[result]
                continue
            if not isinstance(value, Mapping):
                raise ConfigError(f"retry policy: {key} must be a mapping with delay and max_attempts")
            extra = sorted(str(k) for k in value if k not in _RULE_KEYS)
            if extra:
                raise ConfigError(f"retry policy: {key}: unknown key(s) {', '.join(extra)}; use delay, max_attempts")
            default = defaults[result]
            delay = parse_duration(value["delay"], f"retry policy: {key}.delay") if "delay" in value else default.delay
            attempts = value.get("max_attempts", default.max_attempts)
            try:
                rules[result] = RetryRule(delay, attempts)  # type: ignore[arg-type]
            except ConfigError as exc:
                raise ConfigError(f"retry policy: {key}: {exc}") from None
        return cls(rules)


DEFAULT_POLICY = RetryPolicy()


def parse_duration(value: object, what: str = "duration") -> dt.timedelta:
    """``"90s"``, ``"30m"``, ``"2h"``, ``"1d"`` or a number of seconds, as a positive timedelta (bot.durations)."""
    try:
        return durations.parse_duration(value)
    except ValueError as exc:
        raise ConfigError(f"{what}: {exc}") from None


def next_retry(
    policy: RetryPolicy, results: Sequence[tuple[dt.datetime, CallResult]], *, now: dt.datetime
) -> dt.datetime | None:
    """When the policy lets this debtor be tried again (never before ``now``); None if it does not.

    ``results`` are the debtor's attempts in this campaign. With none yet, the first may be placed now.
    """
    now = _aware(now, "now")
    if not results:
        return now
    for at, _ in results:
        _aware(at, "an attempt's time")
    # The latest attempt decides; on equal times the later entry wins.
    last_at, last_result = max(enumerate(results), key=lambda item: (item[1][0], item[0]))[1]
    rule = policy.rules.get(last_result)
    if rule is None:
        return None
    ended_so = sum(1 for _, result in results if result == last_result)
    if ended_so >= rule.max_attempts:
        return None
    return max(last_at.astimezone(dt.UTC) + rule.delay, now)


def schedule_retry(
    policy: RetryPolicy,
    results: Sequence[tuple[dt.datetime, CallResult]],
    *,
    now: dt.datetime,
    zones: Sequence[str],
    history: Sequence[Attempt],
    rules: Rules,
    suppressed: str | None = None,
) -> dt.datetime | None:
    """The earliest time both the retry policy and compliance allow the next attempt; None if never."""
    proposed = next_retry(policy, results, now=now)
    if proposed is None:
        return None
    return next_allowed(zones=zones, history=history, after=proposed, rules=rules, suppressed=suppressed)


def _aware(value: dt.datetime, what: str) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        raise TypeError(f"{what} must be a datetime")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware (naive datetimes are ambiguous)")
    return value.astimezone(dt.UTC)
