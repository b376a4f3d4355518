"""The only code that opens database sessions: short write transactions, plain records out.

State changes are idempotent (a duplicated Hangup must not fail or change a stored outcome),
and "at most one active attempt per debtor and per number" is the database's job.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Self

from sqlalchemy import Engine, and_, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bot.domain import CallResult, Debtor, DialogueEvent, EventKind, Outcome
from bot.errors import PhoneNumberError, StoreError, StoreUnavailable
from bot.phone import is_e164, mask
from bot.store.cases import CasesMixin
from bot.store.controllers import ControllersMixin
from bot.store.debtor_copy import copy_upsert
from bot.store.definitions import DefinitionsMixin
from bot.store.desk import DeskMixin
from bot.store.engine import create_store_engine, migrate, reason
from bot.store.followups import FollowUpsMixin, LedgerRefused, LedgerRule, campaign_past, put_back, take_follow_up
from bot.store.ledger import CampaignAttemptRow, ClaimRefused, LedgerMixin, history_in
from bot.store.models import AttemptRow, DebtorRow, EventRow
from bot.store.outage import Outage, is_unavailable, on_event_loop
from bot.store.payments import PaymentsMixin
from bot.store.records import ACTIVE, AttemptRecord, AttemptState, OutcomeRow
from bot.store.requests import RequestsMixin

if TYPE_CHECKING:
    from bot.campaign.compliance import Attempt as ComplianceAttempt
    from bot.campaign.compliance import Decision

Clock = Callable[[], dt.datetime]
NumberHash = Callable[[str], "str | None"]  # None: no key yet, so no number was ever forgotten
Gate = Callable[[list["ComplianceAttempt"]], "Decision"]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def open_store(url: str, *, clock: Clock = utc_now, number_hash: NumberHash | None = None) -> Store:
    """Open (creating if needed) the database at ``url`` and migrate it to the newest schema.

    ``number_hash``: the keyed hash of forgotten numbers (bot.privacy.keys.hasher), so that
    suppressions and caps kept under a hash still match the number when it is imported again.
    """
    engine = create_store_engine(url)
    try:
        migrate(engine)
    except BaseException:
        engine.dispose()
        raise
    return Store(engine, clock=clock, number_hash=number_hash)


class Store(LedgerMixin, FollowUpsMixin, ControllersMixin, DefinitionsMixin, PaymentsMixin, CasesMixin, DeskMixin,
            RequestsMixin):
    """Debtors, call attempts and their events."""

    def __init__(self, engine: Engine, *, clock: Clock = utc_now, number_hash: NumberHash | None = None):
        self._engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._clock = clock
        self._number_hash = number_hash
        self._outage = Outage(engine.url.render_as_string(hide_password=True))

    def _forgotten(self, *numbers: str | None) -> list[str]:
        """The keyed hashes these numbers would have in the ledger had their debtor been forgotten."""
        if self._number_hash is None:
            return []
        return [h for n in numbers if n and not n.startswith("#") and (h := self._number_hash(n)) is not None]

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self, action: str) -> Iterator[Session]:
        if self._outage.down:  # known gone: an event loop must not block on it, a thread waits
            if on_event_loop():
                raise StoreUnavailable(f"cannot {action}: the database is unreachable")
            self.wait_available()
        try:
            with self._sessions.begin() as session:
                yield session
        except SQLAlchemyError as exc:
            if is_unavailable(exc):
                self._outage.lost(reason(exc))
                raise StoreUnavailable(f"cannot {action}: the database is unreachable ({reason(exc)})") from exc
            raise StoreError(f"cannot {action}: {reason(exc)}") from exc

    @property
    def available(self) -> bool:
        """False from a transaction that found the server gone until a probe finds it back."""
        return not self._outage.down

    def wait_available(self) -> None:
        """Block until the server answers (backoff; StoreUnavailable after bot.store.outage.WAIT_S).
        Never on an event loop: ``await asyncio.to_thread(store.wait_available)``."""
        def probe() -> None:
            with self._engine.connect() as connection:
                connection.exec_driver_sql("SELECT 1")

        self._outage.wait(probe)

    # --- debtors ---------------------------------------------------------------------------

    def upsert_debtor(self, debtor: Debtor) -> None:
        """Insert the debtor or update every field of an existing one (keyed by ``id``)."""
        _check_numbers(debtor)
        values = _debtor_values(debtor, self._clock())
        with self._tx(f"save debtor {debtor.id!r}") as session:
            session.execute(_debtor_upsert(session).values(**values))

    def upsert_debtors(self, debtors: Sequence[Debtor]) -> tuple[int, int]:
        """Insert or update (every field, keyed by ``id``) a batch in ONE transaction: (inserted, updated).

        The ids must be distinct. On PostgreSQL the split between inserted and updated can be off
        when another process writes the same ids at the same time; the rows themselves are not.
        """
        if not debtors:
            return 0, 0
        ids = [d.id for d in debtors]
        if len(set(ids)) != len(ids):
            raise StoreError("a batch of debtors names the same id twice")
        for debtor in debtors:
            _check_numbers(debtor)
        now = self._clock()
        with self._tx(f"save {len(debtors)} debtors ({ids[0]!r} to {ids[-1]!r})") as session:
            connection = session.connection()
            sql, parameters = _driver_upsert(connection.dialect, now)
            if connection.dialect.name == "postgresql":
                columns = [c.name for c in DebtorRow.__table__.columns]
                existing = copy_upsert(connection, columns, [[p[c] for c in columns] for p in map(parameters, debtors)])
            else:
                # One JSON parameter rather than an IN of every id: no limit on SQLite's variables,
                # and no SQL compiled per batch.
                existing = connection.exec_driver_sql(
                    "SELECT count(*) FROM debtors WHERE id IN (SELECT value FROM json_each(?))",
                    (json.dumps(ids),)).scalar()
                connection.exec_driver_sql(sql, [parameters(d) for d in debtors])
        updated = int(existing or 0)
        return len(debtors) - updated, updated

    def get_debtor(self, debtor_id: str) -> Debtor:
        with self._tx(f"read debtor {debtor_id!r}") as session:
            row = session.get(DebtorRow, debtor_id)
            if row is None:
                raise StoreError(f"no debtor {debtor_id!r}")
            return _debtor(row)

    # --- attempts --------------------------------------------------------------------------

    def create_attempt(self, debtor_id: str, phone: str, *, campaign: str | None = None,
                       round: str | None = None, script: str | None = None, gate: Gate | None = None,
                       rule: LedgerRule | None = None, follow_up: int | None = None,
                       controller: str | None = None) -> str:
        """A new queued attempt; StoreError if the debtor or the number has an active one.

        A campaign's claim names its campaign, round and script: the link is written in the same
        transaction, so no attempt can exist that a restart would not reconcile. ``gate`` decides
        on the debt's history as this transaction sees it, with the debtor row locked (FOR UPDATE
        on PostgreSQL; SQLite's write transactions are serialized): a refusal raises ClaimRefused,
        so two runners cannot both pass a frequency cap. ``rule`` judges the debtor's attempts in
        this campaign as the same transaction sees them (LedgerRefused), and ``follow_up``, a
        pending follow-up, is taken by the new attempt in the same transaction. On PostgreSQL a
        debtor another controller is claiming right now is skipped (``SKIP LOCKED``): StoreError.
        """
        if not is_e164(phone):
            raise PhoneNumberError("refusing to create an attempt for a non-E.164 number")
        attempt_id = uuid.uuid4().hex
        with self._tx(f"create an attempt for debtor {debtor_id!r}") as session:
            if gate is not None and session.get_bind().dialect.name == "postgresql":
                locked = session.scalar(select(DebtorRow.id).where(DebtorRow.id == debtor_id)
                                        .with_for_update(skip_locked=True))
                if locked is None:
                    if session.get(DebtorRow, debtor_id) is None:
                        raise StoreError(f"no debtor {debtor_id!r}")
                    raise StoreError(f"debtor {debtor_id!r} is being claimed by another controller")
            elif session.get(DebtorRow, debtor_id, with_for_update=gate is not None) is None:
                raise StoreError(f"no debtor {debtor_id!r}")
            if gate is not None:
                row = session.get(DebtorRow, debtor_id)
                assert row is not None
                decision = gate(history_in(session, debtor_id, self._forgotten(row.phone, row.alt_phone)))
                if not decision.allow:
                    raise ClaimRefused(decision)
            if rule is not None and campaign is not None:
                refused = rule(campaign_past(session, campaign, debtor_id))
                if refused is not None:
                    raise LedgerRefused(refused)
            if follow_up is not None:
                take_follow_up(session, follow_up, attempt_id, self._clock())
            session.add(AttemptRow(
                id=attempt_id, debtor_id=debtor_id, phone=phone, state=AttemptState.QUEUED.value,
                outcome_detail={}, created_at=self._clock(), controller=controller,
            ))
            try:
                session.flush()
            except IntegrityError as exc:
                clash = "phone" in str(exc.orig)
                who = f"number {mask(phone)}" if clash else f"debtor {debtor_id!r}"
                raise StoreError(f"{who} already has an active call attempt") from exc
            if campaign is not None:
                session.add(CampaignAttemptRow(attempt_id=attempt_id, campaign=campaign, round=round or "",
                                               debtor_id=debtor_id, script=script))
        return attempt_id

    def mark_dialing(self, attempt_id: str) -> bool:
        """queued → dialing, just before the Originate; a repeat is a no-op."""
        with self._tx(f"mark attempt {attempt_id} dialing") as session:
            # Written before the Originate is sent, so no call can exist that the ledger does not
            # know; taken back by ``undo_dialing`` when the Originate was not sent or refused.
            row = _locked(session, attempt_id)
            if row.state == AttemptState.DIALING:
                return False
            if row.state != AttemptState.QUEUED:
                raise StoreError(f"attempt {attempt_id} is {row.state}; it cannot start dialling")
            row.state, row.dialed_at = AttemptState.DIALING.value, self._clock()
            return True

    def undo_dialing(self, attempt_id: str) -> bool:
        """Asterisk never took the Originate (link down, action refused): forget the claim as if
        never made, and put back the follow-up it took. False if the attempt went further."""
        from bot.store.ledger import CampaignAttemptRow

        with self._tx(f"release attempt {attempt_id} that Asterisk never took") as session:
            row = _locked(session, attempt_id)
            if row.state not in (AttemptState.QUEUED, AttemptState.DIALING) or row.result is not None:
                return False
            session.execute(delete(CampaignAttemptRow).where(CampaignAttemptRow.attempt_id == attempt_id))
            session.execute(delete(EventRow).where(EventRow.attempt_id == attempt_id))
            put_back(session, [attempt_id], self._clock())
            session.delete(row)
            return True

    def record_result(self, attempt_id: str, result: CallResult, cause: int | None) -> bool:
        """What the network did. Repeats are no-ops; only ``unknown`` may be overwritten."""
        result = CallResult(result)
        with self._tx(f"record the result of attempt {attempt_id}") as session:
            row = _locked(session, attempt_id)
            stored = CallResult(row.result) if row.result is not None else None
            if stored is None or (stored == CallResult.UNKNOWN and result != CallResult.UNKNOWN):
                row.result = result.value
                row.hangup_cause = cause if cause is not None else row.hangup_cause
                return True
            if stored != result:
                raise StoreError(f"attempt {attempt_id} already has result {stored}, not {result}")
            if cause is not None and row.hangup_cause is None:
                row.hangup_cause = cause
                return True
            return False

    def mark_answered(self, attempt_id: str) -> bool:
        """The customer picked up; a repeat, or a late event after the end, is a no-op."""
        with self._tx(f"mark attempt {attempt_id} answered") as session:
            row = _locked(session, attempt_id)
            if row.state in (AttemptState.ANSWERED, AttemptState.COMPLETED):
                return False
            row.state, row.answered_at = AttemptState.ANSWERED.value, self._clock()
            return True

    def finish_attempt(self, attempt_id: str, outcome: Outcome | None,
                       detail: dict[str, Any], cause: int | None) -> bool:
        """Close the attempt. Repeats are no-ops, but a missing outcome is still filled in."""
        stored_outcome = Outcome(outcome).value if outcome is not None else None
        with self._tx(f"finish attempt {attempt_id}") as session:
            row = _locked(session, attempt_id)
            if row.state != AttemptState.COMPLETED:
                now = self._clock()
                row.state, row.ended_at = AttemptState.COMPLETED.value, now
                row.talk_seconds = (
                    max(0, round((now - row.answered_at).total_seconds())) if row.answered_at else 0
                )
                row.outcome, row.outcome_detail = stored_outcome, dict(detail)
                row.hangup_cause = cause if cause is not None else row.hangup_cause
                return True
            changed = False
            if stored_outcome is not None and row.outcome is None:
                row.outcome, row.outcome_detail, changed = stored_outcome, dict(detail), True
            elif stored_outcome is not None and row.outcome != stored_outcome:
                raise StoreError(
                    f"attempt {attempt_id} already ended with {row.outcome}, not {stored_outcome}"
                )
            if cause is not None and row.hangup_cause is None:
                row.hangup_cause, changed = cause, True
            return changed

    def attempts_for(self, debtor_id: str) -> list[AttemptRecord]:
        with self._tx(f"read the attempts of debtor {debtor_id!r}") as session:
            rows = session.scalars(
                select(AttemptRow).where(AttemptRow.debtor_id == debtor_id)
                .order_by(AttemptRow.created_at, AttemptRow.id)
            )
            return [_attempt(row) for row in rows]

    # --- events ----------------------------------------------------------------------------

    def add_event(self, attempt_id: str, event: DialogueEvent) -> int:
        """Append an event; returns its sequence number (1, 2, ... per attempt)."""
        with self._tx(f"add an event to attempt {attempt_id}") as session:
            _locked(session, attempt_id)  # serializes concurrent appends to one attempt
            return _append_event(session, attempt_id, event)

    def events_for(self, attempt_id: str) -> list[DialogueEvent]:
        with self._tx(f"read the events of attempt {attempt_id}") as session:
            rows = session.scalars(
                select(EventRow).where(EventRow.attempt_id == attempt_id).order_by(EventRow.seq)
            )
            return [DialogueEvent(kind=EventKind(r.kind), data=dict(r.data), at=r.at) for r in rows]

    # --- reports ---------------------------------------------------------------------------

    def latest_outcomes(self) -> list[OutcomeRow]:
        """Every debtor with the result of their most recent attempt, ordered by debtor id."""
        rank = func.row_number().over(
            partition_by=AttemptRow.debtor_id,
            order_by=(AttemptRow.created_at.desc(), AttemptRow.id.desc()),
        )
        ranked = select(AttemptRow, rank.label("rank")).subquery()
        stmt = (
            select(DebtorRow.id, DebtorRow.name, DebtorRow.phone, ranked.c.id, ranked.c.phone,
                   ranked.c.result, ranked.c.outcome, ranked.c.outcome_detail,
                   ranked.c.hangup_cause)
            .outerjoin(ranked, and_(ranked.c.debtor_id == DebtorRow.id, ranked.c.rank == 1))
            .order_by(DebtorRow.id)
        )
        with self._tx("read the latest outcomes") as session:
            return [
                OutcomeRow(
                    debtor_id=debtor_id, name=name, phone_masked=mask(called or phone),
                    attempt_id=attempt_id,
                    result=CallResult(result) if result is not None else None,
                    outcome=Outcome(outcome) if outcome is not None else None,
                    detail=dict(detail or {}), cause=cause,
                )
                for debtor_id, name, phone, attempt_id, called, result, outcome, detail, cause
                in session.execute(stmt)
            ]


def _check_numbers(debtor: Debtor) -> None:
    if not is_e164(debtor.phone):
        raise PhoneNumberError(f"debtor {debtor.id!r}: phone is not an E.164 number")
    if debtor.alt_phone is not None and not is_e164(debtor.alt_phone):
        raise PhoneNumberError(f"debtor {debtor.id!r}: alt_phone is not an E.164 number")


def _debtor_values(debtor: Debtor, now: dt.datetime) -> dict[str, Any]:
    return {
        "id": debtor.id, "name": debtor.name, "phone": debtor.phone, "amount": debtor.amount,
        "currency": debtor.currency, "due_date": debtor.due_date, "language": debtor.language,
        "extra": dict(debtor.extra), "timezone": debtor.timezone, "alt_phone": debtor.alt_phone,
        "tags": list(debtor.tags), "created_at": now, "updated_at": now,
        "overdue_since": debtor.overdue_since, "score": debtor.score,
    }


def _debtor_upsert(session: Session) -> Any:
    """INSERT ... ON CONFLICT (id) DO UPDATE of every column but ``id`` and ``created_at``."""
    return _debtor_upsert_for(session.get_bind().dialect.name)


def _driver_upsert(dialect: Dialect, now: dt.datetime) -> tuple[str, Callable[[Debtor], Any]]:
    """The batch upsert as driver SQL, and the driver parameters of one debtor.

    The values go through the columns' own bind processors, exactly as executing the statement
    would convert them, but without SQLAlchemy's per-row bookkeeping (which cost three times
    the insert itself); the timestamps, the same for the whole batch, are converted once.
    """
    table = DebtorRow.__table__
    names = [c.name for c in table.columns]
    compiled = _debtor_upsert_for(dialect.name).compile(dialect=dialect, column_keys=names)
    order = list(compiled.positiontup or ()) if compiled.positional else names
    if sorted(order) != sorted(names):
        raise StoreError(f"unexpected parameters in the debtor upsert: {order}")
    process = {c.name: c.type.dialect_impl(dialect).bind_processor(dialect) for c in table.columns}
    stamp = process["created_at"]
    fixed = stamp(now) if stamp is not None else now
    converters = [(name, process[name]) for name in order]

    def parameters(debtor: Debtor) -> Any:
        values = _debtor_values(debtor, now)
        converted = [fixed if name in _STAMPS else values[name] if convert is None else convert(values[name])
                     for name, convert in converters]
        return tuple(converted) if compiled.positional else dict(zip(order, converted, strict=True))

    return compiled.string, parameters


_STAMPS = frozenset({"created_at", "updated_at"})


def _debtor_upsert_for(dialect_name: str) -> Any:
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    insert = dialect.insert(DebtorRow.__table__)
    changed = {c.name: insert.excluded[c.name] for c in DebtorRow.__table__.columns
               if c.name not in ("id", "created_at")}
    return insert.on_conflict_do_update(index_elements=["id"], set_=changed)


def _append_event(session: Session, attempt_id: str, event: DialogueEvent) -> int:
    """Append to an attempt whose row the session has locked; returns the sequence number."""
    seq = session.scalar(
        select(func.coalesce(func.max(EventRow.seq), 0) + 1).where(EventRow.attempt_id == attempt_id)
    )
    session.add(EventRow(attempt_id=attempt_id, seq=seq, at=event.at,
                         kind=EventKind(event.kind).value, data=dict(event.data)))
    return int(seq or 1)


def _locked(session: Session, attempt_id: str) -> AttemptRow:
    # FOR UPDATE on PostgreSQL; SQLite transactions already hold the write lock (BEGIN IMMEDIATE).
    row = session.get(AttemptRow, attempt_id, with_for_update=True)
    if row is None:
        raise StoreError(f"no call attempt {attempt_id!r}")
    return row


def _attempt(row: AttemptRow) -> AttemptRecord:
    return AttemptRecord(
        id=row.id, debtor_id=row.debtor_id, phone=row.phone, state=AttemptState(row.state),
        result=CallResult(row.result) if row.result is not None else None,
        hangup_cause=row.hangup_cause,
        outcome=Outcome(row.outcome) if row.outcome is not None else None,
        outcome_detail=dict(row.outcome_detail or {}), created_at=row.created_at,
        dialed_at=row.dialed_at, answered_at=row.answered_at, ended_at=row.ended_at,
        talk_seconds=row.talk_seconds,
    )


__all__ = ["ACTIVE", "AttemptRecord", "AttemptState", "ClaimRefused", "LedgerRefused", "OutcomeRow", "Store",
           "open_store"]


def _debtor(row: DebtorRow) -> Debtor:
    return Debtor(id=row.id, name=row.name, phone=row.phone, amount=row.amount, currency=row.currency,
                  due_date=row.due_date, language=row.language, extra=dict(row.extra), timezone=row.timezone,
                  alt_phone=row.alt_phone, tags=tuple(row.tags or ()), overdue_since=row.overdue_since,
                  score=row.score)
