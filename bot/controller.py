"""The controller: originates calls through AMI, talks on them over FastAGI, records everything.

Every store call runs on one dedicated thread, in order, never on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import datetime as dt
import functools
import logging
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from bot.agents.transfer import TransferResult, follow_transfer, offer_callback
from bot.campaign.zones import zones_for
from bot.compliance.requests import SUSPENSION_ASKED, UNCONFIRMED_OPT_OUT
from bot.config import Settings
from bot.dialogue.compiler import CompiledScript
from bot.dialogue.session import CallOutcome, ScriptRun
from bot.domain import OPT_OUT_REVIEW, CallResult, Debtor, DialogueEvent, EventKind, Outcome
from bot.errors import CollbotError, NotDialled, StoreUnavailable, TelephonyError
from bot.logutil import ATTEMPT
from bot.metrics import CALLS_IN_FLIGHT, ORIGINATES, OUTCOMES
from bot.phone import dial_string, mask
from bot.speech.asr import Recognizer
from bot.speech.tts import Synthesizer
from bot.speech.vad import make_vad
from bot.store.repo import Store
from bot.telephony.agi import AgiServer, AgiSession
from bot.telephony.agi_channel import AgiChannel
from bot.telephony.ami import Ami, OriginateRequest
from bot.telephony.ami_actions import loggable
from bot.telephony.audiosocket import AudioSocketConnection, AudioSocketServer
from bot.telephony.audiosocket_channel import AudioSocketChannel, turn_config
from bot.telephony.audiosocket_protocol import call_uuid
from bot.telephony.channel import Channel, Hangup
from bot.telephony.queue_events import QueueEvent

log = logging.getLogger(__name__)
T = TypeVar("T")

SESSION_START_S = 15.0  # an answered call whose FastAGI session never arrives is a fault
MAX_CALL_S = 900.0
DIALOGUE_END_WAIT_S = 10.0  # a callback offer may arrive while the dialogue stores its last events


@dataclass
class CallReport:
    """What happened to one attempt."""

    attempt_id: str
    debtor_id: str
    result: CallResult
    cause: int | None = None
    outcome: Outcome | None = None
    detail: dict[str, object] = field(default_factory=dict)


@dataclass
class _LiveCall:
    debtor: Debtor
    started: asyncio.Future[None]
    done: asyncio.Future[CallOutcome]
    script: CompiledScript
    synth: Synthesizer  # prompts at the rate of this call's script
    recognizer: Recognizer | None = None  # the model of this call's script (None: the controller's)
    # What the customer chose at the callback offer after a transfer no agent took.
    callback: asyncio.Future[dict[str, object]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future())


def local_today(e164: str, now: dt.datetime | None = None, *, zone: str | None = None) -> dt.date:
    """Today's date where the debtor is: their own ``zone`` when known, else the first zone the
    number suggests (as compliance reads it, bot.campaign.zones); UTC if none."""
    now = now or dt.datetime.now(dt.UTC)
    zones = zones_for(e164, zone)
    return now.astimezone(ZoneInfo(zones[0] if zones else "UTC")).date()


class Controller:
    """Places calls and runs their dialogues; use as ``async with Controller(...) as c``."""

    def __init__(self, settings: Settings, store: Store, *, script: CompiledScript | None,
                 recognizer: Recognizer, synth: Synthesizer, ami: Ami | None = None):
        self.settings = settings
        self.script = script
        self.store = store
        self.recognizer = recognizer
        self.synth = synth
        self.ami = ami or Ami(settings.ami)
        self.agi = AgiServer(settings.agi, self._on_agi)
        self._db_thread = ThreadPoolExecutor(1, thread_name_prefix="collbot-store")
        self._calls: dict[str, _LiveCall] = {}
        self.streaming = settings.call.transport == "audiosocket"
        sock = settings.audiosocket
        self.audiosocket = AudioSocketServer(
            self._on_audiosocket, host=sock.host, port=sock.port, uuid_timeout_s=sock.uuid_timeout_s,
            write_timeout_s=sock.write_timeout_s, allow_remote=sock.allow_remote) if self.streaming else None
        self._vad_pool = ThreadPoolExecutor(settings.turns.vad_workers, thread_name_prefix="vad")
        self._by_uuid: dict[str, str] = {}  # AudioSocket UUID -> attempt id of the calls in flight
        self.transfers: deque[TransferResult] = deque(maxlen=1000)  # the latest transfers (ring times), for the bench

    async def __aenter__(self) -> Controller:
        await self.recognizer.load()
        await self.agi.start()
        try:
            if self.audiosocket is not None:
                turns = self.settings.turns  # load the engine's model now, not on the first call
                await asyncio.get_running_loop().run_in_executor(
                    self._vad_pool, make_vad, turns.vad, turns.webrtc_aggressiveness)
                await self.audiosocket.start()
            await self.ami.connect()
            for warning in await self.ami.check_privileges():
                log.warning("AMI account: %s", warning)
        except BaseException:
            await self.agi.close()
            if self.audiosocket is not None:
                await self.audiosocket.close()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.ami.close()
        await self.agi.close()
        if self.audiosocket is not None:
            await self.audiosocket.close()
        self._vad_pool.shutdown(wait=True, cancel_futures=True)
        self._db_thread.shutdown(wait=True)

    async def db(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        # In the call's context, so the store thread's log lines name the attempt too (bot.logutil).
        context = contextvars.copy_context()
        return await loop.run_in_executor(self._db_thread, context.run, functools.partial(self._kept, fn, *args))

    def _kept(self, fn: Callable[..., T], *args: Any) -> T:
        """On the store thread: a write the database server's outage stopped is made again once
        the server is back (it was rolled back; the store's writes are idempotent), so the
        outcomes of the calls in flight wait in order rather than being lost."""
        while True:
            try:
                return fn(*args)
            except StoreUnavailable:
                self.store.wait_available()

    async def call(self, debtor: Debtor, *, attempt_id: str | None = None, script: CompiledScript | None = None,
                   ring_timeout_s: float | None = None, caller_id: str | None = None,
                   synth: Synthesizer | None = None, recognizer: Recognizer | None = None) -> CallReport:
        """Dial one debtor, talk if answered, and record the attempt from start to end.

        A campaign passes the ``attempt_id`` it already claimed; otherwise one is created. ``script``
        and ``synth`` default to the controller's own.
        """
        script = script or self.script
        if script is None:
            raise ValueError("a call needs a script: this controller has no default one")
        dial = dial_string(self.settings.dial.template, debtor.phone)
        if attempt_id is None:
            attempt_id = await self.db(self.store.create_attempt, debtor.id, debtor.phone)
        loop = asyncio.get_running_loop()
        live = _LiveCall(debtor, loop.create_future(), loop.create_future(), script, synth or self.synth,
                         recognizer)
        self._calls[attempt_id] = live
        token = ATTEMPT.set(attempt_id)  # every log line of this call names it (bot.logutil)
        CALLS_IN_FLIGHT.inc()
        stream_id = str(call_uuid(attempt_id))
        self._by_uuid[stream_id] = attempt_id
        try:
            report = await self._place(attempt_id, dial, live, ring_timeout_s, caller_id)
            OUTCOMES.labels(report.outcome.value if report.outcome else report.result.value).inc()
            return report
        finally:
            CALLS_IN_FLIGHT.dec()
            ATTEMPT.reset(token)
            del self._calls[attempt_id]
            self._by_uuid.pop(stream_id, None)
            self.ami.queue.forget(attempt_id)
            for fut in (live.started, live.done, live.callback):
                fut.cancel()

    async def _place(self, attempt_id: str, dial: str, live: _LiveCall, ring_timeout_s: float | None,
                     caller_id: str | None) -> CallReport:
        cfg = self.settings.dial
        await self.db(self.store.mark_dialing, attempt_id)
        log.info("dialing %s (attempt %s)", mask(live.debtor.phone), attempt_id)
        ORIGINATES.inc()
        queue_events = self.ami.queue.watch(attempt_id)  # before the call can reach the queue
        try:
            res = await self.ami.originate(OriginateRequest(
                attempt_id=attempt_id, channel=dial, context=cfg.context,
                exten=self.settings.audiosocket.exten if self.streaming else cfg.exten,
                ring_timeout_s=ring_timeout_s or cfg.ring_timeout_s,
                caller_id=cfg.caller_id if caller_id is None else caller_id))
        except NotDialled:
            # Asterisk never took it: the attempt is forgotten, not left dialling nor closed unknown.
            await self.db(self.store.undo_dialing, attempt_id)
            raise
        await self.db(self.store.record_result, attempt_id, res.result, res.cause)
        report = CallReport(attempt_id, live.debtor.id, res.result, res.cause)
        if res.result is CallResult.ANSWERED:
            outcome = await self._await_dialogue(live)
            ended: tuple[int | None, str] | None = None
            if outcome.outcome is Outcome.TRANSFER_REQUESTED and outcome.detail.get("action") == "transfer":
                outcome, ended = await self._transfer(attempt_id, live, outcome, queue_events)
            ended = ended or await self.ami.wait_hangup(attempt_id, 5.0)
            report.cause = ended[0] if ended else None
            report.outcome, report.detail = outcome.outcome, outcome.detail
        await self.db(self.store.finish_attempt, attempt_id, report.outcome, report.detail, report.cause)
        await self._store_contact_requests(attempt_id, live.debtor.id, report.detail)
        if OPT_OUT_REVIEW in report.detail:
            await self._hold_for_review(attempt_id, live.debtor)
        log.info("attempt %s: %s %s", attempt_id, res.result.value,
                 report.outcome.value if report.outcome else "")
        return report

    async def _transfer(self, attempt_id: str, live: _LiveCall, outcome: CallOutcome,
                        queue_events: asyncio.Queue[QueueEvent]) -> tuple[CallOutcome, tuple[int | None, str] | None]:
        """The customer is in the collectors' queue: pop the agent who answers, or record the
        callback offer; the attempt ends when the call does."""
        hangup = asyncio.ensure_future(self.ami.wait_hangup(attempt_id, MAX_CALL_S))
        try:
            result = await follow_transfer(
                attempt_id=attempt_id, store=self.store, db=self.db, events=queue_events, hangup=hangup,
                callback=live.callback, reason="", max_s=self.settings.queue.max_wait_s + MAX_CALL_S)
            self.transfers.append(result)
            if result.agent:  # bridged: the attempt stays open while they talk
                await asyncio.wait({hangup}, timeout=MAX_CALL_S)
        finally:
            if not hangup.done():
                hangup.cancel()
        ended = hangup.result() if hangup.done() and not hangup.cancelled() else None
        detail = {**outcome.detail, **result.detail}
        log.info("attempt %s: transfer %s", attempt_id, detail.get("transfer"))
        return CallOutcome(result.outcome, detail, outcome.hangup_by, outcome.path, outcome.slots), ended

    async def _on_callback(self, session: AgiSession, attempt_id: str, live: _LiveCall) -> None:
        """The queue gave up on a transferred customer: the robot offers a callback."""
        channel = AgiChannel(session, settings=self.settings, synth=live.synth, recognizer=self.recognizer,
                             call_id=attempt_id, keys=self.ami.keys.watch(attempt_id),
                             replay_key=self.ami.replay_key)
        script = live.script.script

        def chosen(choice: dict[str, object]) -> None:
            if not live.callback.done():
                live.callback.set_result(choice)

        try:
            await offer_callback(
                channel, language=script.language, voice=script.voice or script.language,
                now=dt.datetime.now(dt.UTC), after=dt.timedelta(hours=self.settings.queue.callback_after_h),
                chosen=chosen)
        except Hangup:
            chosen({"callback": "hung_up"})
        finally:
            self.ami.keys.forget(attempt_id)

    async def _store_contact_requests(self, attempt_id: str, debtor_id: str, detail: dict[str, object]) -> None:
        """Restrictions the customer asked for in the call, honoured from the next decision on; a
        suspension they asked for is stored pending a person's review (SUSPENSION_ASKED), not granted."""
        for asked in detail.get("contact_requests", ()) or ():  # type: ignore[attr-defined]
            stored = []
            if asked["hours"] or asked["means"]:
                stored.append(("restrict", {"slots": list(asked["hours"]), "means": list(asked["means"])}))
            if asked.get("suspension"):
                stored.append((SUSPENSION_ASKED, {"reason": asked["suspension"], "status": "pending_review"}))
            for kind, data in stored:
                try:
                    await self.db(functools.partial(self.store.add_contact_request, by=f"call:{attempt_id}"[:64]),
                                  debtor_id, kind, {**data, "attempt": attempt_id})
                except CollbotError as exc:  # the outcome is stored; the request is in its detail
                    log.error("attempt %s: the contact request asked in the call was not stored: %s", attempt_id, exc)

    async def _hold_for_review(self, attempt_id: str, debtor: Debtor) -> None:
        """An opt-out cue the customer neither confirmed nor denied: the number is suppressed as
        ``opt_out_review`` (audited) until a person listens and lifts or confirms it."""
        why = f"unconfirmed opt-out cue in call {attempt_id}: held until a person reviews it"
        try:
            await self.db(functools.partial(self.store.add_suppression, by=f"call:{attempt_id}"[:64], why=why),
                          debtor.phone, UNCONFIRMED_OPT_OUT)
        except CollbotError as exc:  # the outcome and its detail are stored
            log.error("attempt %s: the number was not held for review: %s", attempt_id, exc)
        else:
            log.warning("%s held for review (an unconfirmed opt-out cue)", mask(debtor.phone))

    async def _await_dialogue(self, live: _LiveCall) -> CallOutcome:
        try:
            await asyncio.wait_for(asyncio.shield(live.started), SESSION_START_S)
        except TimeoutError:
            path = "AudioSocket connection" if self.streaming else "FastAGI session"
            return CallOutcome(Outcome.ERROR, {"reason": f"answered but no {path} arrived"})
        try:
            return await asyncio.wait_for(asyncio.shield(live.done), MAX_CALL_S)
        except TimeoutError:
            return CallOutcome(Outcome.ERROR, {"reason": f"call longer than {MAX_CALL_S:.0f}s"})

    async def _on_agi(self, session: AgiSession) -> None:
        attempt_id = session.env.get("agi_uniqueid", "")
        live = self._calls.get(attempt_id)
        if live is not None and session.script == "callback" and await self._dialogue_over(live):
            ATTEMPT.set(attempt_id)
            await self._on_callback(session, attempt_id, live)
            return
        if live is None or session.script != "call":
            await _refuse(session, attempt_id)
            return
        ATTEMPT.set(attempt_id)  # this session's task: its log lines name the attempt too
        keys = self.ami.keys.watch(attempt_id)
        channel = AgiChannel(session, settings=self.settings, synth=live.synth,
                             recognizer=live.recognizer or self.recognizer,
                             call_id=attempt_id, keys=keys, replay_key=self.ami.replay_key)
        try:
            await self._converse(attempt_id, live, channel)
        finally:
            self.ami.keys.forget(attempt_id)

    @staticmethod
    async def _dialogue_over(live: _LiveCall) -> bool:
        """Whether the robot's dialogue of ``live`` has ended, waiting a little for it. On FastAGI
        the dialplan moves on only when the dialogue's session ends; on AudioSocket it moves on at
        the hangup frame, while the dialogue may still be storing its last events, and a queue
        with nobody free gives up at once."""
        try:
            await asyncio.wait_for(asyncio.shield(live.done), DIALOGUE_END_WAIT_S)
        except TimeoutError:
            return False
        except asyncio.CancelledError:
            if live.done.cancelled():  # the call was over and forgotten meanwhile
                return False
            raise
        return True

    async def _on_audiosocket(self, conn: AudioSocketConnection) -> None:
        attempt_id = self._by_uuid.get(str(conn.uuid))
        live = self._calls.get(attempt_id) if attempt_id is not None else None
        if attempt_id is None or live is None or live.started.done():
            log.warning("AudioSocket connection for a call this controller did not place (uuid %s); hanging up",
                        conn.uuid)
            await conn.hangup()
            return
        ATTEMPT.set(attempt_id)  # this session's task: its log lines name the attempt too
        channel = AudioSocketChannel(conn, settings=self.settings, synth=live.synth,
                                     recognizer=live.recognizer or self.recognizer,
                                     vad=make_vad(self.settings.turns.vad, self.settings.turns.webrtc_aggressiveness),
                                     pool=self._vad_pool, call_id=attempt_id, turn_config=turn_config(self.settings),
                                     hand_over=functools.partial(self.ami.send_to_queue, attempt_id))
        channel.start()
        try:
            await self._converse(attempt_id, live, channel)
        finally:
            await channel.close()
            if conn.ended_by not in ("robot", "eof", "hangup"):
                log.info("attempt %s: AudioSocket ended: %s", attempt_id, conn.ended_by)

    async def _converse(self, attempt_id: str, live: _LiveCall, channel: Channel) -> None:
        """Run the script on an answered call's channel and resolve the call with its outcome."""
        live.started.set_result(None)

        # The answer and the events are written in order by the one store thread without holding
        # up the call: the customer should not wait for a commit (or a database restart) before
        # the robot speaks.
        loop = asyncio.get_running_loop()
        writes: list[asyncio.Future[Any]] = [loop.run_in_executor(
            self._db_thread, contextvars.copy_context().run, self._kept, self.store.mark_answered, attempt_id)]

        async def record(event: DialogueEvent) -> None:
            writes.append(loop.run_in_executor(self._db_thread, contextvars.copy_context().run,
                                               self._kept, self.store.add_event, attempt_id, event))

        debtor = live.debtor
        dialogue = ScriptRun(live.script, debtor, today=local_today(debtor.phone, zone=debtor.timezone), record=record,
                             min_confidence=self.settings.listen.min_confidence)
        try:
            outcome = await dialogue.run(channel)
        except Exception as exc:  # a fault on our side ends this call politely, not the campaign
            log.exception("dialogue failed on attempt %s", attempt_id)
            await record(DialogueEvent(EventKind.ERROR, {"reason": type(exc).__name__}))
            outcome = CallOutcome(Outcome.ERROR, {"reason": f"{type(exc).__name__}: {exc}"})
            with contextlib.suppress(Hangup):
                await channel.hangup()
        finally:
            for failed in await asyncio.gather(*writes, return_exceptions=True):
                if isinstance(failed, BaseException):
                    log.error("attempt %s: a call event was not stored: %s", attempt_id, failed)
        if not live.done.done():
            live.done.set_result(outcome)

    async def call_many(self, debtors: Iterable[Debtor], *, concurrency: int,
                        progress: Callable[[CallReport], None] | None = None) -> list[CallReport]:
        """Call debtors with at most ``concurrency`` calls in flight."""
        gate = asyncio.Semaphore(concurrency)

        async def one(debtor: Debtor) -> CallReport:
            async with gate:
                report = await self.call(debtor)
            if progress:
                progress(report)
            return report

        return list(await asyncio.gather(*(one(d) for d in debtors)))


async def _refuse(session: AgiSession, attempt_id: str) -> None:
    """Hang up a FastAGI session this controller has no call for: e.g. a call answered after the
    controller that placed it died, reaching the restarted one. Reconciliation closes its attempt."""
    log.warning("FastAGI session for a call this controller did not place (uniqueid %s, script %s); "
                "hanging up", loggable(attempt_id[:64]), loggable(session.script[:64]))
    try:
        await session.command("HANGUP")
    except (Hangup, TelephonyError) as exc:  # gone already, or a peer out of step: nothing to save
        log.info("FastAGI session for an unknown call ended before its HANGUP: %s", exc)
