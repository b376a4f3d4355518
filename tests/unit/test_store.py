"""The store on SQLite and PostgreSQL: schema, idempotent changes, the active-attempt guard."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from decimal import Decimal

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from bot.domain import CallResult, Debtor, DialogueEvent, EventKind, Outcome
from bot.errors import PhoneNumberError, StoreError
from bot.store.engine import create_store_engine
from bot.store.models import ACTIVE_STATES, STATES, Base
from bot.store.records import ACTIVE, AttemptState
from bot.store.repo import Store, open_store

T0 = dt.datetime(2025, 3, 1, 9, 0, tzinfo=dt.UTC)
PHONE = "+821055500012"


class Clock:
    """A hand-driven clock; every reading moves it one second on."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        self.now += dt.timedelta(seconds=1)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(database_url: str, clock: Clock) -> Iterator[Store]:
    with open_store(database_url, clock=clock) as opened:
        yield opened


def debtor(id: str = "L-1", phone: str = PHONE, name: str = "Kim") -> Debtor:
    return Debtor(id=id, name=name, phone=phone, amount=Decimal("150000.50"),
                  due_date=dt.date(2025, 2, 28), extra={"branch": "Seoul"})


def test_migrations_create_the_schema_on_an_empty_database(database_url: str) -> None:
    open_store(database_url).close()
    open_store(database_url).close()  # a second open finds the schema current
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            tables = set(inspect(conn).get_table_names())
            assert {"debtors", "call_attempts", "call_events", "alembic_version"} <= tables
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0009"
            # The migration and the models describe the same schema.
            assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    finally:
        engine.dispose()


def test_store_states_match_the_model_constraint() -> None:
    assert set(STATES) == {s.value for s in AttemptState}
    assert set(ACTIVE_STATES) == {s.value for s in ACTIVE}


def test_sqlite_file_gets_foreign_keys_and_wal(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'new' / 'dir' / 'c.db'}"
    with open_store(url) as store, store._engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    assert (tmp_path / "new" / "dir" / "c.db").is_file()


def test_debtor_round_trips_with_unicode_and_exact_amount(store: Store) -> None:
    kim = debtor(name="김철수 王小明 Ñoño")
    store.upsert_debtor(kim)
    assert store.get_debtor("L-1") == kim
    store.upsert_debtor(debtor(name="김영희"))
    assert store.get_debtor("L-1").name == "김영희"


def test_bad_values_are_refused_clearly(store: Store) -> None:
    with pytest.raises(PhoneNumberError):
        store.upsert_debtor(debtor(phone="010-5550-0012"))
    bad = Debtor(id="L-2", name="x", phone=PHONE, amount=Decimal("1.005"))
    with pytest.raises(StoreError, match="more than 12 digits and 2 decimals"):
        store.upsert_debtor(bad)
    with pytest.raises(StoreError, match="no debtor 'nobody'"):
        store.get_debtor("nobody")
    with pytest.raises(StoreError, match="no debtor"):
        store.create_attempt("nobody", PHONE)
    with pytest.raises(StoreError, match="no call attempt"):
        store.mark_dialing("f" * 32)


def test_one_active_attempt_per_debtor(store: Store) -> None:
    store.upsert_debtor(debtor())
    first = store.create_attempt("L-1", PHONE)
    with pytest.raises(StoreError, match="already has an active call attempt"):
        store.create_attempt("L-1", "+821055500013")
    store.mark_dialing(first)
    store.mark_answered(first)
    with pytest.raises(StoreError, match="active call attempt"):
        store.create_attempt("L-1", PHONE)
    store.finish_attempt(first, Outcome.REFUSED, {}, 16)
    second = store.create_attempt("L-1", PHONE)
    assert [a.id for a in store.attempts_for("L-1")] == [first, second]


def test_one_active_attempt_per_number(store: Store) -> None:
    store.upsert_debtor(debtor("L-1"))
    store.upsert_debtor(debtor("L-2"))
    store.create_attempt("L-1", PHONE)
    with pytest.raises(StoreError) as caught:
        store.create_attempt("L-2", PHONE)
    assert "+8210******12" in str(caught.value) and PHONE not in str(caught.value)


