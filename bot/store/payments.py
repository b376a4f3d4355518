"""Payments imported from the lender's books, deduplicated on (debtor, amount, time). Mixed into ``Store``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Integer, UniqueConstraint, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from bot.store.ledger import CampaignAttemptRow
from bot.store.models import Base, DebtorRow
from bot.store.records import Payment
from bot.store.types import Money, UTCDateTime

if TYPE_CHECKING:
    from contextlib import AbstractContextManager


class PaymentRow(Base):
    __tablename__ = "payments"
    # The same file imported twice must not count a payment twice.
    __table_args__ = (UniqueConstraint("debtor_id", "amount", "paid_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    debtor_id: Mapped[str] = mapped_column(ForeignKey("debtors.id", ondelete="RESTRICT"))
    amount: Mapped[Decimal] = mapped_column(Money())
    paid_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    imported_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class PaymentsMixin:
    """Payment operations of the Store (which provides ``_tx`` and ``_clock``)."""

    if TYPE_CHECKING:
        def _tx(self, action: str) -> AbstractContextManager[Session]: ...
        def _clock(self) -> dt.datetime: ...

    def known_debtors(self, ids: Sequence[str]) -> set[str]:
        """Which of ``ids`` are stored debtors."""
        with self._tx("look debtors up") as s:
            return set(s.scalars(select(DebtorRow.id).where(DebtorRow.id.in_(set(ids)))))

    def add_payments(self, payments: Sequence[Payment]) -> int:
        """Insert a batch in ONE transaction, ignoring ones already stored; returns how many were new.

        On PostgreSQL the count can be off when another process imports the same debtors at
        the same time; the rows themselves are not.
        """
        if not payments:
            return 0
        now = self._clock()
        rows = [{"debtor_id": p.debtor_id, "amount": p.amount, "paid_at": p.paid_at, "imported_at": now}
                for p in payments]
        ids = {p.debtor_id for p in payments}
        count = select(func.count()).select_from(PaymentRow).where(PaymentRow.debtor_id.in_(ids))
        with self._tx(f"save {len(rows)} payments") as s:
            before = s.scalar(count) or 0
            dialect = postgresql if s.get_bind().dialect.name == "postgresql" else sqlite
            insert = dialect.insert(PaymentRow.__table__).on_conflict_do_nothing(
                index_elements=["debtor_id", "amount", "paid_at"])
            s.connection().execute(insert, rows)
            return int((s.scalar(count) or 0) - before)

    def payments_of(self, debtor_id: str) -> list[Payment]:
        """The debtor's payments, newest first."""
        with self._tx("read payments") as s:
            rows = s.scalars(select(PaymentRow).where(PaymentRow.debtor_id == debtor_id)
                             .order_by(PaymentRow.paid_at.desc(), PaymentRow.id.desc()))
            return [Payment(debtor_id=r.debtor_id, amount=r.amount, paid_at=r.paid_at) for r in rows]

    def campaign_payments(self, campaign: str, since: dt.datetime) -> list[Payment]:
        """Payments made at or after ``since`` by debtors this campaign called, oldest first."""
        called = select(CampaignAttemptRow.debtor_id).where(CampaignAttemptRow.campaign == campaign)
        with self._tx("read payments") as s:
            rows = s.scalars(select(PaymentRow).where(PaymentRow.debtor_id.in_(called), PaymentRow.paid_at >= since)
                             .order_by(PaymentRow.paid_at, PaymentRow.id))
            return [Payment(debtor_id=r.debtor_id, amount=r.amount, paid_at=r.paid_at) for r in rows]

    def campaign_debtor_amounts(self, campaign: str) -> dict[str, Decimal]:
        """debtor id -> amount owed, for every debtor this campaign called."""
        called = select(CampaignAttemptRow.debtor_id).where(CampaignAttemptRow.campaign == campaign)
        with self._tx("read debtor amounts") as s:
            return {i: a for i, a in s.execute(select(DebtorRow.id, DebtorRow.amount).where(DebtorRow.id.in_(called)))}
