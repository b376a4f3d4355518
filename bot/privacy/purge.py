"""Retention: recordings and transcripts older than their campaign pack's ``retention_days`` (else
``privacy.retention_days``) are deleted; attempts, outcomes and decisions (the ledger) stay."""

from __future__ import annotations

import datetime as dt
import logging
import shutil
from dataclasses import dataclass

import yaml

from bot.campaign.compliance import PACKS
from bot.config import Settings
from bot.store.repo import Store, open_store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Purged:
    attempts: int
    recordings: int
    transcripts: int

    def line(self) -> str:
        return (f"{self.recordings} recording folders and {self.transcripts} transcript events of "
                f"{self.attempts} expired attempts")


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
    expired = [a for a, campaign, ended in store.ended_attempts(now - dt.timedelta(days=shortest))
               if ended < now - dt.timedelta(days=days.get(campaign or "", default))]
    spool = settings.host_path(settings.asterisk.spool_dir)
    folders = [spool / a for a in expired if (spool / a).is_dir()]
    if not dry_run:
        for folder in folders:
            shutil.rmtree(folder)
    transcripts = store.purge_transcripts(expired, dry_run=dry_run)
    if (folders or transcripts) and not dry_run:
        log.info("retention: purged %d recording folders and %d transcript events", len(folders), transcripts)
    return Purged(len(expired), len(folders), transcripts)

