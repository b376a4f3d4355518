"""Agents, who owns which case, and the history of every change of owner. Mixed into ``Store``.

A case is a debtor's debt. ``case_owners`` holds at most one row per debtor (its primary key),
so a case has exactly one owner or none by construction. Each row carries a ``version``,
bumped by every change: a move names the version it was decided on, and a move whose case has
changed since is refused (``CaseConflict``) with the whole batch, so two supervisors
allocating the same case at the same moment cannot both win (batches of moves are
serialized, so the second one reads the first one's result). Caps are checked in the same
transaction, with the agents' rows locked (FOR UPDATE on PostgreSQL; SQLite serializes
write transactions), so concurrent batches cannot together overfill an agent.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    and_,
    any_,
    bindparam,
    func,
    or_,
    select,
    text,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, Session, mapped_column

from bot.agents.records import AgentRecord, CaseFilter, CaseRecord, HistoryEntry, Move, Why
from bot.domain import Outcome
from bot.errors import InputError, StoreError
from bot.store.ledger import CONVERSATION
from bot.store.models import AttemptRow, Base, DebtorRow
from bot.store.payments import PaymentRow
from bot.store.records import Payment
from bot.store.types import JsonData, UTCDateTime

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

MAX_REASON = 500
_CHUNK = 2000  # ids per IN (...) list, well under SQLite's variable limit
_MOVES_LOCK = 0x636F6C6C6361  # pg advisory lock key of case moves: b"collca"


# Without a dpd, days past due count from the due date.
_OVERDUE_SINCE = func.coalesce(DebtorRow.overdue_since, DebtorRow.due_date)


class CaseConflict(StoreError):
    """A case changed owner after the view a move was decided on; nothing of the batch was stored."""


class AllocationRefused(InputError):
    """A move names an unknown or inactive agent or case, or would exceed an agent's cap."""


class AgentRow(Base):
    __tablename__ = "agents"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the web login name
    display_name: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean)
    cap: Mapped[int] = mapped_column(Integer)
    team: Mapped[str | None] = mapped_column(String(64))
    skills: Mapped[list[str]] = mapped_column(JsonData)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class CaseOwnerRow(Base):
    __tablename__ = "case_owners"
    __table_args__ = (Index("ix_case_owners_agent_id", "agent_id"),)
    debtor_id: Mapped[str] = mapped_column(ForeignKey("debtors.id", ondelete="CASCADE"), primary_key=True)
    agent_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id", ondelete="RESTRICT"))
    since: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    why: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer)


