"""The overload governor at run time: samples the load, applies bot.campaign.governor's policy,
and lets the campaign's pacing wait (``await governor.admit()``) before each Originate.

Readings: the event loop's lag (a timer's lateness, measured here), the recognition queue and
wait, the synthesis queue (each read from a callable, cheap), and Asterisk's current calls
(AMI ``CoreStatus``, polled less often; an error leaves that reading unknown, never held).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
from collections import deque
from collections.abc import Awaitable, Callable

from bot import metrics
from bot.campaign.governor import Ramp, Readings, State, Thresholds, ceiling, decide
from bot.config import GovernorSettings

log = logging.getLogger(__name__)

Probe = Callable[[], int | float | None]


def thresholds(settings: GovernorSettings) -> Thresholds:
    return Thresholds(loop_lag_s=settings.max_loop_lag_s, recognition_queue=settings.max_recognition_queue,
                      recognition_wait_s=settings.max_recognition_wait_s,
                      synthesis_queue=settings.max_synthesis_queue, asterisk_calls=settings.max_asterisk_calls,
                      resume=settings.resume, min_hold_s=settings.min_hold_s)


def ramp(settings: GovernorSettings) -> Ramp:
    return Ramp(start=settings.ramp_start, grow_per_s=settings.ramp_per_s, backoff=settings.ramp_backoff)


class Governor:
    """Use as ``async with Governor(...)``; ``admit()`` returns once new calls may be placed."""

    def __init__(self, limits: Thresholds, *, interval_s: float = 0.1, window_s: float = 1.0,
                 recognition_queue: Probe | None = None, recognition_wait: Probe | None = None,
                 synthesis_queue: Probe | None = None,
                 asterisk_calls: Callable[[], Awaitable[int]] | None = None, asterisk_every_s: float = 2.0,
                 warn_after_s: float = 60.0, clock: Callable[[], dt.datetime] | None = None,
                 ramp: Ramp | None = None, in_flight: Callable[[], int] | None = None):
        self.limits = limits
        self.interval_s = interval_s
        self._lags: deque[float] = deque(maxlen=max(1, round(window_s / interval_s)))
        self._probes = {"recognition_queue": recognition_queue, "recognition_wait_s": recognition_wait,
                        "synthesis_queue": synthesis_queue}
        self._asterisk = asterisk_calls
        self._asterisk_every_s = asterisk_every_s
        self._asterisk_calls: int | None = None
        self.warn_after_s = warn_after_s
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self.state = State()
        self.readings = Readings()
        self.holds = 0  # holds started since this governor was made
        self.ramp = ramp or Ramp(start=0)
        self._in_flight = in_flight or (lambda: 0)
        self.cap = float(self.ramp.start) if self.ramp.start > 0 else math.inf  # calls in flight allowed
        self._decided_at: dt.datetime | None = None
        self._changed = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    # --- reading and deciding ------------------------------------------------------------------
    def read(self) -> Readings:
        values: dict[str, float | int | None] = {}
        for name, probe in self._probes.items():
            if probe is not None:
                try:
                    values[name] = probe()
                except Exception:  # a broken probe must not stop calls: that check is skipped
                    log.exception("overload governor: reading %s failed", name)
        return Readings(loop_lag_s=max(self._lags) if self._lags else None,
                        asterisk_calls=self._asterisk_calls, **values)  # type: ignore[arg-type]

    def update(self, lag_s: float | None = None) -> State:
        """Record one lag sample (if given), read everything else, and decide."""
        if lag_s is not None:
            self._lags.append(max(0.0, lag_s))
        self.readings = self.read()
        self._publish(self.readings)
        before, now = self.state, self.clock()
        self.state = decide(self.readings, self.limits, before, now)
        elapsed = (now - self._decided_at).total_seconds() if self._decided_at is not None else 0.0
        self._decided_at = now
        self.cap = ceiling(self.cap, ramp=self.ramp, before=before, after=self.state, in_flight=self._in_flight(),
                           elapsed_s=elapsed)
        metrics.GOVERNOR_CAP.set(self.cap if self.cap != math.inf else -1)
        if self.state.held and not before.held:
            self.holds += 1
            metrics.GOVERNOR_HELD.set(1)
            metrics.GOVERNOR_HOLDS.labels(self.state.check).inc()
            log.info("overload governor: holding new calls: %s", self.state.reason)
        elif before.held and not self.state.held:
            held_s = (now - before.since).total_seconds() if before.since else 0.0
            metrics.GOVERNOR_HELD.set(0)
            metrics.GOVERNOR_HELD_SECONDS.inc(max(0.0, held_s))
            log.info("overload governor: new calls resume after %.1fs (%s)", held_s, before.reason)
        if self.state.held != before.held:
            self._changed.set()
            self._changed = asyncio.Event()
        return self.state

    @staticmethod
    def _publish(r: Readings) -> None:
        for gauge, value in ((metrics.LOOP_LAG, r.loop_lag_s), (metrics.RECOGNITION_WAIT, r.recognition_wait_s),
                             (metrics.SYNTHESIS_QUEUE, r.synthesis_queue), (metrics.ASTERISK_CALLS, r.asterisk_calls)):
            if value is not None:
                gauge.set(value)

    # --- what the campaign asks ------------------------------------------------------------------
    @property
    def held(self) -> bool:
        return self.state.held

    def describe(self) -> str:
        """For a progress line: '' while admitting, else 'held: <reason>'."""
        return f"held: {self.state.reason}" if self.state.held else ""

    def _waits(self) -> bool:
        return self.state.held or self._in_flight() >= self.cap

    async def admit(self, stop: asyncio.Event | None = None) -> bool:
        """Wait while held or while the calls in flight are at the ramp's cap; True once admitted,
        False if ``stop`` was set first. Logs a warning each ``warn_after_s`` it keeps waiting (a
        hold never ends a call or drops a debtor)."""
        loop = asyncio.get_running_loop()
        started = warned = loop.time()
        while self._waits():
            if stop is not None and stop.is_set():
                return False
            waits = [asyncio.ensure_future(self._changed.wait())]
            if stop is not None:
                waits.append(asyncio.ensure_future(stop.wait()))
            try:
                await asyncio.wait(waits, timeout=self.interval_s if not self.state.held else
                                   max(0.1, self.warn_after_s - (loop.time() - warned)),
                                   return_when=asyncio.FIRST_COMPLETED)
            finally:
                for w in waits:
                    w.cancel()
            if self._waits() and loop.time() - warned >= self.warn_after_s:
                warned = loop.time()
                log.warning("overload governor: new calls held for %.0fs: %s (readings: %s)",
                            warned - started, self.state.reason or f"ramp cap {self.cap:.0f} calls in flight",
                            "; ".join(self.state.over) or "recovering")
        return stop is None or not stop.is_set()

    # --- sampling -------------------------------------------------------------------------------
    async def __aenter__(self) -> Governor:
        self._tasks.append(asyncio.create_task(self._sample(), name="governor-sampler"))
        if self._asterisk is not None:
            self._tasks.append(asyncio.create_task(self._poll_asterisk(), name="governor-asterisk"))
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        metrics.GOVERNOR_HELD.set(0)

    async def _sample(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            asked = loop.time()
            await asyncio.sleep(self.interval_s)
            try:
                self.update(loop.time() - asked - self.interval_s)
                metrics.ASYNCIO_TASKS.set(len(asyncio.all_tasks(loop)))
            except Exception:  # keep sampling; the last state stands meanwhile
                log.exception("overload governor: sampling failed")

    async def _poll_asterisk(self) -> None:
        assert self._asterisk is not None
        failed = False
        while True:
            try:
                async with asyncio.timeout(max(1.0, self._asterisk_every_s)):
                    self._asterisk_calls = await self._asterisk()
                failed = False
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # AMI down: the runner pauses dialling on its own
                self._asterisk_calls = None
                if not failed:
                    log.info("overload governor: cannot read Asterisk's calls (%s); that check is skipped", exc)
                failed = True
            await asyncio.sleep(self._asterisk_every_s)
