"""collbot_asyncio_tasks: the governor's sampler publishes how many tasks the loop holds, so a
leak of tasks shows on /metrics (bench/soak.py watches it)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from bot.campaign.governor import Thresholds
from bot.campaign.load import Governor
from bot.metrics import REGISTRY


def _tasks() -> float | None:
    return REGISTRY.get_sample_value("collbot_asyncio_tasks")


async def _until(check: Callable[[], bool], timeout_s: float = 5.0) -> None:
    for _ in range(int(timeout_s / 0.01)):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("collbot_asyncio_tasks never reached the expected count")


async def test_the_gauge_follows_the_tasks_of_the_loop() -> None:
    async with Governor(Thresholds(), interval_s=0.01):
        await _until(lambda: _tasks() is not None)
        before = _tasks()
        extra = [asyncio.create_task(asyncio.sleep(30)) for _ in range(25)]
        try:
            await _until(lambda: (_tasks() or 0) >= (before or 0) + 25)
        finally:
            for task in extra:
                task.cancel()
            await asyncio.gather(*extra, return_exceptions=True)
        await _until(lambda: (_tasks() or 0) < (before or 0) + 25)
