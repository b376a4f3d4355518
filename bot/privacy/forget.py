"""`collbot debtor forget ID`: erase a debtor's personal data and audio, keep the compliance ledger.

Erased: the name, the numbers (replaced by their keyed hash, in the debtor, its attempts and its
suppressions), free-form data (extra, tags), what was said and played in its calls (call event data
except the dialogue's step names), every recording, and the cached prompt WAVs that spoke the
debtor's data, name or amount (listed by each call's prompt manifest, bot.privacy.prompts). Kept:
the debtor id, the debt (amount, currency, due date), every attempt's times, result and outcome,
compliance decisions, contact requests and payments, so caps, suppressions and reports still hold.
A forgotten debtor is never selected by a campaign again (its number is no longer a number).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from bot.config import Settings
from bot.privacy.keys import load_key, number_hash
from bot.privacy.prompts import is_personal, played, prompt_digest
from bot.store.repo import Store, open_store


@dataclass(frozen=True)
class Forgotten:
    attempts: int
    events: int
    recordings: int
    prompts: int = 0  # cached prompt WAVs that spoke the debtor's data

    def line(self) -> str:
        return (f"{self.attempts} attempts pseudonymized, {self.events} call events erased, "
                f"{self.recordings} recording folders and {self.prompts} prompts with their data deleted; "
                "the compliance ledger is kept")


def forget(settings: Settings, debtor_id: str, *, by: str) -> Forgotten:
    key = load_key(settings.privacy.key_file)
    spool = settings.host_path(settings.asterisk.spool_dir)
    with open_store(settings.database.url) as store:
        personal = _personal_prompts(store, debtor_id)  # read before the erasure
        attempts, events = store.forget_debtor(debtor_id, lambda number: number_hash(number, key), by=by)
    prompts = _delete_prompts(settings, spool, personal)
    removed = 0
    for attempt_id in attempts:
        folder = spool / attempt_id
        if folder.is_dir():
            shutil.rmtree(folder)
            removed += 1
        for leftover in spool.glob(f"{attempt_id}-*"):
            leftover.unlink(missing_ok=True)
    return Forgotten(len(attempts), events, removed, prompts)


def _personal_prompts(store: Store, debtor_id: str) -> dict[str, set[str]]:
    """Per attempt, the digests of the prompts played to the debtor that spoke their data."""
    out: dict[str, set[str]] = {}
    for attempt, name, data in store.prompts_played([a.id for a in store.attempts_for(debtor_id)]):
        if is_personal(data, name):
            out.setdefault(attempt, set()).add(prompt_digest(str(data["text"])))
    return out


def _delete_prompts(settings: Settings, spool: Path, personal: dict[str, set[str]]) -> int:
    """Delete the cached prompt WAVs (synthesized with the debtor's data) that the calls' manifests list."""
    cache = settings.tts_cache_dir()
    deleted = 0
    for attempt_id, digests in personal.items():
        for name in played(spool / attempt_id, digests):
            target = cache / name
            if target.exists():
                target.unlink()
                deleted += 1
    return deleted
