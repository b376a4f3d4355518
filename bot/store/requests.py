"""Debtors' contact requests, collectors' contacts and the suppression audit trail. Mixed into ``Store``.

Rows out are the plain records of ``bot.compliance.requests``; the gate reads them with
``contact_requests``. A collector's contact is stored as a completed attempt marked
``{"channel": "collector"}``, so every cap that counts attempts counts it too (the kr pack's
7 contacts in 7 days count the robot's and the collectors' together).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from bot.compliance.requests import (
    SUSPENSION_ASKED,
    UNCONFIRMED_OPT_OUT,
    Adjustment,
    ContactRequests,
    Restriction,
    Suspension,
    parse_slot,
)
from bot.errors import InputError, StoreError
from bot.store.ledger import SuppressionRow
from bot.store.models import ACTIVE_STATES, AttemptRow, Base, DebtorRow, EventRow
from bot.store.types import JsonData, UTCDateTime

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

KINDS = ("restrict", "suspend", "adjust", SUSPENSION_ASKED)
HASHED = "#"  # a forgotten number's keyed hash (bot.privacy.keys)
KEEP_DETAIL = ("promise_date", "promise_amount", "callback_at", "channel", "means", "interrupted",
               "contact_requests")
KEEP_EVENT_KINDS = ("state",)
COLLECTOR = "collector"


class ContactRequestRow(Base):
    __tablename__ = "contact_requests"
    __table_args__ = (Index("ix_contact_requests_debtor_id", "debtor_id", "at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    debtor_id: Mapped[str] = mapped_column(ForeignKey("debtors.id", ondelete="RESTRICT"))
    kind: Mapped[str] = mapped_column(String(16))  # restrict | suspend | adjust
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    by: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JsonData)
    lifted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    lifted_by: Mapped[str | None] = mapped_column(String(64))


class SuppressionAuditRow(Base):
    __tablename__ = "suppression_audit"
    __table_args__ = (Index("ix_suppression_audit_phone", "phone", "at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    phone: Mapped[str] = mapped_column(String(16))  # E.164, or its keyed hash once the debtor is forgotten
    action: Mapped[str] = mapped_column(String(8))  # add | remove
    reason: Mapped[str] = mapped_column(String(16))
    why: Mapped[str] = mapped_column(Text)
    by: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


@dataclass(frozen=True)
class StoredRequest:
    id: int
    debtor_id: str
    kind: str
    at: dt.datetime
    by: str
    data: dict[str, Any]
    lifted_at: dt.datetime | None


@dataclass(frozen=True)
class SuppressionEntry:
    phone: str
    reason: str
    debtor_id: str | None
    at: dt.datetime
    trail: tuple[tuple[dt.datetime, str, str, str, str], ...]  # (at, action, reason, by, why)


class RequestsMixin:
    """Contact requests of the Store (which provides ``_tx`` and ``_clock``)."""

    if TYPE_CHECKING:
        def _tx(self, action: str) -> AbstractContextManager[Session]: ...
        def _clock(self) -> dt.datetime: ...

    # --- contact requests -------------------------------------------------------------------
    def add_contact_request(self, debtor_id: str, kind: str, data: dict[str, Any], *, by: str,
                            extend: bool = False) -> int:
        """Store a request; a suspension that overlaps an active one is refused unless ``extend``,
        which lengthens the newest active one instead (counted as an extension)."""
        if kind not in KINDS:
            raise InputError(f"unknown contact request kind {kind!r}")
        with self._tx(f"store a contact request for debtor {debtor_id!r}") as s:
            _debtor_locked(s, debtor_id)
            now = self._clock()
            if kind == "suspend":
                current = _active_suspensions(s, debtor_id, dt.date.fromisoformat(data["since"]))
                if current and not extend:
                    last = current[-1]
                    raise InputError(
                        f"debtor {debtor_id!r} is already suspended through {last.data['until']} "
                        f"({last.data['reason']}, request {last.id}); suspensions may not overlap: use --extend "
                        "to lengthen that one")
                if extend:
                    if not current:
                        raise InputError(f"debtor {debtor_id!r} has no active suspension to extend")
                    last = current[-1]
                    if data["until"] <= last.data["until"]:
                        raise InputError(f"--until {data['until']} does not extend suspension {last.id}, "
                                         f"which already runs through {last.data['until']}")
                    history = [*last.data.get("history", []),
                               {"until": last.data["until"], "at": now.isoformat(), "by": by}]
                    last.data = {**last.data, "until": data["until"], "extensions": len(history),
                                 "history": history}
                    return last.id
            elif extend:
                raise InputError("--extend applies to suspensions only")
            row = ContactRequestRow(debtor_id=debtor_id, kind=kind, at=now, by=by[:64], data=dict(data))
            s.add(row)
            s.flush()
            return row.id

    def lift_contact_request(self, request_id: int, *, by: str) -> StoredRequest:
        with self._tx(f"lift contact request {request_id}") as s:
            row = s.get(ContactRequestRow, request_id)
            if row is None:
                raise StoreError(f"no contact request {request_id}")
            if row.lifted_at is None:
                row.lifted_at, row.lifted_by = self._clock(), by[:64]
            return _stored(row)

    def contact_request_list(self, debtor_id: str) -> list[StoredRequest]:
        with self._tx(f"read the contact requests of debtor {debtor_id!r}") as s:
            if s.get(DebtorRow, debtor_id) is None:
                raise StoreError(f"no debtor {debtor_id!r}")
            rows = s.scalars(select(ContactRequestRow).where(ContactRequestRow.debtor_id == debtor_id)
                             .order_by(ContactRequestRow.at, ContactRequestRow.id))
            return [_stored(r) for r in rows]

    def pending_reviews(self) -> list[StoredRequest]:
        """Suspensions debtors asked for in calls that no person has reviewed yet, oldest first."""
        with self._tx("read the requests pending review") as s:
            rows = s.scalars(select(ContactRequestRow).where(
                ContactRequestRow.kind == SUSPENSION_ASKED, ContactRequestRow.lifted_at.is_(None))
                .order_by(ContactRequestRow.at, ContactRequestRow.id))
            return [_stored(r) for r in rows]

    def contact_requests(self, debtor_id: str) -> ContactRequests:
        """The debtor's requests in force (not lifted), as the compliance gate reads them."""
        with self._tx(f"read the contact requests of debtor {debtor_id!r}") as s:
            rows = list(s.scalars(select(ContactRequestRow).where(
                ContactRequestRow.debtor_id == debtor_id, ContactRequestRow.lifted_at.is_(None))
                .order_by(ContactRequestRow.at, ContactRequestRow.id)))
        return as_requests(rows)

    # --- collectors' contacts ---------------------------------------------------------------
    def record_collector_contact(self, debtor_id: str, *, at: dt.datetime, agent: str, means: str,
                                 answered: bool) -> str:
        """A collector's call, text or visit, kept as a completed attempt so caps count it."""
        attempt_id = uuid.uuid4().hex
        with self._tx(f"record a collector contact for debtor {debtor_id!r}") as s:
            debtor = _debtor_locked(s, debtor_id)
            s.add(AttemptRow(id=attempt_id, debtor_id=debtor_id, phone=debtor.phone, state="completed",
                             result="answered" if answered else "no_answer",
                             outcome_detail={"channel": COLLECTOR, "agent": agent[:64], "means": means},
                             created_at=at, dialed_at=at, answered_at=at if answered else None, ended_at=at,
                             talk_seconds=0))
        return attempt_id

    # --- suppressions with an audit trail ---------------------------------------------------
    def add_suppression(self, phone: str, reason: str, *, by: str, why: str) -> bool:
        with self._tx("suppress a number") as s:
            now = self._clock()
            existing = s.get(SuppressionRow, phone)
            changed = existing is None
            if existing is None:
                owner = s.scalar(select(DebtorRow.id).where(DebtorRow.phone == phone).limit(1))
                s.add(SuppressionRow(phone=phone, reason=reason, debtor_id=owner, at=now))
            elif existing.reason == UNCONFIRMED_OPT_OUT and reason != UNCONFIRMED_OPT_OUT:
                existing.reason, changed = reason, True  # a person's decision replaces the robot's hold
            s.add(SuppressionAuditRow(phone=phone, action="add", reason=reason, why=why, by=by[:64], at=now))
            return changed

    def remove_suppression(self, phone: str, *, by: str, why: str) -> str:
        """Lift a suppression; returns the reason it had. StoreError if the number is not suppressed."""
        with self._tx("lift a suppression") as s:
            row = s.get(SuppressionRow, phone)
            if row is None:
                raise StoreError("that number is not suppressed")
            reason = row.reason
            s.delete(row)
            s.add(SuppressionAuditRow(phone=phone, action="remove", reason=reason, why=why, by=by[:64],
                                      at=self._clock()))
            return reason

    def suppression_list(self) -> list[SuppressionEntry]:
        with self._tx("read suppressions") as s:
            trail: dict[str, list[tuple[dt.datetime, str, str, str, str]]] = {}
            for a in s.scalars(select(SuppressionAuditRow).order_by(SuppressionAuditRow.id)):
                trail.setdefault(a.phone, []).append((a.at, a.action, a.reason, a.by, a.why))
            return [SuppressionEntry(r.phone, r.reason, r.debtor_id, r.at, tuple(trail.get(r.phone, ())))
                    for r in s.scalars(select(SuppressionRow).order_by(SuppressionRow.at, SuppressionRow.phone))]

    def suppression_trail(self, phone: str) -> list[tuple[dt.datetime, str, str, str, str]]:
        with self._tx("read the suppression audit trail") as s:
            return [(a.at, a.action, a.reason, a.by, a.why) for a in s.scalars(
                select(SuppressionAuditRow).where(SuppressionAuditRow.phone == phone)
                .order_by(SuppressionAuditRow.id))]

    def has_call_in_flight(self, debtor_id: str) -> bool:
        with self._tx(f"read the calls of debtor {debtor_id!r}") as s:
            return s.scalar(select(AttemptRow.id).where(AttemptRow.debtor_id == debtor_id,
                                                        AttemptRow.state.in_(ACTIVE_STATES)).limit(1)) is not None


    # --- erasure (bot.privacy.forget) ------------------------------------------------------
    def forget_debtor(self, debtor_id: str, hash_of: Callable[[str], str], *, by: str) -> tuple[list[str], int]:
        """Pseudonymize the debtor in one transaction; refused while a call is in flight."""
        with self._tx(f"forget debtor {debtor_id!r}") as s:
            debtor = s.get(DebtorRow, debtor_id, with_for_update=True)
            if debtor is None:
                raise StoreError(f"no debtor {debtor_id!r}")
            live = s.scalar(select(AttemptRow.id).where(AttemptRow.debtor_id == debtor_id,
                                                        AttemptRow.state.in_(ACTIVE_STATES)).limit(1))
            if live is not None:
                raise StoreError(f"debtor {debtor_id!r} has a call in flight (attempt {live}); try again when it "
                                 "has ended (`collbot campaign pause` stops new ones)")
            numbers = {n for n in (debtor.phone, debtor.alt_phone) if n and not n.startswith(HASHED)}
            attempts = list(s.scalars(select(AttemptRow).where(AttemptRow.debtor_id == debtor_id)))
            numbers |= {a.phone for a in attempts if not a.phone.startswith(HASHED)}
            hashed = {n: hash_of(n) for n in numbers}
            debtor.name, debtor.extra, debtor.tags, debtor.alt_phone = "", {}, [], None
            debtor.phone = hashed.get(debtor.phone, debtor.phone)
            for a in attempts:
                a.phone = hashed.get(a.phone, a.phone)
                a.outcome_detail = {k: v for k, v in (a.outcome_detail or {}).items() if k in KEEP_DETAIL}
            ids = [a.id for a in attempts]
            erased = 0
            if ids:
                erased = s.execute(update(EventRow).where(EventRow.attempt_id.in_(ids),
                                                          EventRow.kind.not_in(KEEP_EVENT_KINDS))
                                   .values(data={"erased": True})).rowcount or 0
            for number, digest in hashed.items():
                shared = s.scalar(select(DebtorRow.id).where(
                    DebtorRow.id != debtor_id, (DebtorRow.phone == number) | (DebtorRow.alt_phone == number)).limit(1))
                if shared is not None:
                    continue  # another debtor's number too: its suppression must keep matching it
                row = s.get(SuppressionRow, number)
                if row is not None:
                    s.delete(row)
                    s.flush()
                    if s.get(SuppressionRow, digest) is None:
                        s.add(SuppressionRow(phone=digest, reason=row.reason, debtor_id=row.debtor_id, at=row.at))
                s.execute(update(SuppressionAuditRow).where(SuppressionAuditRow.phone == number).values(phone=digest))
            s.add(SuppressionAuditRow(phone=hashed.get(debtor.phone, debtor.phone), action="forget", reason="erasure",
                                      why=f"debtor {debtor_id} forgotten", by=by[:64], at=self._clock()))
            return ids, erased


    # --- retention (bot.privacy.purge) ----------------------------------------------------------
    def ended_attempts(self, before: dt.datetime) -> list[tuple[str, str | None, dt.datetime]]:
        """(attempt id, campaign or None, ended at) of attempts that ended before ``before``."""
        from bot.store.ledger import CampaignAttemptRow

        with self._tx("read ended attempts") as s:
            return [(a, c, e) for a, c, e in s.execute(
                select(AttemptRow.id, CampaignAttemptRow.campaign, AttemptRow.ended_at)
                .outerjoin(CampaignAttemptRow, CampaignAttemptRow.attempt_id == AttemptRow.id)
                .where(AttemptRow.ended_at.is_not(None), AttemptRow.ended_at < before))]

    def prompts_played(self, attempt_ids: list[str]) -> list[tuple[str, str, dict[str, Any]]]:
        """(attempt id, debtor name, event data) of each prompt these attempts played."""
        out: list[tuple[str, str, dict[str, Any]]] = []
        with self._tx("read played prompts") as s:
            for start in range(0, len(attempt_ids), 500):
                out.extend((a, n, dict(d or {})) for a, n, d in s.execute(
                    select(EventRow.attempt_id, DebtorRow.name, EventRow.data)
                    .join(AttemptRow, AttemptRow.id == EventRow.attempt_id)
                    .join(DebtorRow, DebtorRow.id == AttemptRow.debtor_id)
                    .where(EventRow.attempt_id.in_(attempt_ids[start:start + 500]), EventRow.kind == "prompt")))
        return out

    def purge_transcripts(self, attempt_ids: list[str], *, dry_run: bool = False) -> int:
        """Erase what was recognized and played in these attempts; the events themselves stay."""
        kinds = ("recognition", "prompt", "dtmf")
        erased = 0
        with self._tx("purge transcripts") as s:
            for start in range(0, len(attempt_ids), 500):
                chunk = attempt_ids[start:start + 500]
                where = (EventRow.attempt_id.in_(chunk), EventRow.kind.in_(kinds))
                rows = [r for r in s.scalars(select(EventRow).where(*where)) if "purged" not in (r.data or {})]
                erased += len(rows)
                if not dry_run:
                    for r in rows:
                        r.data = {"purged": True}
        return erased


    # --- metrics (bot.metrics) ------------------------------------------------------------------
    def compliance_skips(self) -> dict[str, int]:
        """Refused compliance decisions in the ledger, by reason."""
        from sqlalchemy import func

        from bot.store.ledger import DecisionRow

        with self._tx("count compliance skips") as s:
            return {reason: int(n) for reason, n in s.execute(
                select(DecisionRow.reason, func.count()).where(DecisionRow.allow.is_(False))
                .group_by(DecisionRow.reason))}


    # --- reports --------------------------------------------------------------------------------
    def campaign_debtor_currencies(self, campaign: str) -> dict[str, str]:
        """debtor id -> currency of the debt, for every debtor this campaign called."""
        from bot.store.ledger import CampaignAttemptRow

        called = select(CampaignAttemptRow.debtor_id).where(CampaignAttemptRow.campaign == campaign)
        with self._tx("read debtor currencies") as s:
            return {i: c for i, c in s.execute(select(DebtorRow.id, DebtorRow.currency)
                                                 .where(DebtorRow.id.in_(called)))}


    def attempt_scripts(self, attempt_ids: list[str]) -> dict[str, str]:
        """attempt id -> the script it used, for those that recorded one (500 ids a query)."""
        from bot.store.ledger import CampaignAttemptRow

        out: dict[str, str] = {}
        with self._tx("read attempt scripts") as s:
            for start in range(0, len(attempt_ids), 500):
                out.update({a: sc for a, sc in s.execute(
                    select(CampaignAttemptRow.attempt_id, CampaignAttemptRow.script).where(
                        CampaignAttemptRow.attempt_id.in_(attempt_ids[start:start + 500]),
                        CampaignAttemptRow.script.is_not(None)))})
        return out


