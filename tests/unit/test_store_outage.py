"""A database server that cannot be reached: one clear error type, no waiting on an event loop."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest
from sqlalchemy.exc import OperationalError

from bot.errors import StoreUnavailable
from bot.store.engine import create_store_engine
from bot.store.outage import Outage, is_unavailable
from bot.store.repo import Store


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # nothing listens there once the socket is closed


@pytest.fixture
def gone() -> Store:
    pytest.importorskip("psycopg")
    url = f"postgresql+psycopg://collbot:x@127.0.0.1:{_closed_port()}/collbot"
    return Store(create_store_engine(url))


def test_a_server_that_refuses_connections_is_unavailable_not_a_failed_write(gone: Store) -> None:
    assert gone.available
    with pytest.raises(StoreUnavailable, match="cannot read suppression: the database is unreachable"):
        gone.suppression("+821055500000")
    assert not gone.available


def test_on_an_event_loop_a_known_outage_fails_at_once_and_waiting_is_refused(gone: Store) -> None:
    with pytest.raises(StoreUnavailable):
        gone.suppression("+821055500000")

    async def on_loop() -> None:
        started = time.monotonic()
        with pytest.raises(StoreUnavailable):
            gone.suppression("+821055500000")
        assert time.monotonic() - started < 0.5  # no connect attempt, no backoff on the loop
        with pytest.raises(RuntimeError, match="blocks"):
            gone.wait_available()

    asyncio.run(on_loop())


def test_waiting_gives_up_after_its_limit_with_the_outage_as_the_error(gone: Store) -> None:
    outage = Outage("test")

    def probe() -> None:
        with gone._engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")

    with pytest.raises(StoreUnavailable, match="unreachable for 1s"):
        outage.wait(probe, limit_s=0.6)
    assert outage.down


def test_sqlite_operational_errors_are_not_outages() -> None:
    engine = create_store_engine("sqlite://")
    with engine.connect() as connection, pytest.raises(OperationalError) as raised:
        connection.exec_driver_sql("SELECT * FROM nowhere")
    assert not is_unavailable(raised.value)
