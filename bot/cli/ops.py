"""`collbot debtor ...`, `collbot suppress ...` and `collbot purge` (registered by bot.cli)."""

from __future__ import annotations

import datetime as dt
import getpass
import os
import sys
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from bot.store.requests import SuppressionEntry

debtor_app = typer.Typer(no_args_is_help=True, help="A debtor's contact requests, collectors' contacts, erasure.")
suppress_app = typer.Typer(no_args_is_help=True, help="Numbers never to call: list, add, remove (audited).")
out = Console(width=None if sys.stdout.isatty() else 140)
IdArg = Annotated[str, typer.Argument(help="Debtor id.")]
ByOpt = Annotated[str | None, typer.Option("--by", help="Who does this (default: $USER).")]


def _settings():
    from bot.cli import settings

    return settings()


def _by(by: str | None) -> str:
    if by:
        return by
    try:
        return os.environ.get("USER") or getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _print(text: str) -> None:
    out.print(text, soft_wrap=True, highlight=False, markup=False)


def _store():
    from bot.store.repo import open_store

    return open_store(_settings().database.url)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@debtor_app.command("restrict")
def restrict_cmd(debtor_id: IdArg,
                 hours: Annotated[list[str] | None, typer.Option("--hours", help='Weekly slot, e.g. "mon-fri '
                                                                 '09:00-18:00" (debtor\'s local time); repeatable.')
                                  ] = None,
                 means: Annotated[list[str] | None, typer.Option("--means", help="phone or sms (or phone|sms); "
                                                                 "with --hours: only in those hours.")] = None,
                 by: ByOpt = None) -> None:
    """Store the debtor's request for no contact in some hours and/or by some means."""
    from bot.compliance.actions import restrict

    with _store() as store:
        stored = restrict(store, debtor_id, hours or [], means or [], by=_by(by))
    _print(f"debtor {debtor_id}: restriction {stored.id} stored")
    for note in stored.notes:
        _print(f"  note: {note}")


@debtor_app.command("suspend")
def suspend_cmd(debtor_id: IdArg,
                until: Annotated[dt.datetime, typer.Option("--until", formats=["%Y-%m-%d"],
                                                           help="Last day of the suspension (YYYY-MM-DD).")],
                reason: Annotated[str, typer.Option("--reason", help="disaster, surgery, hospital or bereavement.")],
                extend: Annotated[bool, typer.Option("--extend", help="Lengthen the active suspension.")] = False,
                by: ByOpt = None) -> None:
    """Suspend collection contact until a date (overlapping suspensions are refused; use --extend)."""
    from bot.compliance.actions import suspend

    with _store() as store:
        stored = suspend(store, debtor_id, until.date(), reason, by=_by(by), now=_now(), extend=extend)
    _print(f"debtor {debtor_id}: suspension {stored.id} {'extended' if extend else 'stored'} through {until:%Y-%m-%d}")
    for note in stored.notes:
        _print(f"  note: {note}")


@debtor_app.command("adjust")
def adjust_cmd(debtor_id: IdArg, by: ByOpt = None) -> None:
    """Record a debt-adjustment request: collection stops for the pack's business days (10 under kr)."""
    from bot.compliance.actions import adjust

    with _store() as store:
        stored = adjust(store, debtor_id, by=_by(by), now=_now())
    _print(f"debtor {debtor_id}: debt-adjustment request {stored.id} stored")
    for note in stored.notes:
        _print(f"  {note}")


@debtor_app.command("lift")
def lift_cmd(request_id: Annotated[int, typer.Argument(help="Request id (from `collbot debtor requests`).")],
             by: ByOpt = None) -> None:
    """Lift a contact request (the debtor withdrew it); it stays in the list, marked lifted."""
    with _store() as store:
        stored = store.lift_contact_request(request_id, by=_by(by))
    _print(f"contact request {stored.id} of debtor {stored.debtor_id} lifted")


@debtor_app.command("requests")
def requests_cmd(debtor_id: IdArg) -> None:
    """The debtor's contact requests, in force or lifted."""
    from bot.compliance.actions import describe, status

    with _store() as store:
        rows = store.contact_request_list(debtor_id)
    table = Table(title=f"contact requests of debtor {debtor_id}", title_justify="left")
    for column in ("id", "kind", "asked (UTC)", "by", "request", "status"):
        table.add_column(column)
    for r in rows:
        table.add_row(str(r.id), r.kind, f"{r.at:%Y-%m-%d %H:%M}", r.by, describe(r.kind, r.data),
                      status(r.kind, r.lifted_at))
    out.print(table)
    if not rows:
        _print("no contact requests")


@debtor_app.command("reviews")
def reviews_cmd() -> None:
    """What calls left for a person to review: suspensions debtors asked for (oldest first), and numbers
    held after an opt-out cue the customer neither confirmed nor denied."""
    with _store() as store:
        rows = store.pending_reviews()
        entries = store.suppression_list()
    table = Table(title="suspensions asked in calls, pending review", title_justify="left")
    for column in ("id", "debtor", "asked (UTC)", "reason", "call"):
        table.add_column(column)
    for r in rows:
        table.add_row(str(r.id), r.debtor_id, f"{r.at:%Y-%m-%d %H:%M}", str(r.data.get("reason", "")),
                      str(r.data.get("attempt", "")))
    out.print(table)
    _print(f"{len(rows)} pending: check the evidence, then `collbot debtor suspend ID --until ... --reason ...`, "
           "or `collbot debtor lift REQUEST_ID` to close one without a suspension")
    _held_opt_outs(entries)