def as_requests(rows: list[ContactRequestRow]) -> ContactRequests:
    restrictions, suspensions, adjustments = [], [], []
    for r in rows:
        d = r.data
        if r.kind == "restrict":
            restrictions.append(Restriction(r.id, tuple(parse_slot(x) for x in d.get("slots", ())),
                                            tuple(d.get("means", ())), r.at))
        elif r.kind == "suspend":
            suspensions.append(Suspension(r.id, dt.date.fromisoformat(d["since"]), dt.date.fromisoformat(d["until"]),
                                          d["reason"], int(d.get("extensions", 0))))
        elif r.kind == "adjust":
            adjustments.append(Adjustment(r.id, dt.date.fromisoformat(d["since"])))
    return ContactRequests(tuple(restrictions), tuple(suspensions), tuple(adjustments))


def _stored(r: ContactRequestRow) -> StoredRequest:
    return StoredRequest(r.id, r.debtor_id, r.kind, r.at, r.by, dict(r.data), r.lifted_at)


def _debtor_locked(s: Session, debtor_id: str) -> DebtorRow:
    row = s.get(DebtorRow, debtor_id, with_for_update=True)
    if row is None:
        raise StoreError(f"no debtor {debtor_id!r}")
    return row


def _active_suspensions(s: Session, debtor_id: str, on: dt.date) -> list[ContactRequestRow]:
    rows = s.scalars(select(ContactRequestRow).where(
        ContactRequestRow.debtor_id == debtor_id, ContactRequestRow.kind == "suspend",
        ContactRequestRow.lifted_at.is_(None)).order_by(ContactRequestRow.id))
    return [r for r in rows if dt.date.fromisoformat(r.data["until"]) >= on]