def test_concurrent_creates_give_exactly_one_attempt(database_url: str) -> None:
    with open_store(database_url) as setup:
        setup.upsert_debtor(debtor())
    stores = [open_store(database_url) for _ in range(6)]
    barrier = threading.Barrier(len(stores))
    outcomes: list[str] = []

    def claim(store: Store) -> None:
        barrier.wait()
        try:
            store.create_attempt("L-1", PHONE)
            outcomes.append("created")
        except StoreError:
            outcomes.append("refused")

    threads = [threading.Thread(target=claim, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in stores:
        s.close()
    assert sorted(outcomes) == ["created"] + ["refused"] * 5


def test_result_is_idempotent_and_unknown_can_be_reconciled(store: Store) -> None:
    store.upsert_debtor(debtor())
    attempt = store.create_attempt("L-1", PHONE)
    store.mark_dialing(attempt)
    assert store.mark_dialing(attempt) is False
    assert store.record_result(attempt, CallResult.UNKNOWN, None) is True
    assert store.record_result(attempt, CallResult.BUSY, 17) is True
    assert store.record_result(attempt, CallResult.BUSY, 17) is False
    with pytest.raises(StoreError, match="already has result busy"):
        store.record_result(attempt, CallResult.ANSWERED, None)
    (record,) = store.attempts_for("L-1")
    assert (record.result, record.hangup_cause, record.state) == (CallResult.BUSY, 17, "dialing")


def test_finish_is_idempotent_and_keeps_the_promise(store: Store, clock: Clock) -> None:
    store.upsert_debtor(debtor())
    attempt = store.create_attempt("L-1", PHONE)
    store.mark_dialing(attempt)
    store.mark_answered(attempt)
    answered = clock.now
    promise = {"date": "2025-03-05", "amount": "150000.50"}
    assert store.finish_attempt(attempt, Outcome.PROMISE_TO_PAY, promise, None) is True
    ended = clock.now
    assert store.finish_attempt(attempt, Outcome.PROMISE_TO_PAY, promise, None) is False
    assert store.finish_attempt(attempt, None, {}, 16) is True  # fills the missing cause only
    assert store.mark_answered(attempt) is False  # a late event after the end
    with pytest.raises(StoreError, match="already ended with promise_to_pay"):
        store.finish_attempt(attempt, Outcome.REFUSED, {}, None)
    (record,) = store.attempts_for("L-1")
    assert record.state == AttemptState.COMPLETED
    assert (record.outcome, record.outcome_detail, record.hangup_cause) == (
        Outcome.PROMISE_TO_PAY, promise, 16)
    assert record.answered_at == answered and record.ended_at == ended
    assert record.talk_seconds == (ended - answered).seconds
    assert record.created_at is not None and record.created_at.tzinfo is not None


def test_a_watchdog_close_does_not_lose_a_later_outcome(store: Store) -> None:
    store.upsert_debtor(debtor())
    attempt = store.create_attempt("L-1", PHONE)
    store.finish_attempt(attempt, None, {}, None)
    assert store.finish_attempt(attempt, Outcome.CALLBACK, {"at": "18:00"}, None) is True
    (record,) = store.attempts_for("L-1")
    assert (record.outcome, record.outcome_detail, record.talk_seconds) == (
        Outcome.CALLBACK, {"at": "18:00"}, 0)


def test_events_are_numbered_in_order_per_attempt(store: Store) -> None:
    store.upsert_debtor(debtor("L-1"))
    store.upsert_debtor(debtor("L-2", phone="+821055500013"))
    one = store.create_attempt("L-1", PHONE)
    two = store.create_attempt("L-2", "+821055500013")
    at = T0 + dt.timedelta(minutes=1)
    events = [DialogueEvent(EventKind.STATE, {"step": f"s{i}", "say": "안녕하세요"},
                            at=at + dt.timedelta(seconds=i)) for i in range(5)]
    assert [store.add_event(one, e) for e in events] == [1, 2, 3, 4, 5]
    assert store.add_event(two, DialogueEvent(EventKind.DTMF, {"digit": "1"}, at=at)) == 1
    assert store.events_for(one) == events
    assert [e.kind for e in store.events_for(two)] == [EventKind.DTMF]


def test_concurrent_events_get_distinct_sequence_numbers(database_url: str) -> None:
    with open_store(database_url) as setup:
        setup.upsert_debtor(debtor())
        attempt = setup.create_attempt("L-1", PHONE)
    stores = [open_store(database_url) for _ in range(4)]
    seqs: list[int] = []

    def append(store: Store) -> None:
        for i in range(10):
            seqs.append(store.add_event(attempt, DialogueEvent(EventKind.PROMPT, {"i": i})))

    threads = [threading.Thread(target=append, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(seqs) == list(range(1, 41))
    assert len(stores[0].events_for(attempt)) == 40
    for s in stores:
        s.close()


def test_naive_times_and_unknown_attempts_are_store_errors(store: Store) -> None:
    store.upsert_debtor(debtor())
    attempt = store.create_attempt("L-1", PHONE)
    with pytest.raises(StoreError, match="naive datetime"):
        store.add_event(attempt, DialogueEvent(EventKind.STATE, {}, at=dt.datetime(2025, 1, 1)))
    with pytest.raises(StoreError, match="no call attempt"):
        store.add_event("0" * 32, DialogueEvent(EventKind.STATE, {}))
    assert store.events_for(attempt) == []


def test_latest_outcomes_take_the_newest_attempt_and_mask_numbers(store: Store) -> None:
    store.upsert_debtor(debtor("L-1"))
    store.upsert_debtor(debtor("L-2", phone="+821055500013", name="박민수"))
    first = store.create_attempt("L-1", PHONE)
    store.record_result(first, CallResult.NO_ANSWER, 19)
    store.finish_attempt(first, None, {}, 19)
    second = store.create_attempt("L-1", PHONE)
    store.record_result(second, CallResult.ANSWERED, None)
    store.finish_attempt(second, Outcome.PROMISE_TO_PAY, {"date": dt.date(2025, 3, 5)}, 16)
    rows = store.latest_outcomes()
    assert [r.debtor_id for r in rows] == ["L-1", "L-2"]
    latest, never = rows
    assert (latest.attempt_id, latest.result, latest.outcome, latest.cause) == (
        second, CallResult.ANSWERED, Outcome.PROMISE_TO_PAY, 16)
    assert latest.detail == {"date": "2025-03-05"}
    assert latest.phone_masked == "+8210******12"
    assert (never.name, never.attempt_id, never.result, never.phone_masked) == (
        "박민수", None, None, "+8210******13")


@pytest.mark.parametrize("url", ["mysql://u@h/db", "not a url", "oracle+nope://x"])
def test_unsupported_urls_are_store_errors(url: str) -> None:
    with pytest.raises(StoreError):
        create_store_engine(url)


def test_unreachable_postgres_is_a_store_error_without_password() -> None:
    with pytest.raises(StoreError) as caught:
        open_store("postgresql://collbot:s3cret@127.0.0.1:1/collbot")
    assert "s3cret" not in str(caught.value)
