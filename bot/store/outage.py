"""A database server that goes away (PostgreSQL restarted, failed over): noticed once, waited
for with backoff, and its return said once.

Waiting never happens on an event loop: a transaction started there raises ``StoreUnavailable``
at once, and async callers wait in a thread (``Store.wait_available``) while their loop keeps
serving the calls in progress.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable

from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from bot.errors import StoreUnavailable
from bot.store.engine import reason

log = logging.getLogger(__name__)

WAIT_S = 300.0  # how long a caller waits for the server before the outage becomes its error
FIRST_S, MAX_S = 0.2, 5.0  # backoff between probes
# SQLSTATE classes and codes of a server that is gone or not accepting connections:
# 08 connection exception, 57P01-57P03 shutdown or not yet started.
_GONE = ("08", "57P01", "57P02", "57P03")


def is_unavailable(exc: SQLAlchemyError) -> bool:
    """True when ``exc`` says the PostgreSQL server is unreachable, not that a statement failed."""
    if not isinstance(exc, DBAPIError) or exc.orig is None:
        return False
    if exc.connection_invalidated:
        return True
    module = type(exc.orig).__module__
    if not module.startswith("psycopg"):  # SQLite's OperationalError means a locked or broken file
        return False
    state = getattr(exc.orig, "sqlstate", None)
    if state is None:  # refused, reset, or timed out before the server said anything
        return type(exc.orig).__name__ in ("OperationalError", "InterfaceError")
    return state.startswith(_GONE)


def on_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class Outage:
    """The store's view of its server: up, or down since when (thread-safe)."""

    def __init__(self, what: str):
        self.what = what
        self._lock = threading.Lock()
        self._since: float | None = None

    @property
    def down(self) -> bool:
        return self._since is not None

    def lost(self, why: str) -> None:
        with self._lock:
            if self._since is not None:
                return
            self._since = time.monotonic()
        log.warning("database %s unreachable (%s): dialling held, writes kept and retried until it is back",
                    self.what, why)

    def back(self) -> None:
        with self._lock:
            since, self._since = self._since, None
        if since is not None:
            log.warning("database %s reachable again after %.1fs", self.what, time.monotonic() - since)

    def wait(self, probe: Callable[[], None], *, limit_s: float = WAIT_S) -> None:
        """Block (never on an event loop) until ``probe`` succeeds; StoreUnavailable after ``limit_s``."""
        if on_event_loop():
            raise RuntimeError("Outage.wait blocks: call it in a thread (asyncio.to_thread)")
        deadline = time.monotonic() + limit_s
        pause = FIRST_S
        while True:
            try:
                probe()
            except SQLAlchemyError as exc:
                if not is_unavailable(exc):
                    raise
                self.lost(reason(exc))
                if time.monotonic() >= deadline:
                    raise StoreUnavailable(f"database {self.what} unreachable for {limit_s:.0f}s") from exc
                time.sleep(pause)
                pause = min(MAX_S, pause * 2)
                continue
            self.back()
            return