class CaseHistoryRow(Base):
    __tablename__ = "case_history"
    __table_args__ = (Index("ix_case_history_debtor_id", "debtor_id", "id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    debtor_id: Mapped[str] = mapped_column(ForeignKey("debtors.id", ondelete="CASCADE"))
    from_agent: Mapped[str | None] = mapped_column(String(64))
    to_agent: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    why: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(64))


class CasesMixin:
    """Agent and case-ownership operations of the Store (which provides ``_tx`` and ``_clock``)."""

    if TYPE_CHECKING:
        def _tx(self, action: str) -> AbstractContextManager[Session]: ...
        def _clock(self) -> dt.datetime: ...

    # --- agents ----------------------------------------------------------------------------

    def add_agent(self, agent_id: str, *, display_name: str = "", cap: int, team: str | None = None,
                  skills: Sequence[str] = ()) -> AgentRecord:
        """A new active agent; AllocationRefused if the id is taken or a value is unusable."""
        _check_agent_id(agent_id)
        _check_cap(cap)
        now = self._clock()
        with self._tx(f"add agent {agent_id!r}") as s:
            if s.get(AgentRow, agent_id) is not None:
                raise AllocationRefused(f"agent {agent_id!r} already exists")
            row = AgentRow(id=agent_id, display_name=display_name or agent_id, active=True, cap=cap,
                           team=team or None, skills=list(skills), created_at=now, updated_at=now)
            s.add(row)
            return _agent(row, 0)

    def update_agent(self, agent_id: str, *, display_name: str | None = None, cap: int | None = None,
                     active: bool | None = None, team: str | None = None,
                     skills: Sequence[str] | None = None) -> AgentRecord:
        """Change the given fields. A cap below the cases owned now is allowed: the agent gets no
        new cases until they are under it (nothing is taken away by this)."""
        if cap is not None:
            _check_cap(cap)
        with self._tx(f"update agent {agent_id!r}") as s:
            row = _agent_row(s, agent_id, lock=True)
            if display_name is not None:
                row.display_name = display_name or agent_id
            if cap is not None:
                row.cap = cap
            if active is not None:
                row.active = active
            if team is not None:
                row.team = team or None
            if skills is not None:
                row.skills = list(skills)
            row.updated_at = self._clock()
            return _agent(row, _owned(s, [agent_id]).get(agent_id, 0))

    def get_agent(self, agent_id: str) -> AgentRecord:
        with self._tx(f"read agent {agent_id!r}") as s:
            row = _agent_row(s, agent_id)
            return _agent(row, _owned(s, [agent_id]).get(agent_id, 0))

    def list_agents(self, *, active_only: bool = False) -> list[AgentRecord]:
        """Every agent (or every active one) with the number of cases they own, by id."""
        with self._tx("read agents") as s:
            query = select(AgentRow).order_by(AgentRow.id)
            if active_only:
                query = query.where(AgentRow.active.is_(True))
            rows = list(s.scalars(query))
            owned = _owned(s, None)
            return [_agent(r, owned.get(r.id, 0)) for r in rows]

    # --- cases -----------------------------------------------------------------------------

    def list_cases(self, where: CaseFilter | None = None, *, today: dt.date | None = None) -> list[CaseRecord]:
        """Cases matching ``where``, by debtor id; ``today`` (default: the store clock's UTC date) sets dpd."""
        where = where or CaseFilter()
        today = today or self._clock().date()
        query = (select(DebtorRow.id, DebtorRow.name, DebtorRow.amount, DebtorRow.currency,
                        _OVERDUE_SINCE, DebtorRow.score, CaseOwnerRow.agent_id, CaseOwnerRow.since,
                        CaseOwnerRow.why, CaseOwnerRow.reason, CaseOwnerRow.version)
                 .outerjoin(CaseOwnerRow, CaseOwnerRow.debtor_id == DebtorRow.id)
                 .where(*_conditions(where, today)).order_by(DebtorRow.id))
        if where.limit is not None:
            query = query.limit(where.limit)
        if where.offset:
            query = query.offset(where.offset)
        with self._tx("read cases") as s:
            return [_case(r, today) for r in s.execute(query)]

    def count_cases(self, where: CaseFilter | None = None, *, today: dt.date | None = None) -> int:
        """How many cases match ``where`` (its limit and offset ignored), for paging."""
        where = where or CaseFilter()
        today = today or self._clock().date()
        query = (select(func.count()).select_from(DebtorRow)
                 .outerjoin(CaseOwnerRow, CaseOwnerRow.debtor_id == DebtorRow.id).where(*_conditions(where, today)))
        with self._tx("count cases") as s:
            return int(s.scalar(query) or 0)

    def get_case(self, case_id: str, *, today: dt.date | None = None) -> CaseRecord:
        """One case; AllocationRefused if there is no such debtor."""
        found = self.list_cases(CaseFilter(ids=(case_id,)), today=today)
        if not found:
            raise AllocationRefused(f"no case {case_id!r}")
        return found[0]

    def cases_of(self, agent_id: str, *, today: dt.date | None = None) -> list[CaseRecord]:
        """The cases an agent owns now."""
        self.get_agent(agent_id)
        return self.list_cases(CaseFilter(owner=agent_id), today=today)

    def case_history(self, case_id: str) -> list[HistoryEntry]:
        """Every change of owner of a case, oldest first."""
        with self._tx(f"read the history of case {case_id!r}") as s:
            rows = s.scalars(select(CaseHistoryRow).where(CaseHistoryRow.debtor_id == case_id)
                             .order_by(CaseHistoryRow.id))
            return [HistoryEntry(case_id=r.debtor_id, from_agent=r.from_agent, to_agent=r.to_agent, at=r.at,
                                 why=Why(r.why), reason=r.reason, actor=r.actor) for r in rows]

    def assign(self, case_ids: Sequence[str], agent_id: str, *, versions: dict[str, int], why: Why = Why.MANUAL,
               reason: str, actor: str) -> int:
        """Give cases to one agent; ``versions`` maps each case to the version the choice was made on."""
        return self.apply_moves([_move(c, agent_id, versions, why, reason) for c in case_ids], actor=actor)

    def unassign(self, case_ids: Sequence[str], *, versions: dict[str, int], why: Why = Why.MANUAL,
                 reason: str, actor: str) -> int:
        """Take cases away from whoever owns them, leaving them unassigned."""
        return self.apply_moves([_move(c, None, versions, why, reason) for c in case_ids], actor=actor)

    def apply_moves(self, moves: Sequence[Move], *, actor: str) -> int:
        """Store every move with its reason and history, all or none; returns how many were stored.

        Refused as a whole: a case named twice, an unknown case or agent, an inactive agent
        receiving cases, a case whose version or owner is no longer what the move was decided
        on (CaseConflict), or an agent who would own more than their cap.
        """
        if not moves:
            return 0
        ids = [m.case_id for m in moves]
        twice = [i for i, n in Counter(ids).items() if n > 1]
        if twice:
            raise AllocationRefused(f"case {twice[0]!r} is moved twice in one batch")
        if not actor.strip() or len(actor) > 64:
            raise AllocationRefused("the actor of a move must be 1 to 64 characters")
        for move in moves:
            if len(move.reason) > MAX_REASON or not move.reason.strip():
                raise AllocationRefused(f"case {move.case_id!r}: a move needs a reason of 1 to {MAX_REASON} characters")
        now = self._clock()
        with self._tx(f"move {len(moves)} cases") as s:
            _serialize_moves(s)
            receivers = sorted({m.to_agent for m in moves if m.to_agent is not None})
            agents = _lock_agents(s, receivers)
            _check_cases_exist(s, ids)
            current = _current(s, ids)
            owners: dict[str, str | None] = {}
            for move in moves:
                # the version changes with every move, so a matching version means the same owner
                owner, version = current.get(move.case_id, (None, 0))
                owners[move.case_id] = owner
                if version != move.version:
                    now_owner = f"owned by {owner!r}" if owner else "unassigned"
                    raise CaseConflict(f"case {move.case_id!r} was changed by someone else (now {now_owner}, "
                                       f"version {version}, not {move.version}); nothing was stored, reload and retry")
            _check_caps(s, moves, owners, agents)
            _write(s, moves, owners, now, actor)
        return len(moves)


    def owned_case_contacts(self) -> list[CaseContacts]:
        """What the ledger holds about every owned case, for the daily rules (bot.agents.activity)."""
        owned = select(CaseOwnerRow.debtor_id).where(CaseOwnerRow.agent_id.is_not(None))
        when = func.coalesce(AttemptRow.answered_at, AttemptRow.dialed_at, AttemptRow.created_at)
        talks = [o.value for o in CONVERSATION]
        with self._tx("read the contacts of owned cases") as s:
            debtors = {i: (a, p, z) for i, a, p, z in s.execute(
                select(DebtorRow.id, DebtorRow.amount, DebtorRow.phone, DebtorRow.timezone)
                .where(DebtorRow.id.in_(owned)))}
            last = {i: t for i, t in s.execute(select(AttemptRow.debtor_id, func.max(when))
                                               .where(AttemptRow.debtor_id.in_(owned), AttemptRow.outcome.in_(talks))
                                               .group_by(AttemptRow.debtor_id))}
            promises: dict[str, tuple[dt.datetime, dict[str, Any]]] = {}
            made = func.coalesce(AttemptRow.dialed_at, AttemptRow.created_at)
            for debtor_id, at, detail in s.execute(
                    select(AttemptRow.debtor_id, made, AttemptRow.outcome_detail)
                    .where(AttemptRow.debtor_id.in_(owned), AttemptRow.outcome == Outcome.PROMISE_TO_PAY.value)
                    .order_by(made, AttemptRow.id)):
                promises[debtor_id] = (_aware(at), dict(detail or {}))
            paid: dict[str, list[Payment]] = {}
            if promises:
                for debtor_id, amount, paid_at in s.execute(
                        select(PaymentRow.debtor_id, PaymentRow.amount, PaymentRow.paid_at)
                        .where(PaymentRow.debtor_id.in_(owned))):
                    if debtor_id in promises:
                        paid.setdefault(debtor_id, []).append(Payment(debtor_id, amount, paid_at))
        return [CaseContacts(case_id=i, amount=a, phone=p, timezone=z,
                             last_contact=_aware(last[i]) if last.get(i) else None,
                             promise=promises.get(i), payments=tuple(paid.get(i, ())))
                for i, (a, p, z) in sorted(debtors.items())]


@dataclass(frozen=True, slots=True)
class CaseContacts:
    """The ledger's facts about one case; ``promise`` is (made at, outcome detail) of the latest one."""

    case_id: str
    amount: Decimal
    phone: str
    timezone: str | None
    last_contact: dt.datetime | None
    promise: tuple[dt.datetime, dict[str, Any]] | None
    payments: tuple[Payment, ...]


def _aware(value: dt.datetime) -> dt.datetime:
    # aggregates (max, coalesce) come back without the column type's conversion on SQLite
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


# --- helpers ---------------------------------------------------------------------------------


def _check_agent_id(agent_id: str) -> None:
    if not agent_id or len(agent_id) > 64 or not all(c.isalnum() or c in "._-@" for c in agent_id):
        raise AllocationRefused(f"agent id {agent_id[:64]!r} must be 1-64 letters, digits, '.', '_', '-' or '@'")


def _check_cap(cap: int) -> None:
    if not 0 <= cap <= 1_000_000:
        raise AllocationRefused(f"cap {cap} must be between 0 and 1000000")


def _move(case_id: str, agent: str | None, versions: dict[str, int], why: Why, reason: str) -> Move:
    if case_id not in versions:
        raise AllocationRefused(f"case {case_id!r}: the version it was chosen on is missing")
    return Move(case_id=case_id, from_agent=None, to_agent=agent, why=why, reason=reason,
                version=versions[case_id])


def _agent_row(s: Session, agent_id: str, *, lock: bool = False) -> AgentRow:
    row = s.get(AgentRow, agent_id, with_for_update=lock)
    if row is None:
        raise AllocationRefused(f"no agent {agent_id!r}")
    return row


def _agent(row: AgentRow, owned: int) -> AgentRecord:
    return AgentRecord(id=row.id, display_name=row.display_name, active=row.active, cap=row.cap,
                       team=row.team, skills=tuple(row.skills or ()), open_cases=owned)


def _owned(s: Session, agents: Sequence[str] | None) -> dict[str, int]:
    query = (select(CaseOwnerRow.agent_id, func.count()).where(CaseOwnerRow.agent_id.is_not(None))
             .group_by(CaseOwnerRow.agent_id))
    if agents is not None:
        query = query.where(CaseOwnerRow.agent_id.in_(agents))
    return {a: int(n) for a, n in s.execute(query)}


def _among(s: Session, column: Any, ids: Sequence[str]) -> Iterable[Any]:
    """Conditions "column is one of ids", together covering all of them: one array on PostgreSQL
    (rendering thousands of IN parameters cost more than the query), chunks of IN lists on SQLite."""
    if s.get_bind().dialect.name == "postgresql":
        yield column == any_(bindparam("ids", list(ids), type_=ARRAY(String())))
        return
    for start in range(0, len(ids), _CHUNK):
        yield column.in_(ids[start:start + _CHUNK])


def _lock_agents(s: Session, agent_ids: Sequence[str]) -> dict[str, AgentRow]:
    rows = {r.id: r for among in _among(s, AgentRow.id, agent_ids)
            for r in s.scalars(select(AgentRow).where(among).order_by(AgentRow.id).with_for_update())}
    for agent_id in agent_ids:
        if agent_id not in rows:
            raise AllocationRefused(f"no agent {agent_id!r}")
        if not rows[agent_id].active:
            raise AllocationRefused(f"agent {agent_id!r} is inactive and cannot receive cases")
    return rows


def _check_cases_exist(s: Session, ids: Sequence[str]) -> None:
    found: set[str] = set()
    for among in _among(s, DebtorRow.id, ids):
        found.update(s.scalars(select(DebtorRow.id).where(among)))
    for case_id in ids:
        if case_id not in found:
            raise AllocationRefused(f"no case {case_id!r}")


def _serialize_moves(s: Session) -> None:
    """One batch of moves at a time. SQLite's write transactions already are (BEGIN IMMEDIATE); on
    PostgreSQL a transaction-scoped advisory lock does it. Row locks would not be enough: a case
    never owned has no ownership row to lock, and two batches must not both see it unowned."""
    if s.get_bind().dialect.name == "postgresql":
        s.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MOVES_LOCK})


