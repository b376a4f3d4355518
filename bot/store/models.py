"""The database tables. Only ``bot.store.repo`` uses these; everyone else gets plain records."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from bot.store.types import JsonData, Money, UTCDateTime

ACTIVE_STATES = ("queued", "dialing", "answered")
STATES = (*ACTIVE_STATES, "completed", "unknown")
# The partial-index predicate, literally the same on SQLite and PostgreSQL.
FORGOTTEN_WHERE = "phone LIKE '#%'"  # a forgotten number's keyed hash starts with '#'
ACTIVE_WHERE = "state IN ('queued', 'dialing', 'answered')"
STATE_CHECK = "state IN ('queued', 'dialing', 'answered', 'completed', 'unknown')"

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class DebtorRow(Base):
    __tablename__ = "debtors"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str] = mapped_column(String(16))
    amount: Mapped[Decimal] = mapped_column(Money())
    currency: Mapped[str] = mapped_column(String(3))
    due_date: Mapped[dt.date | None]
    language: Mapped[str] = mapped_column(String(16))
    extra: Mapped[dict[str, Any]] = mapped_column(JsonData)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    timezone: Mapped[str | None] = mapped_column(String(64))  # IANA name
    alt_phone: Mapped[str | None] = mapped_column(String(16))
    tags: Mapped[list[str]] = mapped_column(JsonData, server_default=text("'[]'"))
    overdue_since: Mapped[dt.date | None]  # days past due count from here (see bot/agents)
    score: Mapped[float | None] = mapped_column(Float)


class AttemptRow(Base):
    __tablename__ = "call_attempts"
    __table_args__ = (
        CheckConstraint(STATE_CHECK, name="state"),
        Index("ix_call_attempts_debtor_id", "debtor_id", "created_at"),
        # At most one live call per debtor and per number, whatever the number of controllers.
        Index("uq_call_attempts_active_debtor", "debtor_id", unique=True,
              sqlite_where=text(ACTIVE_WHERE), postgresql_where=text(ACTIVE_WHERE)),
        Index("uq_call_attempts_active_phone", "phone", unique=True,
              sqlite_where=text(ACTIVE_WHERE), postgresql_where=text(ACTIVE_WHERE)),
        # A forgotten debtor's calls, by the keyed hash of the number (bot.privacy.keys).
        Index("ix_call_attempts_forgotten_phone", "phone",
              sqlite_where=text(FORGOTTEN_WHERE), postgresql_where=text(FORGOTTEN_WHERE)),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # the AMI ChannelId
    debtor_id: Mapped[str] = mapped_column(ForeignKey("debtors.id", ondelete="RESTRICT"))
    phone: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    result: Mapped[str | None] = mapped_column(String(16))
    hangup_cause: Mapped[int | None] = mapped_column(Integer)
    outcome: Mapped[str | None] = mapped_column(String(32))
    outcome_detail: Mapped[dict[str, Any]] = mapped_column(JsonData)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    dialed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    answered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    talk_seconds: Mapped[int | None] = mapped_column(Integer)
    controller: Mapped[str | None] = mapped_column(String(64))  # who placed it (None before 0006)


class EventRow(Base):
    __tablename__ = "call_events"
    __table_args__ = (UniqueConstraint("attempt_id", "seq"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    attempt_id: Mapped[str] = mapped_column(ForeignKey("call_attempts.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    kind: Mapped[str] = mapped_column(String(16))
    data: Mapped[dict[str, Any]] = mapped_column(JsonData)
