"""`collbot debtor forget ID`: erase a debtor's personal data and audio, keep the compliance ledger.

Erased: the name, the numbers (replaced by their keyed hash, in the debtor, its attempts and its
suppressions), free-form data (extra, tags), what was said and played in its calls (call event data
except the dialogue's step names) and every recording. Kept: the debtor id, the debt (amount,
currency, due date), every attempt's times, result and outcome, compliance decisions, contact
requests and payments, so caps, suppressions and reports still hold. A forgotten debtor is never
selected by a campaign again (its number is no longer a number).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass

from bot.config import Settings
from bot.privacy.keys import load_key, number_hash
from bot.store.repo import open_store


@dataclass(frozen=True)
class Forgotten:
    attempts: int
    events: int
    recordings: int

    def line(self) -> str:
        return (f"{self.attempts} attempts pseudonymized, {self.events} call events erased, "
                f"{self.recordings} recording folders deleted; the compliance ledger is kept")


def forget(settings: Settings, debtor_id: str, *, by: str) -> Forgotten:
    key = load_key(settings.privacy.key_file)
    with open_store(settings.database.url) as store:
        attempts, events = store.forget_debtor(debtor_id, lambda number: number_hash(number, key), by=by)
    spool = settings.host_path(settings.asterisk.spool_dir)
    removed = 0
    for attempt_id in attempts:
        folder = spool / attempt_id
        if folder.is_dir():
            shutil.rmtree(folder)
            removed += 1
        for leftover in spool.glob(f"{attempt_id}-*"):
            leftover.unlink(missing_ok=True)
    return Forgotten(len(attempts), events, removed)