def _current(s: Session, ids: Sequence[str]) -> dict[str, tuple[str | None, int]]:
    """(owner, version) of each case that has an ownership row (read under _serialize_moves)."""
    current: dict[str, tuple[str | None, int]] = {}
    for among in _among(s, CaseOwnerRow.debtor_id, ids):
        query = select(CaseOwnerRow.debtor_id, CaseOwnerRow.agent_id, CaseOwnerRow.version).where(among)
        current.update((i, (a, v)) for i, a, v in s.execute(query))
    return current


def _check_caps(s: Session, moves: Sequence[Move], owners: dict[str, str | None],
                agents: dict[str, AgentRow]) -> None:
    change: Counter[str] = Counter()
    for move in moves:
        if move.to_agent is not None:
            change[move.to_agent] += 1
        if owners[move.case_id] is not None:
            change[owners[move.case_id]] -= 1  # type: ignore[index]
    owned = _owned(s, list(agents))
    for agent_id in sorted(agents):
        after = owned.get(agent_id, 0) + change[agent_id]
        if change[agent_id] > 0 and after > agents[agent_id].cap:
            raise AllocationRefused(
                f"agent {agent_id!r} would own {after} cases, over their cap of {agents[agent_id].cap} "
                f"(owns {owned.get(agent_id, 0)} now); nothing was stored")