def _held_opt_outs(entries: list[SuppressionEntry]) -> None:
    """Numbers the robot holds after an opt-out cue the customer neither confirmed nor denied."""
    from bot.compliance.requests import UNCONFIRMED_OPT_OUT
    from bot.phone import mask

    held = [e for e in entries if e.reason == UNCONFIRMED_OPT_OUT]
    table = Table(title="numbers held after an unconfirmed opt-out, pending review", title_justify="left")
    for column in ("number", "debtor", "held since (UTC)", "call"):
        table.add_column(column)
    for e in held:
        calls = [who.removeprefix("call:") for _, action, _, who, _ in e.trail if who.startswith("call:")]
        table.add_row(mask(e.phone), e.debtor_id or "", f"{e.at:%Y-%m-%d %H:%M}", calls[-1] if calls else "")
    out.print(table)
    _print(f"{len(held)} held: listen to the call, then `collbot suppress add NUMBER --reason opt_out --why ...` "
           "to confirm the opt-out, or `collbot suppress remove NUMBER --why ...` to lift the hold")


@debtor_app.command("contact")
def contact_cmd(debtor_id: IdArg,
                by: ByOpt = None,
                means: Annotated[str, typer.Option("--means", help="phone, sms, email or visit.")] = "phone",
                answered: Annotated[bool, typer.Option("--answered/--unanswered")] = True,
                at: Annotated[dt.datetime | None, typer.Option("--at", help="When (ISO, with offset; default: "
                                                                "now).")] = None) -> None:
    """Record a collector's contact, so the caps (kr: 7 in 7 days) count it with the robot's calls."""
    from bot.errors import InputError

    if means not in ("phone", "sms", "email", "visit"):
        raise InputError(f"--means {means!r}: expected phone, sms, email or visit")
    when = at or _now()
    if when.tzinfo is None:
        raise InputError("--at needs an offset, e.g. 2026-12-07T10:00:00+09:00")
    with _store() as store:
        attempt = store.record_collector_contact(debtor_id, at=when.astimezone(dt.UTC), agent=_by(by), means=means,
                                                 answered=answered)
    _print(f"debtor {debtor_id}: collector contact recorded as attempt {attempt}")


@debtor_app.command("forget")
def forget_cmd(debtor_id: IdArg, by: ByOpt = None) -> None:
    """Erase the debtor's personal data and audio; the compliance ledger stays, the numbers hashed."""
    from bot.privacy.forget import forget

    report = forget(_settings(), debtor_id, by=_by(by))
    _print(f"debtor {debtor_id} forgotten: {report.line()}")


@suppress_app.command("list")
def suppress_list(full_phone: Annotated[bool, typer.Option("--full-phone", help="Do not mask numbers.")] = False,
                  ) -> None:
    """Suppressed numbers with their reason and audit trail."""
    from bot.phone import mask

    with _store() as store:
        entries = store.suppression_list()
    table = Table(title="suppressed numbers", title_justify="left")
    for column in ("number", "reason", "debtor", "since (UTC)", "trail"):
        table.add_column(column)
    for e in entries:
        shown = e.phone if full_phone or not e.phone.startswith("+") else mask(e.phone)
        trail = "; ".join(f"{a:%Y-%m-%d %H:%M} {action} by {who}: {why}" for a, action, _, who, why in e.trail)
        table.add_row(shown, e.reason, e.debtor_id or "", f"{e.at:%Y-%m-%d %H:%M}", trail or "(by the robot)")
    out.print(table)
    _print(f"{len(entries)} suppressed numbers")


@suppress_app.command("add")
def suppress_add(number: Annotated[str, typer.Argument(help="Phone number.")],
                 why: Annotated[str, typer.Option("--why", help="Why (kept in the audit trail).")],
                 reason: Annotated[str, typer.Option("--reason", help="opt_out, dnc or wrong_number.")] = "dnc",
                 by: ByOpt = None) -> None:
    """Never call this number again."""
    from bot.campaign.engine import normalizer
    from bot.errors import InputError
    from bot.phone import mask

    if reason not in ("opt_out", "dnc", "wrong_number"):
        raise InputError(f"--reason {reason!r}: expected opt_out, dnc or wrong_number")
    phone = normalizer(_settings())(number)
    with _store() as store:
        new = store.add_suppression(phone, reason, by=_by(by), why=why)
    _print(f"{mask(phone)} {'suppressed' if new else 'was already suppressed; the request is in the trail'}"
           f" ({reason})")


@suppress_app.command("remove")
def suppress_remove(number: Annotated[str, typer.Argument(help="Phone number.")],
                    why: Annotated[str, typer.Option("--why", help="Why (kept in the audit trail).")],
                    by: ByOpt = None) -> None:
    """Lift a suppression (the debtor consented again, or it was a mistake)."""
    from bot.campaign.engine import normalizer
    from bot.phone import mask

    phone = normalizer(_settings())(number)
    with _store() as store:
        reason = store.remove_suppression(phone, by=_by(by), why=why)
    _print(f"{mask(phone)}: suppression ({reason}) lifted")


def purge_cmd(dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would be purged.")] = False,
              ) -> None:
    """Delete recordings and transcripts older than the retention of their campaign's pack."""
    from bot.privacy.purge import purge

    report = purge(_settings(), now=_now(), dry_run=dry_run)
    _print(("would purge: " if dry_run else "purged: ") + report.line())


def register(app: typer.Typer) -> None:
    app.add_typer(debtor_app, name="debtor")
    app.add_typer(suppress_app, name="suppress")
    app.command("purge")(purge_cmd)
