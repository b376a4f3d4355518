"""What `collbot serve` runs beside the campaigns: the retention purge and /health + /metrics."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from bot.config import Settings
from bot.errors import CollbotError
from bot.store.repo import Store

log = logging.getLogger(__name__)


async def purge_forever(settings: Settings, store: Store, clock: Callable[[], dt.datetime]) -> None:
    """Purge expired recordings and transcripts now and every ``privacy.purge_interval_s``."""
    from bot.privacy.purge import purge_store

    while True:
        try:
            await asyncio.to_thread(purge_store, store, settings, now=clock())
        except (CollbotError, OSError) as exc:  # retried at the next interval; calls go on
            log.error("retention purge failed: %s", exc)
        await asyncio.sleep(settings.privacy.purge_interval_s)


@contextlib.asynccontextmanager
async def beside_serve(settings: Settings, store: Store, running: Callable[[], list[str]]
                       ) -> AsyncIterator[int | None]:
    """Start the purge loop and the metrics server (yields its port, None when off); stop both on the way out."""
    from bot.metrics import MetricsServer

    def health() -> dict[str, Any]:
        try:
            store.campaign_status("")
        except CollbotError as exc:
            return {"status": "error", "database": str(exc)[:200]}
        return {"status": "ok", "database": "ok", "campaigns_running": running()}

    server = None
    if settings.metrics.enabled:
        try:
            server = MetricsServer(settings.metrics.host, settings.metrics.port, health=health,
                                   skips=store.compliance_skips).start()
        except OSError as exc:
            raise CollbotError(f"cannot serve metrics on {settings.metrics.host}:{settings.metrics.port}: "
                               f"{exc.strerror or exc}") from exc
        log.info("health and metrics on http://%s:%d/health and /metrics", settings.metrics.host, server.port)
    task = asyncio.create_task(purge_forever(settings, store, lambda: dt.datetime.now(dt.UTC)))
    try:
        yield server.port if server is not None else None
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        if server is not None:
            server.close()