def _write(s: Session, moves: Sequence[Move], owners: dict[str, str | None], now: dt.datetime,
           actor: str) -> None:
    connection = s.connection()
    if connection.dialect.name == "postgresql":
        _write_postgresql(connection, moves, owners, now, actor)
        return
    insert = sqlite.insert(CaseOwnerRow.__table__)
    upsert = insert.on_conflict_do_update(index_elements=["debtor_id"], set_={
        c: insert.excluded[c] for c in ("agent_id", "since", "why", "reason", "version")})
    _execute_many(connection, upsert, CaseOwnerRow.__table__, now, [
        {"debtor_id": m.case_id, "agent_id": m.to_agent, "since": now, "why": m.why.value, "reason": m.reason,
         "version": m.version + 1} for m in moves])
    _execute_many(connection, CaseHistoryRow.__table__.insert(), CaseHistoryRow.__table__, now, [
        {"debtor_id": m.case_id, "from_agent": owners[m.case_id], "to_agent": m.to_agent, "at": now,
         "why": m.why.value, "reason": m.reason, "actor": actor} for m in moves])


_PG_OWNERS = """
INSERT INTO case_owners (debtor_id, agent_id, since, why, reason, version)
SELECT d, a, %(now)s, w, r, v
FROM unnest(%(d)s::varchar[], %(a)s::varchar[], %(w)s::varchar[], %(r)s::text[], %(v)s::int[]) AS t(d, a, w, r, v)
ON CONFLICT (debtor_id) DO UPDATE SET agent_id = excluded.agent_id, since = excluded.since,
    why = excluded.why, reason = excluded.reason, version = excluded.version
"""
_PG_HISTORY = """
INSERT INTO case_history (debtor_id, from_agent, to_agent, at, why, reason, actor)
SELECT d, f, t, %(now)s, w, r, %(actor)s
FROM unnest(%(d)s::varchar[], %(f)s::varchar[], %(t)s::varchar[], %(w)s::varchar[], %(r)s::text[])
    AS u(d, f, t, w, r)
"""


