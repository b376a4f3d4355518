"""What `collbot run`, `collbot serve` and `collbot campaign ...` do, as functions the tests call too."""

from __future__ import annotations

import asyncio
import datetime as dt
import fcntl
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bot.campaign.daemon import Daemon, Summary
from bot.campaign.engine import CallEngine, normalizer
from bot.campaign.registry import Registration, checked_scripts, load_registered, register
from bot.campaign.runner import CampaignRunner, Progress
from bot.campaign.spec import Campaign, read_campaign, script_for
from bot.config import Settings
from bot.dialogue.compiler import CompiledScript
from bot.domain import CallResult, Outcome
from bot.errors import StoreError
from bot.privacy.keys import Hasher
from bot.privacy.service import beside_serve
from bot.store.definitions import Registered
from bot.store.repo import open_store


@dataclass
class DryRunRow:
    debtor_id: str
    allow: bool
    reason: str
    detail: str
    round: str = ""


def schedule_block(campaign: Campaign, now: dt.datetime) -> str | None:
    """Why the campaign's schedule places no call at ``now``, or None when it is inside it."""
    from zoneinfo import ZoneInfo

    from bot.campaign.windows import works_on

    spec = campaign.schedule
    local = now.astimezone(ZoneInfo(spec.timezone))
    if not works_on(spec, local.date()):
        return f"{local:%a %Y-%m-%d} is not a working day of the schedule ({spec.timezone})"
    if not spec.start <= local.time() < spec.end:
        return (f"it is {local:%H:%M} in {spec.timezone}; the schedule calls {spec.start:%H:%M}-{spec.end:%H:%M}")
    return None


class SingleWriter:
    """Refuse a second campaign runner on the same SQLite database (a file lock)."""

    def __init__(self, url: str):
        self.path: Path | None = None
        if url.startswith("sqlite:///"):
            self.path = Path(url.removeprefix("sqlite:///") + ".run.lock")
        self._fd: int | None = None

    def __enter__(self) -> SingleWriter:
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600)
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(self._fd)
                raise StoreError("another collbot run or serve uses this SQLite database; SQLite allows one "
                                 "runner (use PostgreSQL for several)") from None
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            os.close(self._fd)


async def run_campaign(settings: Settings, path: Path, *,
                       on_progress: Callable[[Progress], None] | None = None,
                       handle_signals: bool = True) -> Progress:
    campaign = read_campaign(path)
    scripts = checked_scripts(settings, campaign)
    store = open_store(settings.database.url, number_hash=Hasher(settings.privacy.key_file))
    try:
        with SingleWriter(settings.database.url):
            status = store.ensure_campaign(campaign.campaign)
            if status in ("paused", "cancelled"):
                raise StoreError(f"campaign {campaign.campaign!r} is {status}; "
                                 f"`collbot campaign resume {campaign.campaign}` first")
            async with CallEngine(settings, store) as engine:
                runner = await engine.runner(campaign, scripts, on_progress=on_progress)
                if handle_signals:
                    runner.install_signal_handlers()
                return await runner.run()
    finally:
        store.close()


async def serve(settings: Settings, *, poll_s: float = 5.0, handle_signals: bool = True) -> Summary:
    """Run every registered campaign in its windows until SIGTERM/SIGINT (see bot.campaign.daemon)."""
    daemon: Daemon | None = None
    stopping = asyncio.Event()

    def on_signal() -> None:  # also while starting up: then nothing is ever dialled
        stopping.set()
        if daemon is not None:
            daemon.stop()

    if handle_signals:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, on_signal)
    store = open_store(settings.database.url, number_hash=Hasher(settings.privacy.key_file))
    try:
        with SingleWriter(settings.database.url):
            async with CallEngine(settings, store) as engine:
                async def load(registered: Registered) -> Campaign:
                    campaign, scripts = await asyncio.to_thread(load_registered, settings, registered)
                    compiled[campaign.campaign] = scripts
                    return campaign

                async def start(campaign: Campaign) -> CampaignRunner:
                    return await engine.runner(campaign, compiled[campaign.campaign])

                compiled: dict[str, dict[Path, CompiledScript]] = {}
                daemon = Daemon(store, load=load, start=start, poll_s=poll_s)
                if stopping.is_set():
                    return daemon.summary
                async with beside_serve(settings, store, lambda: daemon.running):  # purge, /health, /metrics
                    return await daemon.run()
    finally:
        store.close()


def add_campaign(settings: Settings, path: Path) -> Registration:
    return register(settings, path)


def list_campaigns(settings: Settings) -> list[Registered]:
    store = open_store(settings.database.url)
    try:
        return store.registered_campaigns()
    finally:
        store.close()


def dry_run(settings: Settings, path: Path, now: dt.datetime | None = None) -> list[DryRunRow]:
    """What the campaign would do now for each debtor of its first pending round, and why."""
    campaign = read_campaign(path)
    checked_scripts(settings, campaign)
    store = open_store(settings.database.url, number_hash=Hasher(settings.privacy.key_file))
    try:
        clock = (lambda: now) if now else None

        async def never(*_: object) -> tuple[CallResult, Outcome | None]:
            raise AssertionError("a dry run places no call")

        runner = CampaignRunner(campaign, store, place=never, normalize=normalizer(settings), clock=clock)
        rnd = next((r for r in campaign.rounds if not store.round_finished(campaign.campaign, r.name)), None)
        if rnd is None:
            return []
        closed = schedule_block(campaign, runner.clock())
        rows = []
        for debtor in runner._pool(rnd):
            if script_for(campaign, rnd.script, debtor.language) is None:  # skipped, never the wrong script
                rows.append(DryRunRow(debtor.id, False, "no_script_for_language",
                                      f"warning: language {debtor.language!r} has no script in this campaign",
                                      rnd.name))
                continue
            decision = runner._decide(debtor)
            if closed is not None and decision.allow:
                rows.append(DryRunRow(debtor.id, False, "outside_schedule", closed, rnd.name))
                continue
            detail = decision.detail + (f" (and the schedule: {closed})" if closed is not None else "")
            rows.append(DryRunRow(debtor.id, decision.allow, decision.reason, detail, rnd.name))
        return rows
    finally:
        store.close()


def set_status(settings: Settings, name: str, status: str) -> None:
    store = open_store(settings.database.url)
    try:
        store.set_campaign_status(name, status)
    finally:
        store.close()


def status_of(settings: Settings, name: str) -> dict[str, object]:
    store = open_store(settings.database.url)
    try:
        state = store.campaign_status(name)
        if state is None:
            raise StoreError(f"no campaign {name!r}")
        attempts = store.campaign_attempts(name)
        results: dict[str, int] = {}
        for a in attempts:
            key = a.outcome.value if a.outcome else (a.result.value if a.result else a.state.value)
            results[key] = results.get(key, 0) + 1
        from zoneinfo import ZoneInfo

        from bot.campaign.followup import summary_lines as followup_lines
        from bot.campaign.interrupted import summary_lines
        from bot.campaign.report import build_report, money

        report = build_report(store, name, zone=ZoneInfo("UTC"), now=dt.datetime.now(dt.UTC))
        return {"campaign": name, "status": state, "attempts": len(attempts),
                "debtors": len({a.debtor_id for a in attempts}), "results": results,
                "interrupted": summary_lines(store, name) + followup_lines(store, name),
                "promised": money(report.total.promised), "recovered": money(report.total.recovered)}
    finally:
        store.close()


__all__ = ["add_campaign", "dry_run", "list_campaigns", "run_campaign", "serve", "set_status", "status_of"]
