"""The overload governor's policy: hold new Originates while the machine is overloaded.

Pure: readings, thresholds, the previous state and the clock in, the next state out. An
overloaded controller does not fail loudly: Asterisk drops voice frames, turns start late and
recognition answers come seconds after the caller spoke, so calls end with the wrong outcome.
Holding new calls costs time instead. Hysteresis keeps it from flapping: a hold starts when a
reading passes its threshold and ends only when every reading is back below ``resume`` times
its threshold, and not before ``min_hold_s``.

The readings trail the calls by several seconds (a call loads the machine once answered), so
holding alone cannot stop a burst: at 100 Originates/s a whole set of lines is dialled before
the first reading moves. A ramp therefore also caps the calls in flight: it starts at
``Ramp.start``, grows while nothing holds, and on each new hold drops to ``backoff`` times the
calls then in flight (additive increase, multiplicative decrease).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Readings:
    """What the sampler measured; None: not measured (that check is skipped)."""

    loop_lag_s: float | None = None  # how late the event loop ran a timer, worst of the recent window
    recognition_queue: int | None = None  # recognition jobs queued or running
    recognition_wait_s: float | None = None  # slowest recent recognition job, queueing included
    synthesis_queue: int | None = None  # prompt syntheses queued or running
    asterisk_calls: int | None = None  # Asterisk's current calls (AMI CoreStatus)


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Limits; 0 turns a check off."""

    loop_lag_s: float = 0.25
    recognition_queue: int = 0
    recognition_wait_s: float = 1.5
    synthesis_queue: int = 8
    asterisk_calls: int = 0
    resume: float = 0.7  # a hold ends once every reading is below this fraction of its limit
    min_hold_s: float = 2.0


@dataclass(frozen=True, slots=True)
class State:
    held: bool = False
    check: str = ""  # the check that started (or now keeps) the hold
    reason: str = ""  # why it holds (the first reading over its limit), "" while admitting
    since: dt.datetime | None = None  # when the current hold started
    over: tuple[str, ...] = field(default=())  # every reading over its limit at the last decision


# (name in reasons, attribute, unit for the reason text)
CHECKS = (
    ("event loop lag", "loop_lag_s", "s"),
    ("recognition queue", "recognition_queue", ""),
    ("recognition wait", "recognition_wait_s", "s"),
    ("synthesis queue", "synthesis_queue", ""),
    ("Asterisk calls", "asterisk_calls", ""),
)


def over_limits(readings: Readings, limits: Thresholds, *, scale: float = 1.0) -> list[tuple[str, str]]:
    """(check, reason) for each reading above ``scale`` times its (non-zero) limit."""
    reasons = []
    for name, attr, unit in CHECKS:
        value, limit = getattr(readings, attr), getattr(limits, attr)
        if value is None or not limit:
            continue
        bound = limit * scale
        if value > bound:
            shown = f"{value:.2f}{unit}" if isinstance(value, float) else str(value)
            reasons.append((name, f"{name} {shown} > {bound:g}{unit}"))
    return reasons


def decide(readings: Readings, limits: Thresholds, state: State, now: dt.datetime) -> State:
    """The next state: start a hold when a reading passes its limit; end it when all are well below."""
    over = over_limits(readings, limits)
    if not state.held:
        if over:
            return State(held=True, check=over[0][0], reason=over[0][1], since=now, over=_texts(over))
        return State()
    if over:  # still over: the reason follows the readings, the hold keeps its start
        mine = [o for o in over if o[0] == state.check] or over
        return State(held=True, check=mine[0][0], reason=mine[0][1], since=state.since, over=_texts(over))
    near = over_limits(readings, limits, scale=limits.resume)
    if near or (state.since is not None and (now - state.since).total_seconds() < limits.min_hold_s):
        return State(held=True, check=state.check, reason=state.reason, since=state.since, over=_texts(near))
    return State()


def _texts(over: list[tuple[str, str]]) -> tuple[str, ...]:
    return tuple(text for _, text in over)


@dataclass(frozen=True, slots=True)
class Ramp:
    start: int = 30  # calls in flight allowed at first and never less; 0: no ramp (no cap)
    grow_per_s: float = 1.0  # the cap grows this much per second without a hold
    backoff: float = 0.7  # on a new hold, the cap becomes this fraction of the calls in flight


def ceiling(cap: float, *, ramp: Ramp, before: State, after: State, in_flight: int, elapsed_s: float) -> float:
    """The next cap on calls in flight, given one decision of ``decide`` over ``elapsed_s``."""
    if ramp.start <= 0:
        return math.inf
    if after.held and not before.held:
        return max(float(ramp.start), in_flight * ramp.backoff)
    if after.held:
        return cap
    return cap + ramp.grow_per_s * max(0.0, elapsed_s)