def _write_postgresql(connection: Any, moves: Sequence[Move], owners: dict[str, str | None], now: dt.datetime,
                      actor: str) -> None:
    # One statement per 20,000 moves with the values as arrays: per-row statements, even
    # pipelined, spend most of their time in the driver.
    for start in range(0, len(moves), 20_000):
        chunk = moves[start:start + 20_000]
        ids, to = [m.case_id for m in chunk], [m.to_agent for m in chunk]
        why, reason = [m.why.value for m in chunk], [m.reason for m in chunk]
        connection.exec_driver_sql(_PG_OWNERS, {"now": now, "d": ids, "a": to, "w": why, "r": reason,
                                                "v": [m.version + 1 for m in chunk]})
        connection.exec_driver_sql(_PG_HISTORY, {"now": now, "actor": actor, "d": ids,
                                                 "f": [owners[m.case_id] for m in chunk], "t": to, "w": why,
                                                 "r": reason})


def _execute_many(connection: Any, statement: Any, table: Any, now: dt.datetime, rows: list[dict[str, Any]]) -> None:
    """Run ``statement`` for every row as driver SQL. Every value is text, a number or None except the
    one timestamp, the same in every row, which goes through its column type once: SQLAlchemy's
    per-row parameter processing cost more than the writes themselves (100,000 moves)."""
    dialect = connection.dialect
    names = list(rows[0])
    compiled = statement.compile(dialect=dialect, column_keys=names)
    order = list(compiled.positiontup or ()) if compiled.positional else names
    if sorted(order) != sorted(names):
        raise StoreError(f"unexpected parameters in {table.name}: {order}")
    converted = {}
    for name in names:
        process = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        if isinstance(rows[0][name], dt.datetime):
            converted[name] = process(now) if process is not None else now
        elif process is not None:
            raise StoreError(f"{table.name}.{name} needs its values converted")

    def values(row: dict[str, Any]) -> list[Any]:
        return [converted[name] if name in converted else row[name] for name in order]

    params = [tuple(values(r)) for r in rows] if compiled.positional else \
        [dict(zip(order, values(r), strict=True)) for r in rows]
    connection.exec_driver_sql(compiled.string, params)


