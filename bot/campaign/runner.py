"""Runs a campaign: rounds of calls, retries by result, pacing, and the compliance gate.

The ledger lives in the database and is the only truth: every attempt is claimed (a row,
unique while active per debtor and per number) before it is dialled, and the claim checks the
round's pool, the retry policy and the compliance caps on the stored attempts inside the
claiming transaction. Planned retries and follow-ups of interrupted calls are stored rows with
their due time; what this runner keeps in memory is only a cache of what is due. Every
compliance decision is stored, and on start every attempt a previous run left in flight is
reconciled, never blindly re-dialled (the campaign's ``interrupted`` policy decides, and stores,
whether a safe follow-up call is made later).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import heapq
import logging
import signal
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from zoneinfo import ZoneInfo

from bot.campaign import compliance, followup, retry
from bot.campaign.claims import RETRY_PREFIX, Want, in_round_pool, refusal
from bot.campaign.interrupted import plan_interrupted, summary_lines
from bot.campaign.load import Governor
from bot.campaign.reconcile import Channels, reconcile
from bot.campaign.spec import Campaign, Round, campaign_end, parse_duration, script_for
from bot.campaign.windows import works_on
from bot.campaign.zones import zones_for
from bot.domain import CallResult, Debtor, Outcome
from bot.errors import NotDialled, StoreError, StoreUnavailable
from bot.store.followups import VOID
from bot.store.records import FollowUp, Past
from bot.store.repo import ClaimRefused, LedgerRefused, Store

log = logging.getLogger(__name__)
Clock = Callable[[], dt.datetime]
SUPPRESSING = {Outcome.OPT_OUT: "opt_out", Outcome.WRONG_NUMBER: "wrong_number"}
RETRYABLE = {CallResult.NO_ANSWER, CallResult.BUSY, CallResult.CONGESTION, CallResult.FAILED}
FOLLOW_UP = "follow-up"  # the phase after the rounds, for follow-ups of no round in particular
HOLD_FIRST_S, HOLD_MAX_S = 1.0, 30.0  # backoff while Asterisk takes no Originate
LEASE = dt.timedelta(seconds=30)  # a controller silent this long is dead: its calls are closed
RETAKE_AFTER = dt.timedelta(seconds=1)  # a debtor taken elsewhere is tried again no sooner
RETAKE_EVERY_S = 2.0  # how often an idle runner reads the round's pool while others still work
REFRESH_S = 5.0  # how often a round looks for follow-ups others planned
NOTE_EVERY = dt.timedelta(minutes=1)  # a claim lost again and again is stored once a minute, not each try


@dataclass
class Progress:
    round: str = ""
    in_flight: int = 0
    done: int = 0
    skipped: int = 0
    results: dict[str, int] = field(default_factory=dict)
    paused: str = ""  # why dialling is held (AMI down), empty while it is not
    governor: str = ""  # why the overload governor holds new calls, empty while it admits
    finished: bool = False  # the campaign has no work left
    stopped: bool = False  # stopped (signal, pause, cancel) before its work for now was done
    interrupted: list[str] = field(default_factory=list)  # report lines: calls cut short, what follows


@dataclass(order=True)
class _Due:
    at: dt.datetime
    debtor_id: str = field(compare=False)
    follow_up: FollowUp | None = field(compare=False, default=None)


def rules_for(campaign: Campaign) -> compliance.Rules:
    spec = campaign.compliance
    data = {k: v for k, v in spec.model_dump().items() if v is not None and k not in ("pack", "default_timezone")}
    if not data:
        return compliance.PACKS[spec.pack] if spec.pack in compliance.PACKS else compliance.rules_from_mapping(
            {"base": spec.pack})
    return compliance.rules_from_mapping({"base": spec.pack, **data})


def policy_for(campaign: Campaign) -> retry.RetryPolicy:
    results = {k: v.model_dump() for k, v in campaign.retry.items() if k in retry.RETRYABLE}
    if not results:
        return retry.RetryPolicy.default()
    return retry.RetryPolicy.from_mapping(results)


def read_dnc(campaign: Campaign, normalize: Callable[[str], str]) -> set[str]:
    from bot.campaign import dnc

    return set() if campaign.dnc is None else dnc.read_dnc(campaign.dnc, normalize)


class CampaignRunner:
    """One campaign run; ``place`` dials a claimed attempt and returns its result and outcome;
    ``asterisk`` is asked, on start, which attempts a dead controller left still have a channel."""

    def __init__(self, campaign: Campaign, store: Store, *, place: Callable[..., object],
                 normalize: Callable[[str], str], clock: Clock | None = None,
                 on_progress: Callable[[Progress], None] | None = None, asterisk: Channels | None = None,
                 ready: Callable[[], bool] | None = None, controller: str | None = None,
                 lease: dt.timedelta = LEASE, exclusive: bool = True, governor: Governor | None = None):
        self.c = campaign
        self.store = store
        self.place = place
        self.asterisk = asterisk
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self.rules = rules_for(campaign)
        self.policy = policy_for(campaign)
        self.again = followup.answered_rules(campaign)  # no_response / hung_up retries
        self.normalize = normalize
        self.dnc = read_dnc(campaign, normalize)
        self.progress = Progress()
        self.on_progress = on_progress or (lambda p: None)
        self._stop = asyncio.Event()
        self._cut_off = False  # the schedule ended before the round did
        self._gate = asyncio.Semaphore(campaign.limits.max_concurrent)
        self._last_originate = 0.0
        self._pace = asyncio.Lock()
        self._ready = ready or (lambda: True)  # False while the AMI link is down
        self._hold_until: dt.datetime | None = None
        self._hold_s = 0.0
        self._debtors: dict[str, Debtor] = {}
        self._active: set[int] = set()  # follow-ups being attempted by this runner
        # Debtors of the running round this runner is done with: claimed, or decided on. The
        # others the ledger shows uncalled in the round are retaken when this runner runs out of
        # work: a dead controller's released claim, or a colleague's queue not yet reached.
        self._settled: set[str] = set()
        self._retaken_at = 0.0
        self._lost_claims: dict[tuple[str, int | None], dt.datetime] = {}  # (debtor, follow-up): last stored
        # Several controllers (PostgreSQL): each stamps its attempts and renews its lease; on start
        # it reconciles its own leftovers and those of expired leases, later only expired ones.
        # ``exclusive`` (SQLite's single writer): nobody else can be alive, reconcile everything.
        self.controller = controller
        self.lease = lease
        self.exclusive = exclusive
        self.governor = governor  # overload governor (bot/campaign/load.py); None: never held

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
        keep: set[str] = set()
        if self.controller is not None:
            self.store.heartbeat(self.controller, starting=True)
            if not self.exclusive:
                keep = self.store.live_controllers(self.lease) - {self.controller}
        await reconcile(self.store, self.c.campaign, self.asterisk, keep=keep)
        self.store.ensure_campaign(self.c.campaign)
        plan_interrupted(self.store, self.c, now=self.clock())
        keeper = asyncio.create_task(self._keep_lease()) if self.controller is not None else None
        try:
            while True:
                try:
                    await self._run()
                    break
                except StoreUnavailable:
                    # The database went away: once it is back the run goes on from the ledger, as a
                    # restart would (its calls in flight were waited for and their writes kept).
                    await self._store_back()
        finally:
            if keeper is not None:
                keeper.cancel()
                await asyncio.gather(keeper, return_exceptions=True)
            self.progress.stopped = self._stop.is_set() and not self.progress.finished
            self.progress.interrupted = summary_lines(self.store, self.c.campaign) + followup.summary_lines(
                self.store, self.c.campaign)
            for line in self.progress.interrupted:
                log.warning("campaign %s: %s", self.c.campaign, line)
        return self.progress

    async def _run(self) -> None:
        if not self._working_day():
            log.info("campaign %s does not work today (schedule days/dates)", self.c.campaign)
            return
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
                self.store.drop_round_follow_ups(self.c.campaign, rnd.name, due_after=self._schedule_end(),
                                                 note="due after the round ended")
        if self._halted() or self._cut_off or not all(
                self.store.round_finished(self.c.campaign, r.name) for r in self.c.rounds):
            return
        while True:
            await self._run_round(None)  # follow-ups that no round took
            if self._halted() or self._cut_off:
                return
            if not self.store.busy_elsewhere(self.c.campaign, me=self.controller):
                break
            # Another controller still has calls (or left some until its lease expires): what
            # follows them may be ours to make.
            await self._until(self.clock() + dt.timedelta(seconds=1))
        if not self.store.follow_ups(self.c.campaign):
            self.store.set_campaign_status(self.c.campaign, "finished")
            self.progress.finished = True

    async def _keep_lease(self) -> None:
        """Renew this controller's lease; close what controllers whose lease expired left."""
        assert self.controller is not None
        beat = max(0.2, min(5.0, self.lease.total_seconds() / 3))
        last_sweep = asyncio.get_running_loop().time()
        while True:
            await asyncio.sleep(beat)
            try:
                self.store.heartbeat(self.controller)
                now = asyncio.get_running_loop().time()
                if not self.exclusive and now - last_sweep >= self.lease.total_seconds() / 2:
                    last_sweep = now
                    done = await reconcile(self.store, self.c.campaign, self.asterisk,
                                           keep=self.store.live_controllers(self.lease) | {self.controller})
                    if done.released or done.closed:
                        plan_interrupted(self.store, self.c, now=self.clock())
            except StoreUnavailable:  # said once by the store; the next beat tries again
                pass
            except Exception:  # the next beat tries again; the run goes on
                log.exception("controller %s: renewing the lease or sweeping expired ones failed", self.controller)

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
        """Debtors this round takes, from the ledger: not yet called in this round, and new or
        with a latest result the round re-calls (the claim checks it again)."""
        debtors = self.store.debtors_for(self.c.debtors, today=self.clock().date())
        rounds = self.store.campaign_rounds_of(self.c.campaign)
        past: dict[str, list[Past]] = {}
        for a in self.store.campaign_attempts(self.c.campaign):
            past.setdefault(a.debtor_id, []).append(Past(
                id=a.id, round=rounds.get(a.id, ""), at=a.dialed_at or a.created_at or self.clock(),
                state=a.state.value, result=a.result, outcome=a.outcome.value if a.outcome else None))
        wanted = frozenset(rnd.retries)
        return [d for d in debtors
                if not any(p.round == rnd.name for p in past.get(d.id, ()))
                and in_round_pool(wanted, past.get(d.id, []))]

    def _phase(self, rnd: Round | None) -> Round:
        """The round's settings; the follow-up phase dials with the first round's."""
        return rnd if rnd is not None else self.c.rounds[0].model_copy(update={"name": FOLLOW_UP})

    async def _run_round(self, rnd: Round | None) -> None:
        phase = self._phase(rnd)
        self.progress.round = phase.name
        self._settled.clear()
        now = self.clock()
        due: list[_Due] = []
        for debtor in (self._pool(rnd) if rnd is not None else []):
            self._debtors[debtor.id] = debtor
            self._settled.add(debtor.id)
            due.append(_Due(now, debtor.id))
        self._refresh(rnd, due)
        heapq.heapify(due)
        tasks: set[asyncio.Task[None]] = set()
        refreshed = asyncio.get_running_loop().time()
        try:
            while not self._halted():
                if not due and not tasks:
                    # Our part is done; the round is not, while another controller still has calls in
                    # it or follow-ups of it are pending: wait for them, and take what falls to us.
                    if rnd is None:
                        break
                    busy = self.store.busy_elsewhere(self.c.campaign, me=self.controller, round=rnd.name,
                                                     until=self._schedule_end())
                    if not busy or asyncio.get_running_loop().time() - self._retaken_at >= RETAKE_EVERY_S:
                        self._retake(rnd, due)  # asked after ``busy``: a claim released since is seen here
                    if not due and not busy:
                        break
                    self._refresh(rnd, due)
                    if not due:
                        await asyncio.sleep(0.5)
                    continue
                if asyncio.get_running_loop().time() - refreshed >= REFRESH_S:
                    refreshed = asyncio.get_running_loop().time()
                    self._refresh(rnd, due)
                if due and self.clock() >= self._schedule_end():
                    due.clear()  # the day's schedule is over; the round goes on next run
                    self._cut_off = True
                    continue
                if due and due[0].at <= self.clock() and not self._held() and self._admits():
                    item = heapq.heappop(due)
                    await self._gate.acquire()
                    if self._halted():
                        self._gate.release()
                        break
                    if item.follow_up is not None:
                        self._active.add(item.follow_up.id)
                    task = asyncio.create_task(self._attempt(phase, item, due))
                    tasks.add(task)
                    task.add_done_callback(self._task_done(tasks, item))
                    continue
                wake = (due[0].at - self.clock()).total_seconds() if due else 1.0
                done_wait = asyncio.wait(tasks, timeout=max(0.05, min(wake, 1.0)),
                                         return_when=asyncio.FIRST_COMPLETED) \
                    if tasks else asyncio.sleep(max(0.05, min(wake, 1.0)))
                await done_wait
        except StoreUnavailable:  # the database went away: the calls in flight end first
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)  # each logged by _task_done

    def _refresh(self, rnd: Round | None, due: list[_Due]) -> None:
        """Queue the pending follow-ups this phase takes that are neither queued nor being
        attempted here (planned before a restart, by another controller, or put back when a
        dead controller's claim was released)."""
        now = self.clock()
        queued = {d.follow_up.id for d in due if d.follow_up is not None} | self._active
        for planned in self.store.pending_for_round(self.c.campaign, rnd.name if rnd is not None else None):
            if planned.id not in queued:
                heapq.heappush(due, _Due(max(planned.due_at or now, now), planned.debtor_id, planned))

    def _retake(self, rnd: Round, due: list[_Due]) -> None:
        """Queue the debtors the ledger shows still uncalled in this round that this runner has
        not settled: a dead controller's claim released by reconciliation, or a debtor another
        controller has yet to reach (the claim lets only one of us call)."""
        self._retaken_at = asyncio.get_running_loop().time()
        when = self.clock() + RETAKE_AFTER
        for debtor in self._pool(rnd):
            if debtor.id not in self._settled:
                self._settled.add(debtor.id)  # until a claim of it is refused as taken elsewhere
                self._debtors[debtor.id] = debtor
                heapq.heappush(due, _Due(when, debtor.id))

    def _task_done(self, tasks: set[asyncio.Task[None]], item: _Due) -> Callable[[asyncio.Task[None]], None]:
        def done(task: asyncio.Task[None]) -> None:
            tasks.discard(task)
            if not task.cancelled() and (exc := task.exception()) is not None:
                log.error("campaign %s: the call task of debtor %s failed: %r", self.c.campaign, item.debtor_id, exc,
                          exc_info=exc)
        return done

    def _held(self) -> bool:
        """Dialling waits while the AMI link or the database is down, or after Asterisk took no Originate."""
        if not self.store.available:
            return True
        if not self._ready():
            if not self.progress.paused:
                log.warning("campaign %s: AMI link down; dialling paused until it is back", self.c.campaign)
                self.progress.paused = "AMI link down"
                self.on_progress(self.progress)
            return True
        if self._hold_until is not None and self.clock() < self._hold_until:
            return True
        if self.progress.paused:
            log.info("campaign %s: dialling resumes", self.c.campaign)
            self.progress.paused = ""
            self.on_progress(self.progress)
        return False

    async def _store_back(self) -> None:
        """The database went away: dialling holds until it answers again (the store says so, once)."""
        if not self.progress.paused:
            self.progress.paused = "database unreachable"
            self.on_progress(self.progress)
        await asyncio.to_thread(self.store.wait_available)
        if self.controller is not None:  # alive: colleagues must not take our calls for a dead one's
            self.store.heartbeat(self.controller)
        if self.progress.paused == "database unreachable":
            self.progress.paused = ""
            self.on_progress(self.progress)

    def _hold(self, why: str) -> dt.datetime:
        self._hold_s = min(HOLD_MAX_S, self._hold_s * 2 or HOLD_FIRST_S)
        self._hold_until = max(self._hold_until or self.clock(), self.clock() + dt.timedelta(seconds=self._hold_s))
        self.progress.paused = why
        self.on_progress(self.progress)
        return self._hold_until

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

    def _debtor(self, debtor_id: str) -> Debtor:
        debtor = self._debtors.get(debtor_id)
        if debtor is None:
            debtor = self._debtors[debtor_id] = self.store.get_debtor(debtor_id)
        return debtor

    def _rule(self, rnd: Round, item: _Due) -> Callable[[list[Past]], str | None]:
        """The ledger's verdict on this claim, given the debtor's attempts the claim sees."""
        planned = item.follow_up
        want = Want(round=rnd.name, retries=frozenset(rnd.retries),
                    follow_up_reason=planned.reason if planned else None,
                    follow_up_origin=planned.origin_attempt_id if planned else None)
        now = self.clock()
        limits = {o.value: r.max_attempts for o, r in self.again.items()}
        return lambda past: refusal(want, past, policy=self.policy, now=now, again_limits=limits)

    async def _attempt(self, rnd: Round, item: _Due, due: list[_Due]) -> None:
        attempt_id: str | None = None
        try:
            debtor = self._number(self._debtor(item.debtor_id), item.follow_up)
            attempt_id = await self._claim(rnd, debtor, item, due)
            if attempt_id is not None:
                await self._dial(rnd, debtor, item, attempt_id, due)
        except StoreUnavailable:  # before the Originate (a claim made is released): nobody was called
            await self._store_back()
            if attempt_id is not None:
                self.store.release_attempt(attempt_id)  # a no-op unless the claim is still queued
            heapq.heappush(due, _Due(self.clock(), item.debtor_id, self._reloaded(item)))
        except Exception:  # one debtor's fault must not end the campaign, nor go unlogged
            log.exception("campaign %s: attempt %s of debtor %s failed", self.c.campaign, attempt_id or "(none)",
                          item.debtor_id)
            if attempt_id is not None:
                self._close_broken(attempt_id)
        finally:
            if item.follow_up is not None:
                self._active.discard(item.follow_up.id)
            self._gate.release()

    async def _claim(self, rnd: Round, debtor: Debtor, item: _Due, due: list[_Due]) -> str | None:
        script = script_for(self.c, rnd.script, debtor.language)
        if script is None:  # never called with the wrong language's script
            self.progress.skipped += 1
            self.store.record_decision(self.c.campaign, rnd.name, debtor.id, False, "no_script_for_language",
                                       f"language {debtor.language!r} has no script in this campaign", None)
            return None
        decision = self._decide(debtor)
        self.store.record_decision(self.c.campaign, rnd.name, debtor.id, decision.allow, decision.reason,
                                   decision.detail, None)
        if not decision.allow:
            self._later(item, decision.not_before, due)
            return None
        try:  # the ledger and the caps are checked again inside the claim
            return self.store.create_attempt(
                debtor.id, debtor.phone, campaign=self.c.campaign, round=rnd.name,
                script=script.stem, gate=self._gate_for(debtor),
                rule=self._rule(rnd, item), follow_up=item.follow_up.id if item.follow_up else None,
                controller=self.controller)
        except ClaimRefused as refused:
            decision = refused.decision
            self.store.record_decision(self.c.campaign, rnd.name, debtor.id, False, decision.reason,
                                       f"at the claim: {decision.detail}", None)
            self._later(item, decision.not_before, due)
        except LedgerRefused as refused:
            log.info("campaign %s: debtor %s not claimed: %s", self.c.campaign, debtor.id, refused.reason)
            if item.follow_up is None and refused.reason == "already_called_in_round":
                self._settled.discard(debtor.id)  # held by another claim, perhaps one released later
            if item.follow_up is not None and refused.reason in ("follow_up_stale", "max_attempts"):
                self.store.close_follow_up(item.follow_up.id, VOID, refused.reason)
            elif item.follow_up is not None and refused.reason == "retry_not_due":
                heapq.heappush(due, _Due(self.clock() + dt.timedelta(seconds=1), debtor.id, item.follow_up))
        except StoreUnavailable:
            raise
        except StoreError as exc:  # another worker holds this debtor or number
            if item.follow_up is None:
                self._settled.discard(debtor.id)
            key, now = (debtor.id, item.follow_up.id if item.follow_up else None), self.clock()
            if now - self._lost_claims.get(key, now - NOTE_EVERY) >= NOTE_EVERY:
                self._lost_claims[key] = now
                self.store.record_decision(self.c.campaign, rnd.name, debtor.id, False, "claimed_elsewhere",
                                           str(exc), None)
        return None

    async def _dial(self, rnd: Round, debtor: Debtor, item: _Due, attempt_id: str, due: list[_Due]) -> None:
        try:
            placed = await self._placed(rnd, debtor, item, attempt_id, due)
        except StoreUnavailable:  # before the Originate: nobody was called, the claim is released
            await self._store_back()
            self.store.release_attempt(attempt_id)
            heapq.heappush(due, _Due(self.clock(), debtor.id, self._reloaded(item)))
            return
        if placed is None:
            return
        result, outcome = placed
        self.progress.done += 1
        key = outcome.value if outcome else result.value
        self.progress.results[key] = self.progress.results.get(key, 0) + 1
        planned: list[_Due] = []
        while True:  # what follows the call is stored, also when the database went away meanwhile
            try:
                self._follow(rnd, debtor, attempt_id, result, outcome, planned)
                break
            except StoreUnavailable:
                planned.clear()  # the follow-ups are planned again (idempotent) once it is back
                await self._store_back()
        queued = {d.follow_up.id for d in due if d.follow_up is not None}
        for later in planned:
            if later.follow_up is None or later.follow_up.id not in queued:
                heapq.heappush(due, later)
        self.on_progress(self.progress)

    async def _placed(self, rnd: Round, debtor: Debtor, item: _Due, attempt_id: str,
                      due: list[_Due]) -> tuple[CallResult, Outcome | None] | None:
        """Dial the claimed attempt: its result and outcome, or None when it was not dialled."""
        await self._paced()
        again = self._decide(debtor)  # checked again right before Originate
        self.store.record_decision(self.c.campaign, rnd.name, debtor.id, again.allow, again.reason,
                                   again.detail, attempt_id)
        if not again.allow:
            self.store.release_attempt(attempt_id)
            self._later(item, again.not_before, due)
            return None
        if self._halted() or self._held():  # stopped, or Asterisk went away, while this claim waited
            self.store.release_attempt(attempt_id)
            if not self._halted():
                heapq.heappush(due, _Due(self.clock(), debtor.id, self._reloaded(item)))
            return None
        self.progress.in_flight += 1
        self.on_progress(self.progress)
        try:
            result, outcome = await self.place(attempt_id, debtor, rnd)  # type: ignore[misc]
        except NotDialled as exc:  # the controller released the claim: nobody was called
            until = self._hold(f"Asterisk took no Originate: {exc}")
            log.warning("campaign %s: attempt %s not dialled (%s); dialling held for %gs", self.c.campaign,
                        attempt_id, exc, self._hold_s)
            heapq.heappush(due, _Due(until, debtor.id, self._reloaded(item)))
            return None
        finally:
            self.progress.in_flight -= 1
        self._hold_s, self._hold_until = 0.0, None
        return result, outcome

    def _follow(self, rnd: Round, debtor: Debtor, attempt_id: str, result: CallResult, outcome: Outcome | None,
                due: list[_Due]) -> None:
        """Store what the call's result asks for next: a suppression, a retry, a follow-up."""
        if outcome in SUPPRESSING:
            self.store.suppress(debtor.phone, SUPPRESSING[outcome], debtor.id)
        if result in RETRYABLE:
            planned = self._retry(rnd, debtor, attempt_id, result, due)
            self._alt_phone(rnd, debtor, attempt_id, result, planned, due)
        elif outcome is Outcome.CALLBACK:
            self._callback(debtor, attempt_id, due)
        elif outcome in followup.ANSWERED_AGAIN:
            self._again(rnd, debtor, attempt_id, outcome, due)
        elif result is CallResult.UNKNOWN:  # the link was lost: Asterisk never said what happened
            self._follow_interrupted(due)

    def _reloaded(self, item: _Due) -> FollowUp | None:
        """The follow-up the released claim had taken, pending again (or None)."""
        if item.follow_up is None:
            return None
        pending = {f.id: f for f in self.store.follow_ups(self.c.campaign, debtor_id=item.debtor_id)}
        return pending.get(item.follow_up.id, item.follow_up)

    def _close_broken(self, attempt_id: str) -> None:
        """A fault on our side after the claim: forget it if Asterisk never had it, else close it
        as interrupted so the campaign's ``interrupted`` policy decides what follows."""
        try:
            if not self.store.undo_dialing(attempt_id):
                self.store.close_interrupted(attempt_id, "controller_error")
            plan_interrupted(self.store, self.c, now=self.clock())
        except Exception:
            log.exception("attempt %s: could not be closed after a fault; the next run reconciles it", attempt_id)

    def _follow_interrupted(self, due: list[_Due]) -> None:
        for planned in plan_interrupted(self.store, self.c, now=self.clock()):
            if planned.due_at is not None and planned.due_at <= self._schedule_end():
                heapq.heappush(due, _Due(planned.due_at, planned.debtor_id, planned))

    def _later(self, item: _Due, not_before: dt.datetime | None, due: list[_Due]) -> None:
        self.progress.skipped += 1
        if not_before is not None and not_before <= self._schedule_end():
            heapq.heappush(due, _Due(not_before, item.debtor_id, item.follow_up))
        elif item.follow_up is not None:  # stored, so that nobody waits for it today
            self.store.postpone_follow_up(item.follow_up.id, not_before)

    def _retry(self, rnd: Round, debtor: Debtor, attempt_id: str, result: CallResult, due: list[_Due]) -> bool:
        """Store the retry the policy plans (its count comes from the ledger, as at the claim)."""
        results = [(a.dialed_at or a.created_at, CallResult(a.result))
                   for a in self.store.campaign_attempts(self.c.campaign, debtor.id) if a.result]
        when = retry.schedule_retry(self.policy, results, now=self.clock(), zones=self._zones(debtor),
                                    history=self.store.history(debtor.id), rules=self.rules,
                                    suppressed=self.store.suppression(debtor.phone))
        if when is None:
            return False
        planned = self.store.plan_follow_up(
            self.c.campaign, debtor_id=debtor.id, phone=debtor.phone, reason=f"{RETRY_PREFIX}{result.value}",
            origin_attempt_id=attempt_id, due_at=when, round=rnd.name, note="retry policy")
        if when <= self._schedule_end():
            heapq.heappush(due, _Due(when, debtor.id, planned))
        return True

    # --- follow-ups of answered calls and failed numbers (bot.campaign.followup) ------------------
    def _number(self, debtor: Debtor, planned: FollowUp | None) -> Debtor:
        """The debtor as this call dials them: a follow-up on the alt phone dials that number."""
        if planned is None or planned.phone == debtor.phone:
            return debtor
        if planned.phone != self._alt(debtor):
            raise ValueError(f"follow-up {planned.id} names a number that is not the debtor's")
        return replace(debtor, phone=planned.phone)

    def _alt(self, debtor: Debtor) -> str | None:
        """The debtor's alt phone, normalized E.164 (None if absent or not a valid number)."""
        if not debtor.alt_phone:
            return None
        try:
            return self.normalize(debtor.alt_phone)
        except Exception:  # a bad number is reported by the decision, never dialled
            return None

    def _plan(self, debtor: Debtor, attempt_id: str, reason: str, proposed: dt.datetime | None, note: str,
              due: list[_Due], *, phone: str | None = None, round: str | None = None) -> FollowUp:
        """Store a follow-up at the nearest time compliance allows after ``proposed``; the note
        says why when that is later than proposed, or when nothing is planned."""
        when = proposed
        if proposed is not None:
            when = compliance.next_allowed(
                zones=self._zones(debtor), history=self.store.history(debtor.id), after=max(proposed, self.clock()),
                rules=self.rules, suppressed=self.store.suppression(phone or debtor.phone)
                or ("dnc" if (phone or debtor.phone) in self.dnc else None),
                requests=self.store.contact_requests(debtor.id))
            if when is None:
                note += "; compliance allows no later call"
            elif when > proposed:
                note += f"; moved to {when:%Y-%m-%d %H:%M} UTC, the nearest time compliance allows"
            end = campaign_end(self.c)
            if when is not None and end is not None and when > end:
                note += f"; after the campaign ends ({end:%Y-%m-%d %H:%M} UTC)"
                when = None
        planned = self.store.plan_follow_up(self.c.campaign, debtor_id=debtor.id, phone=phone or debtor.phone,
                                            reason=reason, origin_attempt_id=attempt_id, due_at=when, round=round,
                                            note=note[:500])
        if when is None:
            log.info("campaign %s: no %s follow-up for debtor %s: %s", self.c.campaign, reason, debtor.id, note)
        elif when <= self._schedule_end():
            heapq.heappush(due, _Due(when, debtor.id, planned))
        return planned

    def _detail(self, debtor: Debtor, attempt_id: str) -> dict[str, object]:
        found = [a for a in self.store.campaign_attempts(self.c.campaign, debtor.id) if a.id == attempt_id]
        return dict(found[0].outcome_detail) if found else {}

    def _callback(self, debtor: Debtor, attempt_id: str, due: list[_Due]) -> None:
        zones = self._zones(debtor)
        when, note = followup.callback_due(
            self._detail(debtor, attempt_id).get("callback_at"), ended=self.clock(),
            zone=zones[0] if zones else self.c.schedule.timezone, default_delay=self.c.callbacks.delay(),
            end=campaign_end(self.c))
        self._plan(debtor, attempt_id, followup.CALLBACK, when, note, due)

    def _again(self, rnd: Round, debtor: Debtor, attempt_id: str, outcome: Outcome, due: list[_Due]) -> None:
        past = [a.outcome.value if a.outcome else None
                for a in self.store.campaign_attempts(self.c.campaign, debtor.id)]
        when, note = followup.again_due(self.again, outcome, self._detail(debtor, attempt_id), past,
                                        ended=self.clock())
        if when is None and outcome not in self.again:
            return  # not configured: nothing to store
        self._plan(debtor, attempt_id, f"{followup.AGAIN_PREFIX}{outcome.value}", when, note, due, round=rnd.name)

    def _alt_phone(self, rnd: Round, debtor: Debtor, attempt_id: str, result: CallResult, retry_planned: bool,
                   due: list[_Due]) -> None:
        primary = self._debtor(debtor.id).phone
        tried = bool(self.store.follow_ups(self.c.campaign, states=("pending", "taken", "none", "void"),
                                           reason_prefix=followup.ALT_PHONE, debtor_id=debtor.id))
        alt = self._alt(debtor)
        decision = followup.alt_phone_due(self.c.alt_phone, result, retry_planned=retry_planned, alt=alt,
                                          primary=primary, dialled=debtor.phone, tried=tried, ended=self.clock())
        if decision is None and debtor.alt_phone and alt is None and not tried and debtor.phone == primary \
                and self.c.alt_phone.after != "never" and result.value in self.c.alt_phone.results \
                and not (self.c.alt_phone.after == "retries" and retry_planned):
            decision = (None, "alt_phone is not a valid number")
        if decision is None:
            return
        when, note = decision
        self._plan(debtor, attempt_id, followup.ALT_PHONE, when, note, due, phone=alt or debtor.phone)
    async def _paced(self) -> None:
        """At most limits.originates_per_second Originates."""
        interval = 1.0 / self.c.limits.originates_per_second
        loop = asyncio.get_running_loop()
        async with self._pace:
            if self.governor is not None:  # overload: wait (a stop ends the wait; _dial releases the claim)
                await self.governor.admit(self._stop)
            wait = self._last_originate + interval - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            self._last_originate = loop.time()

    # --- the overload governor's hook (bot/campaign/load.py): no new claim while it holds ----
    def _admits(self) -> bool:
        shown = self.governor.describe() if self.governor is not None else ""
        if shown != self.progress.governor:
            self.progress.governor = shown
            self.on_progress(self.progress)
        return not shown


def summarize(progress: Progress) -> Iterable[tuple[str, int]]:
    return sorted(progress.results.items())
