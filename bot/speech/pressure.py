"""How far behind the speech workers are: the slowest recent job, cheap enough to record per job."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class RecentMax:
    """The largest value recorded in the last ``span_s`` seconds, kept in one-second buckets.

    Thread-safe; recording is O(1), so a decoder thread can record every job.
    """

    def __init__(self, span_s: int = 3, clock: Callable[[], float] = time.monotonic):
        self._span = max(1, span_s)
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[int, float] = {}

    def record(self, value: float) -> None:
        second = int(self._clock())
        with self._lock:
            if value > self._buckets.get(second, float("-inf")):
                self._buckets[second] = value
            if len(self._buckets) > self._span + 1:
                for old in [s for s in self._buckets if s <= second - self._span]:
                    del self._buckets[old]

    def value(self) -> float:
        """0.0 when nothing was recorded within the span."""
        since = int(self._clock()) - self._span
        with self._lock:
            return max((v for s, v in self._buckets.items() if s > since), default=0.0)


RECOGNITION_WAIT = RecentMax()
"""Seconds from asking for a recognition job to its answer, queueing included (bot.speech.asr)."""
