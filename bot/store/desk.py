"""The web desk's tables: users, sessions, used CSRF nonces, the audit trail, agent states and
the events pushed to agents (screen pops). Mixed into ``Store``.

A screen pop is a row, not only a message: the agent who closes the browser mid-call finds it
again, and its wrap-up is stored once (``closed_at``), as an attempt like the robot's.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from bot.domain import CallResult, Outcome
from bot.errors import InputError, StoreError
from bot.store.models import AttemptRow, Base, DebtorRow
from bot.store.records import AttemptRecord, AttemptState
from bot.store.types import JsonData, UTCDateTime

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

ROLES = ("agent", "supervisor", "admin")
AGENT_STATES = ("ready", "paused", "on_call", "wrap_up", "logged_out")


class WebUserRow(Base):
    __tablename__ = "web_users"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    disabled: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    failed_logins: Mapped[int] = mapped_column(Integer)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class WebSessionRow(Base):
    __tablename__ = "web_sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # random; the signed cookie names it
    user: Mapped[str] = mapped_column(ForeignKey("web_users.name", ondelete="CASCADE"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class WebNonceRow(Base):
    """CSRF nonces already used: a form post is accepted once."""

    __tablename__ = "web_nonces"
    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    used_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class AuditRow(Base):
    __tablename__ = "web_audit"
    __table_args__ = (Index("ix_web_audit_at", "at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    user: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(128))
    detail: Mapped[dict[str, Any]] = mapped_column(JsonData)


class AgentStateRow(Base):
    __tablename__ = "agent_states"
    agent: Mapped[str] = mapped_column(ForeignKey("web_users.name", ondelete="CASCADE"), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(64))
    since: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class DeskEventRow(Base):
    __tablename__ = "desk_events"
    __table_args__ = (Index("ix_desk_events_agent", "agent", "id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    agent: Mapped[str] = mapped_column(ForeignKey("web_users.name", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    debtor_id: Mapped[str | None] = mapped_column(ForeignKey("debtors.id", ondelete="RESTRICT"))
    attempt_id: Mapped[str | None] = mapped_column(String(32))  # the robot's attempt it is about
    data: Mapped[dict[str, Any]] = mapped_column(JsonData)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    result_attempt_id: Mapped[str | None] = mapped_column(String(32))  # the wrap-up's attempt


@dataclass(frozen=True, slots=True)
class WebUser:
    name: str
    password_hash: str
    role: str
    disabled: bool
    failed_logins: int = 0
    locked_until: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class AgentState:
    agent: str
    state: str
    reason: str
    since: dt.datetime


@dataclass(frozen=True, slots=True)
class DeskEvent:
    id: int
    agent: str
    kind: str
    debtor_id: str | None
    attempt_id: str | None
    data: dict[str, Any]
    at: dt.datetime
    closed_at: dt.datetime | None = None
    result_attempt_id: str | None = None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    at: dt.datetime
    user: str | None
    action: str
    target: str
    detail: dict[str, Any] = field(default_factory=dict)


class DeskMixin:
    """Web desk operations of the Store (which provides ``_tx`` and ``_clock``)."""

    if TYPE_CHECKING:
        def _tx(self, action: str) -> AbstractContextManager[Session]: ...
        def _clock(self) -> dt.datetime: ...

    # --- users -------------------------------------------------------------------------------
    def add_web_user(self, name: str, password_hash: str, role: str) -> None:
        if role not in ROLES:
            raise InputError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
        with self._tx(f"add user {name!r}") as s:
            if s.get(WebUserRow, name) is not None:
                raise InputError(f"user {name!r} already exists")
            s.add(WebUserRow(name=name, password_hash=password_hash, role=role, disabled=False,
                             created_at=self._clock(), failed_logins=0))

    def web_user(self, name: str) -> WebUser | None:
        with self._tx("read a user") as s:
            row = s.get(WebUserRow, name)
            return _user(row) if row else None

    def web_users(self) -> list[WebUser]:
        with self._tx("read users") as s:
            return [_user(r) for r in s.scalars(select(WebUserRow).order_by(WebUserRow.name))]

    def disable_web_user(self, name: str) -> None:
        """Disable the user and end every session they have."""
        now = self._clock()
        with self._tx(f"disable user {name!r}") as s:
            row = s.get(WebUserRow, name)
            if row is None:
                raise InputError(f"no user {name!r}")
            row.disabled = True
            s.execute(update(WebSessionRow).where(WebSessionRow.user == name, WebSessionRow.revoked_at.is_(None))
                      .values(revoked_at=now))

    def note_login(self, name: str, ok: bool, *, max_failures: int, lockout: dt.timedelta) -> None:
        """Count a failed login (locking the account after ``max_failures``) or reset the count."""
        with self._tx("record a login") as s:
            row = s.get(WebUserRow, name)
            if row is None:
                return
            if ok:
                row.failed_logins, row.locked_until = 0, None
                return
            row.failed_logins += 1
            if row.failed_logins >= max_failures:
                row.locked_until, row.failed_logins = self._clock() + lockout, 0

    # --- sessions and nonces -------------------------------------------------------------------
    def open_web_session(self, user: str, lifetime: dt.timedelta) -> str:
        sid = uuid.uuid4().hex + uuid.uuid4().hex
        now = self._clock()
        with self._tx("open a session") as s:
            s.add(WebSessionRow(id=sid, user=user, created_at=now, expires_at=now + lifetime))
        return sid

    def web_session_user(self, sid: str) -> WebUser | None:
        """The enabled user of a live session, or None (unknown, expired, revoked, disabled)."""
        with self._tx("read a session") as s:
            row = s.get(WebSessionRow, sid)
            if row is None or row.revoked_at is not None or row.expires_at <= self._clock():
                return None
            user = s.get(WebUserRow, row.user)
            return _user(user) if user is not None and not user.disabled else None

    def revoke_web_session(self, sid: str) -> None:
        with self._tx("end a session") as s:
            row = s.get(WebSessionRow, sid)
            if row is not None and row.revoked_at is None:
                row.revoked_at = self._clock()

    def use_nonce(self, nonce: str, *, keep: dt.timedelta) -> bool:
        """True the first time a nonce is used; nonces older than ``keep`` are forgotten
        (their signed tokens have expired by then)."""
        now = self._clock()
        with self._tx("use a form token") as s:
            s.execute(delete(WebNonceRow).where(WebNonceRow.used_at < now - keep))
            dialect = postgresql if s.get_bind().dialect.name == "postgresql" else sqlite
            table = WebNonceRow.__table__
            inserted = s.connection().execute(dialect.insert(table).values(nonce=nonce, used_at=now)
                                              .on_conflict_do_nothing(index_elements=["nonce"])
                                              .returning(table.c.nonce)).scalar()
            return inserted is not None

    # --- audit -------------------------------------------------------------------------------
    def audit(self, user: str | None, action: str, target: str, detail: dict[str, Any] | None = None) -> None:
        with self._tx("write the audit trail") as s:
            s.add(AuditRow(at=self._clock(), user=user, action=action[:32], target=target[:128],
                           detail=dict(detail or {})))

    def audit_entries(self, *, limit: int = 200, user: str | None = None) -> list[AuditEntry]:
        """The newest entries first."""
        with self._tx("read the audit trail") as s:
            query = select(AuditRow).order_by(AuditRow.id.desc()).limit(limit)
            if user is not None:
                query = query.where(AuditRow.user == user)
            return [AuditEntry(at=r.at, user=r.user, action=r.action, target=r.target, detail=dict(r.detail))
                    for r in s.scalars(query)]

    # --- agent state -------------------------------------------------------------------------
    def agent_state(self, agent: str) -> AgentState:
        with self._tx("read an agent's state") as s:
            row = s.get(AgentStateRow, agent)
            if row is None:
                return AgentState(agent=agent, state="logged_out", reason="", since=self._clock())
            return AgentState(agent=row.agent, state=row.state, reason=row.reason, since=row.since)

    def agent_states(self) -> list[AgentState]:
        with self._tx("read agent states") as s:
            return [AgentState(agent=r.agent, state=r.state, reason=r.reason, since=r.since)
                    for r in s.scalars(select(AgentStateRow).order_by(AgentStateRow.agent))]

    def set_agent_state(self, agent: str, state: str, reason: str = "", *,
                        only_from: tuple[str, ...] | None = None) -> AgentState | None:
        """Store the agent's new state; with ``only_from``, only if the current state is one of
        those (returns None when it was not, so a stale decision cannot overwrite a newer one)."""
        if state not in AGENT_STATES:
            raise InputError(f"unknown agent state {state!r}")
        now = self._clock()
        with self._tx(f"set the state of agent {agent!r}") as s:
            row = s.get(AgentStateRow, agent)
            current = row.state if row is not None else "logged_out"
            if only_from is not None and current not in only_from:
                return None
            if row is None:
                s.add(AgentStateRow(agent=agent, state=state, reason=reason[:64], since=now))
            elif (row.state, row.reason) != (state, reason[:64]):
                row.state, row.reason, row.since = state, reason[:64], now
            return AgentState(agent=agent, state=state, reason=reason[:64], since=now)

    def find_attempt(self, attempt_id: str) -> AttemptRecord | None:
        from bot.store.repo import _attempt

        with self._tx(f"read attempt {attempt_id}") as s:
            row = s.get(AttemptRow, attempt_id)
            return _attempt(row) if row is not None else None

    # --- desk events -------------------------------------------------------------------------
    def add_desk_event(self, agent: str, kind: str, data: dict[str, Any], *, debtor_id: str | None = None,
                       attempt_id: str | None = None) -> int:
        with self._tx(f"push an event to agent {agent!r}") as s:
            if s.get(WebUserRow, agent) is None:
                raise InputError(f"no user {agent!r}")
            if debtor_id is not None and s.get(DebtorRow, debtor_id) is None:
                raise InputError(f"no debtor {debtor_id!r}")
            row = DeskEventRow(agent=agent, kind=kind[:32], debtor_id=debtor_id, attempt_id=attempt_id,
                               data=dict(data), at=self._clock())
            s.add(row)
            s.flush()
            return int(row.id)

    def desk_events_after(self, agent: str, after: int, *, limit: int = 50) -> list[DeskEvent]:
        with self._tx("read desk events") as s:
            rows = s.scalars(select(DeskEventRow).where(DeskEventRow.agent == agent, DeskEventRow.id > after)
                             .order_by(DeskEventRow.id).limit(limit))
            return [_event(r) for r in rows]

    def last_desk_event_id(self, agent: str) -> int:
        with self._tx("read desk events") as s:
            found = s.scalar(select(DeskEventRow.id).where(DeskEventRow.agent == agent)
                             .order_by(DeskEventRow.id.desc()).limit(1))
            return int(found or 0)

    def latest_desk_event_id(self) -> int:
        with self._tx("read desk events") as s:
            return int(s.scalar(select(func.max(DeskEventRow.id))) or 0)

    def desk_agents_after(self, after: int) -> set[str]:
        """Agents with events after id ``after``."""
        with self._tx("read desk events") as s:
            return set(s.scalars(select(DeskEventRow.agent).distinct().where(DeskEventRow.id > after)))

    def open_pops(self, agent: str) -> list[DeskEvent]:
        """Screen pops not yet wrapped up, oldest first."""
        with self._tx("read open screen pops") as s:
            rows = s.scalars(select(DeskEventRow).where(DeskEventRow.agent == agent, DeskEventRow.kind == "screen_pop",
                                                        DeskEventRow.closed_at.is_(None)).order_by(DeskEventRow.id))
            return [_event(r) for r in rows]

    def desk_event(self, event_id: int) -> DeskEvent | None:
        with self._tx("read a desk event") as s:
            row = s.get(DeskEventRow, event_id)
            return _event(row) if row else None

    def popped_debtors(self, agent: str) -> set[str]:
        """Debtors whose call was put through to this agent: they may open those cases."""
        with self._tx("read popped cases") as s:
            return set(s.scalars(select(DeskEventRow.debtor_id).where(
                DeskEventRow.agent == agent, DeskEventRow.kind == "screen_pop", DeskEventRow.debtor_id.is_not(None))))

    def wrap_up(self, event_id: int, agent: str, outcome: Outcome, detail: dict[str, Any]) -> str:
        """Close a screen pop with the agent's result, stored as a completed attempt of the debtor
        (answered when the pop arrived, never dialled by us: compliance caps count the robot's
        dial only). Returns the attempt id; StoreError when already wrapped up."""
        now = self._clock()
        with self._tx("store a wrap-up") as s:
            pop = s.get(DeskEventRow, event_id, with_for_update=True)
            if pop is None or pop.agent != agent or pop.kind != "screen_pop" or pop.debtor_id is None:
                raise StoreError(f"no screen pop {event_id} for agent {agent!r}")
            if pop.closed_at is not None:
                raise StoreError("this call was already wrapped up")
            debtor = s.get(DebtorRow, pop.debtor_id)
            assert debtor is not None  # the foreign key
            robot = s.get(AttemptRow, pop.attempt_id) if pop.attempt_id else None
            attempt_id = uuid.uuid4().hex
            s.add(AttemptRow(
                id=attempt_id, debtor_id=debtor.id, phone=robot.phone if robot else debtor.phone,
                state=AttemptState.COMPLETED.value, result=CallResult.ANSWERED.value, outcome=Outcome(outcome).value,
                outcome_detail={**detail, "agent": agent, "transferred_from": pop.attempt_id},
                created_at=pop.at, answered_at=pop.at, ended_at=now,
                talk_seconds=max(0, round((now - pop.at).total_seconds())),
            ))
            closed = s.execute(update(DeskEventRow).where(DeskEventRow.id == event_id, DeskEventRow.closed_at.is_(None))
                               .values(closed_at=now, result_attempt_id=attempt_id))
            if closed.rowcount != 1:  # type: ignore[attr-defined]
                raise StoreError("this call was already wrapped up")
            return attempt_id


def _user(row: WebUserRow) -> WebUser:
    return WebUser(name=row.name, password_hash=row.password_hash, role=row.role, disabled=row.disabled,
                   failed_logins=row.failed_logins, locked_until=row.locked_until)


def _event(row: DeskEventRow) -> DeskEvent:
    return DeskEvent(id=row.id, agent=row.agent, kind=row.kind, debtor_id=row.debtor_id, attempt_id=row.attempt_id,
                     data=dict(row.data), at=row.at, closed_at=row.closed_at, result_attempt_id=row.result_attempt_id)
