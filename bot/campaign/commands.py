"""What `collbot run` and `collbot campaign ...` do, as async functions the tests call too."""

from __future__ import annotations

import datetime as dt
import fcntl
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bot.campaign.runner import CampaignRunner, Progress
from bot.campaign.spec import Campaign, Round, read_campaign
from bot.config import Settings
from bot.controller import Controller
from bot.dialogue.compiler import CompiledScript
from bot.domain import CallResult, Debtor, Outcome
from bot.errors import ConfigError, StoreError
from bot.phone import normalize
from bot.speech.asr import Recognizer
from bot.speech.tts import Synthesizer
from bot.store.repo import Store, open_store


@dataclass
class DryRunRow:
    debtor_id: str
    allow: bool
    reason: str
    detail: str


def _scripts(settings: Settings, campaign: Campaign) -> dict[Path, CompiledScript]:
    """Every script the campaign uses, checked and compiled before anything is dialled."""
    from bot.commands import compiled_script

    paths = {campaign.script, *(r.script for r in campaign.rounds if r.script)}
    compiled = {}
    for path in paths:
        assert path is not None
        try:
            compiled[path] = compiled_script(settings, path)
        except ConfigError as exc:
            raise ConfigError(f"campaign {campaign.campaign!r} cannot start: its script does not pass the "
                              f"check:\n{exc}") from exc
    return compiled


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
                raise StoreError("another collbot run uses this SQLite database; SQLite allows one runner "
                                 "(use PostgreSQL for several)") from None
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            os.close(self._fd)


def _normalizer(settings: Settings) -> Callable[[str], str]:
    return lambda raw: normalize(raw, default_region=settings.dial.default_region,
                                 allowed_countries=settings.dial.allowed_countries)


async def run_campaign(settings: Settings, path: Path, *,
                       on_progress: Callable[[Progress], None] | None = None,
                       handle_signals: bool = True) -> Progress:
    campaign = read_campaign(path)
    scripts = _scripts(settings, campaign)
    store = open_store(settings.database.url)
    try:
        with SingleWriter(settings.database.url):
            status = store.ensure_campaign(campaign.campaign)
            if status in ("paused", "cancelled"):
                raise StoreError(f"campaign {campaign.campaign!r} is {status}; "
                                 f"`collbot campaign resume {campaign.campaign}` first")
            return await _run(settings, campaign, scripts, store, on_progress, handle_signals)
    finally:
        store.close()


async def _run(settings: Settings, campaign: Campaign, scripts: dict[Path, CompiledScript], store: Store,
               on_progress: Callable[[Progress], None] | None, handle_signals: bool) -> Progress:
    main = scripts[campaign.script]
    rate = main.script.rate or settings.tts.rate
    async with Synthesizer(settings.tts_cache_dir(), rate=rate, workers=settings.tts.workers,
                           shape=settings.prompt_shape()) as synth, \
            Recognizer(settings.speech.model_dir, workers=settings.speech.workers,
                       sample_rate=settings.speech.sample_rate) as recognizer, \
            Controller(settings, store, script=main, recognizer=recognizer, synth=synth) as controller:

        async def place(attempt_id: str, debtor: Debtor, rnd: Round) -> tuple[CallResult, Outcome | None]:
            report = await controller.call(
                debtor, attempt_id=attempt_id, script=scripts[rnd.script] if rnd.script else main,
                ring_timeout_s=rnd.ring_timeout_s, caller_id=rnd.caller_id)
            return report.result, report.outcome

        runner = CampaignRunner(campaign, store, place=place, normalize=_normalizer(settings),
                                on_progress=on_progress)
        if handle_signals:
            runner.install_signal_handlers()
        return await runner.run()


def dry_run(settings: Settings, path: Path, now: dt.datetime | None = None) -> list[DryRunRow]:
    """What the campaign would do now for each debtor of its first pending round, and why."""
    campaign = read_campaign(path)
    _scripts(settings, campaign)
    store = open_store(settings.database.url)
    try:
        clock = (lambda: now) if now else None

        async def never(*_: object) -> tuple[CallResult, Outcome | None]:
            raise AssertionError("a dry run places no call")

        runner = CampaignRunner(campaign, store, place=never, normalize=_normalizer(settings), clock=clock)
        rnd = next((r for r in campaign.rounds if not store.round_finished(campaign.campaign, r.name)), None)
        if rnd is None:
            return []
        rows = []
        for debtor in runner._pool(rnd):
            decision = runner._decide(debtor)
            rows.append(DryRunRow(debtor.id, decision.allow, decision.reason, decision.detail))
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
        return {"campaign": name, "status": state, "attempts": len(attempts),
                "debtors": len({a.debtor_id for a in attempts}), "results": results}
    finally:
        store.close()


__all__ = ["dry_run", "run_campaign", "set_status", "status_of"]
