"""`collbot report`: a campaign's figures in total and by round, hour of day and script.

Definitions (also in docs/campaigns.md); every rate is over debtors, not attempts:
    reached          debtors with at least one answered attempt
    right party      reached debtors with an outcome that needs the debtor (``CONVERSATION``:
                     promise, refusal, already paid, dispute, callback, transfer, opt-out);
                     wrong numbers, silence, errors and hang-ups are not counted (a hang-up
                     cannot yet be told apart from one before identification)
    promised         debtors whose latest promise_to_pay in the group is recorded
    kept rate        kept / (kept + broken): pending promises are not judged yet
    recovered        payments made since the day (local) of the campaign's first attempt by the
                     group's debtors
Amounts are summed per currency (the debtor's): 300,000 KRW and 3,000 CNY are never one number.
A debtor called in several rounds, hours or scripts counts in each of them, so breakdown rows
need not add up to the total.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

from bot.campaign.promises import Promise, PromiseState, promise_from, promise_state
from bot.domain import CallResult, Outcome
from bot.errors import StoreError
from bot.store.ledger import CONVERSATION
from bot.store.records import AttemptRecord, Payment
from bot.store.repo import Store

UNKNOWN_SCRIPT = "(not recorded)"


@dataclass(frozen=True, slots=True)
class Figures:
    """One row of the report."""

    label: str
    debtors: int
    attempts: int
    reached: int
    right_party: int
    promises: int
    kept: int
    broken: int
    pending: int
    promised: dict[str, Decimal]  # currency -> sum
    recovered: dict[str, Decimal]

    @property
    def reach_rate(self) -> float | None:
        return rate(self.reached, self.debtors)

    @property
    def ptp_rate(self) -> float | None:
        return rate(self.promises, self.reached)

    @property
    def kept_rate(self) -> float | None:
        return rate(self.kept, self.kept + self.broken)


@dataclass(frozen=True, slots=True)
class Report:
    campaign: str
    zone: str
    today: dt.date
    first_attempt: dt.datetime | None
    total: Figures
    by_round: list[Figures]
    by_hour: list[Figures]
    by_script: list[Figures]
    script_note: str  # where the script names come from


def rate(part: int, whole: int) -> float | None:
    """part / whole, or None when there is nothing to divide by."""
    return part / whole if whole else None


def share(part: int, whole: int) -> str:
    """``3 (42.9%)``; ``0 (-)`` when the whole is zero."""
    value = rate(part, whole)
    return f"{part} ({'-' if value is None else f'{value:.1%}'})"


def build_report(store: Store, campaign: str, *, zone: ZoneInfo, now: dt.datetime,
                 script: str | None = None) -> Report:
    """The report of ``campaign`` as of ``now``; ``script`` names attempts that did not record theirs."""
    if store.campaign_status(campaign) is None:
        raise StoreError(f"no campaign {campaign!r}")
    attempts = store.campaign_attempts(campaign)
    links = store.campaign_links_of(campaign)
    first = min((_when(a) for a in attempts), default=None)
    # From the start of the first attempt's local day: payments imported as dates fall at midnight.
    since = dt.datetime.combine(first.astimezone(zone).date(), dt.time(), zone) if first is not None else None
    payments = store.campaign_payments(campaign, since) if since is not None else []
    debts = store.campaign_debtor_amounts(campaign)
    currencies = store.campaign_debtor_currencies(campaign)
    today = now.astimezone(zone).date()
    fallback = script or UNKNOWN_SCRIPT
    missing = sum(1 for a in attempts if not links.get(a.id, ("", None))[1])
    note = "recorded with each attempt" if not missing else (
        f"{missing} of {len(attempts)} attempts did not record theirs; shown as {fallback!r}"
        + (" (from --script)" if script else ""))

    def figures(label: str, group: list[AttemptRecord]) -> Figures:
        return compute(label, group, payments, debts, zone=zone, today=today, currencies=currencies)

    def grouped(key: Callable[[AttemptRecord], str]) -> list[Figures]:
        groups: dict[str, list[AttemptRecord]] = {}
        for a in attempts:
            groups.setdefault(key(a), []).append(a)
        return [figures(label, group) for label, group in groups.items()]

    hours = sorted(grouped(lambda a: f"{_when(a).astimezone(zone).hour:02d}:00"), key=lambda f: f.label)
    return Report(
        campaign=campaign, zone=zone.key, today=today, first_attempt=first, total=figures("total", attempts),
        by_round=grouped(lambda a: links.get(a.id, ("", None))[0] or "(none)"), by_hour=hours,
        by_script=sorted(grouped(lambda a: links.get(a.id, ("", None))[1] or fallback), key=lambda f: f.label),
        script_note=note)


def compute(label: str, attempts: Iterable[AttemptRecord], payments: Iterable[Payment],
            debts: dict[str, Decimal], *, zone: ZoneInfo, today: dt.date,
            currencies: dict[str, str] | None = None) -> Figures:
    """The figures of one group of attempts (pure: no store, no clock); ``currencies``: debtor id ->
    the currency their amounts are in (payments are in the debt's currency)."""
    currency_of = (currencies or {}).get
    attempts = list(attempts)
    debtors = {a.debtor_id for a in attempts}
    reached = {a.debtor_id for a in attempts if _answered(a)}
    right_party = {a.debtor_id for a in attempts if _answered(a) and a.outcome in CONVERSATION}
    promises: dict[str, Promise] = {}
    for a in sorted(attempts, key=_when):
        if a.outcome == Outcome.PROMISE_TO_PAY:
            promises[a.debtor_id] = promise_from(a.debtor_id, _when(a), a.outcome_detail,
                                                 debts.get(a.debtor_id, Decimal(0)), zone)
    paid: dict[str, list[Payment]] = {}
    for p in payments:
        if p.debtor_id in debtors:
            paid.setdefault(p.debtor_id, []).append(p)
    states = [promise_state(p, paid.get(p.debtor_id, ()), today=today, zone=zone) for p in promises.values()]
    return Figures(
        label=label, debtors=len(debtors), attempts=len(attempts), reached=len(reached),
        right_party=len(right_party), promises=len(promises), kept=states.count(PromiseState.KEPT),
        broken=states.count(PromiseState.BROKEN), pending=states.count(PromiseState.PENDING),
        promised=per_currency((currency_of(p.debtor_id, ""), p.amount) for p in promises.values()),
        recovered=per_currency((currency_of(p.debtor_id, ""), p.amount) for group in paid.values() for p in group))


def per_currency(amounts: Iterable[tuple[str, Decimal]]) -> dict[str, Decimal]:
    """Sums by currency, in currency order."""
    sums: dict[str, Decimal] = {}
    for currency, amount in amounts:
        sums[currency] = sums.get(currency, Decimal(0)) + amount
    return dict(sorted(sums.items()))


def money(sums: dict[str, Decimal]) -> str:
    """``300,000.00 KRW + 3,000.00 CNY``; ``0`` when there is nothing."""
    return " + ".join(f"{amount:,.2f} {currency}".rstrip() for currency, amount in sums.items()) or "0"


def _answered(a: AttemptRecord) -> bool:
    return a.answered_at is not None or a.result == CallResult.ANSWERED


def _when(a: AttemptRecord) -> dt.datetime:
    when = a.dialed_at or a.created_at
    assert when is not None  # the store always sets created_at
    return when


COLUMNS = ("", "debtors", "attempts", "reached", "right party", "promised to pay", "kept", "broken", "pending",
           "amount promised", "amount recovered")


def cells(f: Figures) -> list[str]:
    """One row as text: counts with their percentage of the relevant whole."""
    return [f.label, str(f.debtors), str(f.attempts), share(f.reached, f.debtors), share(f.right_party, f.reached),
            share(f.promises, f.reached), share(f.kept, f.kept + f.broken), str(f.broken), str(f.pending),
            money(f.promised), money(f.recovered)]
