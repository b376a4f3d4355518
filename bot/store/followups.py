"""Planned calls as stored rows: retries the policy scheduled and follow-ups of interrupted
calls, each with its due time, reason and origin attempt. Mixed into ``Store``.

A follow-up is taken inside the claiming transaction of the attempt that makes it, and put
back when that claim is released, so a restart neither loses nor repeats one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint, or_, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from bot.domain import CallResult
from bot.errors import StoreError
from bot.store.ledger import CampaignAttemptRow, insert_ignore
from bot.store.models import AttemptRow, Base
from bot.store.records import AttemptState, FollowUp, Past
from bot.store.types import UTCDateTime

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

PENDING, TAKEN, NONE, DROPPED, VOID = "pending", "taken", "none", "dropped", "void"
LedgerRule = Callable[[Sequence[Past]], "str | None"]


class FollowUpRow(Base):
    __tablename__ = "follow_ups"
    __table_args__ = (
        UniqueConstraint("origin_attempt_id", "reason"),  # one decision per cut call and reason
        Index("ix_follow_ups_campaign", "campaign", "state", "due_at"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    campaign: Mapped[str] = mapped_column(ForeignKey("campaigns.name"))
    round: Mapped[str | None] = mapped_column(String(64))
    debtor_id: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str] = mapped_column(String(16))
    due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    reason: Mapped[str] = mapped_column(String(32))
    origin_attempt_id: Mapped[str | None] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16))
    attempt_id: Mapped[str | None] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class LedgerRefused(StoreError):
    """The ledger, read inside the claiming transaction, allows no such call: nothing stored."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(f"claim refused by the ledger: {reason}")


def campaign_past(session: Session, campaign: str, debtor_id: str) -> list[Past]:
    rows = session.execute(
        select(AttemptRow, CampaignAttemptRow.round)
        .join(CampaignAttemptRow, CampaignAttemptRow.attempt_id == AttemptRow.id)
        .where(CampaignAttemptRow.campaign == campaign, CampaignAttemptRow.debtor_id == debtor_id))
    return [Past(id=a.id, round=r, at=a.dialed_at or a.created_at, state=a.state,
                 result=CallResult(a.result) if a.result else None, outcome=a.outcome) for a, r in rows]


def take_follow_up(session: Session, follow_up_id: int, attempt_id: str, now: dt.datetime) -> None:
    """Inside a claim: the follow-up must still be pending; it becomes taken by ``attempt_id``."""
    row = session.get(FollowUpRow, follow_up_id, with_for_update=True)
    if row is None or row.state != PENDING:
        raise LedgerRefused("follow_up_taken")
    row.state, row.attempt_id, row.updated_at = TAKEN, attempt_id, now


def put_back(session: Session, attempt_ids: Sequence[str], now: dt.datetime) -> None:
    """The claims were released, never dialled: their follow-ups are pending again."""
    if attempt_ids:
        session.execute(update(FollowUpRow).where(FollowUpRow.attempt_id.in_(attempt_ids))
                        .values(state=PENDING, attempt_id=None, updated_at=now))


def _record(row: FollowUpRow) -> FollowUp:
    return FollowUp(id=row.id, campaign=row.campaign, round=row.round, debtor_id=row.debtor_id, phone=row.phone,
                    due_at=row.due_at, reason=row.reason, origin_attempt_id=row.origin_attempt_id,
                    state=row.state, attempt_id=row.attempt_id, note=row.note)


