"""`collbot export`: a campaign's results as CSV, one row per debtor or per attempt.

Streamed a page of attempts at a time, so memory does not grow with the campaign; phone
numbers masked unless asked; cells a spreadsheet would run as formulas neutralized (numbers
stay numbers).
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from bot.campaign.csvsafe import neutralize
from bot.campaign.spec import DebtorFilter
from bot.domain import Debtor
from bot.errors import StoreError
from bot.phone import mask
from bot.store.records import AttemptRecord
from bot.store.repo import Store

DEBTOR_COLUMNS = ("debtor_id", "name", "phone", "amount", "currency", "outcome", "ptp_date", "ptp_amount",
                  "callback_at", "attempts", "last_result", "last_attempt_at", "talk_seconds", "script")
DEBTORS_PER_QUERY = 500  # ids in one IN (...) list: well under SQLite's 999 parameters
DEBTORS_PER_PAGE = 500  # debtors whose attempts are read at once: memory is bounded by this, not the campaign
ATTEMPT_COLUMNS = ("attempt_id", "debtor_id", "round", "phone", "state", "result", "hangup_cause", "outcome",
                   "dialed_at", "answered_at", "ended_at", "talk_seconds", "compliance_reason")


def _iso(value: object) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else ("" if value is None else str(value))


def debtor_rows(store: Store, campaign: str, *, full_phone: bool, script: str) -> Iterator[dict[str, str]]:
    """``script`` names the script for debtors none of whose attempts recorded theirs (before 0004)."""
    for debtor, attempts, scripts in _by_debtor(store, campaign):
        last = attempts[-1]
        used = next((scripts[a.id] for a in reversed(attempts) if scripts.get(a.id)), script)
        final = next((a for a in reversed(attempts) if a.outcome is not None), None)
        detail = final.outcome_detail if final else {}
        yield {
            "debtor_id": debtor.id, "name": debtor.name,
            "phone": debtor.phone if full_phone else mask(debtor.phone),
            "amount": str(debtor.amount), "currency": debtor.currency,
            "outcome": final.outcome.value if final and final.outcome else "",
            "ptp_date": str(detail.get("promise_date") or ""), "ptp_amount": str(detail.get("promise_amount") or ""),
            "callback_at": str(detail.get("callback_at") or ""), "attempts": str(len(attempts)),
            "last_result": last.result.value if last.result else last.state.value,
            "last_attempt_at": _iso(last.dialed_at or last.created_at),
            "talk_seconds": str(sum(a.talk_seconds or 0 for a in attempts)), "script": used,
        }


def _by_debtor(store: Store, campaign: str) -> Iterator[tuple[Debtor, list[AttemptRecord], dict[str, str]]]:
    """Each debtor with their attempts, oldest first, and the scripts they used (attempt id -> name),
    read a page of debtors at a time: only one page of attempts and their debtors is in memory at once."""
    for page in store.campaign_attempt_pages(campaign, debtors=DEBTORS_PER_PAGE):
        groups: dict[str, list[AttemptRecord]] = {}
        for attempt, _, _ in page:
            groups.setdefault(attempt.debtor_id, []).append(attempt)
        scripts = store.attempt_scripts([a.id for a, _, _ in page])
        for debtor in _debtors(store, list(groups)):
            yield debtor, groups[debtor.id], scripts


def _debtors(store: Store, ids: list[str]) -> Iterator[Debtor]:
    """The debtors with these ids, in this order, read DEBTORS_PER_QUERY at a time (one query
    per debtor made a large export take minutes)."""
    for start in range(0, len(ids), DEBTORS_PER_QUERY):
        wanted = ids[start:start + DEBTORS_PER_QUERY]
        found = {d.id: d for d in store.debtors_for(DebtorFilter(ids=wanted), today=dt.date.today())}
        for debtor_id in wanted:
            if debtor_id not in found:
                raise StoreError(f"no debtor {debtor_id!r}")
            yield found[debtor_id]


def attempt_rows(store: Store, campaign: str, *, full_phone: bool) -> Iterator[dict[str, str]]:
    for page in store.campaign_attempt_pages(campaign, debtors=DEBTORS_PER_PAGE):
        for a, round_name, reason in page:
            yield {
                "attempt_id": a.id, "debtor_id": a.debtor_id, "round": round_name,
                "phone": a.phone if full_phone else mask(a.phone), "state": a.state.value,
                "result": a.result.value if a.result else "", "hangup_cause": _iso(a.hangup_cause),
                "outcome": a.outcome.value if a.outcome else "", "dialed_at": _iso(a.dialed_at),
                "answered_at": _iso(a.answered_at), "ended_at": _iso(a.ended_at),
                "talk_seconds": _iso(a.talk_seconds), "compliance_reason": reason,
            }


def write_csv(rows: Iterator[dict[str, str]], columns: tuple[str, ...], out: IO[str]) -> int:
    writer = csv.writer(out)
    writer.writerow(columns)
    count = 0
    for row in rows:
        writer.writerow([neutralize(row[c]) for c in columns])
        count += 1
    return count


def export(store: Store, campaign: str, path: Path, *, attempts: bool, full_phone: bool, script: str) -> int:
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", newline="", encoding="utf-8") as out:
        if attempts:
            count = write_csv(attempt_rows(store, campaign, full_phone=full_phone), ATTEMPT_COLUMNS, out)
        else:
            count = write_csv(debtor_rows(store, campaign, full_phone=full_phone, script=script), DEBTOR_COLUMNS, out)
    tmp.replace(path)  # a half-written export is never left under the real name
    return count
