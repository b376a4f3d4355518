"""The live-event path to agents' desks: ``Desk.push`` / ``Desk.screen_pop``, and the streams.

Every event is a ``desk_events`` row first and a message second. A push from this process wakes
the agent's open streams at once; a push from another process (``push_event`` on the same
database, e.g. the controller that transfers a call) is picked up by the streams' poll within
``POLL_S``. A browser that reconnects asks for the events after the last one it saw
(``Last-Event-ID``), so nothing pushed while it was away is lost.

When an agent's last stream drops and none reopens within the grace period, the agent is
paused with reason "disconnected"; an open screen pop stays open for the wrap-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool

from bot.errors import CollbotError
from bot.store.desk import DeskEvent
from bot.store.repo import Store
from bot.web.summary import CallSummary

log = logging.getLogger(__name__)

POLL_S = 0.5  # how soon a push from another process shows (one query per process, not per desk)
TICK_S = 1.0  # how often an idle stream checks that its browser is still there
RESYNC_S = 5.0  # an idle stream re-reads its events this often anyway (a late commit is never missed)
KINDS = ("screen_pop", "state", "notice")


def push_event(store: Store, agent: str, kind: str, data: dict[str, Any], *, debtor_id: str | None = None,
               attempt_id: str | None = None) -> int:
    """Queue an event for ``agent``'s desk from any process; returns its id."""
    if kind not in KINDS:
        raise ValueError(f"unknown desk event kind {kind!r}")
    return store.add_desk_event(agent, kind, data, debtor_id=debtor_id, attempt_id=attempt_id)


def pop_screen(store: Store, agent: str, summary: CallSummary) -> int:
    """Put a call through to ``agent``'s screen: store the pop and mark the agent on a call."""
    event_id = push_event(store, agent, "screen_pop", summary.as_dict(), debtor_id=summary.debtor_id or None,
                          attempt_id=summary.attempt_id)
    store.set_agent_state(agent, "on_call", "")
    return event_id


class Desk:
    """The web process's hub: pushes, open streams, and the disconnect grace period."""

    def __init__(self, store: Store, *, grace_s: float, poll_s: float = POLL_S, tick_s: float = TICK_S,
                 clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)):
        self.store = store
        self.clock = clock
        self.grace_s = grace_s
        self.poll_s = poll_s
        self.tick_s = tick_s
        self._poller: asyncio.Future[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wakers: dict[str, set[asyncio.Event]] = {}
        self._open: dict[str, int] = {}
        self._dropped_at: dict[str, float] = {}
        self._timers: set[asyncio.TimerHandle] = set()
        self._closing = asyncio.Event()

    # --- the push API (callable from any thread of the web process) ------------------------------
    def push(self, agent: str, kind: str, data: dict[str, Any], *, debtor_id: str | None = None,
             attempt_id: str | None = None) -> int:
        event_id = push_event(self.store, agent, kind, data, debtor_id=debtor_id, attempt_id=attempt_id)
        self._wake(agent)
        return event_id

    def screen_pop(self, agent: str, summary: CallSummary) -> int:
        event_id = pop_screen(self.store, agent, summary)
        self._wake(agent)
        return event_id

    # --- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        """Begin serving; agents left ready or on a call by a previous server are paused as
        disconnected unless their desk reconnects within the grace period."""
        self._loop = asyncio.get_running_loop()
        started = self.clock()

        def sweep() -> None:
            self._timers.discard(timer)
            if self._closing.is_set():
                return
            task = asyncio.ensure_future(run_in_threadpool(self._sweep, started))
            task.add_done_callback(_log_failure)

        timer = self._loop.call_later(self.grace_s, sweep)
        self._timers.add(timer)
        self._poller = asyncio.ensure_future(self._poll())

    async def _poll(self) -> None:
        """Wake the desks that have new events pushed by other processes."""
        seen: int | None = None
        while not self._closing.is_set():
            try:
                latest = await run_in_threadpool(self.store.latest_desk_event_id)
                if seen is not None and latest > seen:
                    for agent in await run_in_threadpool(self.store.desk_agents_after, seen):
                        self._wake_now(agent)
                seen = latest
            except CollbotError as exc:  # the database is away for a moment: streams resync later
                log.warning("desk event poll failed: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), self.poll_s)

    def _sweep(self, started: dt.datetime) -> None:
        for state in self.store.agent_states():
            # a state set since this server started was set by a desk that is (or was) connected
            if state.state in ("ready", "on_call", "wrap_up") and state.since <= started \
                    and not self.connected(state.agent):
                self._pause_disconnected(state.agent, only_since=started)

    def stop(self) -> None:
        self._closing.set()
        if self._poller is not None:
            self._poller.cancel()
        for timer in self._timers:
            timer.cancel()
        for wakers in self._wakers.values():
            for waker in wakers:
                waker.set()

    def connected(self, agent: str) -> bool:
        return self._open.get(agent, 0) > 0

    # --- streams ---------------------------------------------------------------------------------
    async def events(self, agent: str, after: int,
                     gone: Callable[[], Awaitable[bool]]) -> AsyncIterator[DeskEvent | None]:
        """The agent's events after id ``after`` as they come; None now and then as a keep-alive
        tick. Ends when ``gone()`` says the client left or the server stops."""
        waker = asyncio.Event()
        self._wakers.setdefault(agent, set()).add(waker)
        self._open[agent] = self._open.get(agent, 0) + 1
        woken, read_at = True, 0.0
        try:
            while not self._closing.is_set():
                if woken or time.monotonic() - read_at >= RESYNC_S:
                    waker.clear()  # before reading: a push during the read wakes us again
                    read_at = time.monotonic()
                    for event in await run_in_threadpool(self.store.desk_events_after, agent, after):
                        after = event.id
                        yield event
                yield None
                if await gone():
                    return
                try:
                    await asyncio.wait_for(waker.wait(), self.tick_s)
                    woken = True
                except TimeoutError:
                    woken = False
        finally:
            self._wakers[agent].discard(waker)
            self._open[agent] -= 1
            if self._open[agent] == 0:
                self._dropped(agent)

    def _wake(self, agent: str) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        loop.call_soon_threadsafe(self._wake_now, agent)

    def _wake_now(self, agent: str) -> None:
        for waker in self._wakers.get(agent, ()):
            waker.set()

    def _dropped(self, agent: str) -> None:
        if self._closing.is_set() or self._loop is None:
            return
        dropped_at = time.monotonic()
        self._dropped_at[agent] = dropped_at

        def check() -> None:
            self._timers.discard(timer)
            if self.connected(agent) or self._dropped_at.get(agent) != dropped_at or self._closing.is_set():
                return
            task = asyncio.ensure_future(run_in_threadpool(self._pause_disconnected, agent))
            task.add_done_callback(_log_failure)

        timer = self._loop.call_later(self.grace_s, check)
        self._timers.add(timer)

    def _pause_disconnected(self, agent: str, only_since: dt.datetime | None = None) -> None:
        if only_since is not None and self.store.agent_state(agent).since > only_since:
            return
        changed = self.store.set_agent_state(agent, "paused", "disconnected",
                                             only_from=("ready", "on_call", "wrap_up"))
        if changed is not None:
            self.store.audit(agent, "disconnected", f"agent:{agent}", {"grace_s": self.grace_s})
            push_event(self.store, agent, "state", {"state": "paused", "reason": "disconnected"})


def _log_failure(task: asyncio.Future[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("could not pause a disconnected agent: %s", task.exception())
