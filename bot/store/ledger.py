"""The campaign ledger: campaigns and their rounds, which attempt belongs to which round,
every compliance decision, and numbers suppressed for good. Mixed into ``Store``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterator
from typing import TYPE_CHECKING, Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, delete, or_, select, text, true
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from bot.compliance.requests import UNCONFIRMED_OPT_OUT
from bot.domain import CallResult, Debtor, DialogueEvent, EventKind, Outcome
from bot.errors import StoreError
from bot.store.models import FORGOTTEN_WHERE, AttemptRow, Base, DebtorRow
from bot.store.records import AttemptRecord, AttemptState
from bot.store.types import UTCDateTime

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from bot.campaign.compliance import Attempt as ComplianceAttempt
    from bot.campaign.compliance import Decision
    from bot.campaign.spec import DebtorFilter

# Outcomes that mean the right party was spoken to (they start Regulation F's cool-down).
CONVERSATION = {Outcome.PROMISE_TO_PAY, Outcome.REFUSED, Outcome.ALREADY_PAID, Outcome.DISPUTE,
                Outcome.CALLBACK, Outcome.TRANSFER_REQUESTED, Outcome.OPT_OUT}


class CampaignRow(Base):
    __tablename__ = "campaigns"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))  # active | paused | cancelled | finished
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    # What `collbot campaign add` registered (None for campaigns only ever started by `run FILE`).
    source_path: Mapped[str | None] = mapped_column(Text)
    definition: Mapped[str | None] = mapped_column(Text)  # the campaign file's YAML text
    definition_sha256: Mapped[str | None] = mapped_column(String(64))


class RoundRow(Base):
    __tablename__ = "campaign_rounds"
    campaign: Mapped[str] = mapped_column(ForeignKey("campaigns.name"), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class CampaignAttemptRow(Base):
    __tablename__ = "campaign_attempts"
    __table_args__ = (Index("ix_campaign_attempts_campaign", "campaign", "debtor_id"),)
    attempt_id: Mapped[str] = mapped_column(ForeignKey("call_attempts.id"), primary_key=True)
    campaign: Mapped[str] = mapped_column(ForeignKey("campaigns.name"))
    round: Mapped[str] = mapped_column(String(64))
    debtor_id: Mapped[str] = mapped_column(String(64))
    script: Mapped[str | None] = mapped_column(String(200))  # None for attempts made before 0004


class DecisionRow(Base):
    __tablename__ = "compliance_decisions"
    __table_args__ = (Index("ix_compliance_decisions_campaign", "campaign", "debtor_id", "at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    campaign: Mapped[str] = mapped_column(String(64))
    round: Mapped[str] = mapped_column(String(64))
    debtor_id: Mapped[str] = mapped_column(String(64))
    attempt_id: Mapped[str | None] = mapped_column(String(32))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    allow: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(String(48))
    detail: Mapped[str] = mapped_column(Text)


class SuppressionRow(Base):
    __tablename__ = "suppressions"
    phone: Mapped[str] = mapped_column(String(16), primary_key=True)
    reason: Mapped[str] = mapped_column(String(16))  # opt_out | wrong_number | dnc | opt_out_review
    debtor_id: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


def insert_ignore(session: Session, table: type[Base], values: dict[str, Any]) -> None:
    """INSERT ... ON CONFLICT DO NOTHING: a row another process inserted meanwhile is kept."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    session.execute(dialect.insert(table).values(**values).on_conflict_do_nothing())


def _not_kept(keep: Collection[str]) -> Any:
    if not keep:
        return true()
    return or_(AttemptRow.controller.is_(None), AttemptRow.controller.not_in(list(keep)))


class ClaimRefused(StoreError):
    """The compliance gate, checked again inside the claiming transaction, refused: nothing stored."""

    def __init__(self, decision: Decision):
        self.decision = decision
        super().__init__(f"claim refused: {decision.reason}")


