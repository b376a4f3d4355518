"""Retention: recordings and transcripts older than their campaign pack's ``retention_days`` (else
``privacy.retention_days``) are deleted; attempts, outcomes and decisions (the ledger) stay.

So are the cached prompt WAVs an expired call played that spoke the debtor's data (its manifest
and its PROMPT events say which, bot.privacy.prompts), unless one was used again within the
retention: the synthesizer sets a cached file's access time on every use, and a newer call still in retention
that played it will purge it when it expires. A shared prompt (no debtor data) is never deleted."""

from __future__ import annotations

import datetime as dt
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.campaign.compliance import PACKS
from bot.config import Settings
from bot.privacy.prompts import is_personal, played, prompt_digest
from bot.store.repo import Store, open_store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Purged:
    attempts: int
    recordings: int
    transcripts: int
    prompts: int = 0  # cached prompt WAVs that spoke a debtor's data

    def line(self) -> str:
        return (f"{self.recordings} recording folders, {self.prompts} personal prompts and {self.transcripts} "
                f"transcript events of {self.attempts} expired attempts")


def retention_by_campaign(store: Store, settings: Settings) -> dict[str, int]:
    """Each registered campaign's retention in days: its pack's, else the setting."""
    out = {}
    for registered in store.registered_campaigns():
        days = settings.privacy.retention_days
        definition = registered.definition
        if definition:
            try:
                pack = ((yaml.safe_load(definition) or {}).get("compliance") or {}).get("pack", "default")
            except (yaml.YAMLError, AttributeError):
                pack = "default"
            rules = PACKS.get(pack)
            if rules is not None and rules.retention_days is not None:
                days = rules.retention_days
        out[registered.name] = days
    return out


def purge(settings: Settings, *, now: dt.datetime, dry_run: bool = False) -> Purged:
    with open_store(settings.database.url) as store:
        return purge_store(store, settings, now=now, dry_run=dry_run)


def purge_store(store: Store, settings: Settings, *, now: dt.datetime, dry_run: bool = False) -> Purged:
    shortest = min([settings.privacy.retention_days, *(r.retention_days for r in PACKS.values() if r.retention_days)])
    days = retention_by_campaign(store, settings)
    default = settings.privacy.retention_days
    expired: dict[str, dt.datetime] = {}  # attempt id -> its retention cutoff
    for attempt, campaign, ended in store.ended_attempts(now - dt.timedelta(days=shortest)):
        cutoff = now - dt.timedelta(days=days.get(campaign or "", default))
        if ended < cutoff:
            expired[attempt] = cutoff
    spool = settings.host_path(settings.asterisk.spool_dir)
    folders = {a: spool / a for a in expired if (spool / a).is_dir()}
    # Before the folders go: their manifests are the only record of which cached files a call played.
    prompts = _purge_prompts(store, settings, {a: (f, expired[a]) for a, f in folders.items()}, dry_run=dry_run)
    if not dry_run:
        for folder in folders.values():
            shutil.rmtree(folder)
    transcripts = store.purge_transcripts(list(expired), dry_run=dry_run)
    if (folders or transcripts) and not dry_run:
        log.info("retention: purged %d recording folders, %d personal prompts and %d transcript events",
                 len(folders), prompts, transcripts)
    return Purged(len(expired), len(folders), transcripts, prompts)


def _purge_prompts(store: Store, settings: Settings, calls: dict[str, tuple[Path, dt.datetime]], *,
                   dry_run: bool) -> int:
    """Delete the personal cached prompts these expired calls played and nobody used since their cutoff."""
    personal: dict[str, set[str]] = {}
    for attempt, name, data in store.prompts_played(list(calls)):
        if is_personal(data, name):
            personal.setdefault(attempt, set()).add(prompt_digest(str(data["text"])))
    cache = settings.tts_cache_dir()
    deleted: set[str] = set()
    for attempt, digests in personal.items():
        folder, cutoff = calls[attempt]
        for name in played(folder, digests):
            target = cache / name
            try:
                used = target.stat()
                if name in deleted or max(used.st_atime, used.st_mtime) >= cutoff.timestamp():
                    continue
                if not dry_run:
                    target.unlink()
            except FileNotFoundError:
                continue
            deleted.add(name)
    return len(deleted)