class FollowUpsMixin:
    """Follow-up operations of the Store (which provides ``_tx`` and ``_clock``)."""

    if TYPE_CHECKING:
        def _tx(self, action: str) -> AbstractContextManager[Session]: ...
        def _clock(self) -> dt.datetime: ...

    def plan_follow_up(self, campaign: str, *, debtor_id: str, phone: str, reason: str,
                       origin_attempt_id: str, due_at: dt.datetime | None, round: str | None,
                       note: str) -> FollowUp:
        """Store what is planned after ``origin_attempt_id`` (``due_at`` None: nothing, and why).
        Idempotent: a second plan for the same origin and reason returns the first."""
        with self._tx(f"plan a follow-up of attempt {origin_attempt_id}") as s:
            now = self._clock()  # another controller may plan the same one at once: the first stays
            insert_ignore(s, FollowUpRow, dict(
                campaign=campaign, round=round, debtor_id=debtor_id, phone=phone, due_at=due_at, reason=reason,
                origin_attempt_id=origin_attempt_id, state=PENDING if due_at is not None else NONE,
                attempt_id=None, note=note, created_at=now, updated_at=now))
            row = s.scalar(select(FollowUpRow).where(FollowUpRow.origin_attempt_id == origin_attempt_id,
                                                     FollowUpRow.reason == reason))
            assert row is not None
            return _record(row)

    def follow_ups(self, campaign: str, *, states: Sequence[str] = (PENDING,), reason_prefix: str = "",
                   debtor_id: str | None = None) -> list[FollowUp]:
        with self._tx(f"read the follow-ups of campaign {campaign!r}") as s:
            query = select(FollowUpRow).where(FollowUpRow.campaign == campaign, FollowUpRow.state.in_(states))
            if reason_prefix:
                query = query.where(FollowUpRow.reason.startswith(reason_prefix))
            if debtor_id is not None:
                query = query.where(FollowUpRow.debtor_id == debtor_id)
            return [_record(r) for r in s.scalars(query.order_by(FollowUpRow.due_at, FollowUpRow.id))]

    def pending_for_round(self, campaign: str, round: str | None) -> list[FollowUp]:
        """Pending follow-ups of ``round`` and those of no round in particular; every pending
        one when ``round`` is None (the phase after the rounds)."""
        with self._tx(f"read the pending follow-ups of campaign {campaign!r}") as s:
            query = select(FollowUpRow).where(FollowUpRow.campaign == campaign, FollowUpRow.state == PENDING)
            if round is not None:
                query = query.where(or_(FollowUpRow.round.is_(None), FollowUpRow.round == round))
            return [_record(r) for r in s.scalars(query.order_by(FollowUpRow.due_at, FollowUpRow.id))]

    def close_follow_up(self, follow_up_id: int, state: str, note: str) -> None:
        """A pending follow-up will not be made (dropped with its round, or void: moot)."""
        with self._tx(f"close follow-up {follow_up_id}") as s:
            row = s.get(FollowUpRow, follow_up_id, with_for_update=True)
            if row is not None and row.state == PENDING:
                row.state, row.note, row.updated_at = state, note, self._clock()

    def postpone_follow_up(self, follow_up_id: int, due_at: dt.datetime | None) -> None:
        """Compliance allows the follow-up only at ``due_at`` (None: at no time it can see)."""
        with self._tx(f"postpone follow-up {follow_up_id}") as s:
            row = s.get(FollowUpRow, follow_up_id, with_for_update=True)
            if row is not None and row.state == PENDING:
                if due_at is None:
                    row.state, row.note = DROPPED, "compliance allows no time for it"
                else:
                    row.due_at, row.note = due_at, f"{row.note}; postponed by compliance"[:500]
                row.updated_at = self._clock()

    def drop_round_follow_ups(self, campaign: str, round: str, *, due_after: dt.datetime, note: str) -> int:
        """The round ended: its retries still pending and due after ``due_after`` (the end of
        the schedule) are dropped. Earlier ones stay: another controller may be making them; and
        follow-ups of cut calls stay, for the phase after the rounds."""
        with self._tx(f"drop the follow-ups of round {round!r}") as s:
            result = s.execute(update(FollowUpRow).where(
                FollowUpRow.campaign == campaign, FollowUpRow.round == round, FollowUpRow.state == PENDING,
                FollowUpRow.due_at > due_after, FollowUpRow.reason.startswith("retry:"))
                .values(state=DROPPED, note=note, updated_at=self._clock()))
            return int(result.rowcount or 0)  # type: ignore[attr-defined]

    def busy_elsewhere(self, campaign: str, *, me: str | None, round: str | None = None,
                       until: dt.datetime | None = None, known: Collection[int] = ()) -> bool:
        """Does another controller still have calls of the campaign (of ``round``) in flight, or
        is a follow-up of ``round`` not among ``known`` pending and due by ``until``? Then the
        round (or the campaign) has not ended. This controller's own calls never count: when
        it asks, its own are done."""
        with self._tx(f"read whether campaign {campaign!r} has work elsewhere") as s:
            query = (select(AttemptRow.id).join(CampaignAttemptRow, CampaignAttemptRow.attempt_id == AttemptRow.id)
                     .where(CampaignAttemptRow.campaign == campaign, AttemptRow.controller.is_not(None),
                            AttemptRow.state.in_([AttemptState.QUEUED.value, AttemptState.DIALING.value,
                                                  AttemptState.ANSWERED.value])))
            if me is not None:
                query = query.where(AttemptRow.controller != me)
            if round is not None:
                query = query.where(CampaignAttemptRow.round == round)
            if s.scalar(query.limit(1)) is not None:
                return True
            if round is None or until is None:
                return False
            decided = select(FollowUpRow.origin_attempt_id).where(FollowUpRow.reason == "interrupted")
            undecided = s.scalar(  # cut short, but what follows is not stored yet: it may be this round's
                select(AttemptRow.id).join(CampaignAttemptRow, CampaignAttemptRow.attempt_id == AttemptRow.id)
                .where(CampaignAttemptRow.campaign == campaign, CampaignAttemptRow.round == round, _cut_short(),
                       AttemptRow.id.not_in(decided)).limit(1))
            if undecided is not None:
                return True
            pending = s.scalars(select(FollowUpRow.id).where(
                FollowUpRow.campaign == campaign, FollowUpRow.round == round, FollowUpRow.state == PENDING,
                FollowUpRow.due_at <= until))
            return any(i not in known for i in pending)

    def interrupted_attempts(self, campaign: str) -> list[tuple[str, str, str, dt.datetime, str]]:
        """(attempt id, debtor id, phone, when it ended, round) of the campaign's attempts cut
        short: closed by reconciliation (state unknown) or with result unknown (link lost)."""
        with self._tx(f"read the interrupted attempts of campaign {campaign!r}") as s:
            rows = s.execute(
                select(AttemptRow.id, AttemptRow.debtor_id, AttemptRow.phone, AttemptRow.ended_at,
                       AttemptRow.created_at, CampaignAttemptRow.round)
                .join(CampaignAttemptRow, CampaignAttemptRow.attempt_id == AttemptRow.id)
                .where(CampaignAttemptRow.campaign == campaign, _cut_short())
                .order_by(AttemptRow.created_at, AttemptRow.id))
            return [(a, d, p, ended or created, r) for a, d, p, ended, created, r in rows]


def _cut_short() -> Any:
    return or_(AttemptRow.state == AttemptState.UNKNOWN.value,
               (AttemptRow.state == AttemptState.COMPLETED.value) & (AttemptRow.result == CallResult.UNKNOWN.value))
