"""Running one owner's blocking jobs in order on a thread pool shared with other owners."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from bot.errors import SpeechError

T = TypeVar("T")


class SerialJobs:
    """Runs jobs one at a time, in submission order, on whichever pool thread is free.

    One job per pool task, so many busy owners take turns on the threads. A job cancelled
    before it starts is skipped; one already running finishes before the next starts, so
    a cancelled caller never lets two jobs touch the owner's state at once.
    """

    def __init__(self, pool: ThreadPoolExecutor):
        self._pool = pool
        self._lock = threading.Lock()
        self._jobs: deque[tuple[Future[Any], Callable[..., Any], tuple[Any, ...]]] = deque()
        self._busy = False

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        future: Future[T] = Future()
        with self._lock:
            self._jobs.append((future, fn, args))
            if self._busy:
                return future
            self._busy = True
        self._schedule()
        return future

    def _schedule(self) -> None:
        try:
            self._pool.submit(self._run_next)
        except RuntimeError:  # the pool was shut down: fail whatever is left
            with self._lock:
                jobs, self._jobs = list(self._jobs), deque()
                self._busy = False
            for future, _, _ in jobs:
                if future.set_running_or_notify_cancel():
                    future.set_exception(SpeechError("the speech worker pool is shut down"))

    def _run_next(self) -> None:
        with self._lock:
            future, fn, args = self._jobs.popleft()
        if future.set_running_or_notify_cancel():
            try:
                future.set_result(fn(*args))
            except BaseException as exc:
                future.set_exception(exc)
        with self._lock:
            if not self._jobs:
                self._busy = False
                return
        self._schedule()
