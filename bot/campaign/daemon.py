"""`collbot serve`: every registered campaign runs in its schedule windows, in one process.

Every few seconds the daemon reads the registered campaigns. An active one whose window is open
and that has not finished its work for that window gets a runner; a runner whose campaign was
paused, cancelled or re-registered with another definition is stopped (its calls in flight
finish) and, once it has ended, replaced if the campaign is still due. Progress lives in the
database, so a restarted daemon carries on where the last one stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bot.campaign.runner import CampaignRunner, Clock, Progress
from bot.campaign.spec import Campaign
from bot.campaign.windows import Window, next_window, start_now
from bot.errors import CollbotError
from bot.store.definitions import Registered
from bot.store.repo import Store

log = logging.getLogger(__name__)

RETRY_AFTER = dt.timedelta(minutes=1)  # after a failed run, or a definition that does not load

Load = Callable[[Registered], Awaitable[Campaign]]
Start = Callable[[Campaign], Awaitable[CampaignRunner]]


@dataclass
class Summary:
    """What one `serve` did."""

    runs: int = 0
    calls: int = 0
    failed_runs: int = 0
    results: Counter[str] = field(default_factory=Counter)

    def line(self) -> str:
        results = ", ".join(f"{k} {v}" for k, v in sorted(self.results.items()))
        failed = f", {self.failed_runs} failed" if self.failed_runs else ""
        return f"{self.runs} campaign run(s){failed}, {self.calls} call(s)" + (f": {results}" if results else "")


@dataclass
class _Run:
    sha256: str
    window: Window
    runner: CampaignRunner
    task: asyncio.Task[Progress]


@dataclass
class _Loaded:
    sha256: str
    campaign: Campaign | None  # None: the definition or a script does not load
    retry_at: dt.datetime | None = None
    error: str = ""


class Daemon:
    """``load`` turns a stored definition into a checked campaign; ``start`` gives its runner."""

    def __init__(self, store: Store, *, load: Load, start: Start, clock: Clock | None = None,
                 poll_s: float = 5.0):
        self.store = store
        self.load = load
        self.start = start
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self.poll_s = poll_s
        self.summary = Summary()
        self._runs: dict[str, _Run] = {}
        self._loaded: dict[str, _Loaded] = {}
        self._done: dict[str, tuple[str, dt.datetime]] = {}  # name -> (sha256, end of the window done)
        self._not_before: dict[str, dt.datetime] = {}  # name -> no new run before (after a failure)
        self._announced: dict[str, object] = {}
        self._stop = asyncio.Event()

    def stop(self) -> None:
        """Place no new calls; calls in flight finish, then ``run`` returns (SIGTERM, SIGINT)."""
        if not self._stop.is_set():
            log.warning("stopping: calls in flight finish, no new call is placed")
        self._stop.set()
        for run in self._runs.values():
            run.runner.stop()

    @property
    def running(self) -> list[str]:
        return sorted(name for name, run in self._runs.items() if not run.task.done())

    async def run(self) -> Summary:
        """Poll until stopped, then wait for every runner to end."""
        while not self._stop.is_set():
            await self.poll()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.poll_s)
        for run in self._runs.values():
            run.runner.stop()
        await asyncio.gather(*(run.task for run in self._runs.values()), return_exceptions=True)
        for name in list(self._runs):
            self._collect(name)
        return self.summary

    async def poll(self) -> None:
        """One look at the registered campaigns: stop, collect and start runners."""
        for registered in self.store.registered_campaigns():
            if self._stop.is_set():
                return
            name = registered.name
            run = self._runs.get(name)
            if run is not None and run.task.done():
                self._collect(name)
                run = None
            if run is not None:
                if registered.status != "active" or registered.sha256 != run.sha256:
                    if not run.runner.stopping:
                        log.info("campaign %s: %s; its calls in flight finish", name,
                                 registered.status if registered.status != "active" else "definition changed")
                    run.runner.stop()
                continue
            if registered.status == "active":
                await self._maybe_start(registered)

    async def _maybe_start(self, registered: Registered) -> None:
        name, now = registered.name, self.clock()
        if now < self._not_before.get(name, now):
            return
        campaign = await self._campaign(registered, now)
        if campaign is None:
            return
        done = self._done.get(name)
        done_until = done[1] if done is not None and done[0] == registered.sha256 else None
        window = start_now(campaign.schedule, now, done_until=done_until)
        if window is None:
            upcoming = next_window(campaign.schedule, now, done_until=done_until)
            if self._announced.get(name) != (registered.sha256, upcoming):
                self._announced[name] = (registered.sha256, upcoming)
                when = f"{upcoming.start:%Y-%m-%d %H:%M} UTC" if upcoming else "never (no working day left)"
                log.info("campaign %s: next window opens %s", name, when)
            return
        runner = await self.start(campaign)
        self._runs[name] = _Run(registered.sha256, window, runner,
                                asyncio.create_task(runner.run(), name=f"collbot-campaign-{name}"))
        self._announced.pop(name, None)
        log.info("campaign %s: running until %s UTC at the latest", name, f"{window.end:%Y-%m-%d %H:%M}")

    async def _campaign(self, registered: Registered, now: dt.datetime) -> Campaign | None:
        """The checked campaign for this definition, loaded once per definition."""
        loaded = self._loaded.get(registered.name)
        if loaded is not None and loaded.sha256 == registered.sha256 and (
                loaded.campaign is not None or (loaded.retry_at is not None and now < loaded.retry_at)):
            return loaded.campaign
        try:
            campaign: Campaign | None = await self.load(registered)
            error = ""
        except CollbotError as exc:
            campaign, error = None, str(exc)
            if loaded is None or loaded.error != error or loaded.sha256 != registered.sha256:
                log.error("campaign %s: its definition cannot run (tried again every %ds): %s", registered.name,
                          RETRY_AFTER.seconds, error.replace("\n", "; "))
        self._loaded[registered.name] = _Loaded(registered.sha256, campaign, now + RETRY_AFTER, error)
        return campaign

    def _collect(self, name: str) -> None:
        """Account for a runner that ended and remember what it finished."""
        run = self._runs.pop(name)
        if not run.task.done():  # pragma: no cover - only called for ended tasks
            return
        try:
            progress = run.task.result()
        except (Exception, asyncio.CancelledError) as exc:
            self.summary.failed_runs += 1
            self._not_before[name] = self.clock() + RETRY_AFTER
            log.error("campaign %s: the run failed (%s: %s); trying again in %ds", name, type(exc).__name__,
                      str(exc).replace("\n", "; "), RETRY_AFTER.seconds)
            return
        self.summary.runs += 1
        self.summary.calls += progress.done
        self.summary.results.update(progress.results)
        # A runner that ended by itself finished its rounds or reached the window's end; one that
        # was stopped (pause, cancel, a new definition, SIGTERM) may be due again in this window.
        if not run.runner.stopping:
            self._done[name] = (run.sha256, run.window.end)
        log.info("campaign %s: run ended (%s), %d call(s)", name,
                 "stopped" if run.runner.stopping else self.store.campaign_status(name), progress.done)