def _conditions(where: CaseFilter, today: dt.date) -> list[Any]:
    since = _OVERDUE_SINCE
    found: list[Any] = []
    if where.dpd_min is not None or where.dpd_max is not None:
        bounds: list[Any] = [since.is_not(None)]
        if where.dpd_min is not None and where.dpd_min > 0:
            bounds.append(since <= today - dt.timedelta(days=where.dpd_min))
        if where.dpd_max is not None:
            bounds.append(since >= today - dt.timedelta(days=where.dpd_max))
        found.append(or_(and_(*bounds), since.is_(None)) if where.unknown_dpd else and_(*bounds))
    elif where.unknown_dpd:
        found.append(since.is_(None))
    if where.amount_min is not None:
        found.append(DebtorRow.amount >= where.amount_min)
    if where.amount_max is not None:
        found.append(DebtorRow.amount <= where.amount_max)
    if where.score_min is not None:
        found.append(DebtorRow.score >= where.score_min)
    if where.score_max is not None:
        found.append(DebtorRow.score <= where.score_max)
    if where.owner is not None and where.unassigned:
        raise AllocationRefused("a case filter cannot ask for both an owner and unassigned cases")
    if where.owner is not None:
        found.append(CaseOwnerRow.agent_id == where.owner)
    if where.unassigned:
        found.append(CaseOwnerRow.agent_id.is_(None))
    if where.ids is not None:
        found.append(DebtorRow.id.in_(where.ids))
    return found


def dpd_on(overdue_since: dt.date | None, today: dt.date) -> int | None:
    """Days past due on ``today`` (0 for a debt not yet due; None when unknown)."""
    return None if overdue_since is None else max(0, (today - overdue_since).days)


def _case(r: Any, today: dt.date) -> CaseRecord:
    ident, name, amount, currency, since, score, owner, owned_since, why, reason, version = r
    return CaseRecord(id=ident, name=name, amount=amount, currency=currency, dpd=dpd_on(since, today),
                      score=score, owner=owner, since=owned_since,
                      why=Why(why) if why else None, reason=reason or "", version=version or 0)