def history_in(session: Session, debtor_id: str, forgotten: Collection[str] = ()) -> list[ComplianceAttempt]:
    """The debt's dialled attempts, in any campaign, as the session sees them; with the calls
    made to ``forgotten`` numbers (keyed hashes of the debtor's numbers, bot.privacy.keys): the
    same person's calls before `forget`, whatever id they were imported under."""
    from bot.campaign.compliance import Attempt

    rows = list(session.scalars(select(AttemptRow).where(AttemptRow.debtor_id == debtor_id,
                                                         AttemptRow.dialed_at.is_not(None))))
    if forgotten:
        mine = {r.id for r in rows}
        rows += [r for r in session.scalars(select(AttemptRow).where(
            AttemptRow.phone.in_(sorted(forgotten)), text(FORGOTTEN_WHERE),  # the partial index
            AttemptRow.dialed_at.is_not(None))) if r.id not in mine]
    return [Attempt(at=r.dialed_at, result=CallResult(r.result) if r.result else None,  # type: ignore[arg-type]
                    conversation=r.outcome is not None and Outcome(r.outcome) in CONVERSATION)
            for r in rows]


class LedgerMixin:
    """Campaign operations of the Store (which provides ``_tx`` and ``_clock``)."""

    if TYPE_CHECKING:
        def _tx(self, action: str) -> AbstractContextManager[Session]: ...
        def _clock(self) -> dt.datetime: ...
        def _forgotten(self, *numbers: str | None) -> list[str]: ...

    # --- campaigns and rounds ----------------------------------------------------------------
    def ensure_campaign(self, name: str) -> str:
        with self._tx(f"register campaign {name!r}") as s:
            now = self._clock()  # several controllers may start the campaign at once
            insert_ignore(s, CampaignRow, {"name": name, "status": "active", "created_at": now, "updated_at": now})
            row = s.get(CampaignRow, name)
            assert row is not None
            return row.status

    def campaign_status(self, name: str) -> str | None:
        with self._tx(f"read campaign {name!r}") as s:
            row = s.get(CampaignRow, name)
            return row.status if row else None

    def set_campaign_status(self, name: str, status: str) -> None:
        with self._tx(f"set campaign {name!r} {status}") as s:
            row = s.get(CampaignRow, name)
            if row is None:
                raise StoreError(f"no campaign {name!r}")
            row.status, row.updated_at = status, self._clock()

    def round_finished(self, campaign: str, name: str) -> bool:
        return self.round_ended_at(campaign, name) is not None

    def round_ended_at(self, campaign: str, name: str) -> dt.datetime | None:
        with self._tx("read a round") as s:
            row = s.get(RoundRow, (campaign, name))
            return row.ended_at if row else None

    def finish_round(self, campaign: str, name: str) -> None:
        with self._tx("finish a round") as s:  # several controllers may finish it at once
            insert_ignore(s, RoundRow, {"campaign": campaign, "name": name, "ended_at": self._clock()})
            row = s.get(RoundRow, (campaign, name), with_for_update=True)
            if row is not None and row.ended_at is None:
                row.ended_at = self._clock()

    # --- attempts ----------------------------------------------------------------------------
    def release_attempt(self, attempt_id: str) -> None:
        """Forget a claim that was never dialled (still queued)."""
        from bot.store.followups import put_back

        with self._tx("release a claim") as s:
            row = s.get(AttemptRow, attempt_id)
            if row is not None and row.state == AttemptState.QUEUED.value:
                s.execute(delete(CampaignAttemptRow).where(CampaignAttemptRow.attempt_id == attempt_id))
                put_back(s, [attempt_id], self._clock())
                s.delete(row)

    def release_queued(self, campaign: str, *, keep: Collection[str] = ()) -> int:
        """Forget the campaign's claims that were never dialled (a previous run died first),
        except those of the controllers in ``keep`` (alive: their claims are theirs)."""
        with self._tx(f"release the queued claims of campaign {campaign!r}") as s:
            ids = select(CampaignAttemptRow.attempt_id).where(CampaignAttemptRow.campaign == campaign)
            queued = list(s.scalars(select(AttemptRow.id).where(
                AttemptRow.id.in_(ids), AttemptRow.state == AttemptState.QUEUED.value, _not_kept(keep))))
            if queued:
                from bot.store.followups import put_back

                put_back(s, queued, self._clock())
                s.execute(delete(CampaignAttemptRow).where(CampaignAttemptRow.attempt_id.in_(queued)))
                s.execute(delete(AttemptRow).where(AttemptRow.id.in_(queued)))
            return len(queued)

    def in_flight(self, campaign: str, *, keep: Collection[str] = ()) -> list[AttemptRecord]:
        """The campaign's attempts that were dialling or talking, but for those of the
        controllers in ``keep``."""
        from bot.store.repo import _attempt

        with self._tx(f"read the attempts of campaign {campaign!r} in flight") as s:
            ids = select(CampaignAttemptRow.attempt_id).where(CampaignAttemptRow.campaign == campaign)
            rows = s.scalars(select(AttemptRow).where(
                AttemptRow.id.in_(ids), _not_kept(keep),
                AttemptRow.state.in_([AttemptState.DIALING.value, AttemptState.ANSWERED.value]))
                .order_by(AttemptRow.created_at, AttemptRow.id))
            return [_attempt(r) for r in rows]

    def close_interrupted(self, attempt_id: str, how: str) -> bool:
        """Close an attempt whose controller died, keeping what the ledger knows: state
        ``unknown``, result ``answered`` if it was answered (the outcome stays empty), else
        ``unknown``; a ``reconciled`` call event says ``how``. False if it was already closed."""
        from bot.store.repo import _append_event, _locked

        with self._tx(f"reconcile attempt {attempt_id}") as s:
            row = _locked(s, attempt_id)
            if row.state not in (AttemptState.DIALING.value, AttemptState.ANSWERED.value):
                return False
            _append_event(s, attempt_id, DialogueEvent(EventKind.RECONCILED, {"how": how, "was": row.state},
                                                      at=self._clock()))
            answered = row.answered_at is not None or row.result == CallResult.ANSWERED.value
            row.result = row.result or (CallResult.ANSWERED if answered else CallResult.UNKNOWN).value
            row.state, row.ended_at = AttemptState.UNKNOWN.value, self._clock()
            row.outcome_detail = {"interrupted": how}
            return True

    def campaign_attempts(self, campaign: str, debtor_id: str | None = None) -> list[AttemptRecord]:
        from bot.store.repo import _attempt

        with self._tx("read campaign attempts") as s:
            query = (select(AttemptRow).join(CampaignAttemptRow, CampaignAttemptRow.attempt_id == AttemptRow.id)
                     .where(CampaignAttemptRow.campaign == campaign))
            if debtor_id is not None:
                query = query.where(CampaignAttemptRow.debtor_id == debtor_id)
            return [_attempt(r) for r in s.scalars(query.order_by(AttemptRow.created_at, AttemptRow.id))]

    def campaign_attempt_pages(self, campaign: str, *, debtors: int = 500,
                               ) -> Iterator[list[tuple[AttemptRecord, str, str]]]:
        """The campaign's attempts as (attempt, round, compliance reason), ordered by debtor and
        then time, the next ``debtors`` debtors' attempts at a time (a debtor is never split
        between pages). Each page is a few short, indexed reads, so memory does not grow with
        the campaign and no transaction stays open between pages."""
        from bot.store.repo import _attempt

        after = ""
        while True:
            with self._tx("read campaign attempts") as s:
                ids = list(s.scalars(
                    select(CampaignAttemptRow.debtor_id).distinct()
                    .where(CampaignAttemptRow.campaign == campaign, CampaignAttemptRow.debtor_id > after)
                    .order_by(CampaignAttemptRow.debtor_id).limit(debtors)))
                if not ids:
                    return
                rows = [(_attempt(a), r) for a, r in s.execute(
                    select(AttemptRow, CampaignAttemptRow.round)
                    .join(CampaignAttemptRow, CampaignAttemptRow.attempt_id == AttemptRow.id)
                    .where(CampaignAttemptRow.campaign == campaign, CampaignAttemptRow.debtor_id.in_(ids))
                    .order_by(CampaignAttemptRow.debtor_id, AttemptRow.created_at, AttemptRow.id))]
                reasons = {a: reason for a, reason in s.execute(
                    select(DecisionRow.attempt_id, DecisionRow.reason)
                    .where(DecisionRow.campaign == campaign, DecisionRow.debtor_id.in_(ids),
                           DecisionRow.attempt_id.is_not(None))
                    .order_by(DecisionRow.id))}
            yield [(a, r, reasons.get(a.id, "")) for a, r in rows]
            after = ids[-1]

    def campaign_rounds_of(self, campaign: str) -> dict[str, str]:
        """attempt id -> round name."""
        with self._tx("read campaign rounds") as s:
            rows = s.execute(select(CampaignAttemptRow.attempt_id, CampaignAttemptRow.round)
                             .where(CampaignAttemptRow.campaign == campaign))
            return {a: r for a, r in rows}

    def campaign_links_of(self, campaign: str) -> dict[str, tuple[str, str | None]]:
        """attempt id -> (round name, script name or None when not recorded)."""
        with self._tx("read campaign rounds") as s:
            rows = s.execute(select(CampaignAttemptRow.attempt_id, CampaignAttemptRow.round, CampaignAttemptRow.script)
                             .where(CampaignAttemptRow.campaign == campaign))
            return {a: (r, script) for a, r, script in rows}

    def campaign_latest(self, campaign: str) -> dict[str, AttemptRecord]:
        latest: dict[str, AttemptRecord] = {}
        for attempt in self.campaign_attempts(campaign):
            latest[attempt.debtor_id] = attempt
        return latest

    def history(self, debtor_id: str) -> list[ComplianceAttempt]:
        """Every dialled attempt for this debt, in any campaign: what compliance caps count."""
        with self._tx("read call history") as s:
            debtor = s.get(DebtorRow, debtor_id)
            return history_in(s, debtor_id, self._forgotten(debtor.phone, debtor.alt_phone) if debtor else ())

    # --- decisions and suppression -------------------------------------------------------------
    def record_decision(self, campaign: str, round: str, debtor_id: str, allow: bool, reason: str,
                        detail: str, attempt_id: str | None) -> None:
        with self._tx("record a compliance decision") as s:
            s.add(DecisionRow(campaign=campaign, round=round, debtor_id=debtor_id, attempt_id=attempt_id,
                              at=self._clock(), allow=allow, reason=reason[:48], detail=detail))

    def decisions(self, campaign: str) -> list[dict[str, Any]]:
        with self._tx("read decisions") as s:
            rows = s.scalars(select(DecisionRow).where(DecisionRow.campaign == campaign).order_by(DecisionRow.id))
            return [{"round": r.round, "debtor_id": r.debtor_id, "attempt_id": r.attempt_id, "at": r.at,
                     "allow": r.allow, "reason": r.reason, "detail": r.detail} for r in rows]

    def suppress(self, phone: str, reason: str, debtor_id: str | None) -> None:
        """Never call this number again (opt-out, wrong number, do-not-call)."""
        with self._tx("suppress a number") as s:
            row = s.get(SuppressionRow, phone)
            if row is None:
                s.add(SuppressionRow(phone=phone, reason=reason, debtor_id=debtor_id, at=self._clock()))
            elif row.reason == UNCONFIRMED_OPT_OUT:  # the customer's own opt-out replaces the robot's hold
                row.reason = reason

    def suppression(self, phone: str) -> str | None:
        """Why the number is suppressed, under itself or, once its debtor was forgotten, its keyed hash."""
        with self._tx("read suppression") as s:
            for key in (phone, *self._forgotten(phone)):
                row = s.get(SuppressionRow, key)
                if row is not None:
                    return row.reason
            return None

    # --- debtors -----------------------------------------------------------------------------
    def debtors_for(self, wanted: DebtorFilter, *, today: dt.date) -> list[Debtor]:
        from bot.store.repo import _debtor

        with self._tx("select campaign debtors") as s:
            query = select(DebtorRow).where(DebtorRow.phone.like("+%")).order_by(DebtorRow.id)  # not forgotten ones
            if wanted.ids:
                query = query.where(DebtorRow.id.in_(wanted.ids))
            if wanted.min_amount is not None:
                query = query.where(DebtorRow.amount >= wanted.min_amount)
            if wanted.max_amount is not None:
                query = query.where(DebtorRow.amount <= wanted.max_amount)
            found = [_debtor(r) for r in s.scalars(query)]
        out = []
        for d in found:
            overdue = (today - d.due_date).days if d.due_date else None
            if wanted.min_days_overdue is not None and (overdue is None or overdue < wanted.min_days_overdue):
                continue
            if wanted.max_days_overdue is not None and (overdue is None or overdue > wanted.max_days_overdue):
                continue
            if wanted.tags and not set(wanted.tags) & set(getattr(d, "tags", ()) or ()):
                continue
            out.append(d)
        return out
