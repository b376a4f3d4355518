"""The desk's store operations on SQLite and PostgreSQL: one-time nonces, sessions, lockout,
agent states, pops and their single wrap-up."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from bot.domain import Outcome
from bot.errors import InputError, StoreError
from bot.store.repo import Store, open_store
from tests.webutil import add_debtor, add_users, robot_call

T0 = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def clock() -> list[dt.datetime]:
    return [T0]


@pytest.fixture
def store(database_url: str, clock: list[dt.datetime]) -> Iterator[Store]:
    with open_store(database_url, clock=lambda: clock[0]) as opened:
        add_users(opened, ann="agent", bob="agent")
        yield opened


def test_a_nonce_is_accepted_once_and_forgotten_after_it_expired(store: Store, clock: list[dt.datetime]) -> None:
    keep = dt.timedelta(hours=1)
    assert store.use_nonce("n1", keep=keep)
    assert not store.use_nonce("n1", keep=keep)
    assert store.use_nonce("n2", keep=keep)
    clock[0] += dt.timedelta(hours=2)
    assert store.use_nonce("n3", keep=keep)  # the sweep ran: n1's token has expired anyway
    assert store.use_nonce("n1", keep=keep)


def test_users_and_lockout(store: Store, clock: list[dt.datetime]) -> None:
    with pytest.raises(InputError, match="already exists"):
        store.add_web_user("ann", "x", "agent")
    with pytest.raises(InputError, match="unknown role"):
        store.add_web_user("zed", "x", "root")
    for _ in range(3):
        store.note_login("ann", False, max_failures=3, lockout=dt.timedelta(minutes=15))
    user = store.web_user("ann")
    assert user is not None and user.locked_until == T0 + dt.timedelta(minutes=15)
    store.note_login("ann", True, max_failures=3, lockout=dt.timedelta(minutes=15))
    assert store.web_user("ann").locked_until is None  # type: ignore[union-attr]


def test_disabling_a_user_revokes_their_sessions(store: Store) -> None:
    sid = store.open_web_session("ann", dt.timedelta(hours=8))
    other = store.open_web_session("bob", dt.timedelta(hours=8))
    store.disable_web_user("ann")
    assert store.web_session_user(sid) is None
    assert store.web_session_user(other) is not None
    with pytest.raises(InputError, match="no user"):
        store.disable_web_user("nobody")


def test_agent_state_changes_only_from_the_state_they_were_decided_on(store: Store) -> None:
    assert store.agent_state("ann").state == "logged_out"
    store.set_agent_state("ann", "ready")
    assert store.set_agent_state("ann", "paused", "disconnected", only_from=("on_call",)) is None
    assert store.agent_state("ann").state == "ready"
    with pytest.raises(InputError):
        store.set_agent_state("ann", "asleep")


def test_a_pop_is_wrapped_up_once(store: Store) -> None:
    add_debtor(store, "D1")
    robot = robot_call(store, "D1")
    pop = store.add_desk_event("ann", "screen_pop", {"x": 1}, debtor_id="D1", attempt_id=robot)
    assert [p.id for p in store.open_pops("ann")] == [pop] and store.popped_debtors("ann") == {"D1"}
    with pytest.raises(StoreError, match="no screen pop"):
        store.wrap_up(pop, "bob", Outcome.REFUSED, {})
    attempt = store.wrap_up(pop, "ann", Outcome.REFUSED, {"disposition": "refused"})
    with pytest.raises(StoreError, match="already wrapped up"):
        store.wrap_up(pop, "ann", Outcome.PROMISE_TO_PAY, {})
    stored = store.find_attempt(attempt)
    assert stored is not None and stored.outcome is Outcome.REFUSED and stored.phone == "+821012345678"
    assert not store.open_pops("ann") and store.desk_event(pop).result_attempt_id == attempt  # type: ignore[union-attr]
    with pytest.raises(InputError, match="no debtor"):
        store.add_desk_event("ann", "screen_pop", {}, debtor_id="NOPE")
    assert [e.id for e in store.desk_events_after("ann", 0)] == [pop]
