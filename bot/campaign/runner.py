"""Runs a campaign: rounds of calls, retries by result, pacing, and the compliance gate.

The ledger lives in the database: every attempt is claimed (a row, unique while active per
debtor and per number) before it is dialled, every compliance decision is stored, and on
start every attempt a previous run left in flight is reconciled, never blindly re-dialled.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import heapq
import logging
import signal
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from bot.campaign import compliance, retry
from bot.campaign.reconcile import Channels, reconcile
from bot.campaign.spec import Campaign, Round, parse_duration
from bot.campaign.windows import works_on
from bot.campaign.zones import zones_for
from bot.domain import CallResult, Debtor, Outcome
from bot.errors import StoreError
from bot.store.repo import ClaimRefused, Store

log = logging.getLogger(__name__)
Clock = Callable[[], dt.datetime]
SUPPRESSING = {Outcome.OPT_OUT: "opt_out", Outcome.WRONG_NUMBER: "wrong_number"}
RETRYABLE = {CallResult.NO_ANSWER, CallResult.BUSY, CallResult.CONGESTION, CallResult.FAILED}


@dataclass
class Progress:
    round: str = ""
    in_flight: int = 0
    done: int = 0
    skipped: int = 0
    results: dict[str, int] = field(default_factory=dict)


@dataclass(order=True)
class _Due:
    at: dt.datetime
    debtor_id: str = field(compare=False)


def rules_for(campaign: Campaign) -> compliance.Rules:
    spec = campaign.compliance
    data = {k: v for k, v in spec.model_dump().items() if v is not None and k not in ("pack", "default_timezone")}
    if not data:
        return compliance.PACKS[spec.pack] if spec.pack in compliance.PACKS else compliance.rules_from_mapping(
            {"base": spec.pack})
    return compliance.rules_from_mapping({"base": spec.pack, **data})


def policy_for(campaign: Campaign) -> retry.RetryPolicy:
    if not campaign.retry:
        return retry.RetryPolicy.default()
    return retry.RetryPolicy.from_mapping({k: v.model_dump() for k, v in campaign.retry.items()})


def read_dnc(campaign: Campaign, normalize: Callable[[str], str]) -> set[str]:
    if campaign.dnc is None:
        return set()
    numbers = set()
    for raw in campaign.dnc.read_text(encoding="utf-8").splitlines():
        raw = raw.split("#", 1)[0].strip()
        if raw:
            numbers.add(normalize(raw))
    return numbers


class CampaignRunner:
    """One campaign run; ``place`` dials a claimed attempt and returns its result and outcome;
    ``asterisk`` is asked, on start, which attempts a dead controller left still have a channel."""

    def __init__(self, campaign: Campaign, store: Store, *, place: Callable[..., object],
                 normalize: Callable[[str], str], clock: Clock | None = None,
                 on_progress: Callable[[Progress], None] | None = None, asterisk: Channels | None = None):
        self.c = campaign
        self.store = store
        self.place = place
        self.asterisk = asterisk
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self.rules = rules_for(campaign)
        self.policy = policy_for(campaign)
        self.dnc = read_dnc(campaign, normalize)
        self.progress = Progress()
        self.on_progress = on_progress or (lambda p: None)
        self._stop = asyncio.Event()
        self._cut_off = False  # the schedule ended before the round did
        self._gate = asyncio.Semaphore(campaign.limits.max_concurrent)
        self._last_originate = 0.0
        self._pace = asyncio.Lock()

    # --- control --------------------------------------------------------------------------
    def stop(self) -> None:
        """Place no new calls; calls in flight finish (SIGTERM, pause, cancel)."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop)

    def _halted(self) -> bool:
        if self._stop.is_set():
            return True
        status = self.store.campaign_status(self.c.campaign)
        if status in ("paused", "cancelled"):
            self._stop.set()
            return True
        return False

    # --- the run --------------------------------------------------------------------------
    async def run(self) -> Progress:
        await reconcile(self.store, self.c.campaign, self.asterisk)
        self.store.ensure_campaign(self.c.campaign)
        if not self._working_day():
            log.info("campaign %s does not work today (schedule days/dates)", self.c.campaign)
            return self.progress
        await self._until(self._schedule_time(self.c.schedule.start))
        for index, rnd in enumerate(self.c.rounds):
            if self._halted() or self.clock() >= self._schedule_end():
                break
            if self.store.round_finished(self.c.campaign, rnd.name):
                continue
            await self._wait_round(index, rnd)
            if self._halted():
                break
            await self._run_round(rnd)
            if self._cut_off:
                break
            if not self._halted():
                self.store.finish_round(self.c.campaign, rnd.name)
        if not self._halted() and all(self.store.round_finished(self.c.campaign, r.name) for r in self.c.rounds):
            self.store.set_campaign_status(self.c.campaign, "finished")
        return self.progress

    def _working_day(self) -> bool:
        return works_on(self.c.schedule, self.clock().astimezone(ZoneInfo(self.c.schedule.timezone)).date())

    def _schedule_time(self, at: dt.time) -> dt.datetime:
        zone = ZoneInfo(self.c.schedule.timezone)
        local = self.clock().astimezone(zone)
        return dt.datetime.combine(local.date(), at, zone).astimezone(dt.UTC)

    async def _until(self, target: dt.datetime | None) -> None:
        while target is not None and self.clock() < target and not self._halted():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), min(1.0, (target - self.clock()).total_seconds()))

    async def _wait_round(self, index: int, rnd: Round) -> None:
        target: dt.datetime | None = None
        if rnd.after and index > 0:
            ended = self.store.round_ended_at(self.c.campaign, self.c.rounds[index - 1].name)
            if ended is not None:
                target = ended + parse_duration(rnd.after)
        if rnd.start is not None:
            start = self._schedule_time(rnd.start)
            target = max(target or start, start)
        await self._until(target)

    def _pool(self, rnd: Round) -> list[Debtor]:
        debtors = self.store.debtors_for(self.c.debtors, today=self.clock().date())
        latest = self.store.campaign_latest(self.c.campaign)
        wanted = set(rnd.retries)
        chosen = []
        for debtor in debtors:
            last = latest.get(debtor.id)
            if last is None:
                if "new" in wanted:
                    chosen.append(debtor)
            elif last.result in wanted and last.outcome is None and last.state == "completed":
                chosen.append(debtor)
        return chosen

    async def _run_round(self, rnd: Round) -> None:
        self.progress.round = rnd.name
        pending = {d.id: d for d in self._pool(rnd)}
        due: list[_Due] = [_Due(self.clock(), d) for d in pending]
        heapq.heapify(due)
        tasks: set[asyncio.Task[None]] = set()
        while (due or tasks) and not self._halted():
            if due and self.clock() >= self._schedule_end():
                due.clear()  # the day's schedule is over; the round goes on next run
                self._cut_off = True
                continue
            if due and due[0].at <= self.clock():
                item = heapq.heappop(due)
                await self._gate.acquire()
                if self._halted():
                    self._gate.release()
                    break
                task = asyncio.create_task(self._attempt(rnd, pending[item.debtor_id], due))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                continue
            wake = (due[0].at - self.clock()).total_seconds() if due else 1.0
            done_wait = asyncio.wait(tasks, timeout=max(0.05, min(wake, 1.0)), return_when=asyncio.FIRST_COMPLETED) \
                if tasks else asyncio.sleep(max(0.05, min(wake, 1.0)))
            await done_wait
        if tasks:
            await asyncio.gather(*tasks)

    def _schedule_end(self) -> dt.datetime:
        return self._schedule_time(self.c.schedule.end)

    def _zones(self, debtor: Debtor) -> tuple[str, ...]:
        """The debtor's candidate zones, or the campaign's default when none can be inferred."""
        default = self.c.compliance.default_timezone
        return zones_for(debtor.phone, debtor.timezone) or ((default,) if default else ())

    def _decide(self, debtor: Debtor) -> compliance.Decision:
        return self._gate_for(debtor)(self.store.history(debtor.id))

    def _gate_for(self, debtor: Debtor) -> Callable[[list[compliance.Attempt]], compliance.Decision]:
        """The compliance decision for a history; what it needs besides is read now, so that the
        claim can call it inside its transaction without touching the store."""
        zones = self._zones(debtor)
        suppressed = self.store.suppression(debtor.phone) or ("dnc" if debtor.phone in self.dnc else None)
        requests = self.store.contact_requests(debtor.id)  # the debtor's own restrictions and suspensions
        return lambda history: compliance.decide(zones=zones, history=history, now=self.clock(), rules=self.rules,
                                                 suppressed=suppressed, requests=requests)

    async def _attempt(self, rnd: Round, debtor: Debtor, due: list[_Due]) -> None:
        try:
            decision = self._decide(debtor)
            self.store.record_decision(self.c.campaign, rnd.name, debtor.id, decision.allow, decision.reason,
                                       decision.detail, None)
            if not decision.allow:
                self._later(debtor, decision.not_before, due)
                return
            try:  # the caps are checked again inside the claim: another runner may have called meanwhile
                attempt_id = self.store.create_attempt(
                    debtor.id, debtor.phone, campaign=self.c.campaign, round=rnd.name,
                    script=(rnd.script or self.c.script).stem, gate=self._gate_for(debtor))
            except ClaimRefused as refused:
                decision = refused.decision
                self.store.record_decision(self.c.campaign, rnd.name, debtor.id, False, decision.reason,
                                           f"at the claim: {decision.detail}", None)
                self._later(debtor, decision.not_before, due)
                return
            except StoreError as exc:  # another worker holds this debtor or number
                self.store.record_decision(self.c.campaign, rnd.name, debtor.id, False, "claimed_elsewhere",
                                           str(exc), None)
                return
            await self._paced()
            again = self._decide(debtor)  # checked again right before Originate
            self.store.record_decision(self.c.campaign, rnd.name, debtor.id, again.allow, again.reason,
                                       again.detail, attempt_id)
            if not again.allow:
                self.store.release_attempt(attempt_id)
                self._later(debtor, again.not_before, due)
                return
            if self._halted():  # stopped while this claim waited for its turn to dial
                self.store.release_attempt(attempt_id)
                return
            self.progress.in_flight += 1
            self.on_progress(self.progress)
            try:
                result, outcome = await self.place(attempt_id, debtor, rnd)  # type: ignore[misc]
            finally:
                self.progress.in_flight -= 1
            self.progress.done += 1
            key = outcome.value if outcome else result.value
            self.progress.results[key] = self.progress.results.get(key, 0) + 1
            if outcome in SUPPRESSING:
                self.store.suppress(debtor.phone, SUPPRESSING[outcome], debtor.id)
            if result in RETRYABLE:
                self._retry(debtor, due)
            self.on_progress(self.progress)
        finally:
            self._gate.release()

    def _later(self, debtor: Debtor, not_before: dt.datetime | None, due: list[_Due]) -> None:
        self.progress.skipped += 1
        if not_before is not None and not_before <= self._schedule_end():
            heapq.heappush(due, _Due(not_before, debtor.id))

    def _retry(self, debtor: Debtor, due: list[_Due]) -> None:
        results = [(a.dialed_at or a.created_at, CallResult(a.result))
                   for a in self.store.campaign_attempts(self.c.campaign, debtor.id) if a.result]
        when = retry.schedule_retry(self.policy, results, now=self.clock(), zones=self._zones(debtor),
                                    history=self.store.history(debtor.id), rules=self.rules,
                                    suppressed=self.store.suppression(debtor.phone))
        if when is not None and when <= self._schedule_end():
            heapq.heappush(due, _Due(when, debtor.id))

    async def _paced(self) -> None:
        """At most limits.originates_per_second Originates."""
        interval = 1.0 / self.c.limits.originates_per_second
        loop = asyncio.get_running_loop()
        async with self._pace:
            wait = self._last_originate + interval - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            self._last_originate = loop.time()


def summarize(progress: Progress) -> Iterable[tuple[str, int]]:
    return sorted(progress.results.items())
