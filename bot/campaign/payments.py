"""`collbot payments import`: payments from a CSV file of any size, each row stored, known or rejected.

The file is read with the debtor importer's reader (same encodings, line numbers, record
limits and rejects file) and written in batches of ``BATCH_ROWS``, one transaction each.
Columns ``debtor_id, amount, paid_at`` are required; any other column is ignored.
``paid_at`` is an ISO date (``2026-03-04``, the start of that day) or date and time
(``2026-03-04 14:30``, ``2026-03-04T14:30:00+09:00``); without an offset it is local time in
``zone``. A payment is the triple (debtor, amount, paid_at): importing the same file again,
or a file that repeats a row, stores it once and counts the repeats as duplicates.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.campaign.importer import (
    BATCH_ROWS,
    MAX_CSV_BYTES,
    Progress,
    _amount,
    _Bad,
    _field_limit,
    _ident,
    _open,
    _read_header,
    _Rejects,
    default_rejects_path,
)
from bot.errors import ConfigError, StoreError
from bot.store.records import Payment
from bot.store.repo import Store, utc_now

REQUIRED = ("debtor_id", "amount", "paid_at")
_FORMS = "YYYY-MM-DD or YYYY-MM-DD HH:MM[:SS][+HH:MM]"


@dataclass(frozen=True, slots=True)
class PaymentsReport:
    """What one import did: ``imported + duplicate + rejected == rows``."""

    rows: int
    imported: int  # payments stored now
    duplicate: int  # payments already stored, or repeated in the file
    rejected: int
    rejects_path: Path
    blank: int = 0


def check_header(path: Path, *, max_bytes: int = MAX_CSV_BYTES) -> list[str]:
    """The file's column names (normalized), or the ConfigError ``import_payments`` would raise."""
    with _field_limit(), _open(path, max_bytes) as (_, reader, _):
        return list(_read_header(reader, path, REQUIRED).index)


def import_payments(path: Path, store: Store, *, zone: ZoneInfo, rejects: Path | None = None,
                    progress: Progress | None = None, batch_rows: int = BATCH_ROWS,
                    now: dt.datetime | None = None, max_bytes: int = MAX_CSV_BYTES) -> PaymentsReport:
    """Store every valid, new payment of ``path``; rejected rows go to ``rejects`` with line and reason."""
    path = Path(path)
    now = now or utc_now()
    rejects_path = Path(rejects) if rejects is not None else default_rejects_path(path)
    if rejects_path.resolve() == path.resolve():
        raise ConfigError("the rejects file would overwrite the file being imported", path=str(path))
    with _field_limit(), _open(path, max_bytes) as (binary, reader, total):
        header = _read_header(reader, path, REQUIRED)
        column = {name: header.index[name] for name in REQUIRED}
        batch: list[tuple[int, Payment, list[str]]] = []
        rows = imported = 0

        def report() -> None:
            if progress is not None:
                progress(binary.tell(), total, rows)

        def flush(out: _Rejects) -> None:
            nonlocal imported
            try:
                known = store.known_debtors([p.debtor_id for _, p, _ in batch])
                for line, payment, cells in batch:
                    if payment.debtor_id not in known:
                        out.add(line, f"no debtor {payment.debtor_id!r} (import the debtors first)", cells)
                unique = {(p.debtor_id, p.amount, p.paid_at): p for _, p, _ in batch if p.debtor_id in known}
                imported += store.add_payments(list(unique.values()))
            except StoreError as exc:
                raise StoreError(f"{path}: import stopped at the rows ending on line {batch[-1][0]}: {exc}; "
                                 f"{imported} payments from earlier lines were saved and importing the file "
                                 "again is safe (payments already stored are skipped)") from exc
            batch.clear()

        with _Rejects(rejects_path, header.names) as out:
            for record in reader:
                if record.blank:
                    continue
                rows += 1
                if rows % batch_rows == 0:
                    report()
                cells = record.cells or []
                if record.problem is not None:
                    out.add(record.line, record.problem, cells)
                    continue
                payment, problems = _check({name: cells[i].strip() for name, i in column.items()}, zone, now)
                if payment is None:
                    out.add(record.line, "; ".join(problems), cells)
                    continue
                batch.append((record.line, payment, cells))
                if len(batch) >= batch_rows:
                    flush(out)
            if batch:
                flush(out)
            out.commit()
        report()
    return PaymentsReport(rows=rows, imported=imported, duplicate=rows - imported - out.count,
                          rejected=out.count, rejects_path=rejects_path, blank=reader.blank)


def _check(cells: dict[str, str], zone: ZoneInfo, now: dt.datetime) -> tuple[Payment | None, list[str]]:
    problems: list[str] = []
    debtor_id = amount = paid_at = None
    try:
        debtor_id = _ident(cells["debtor_id"])
    except _Bad as bad:
        problems.append(f"debtor_{bad}")  # the debtor importer's reasons name the column "id"
    try:
        amount = _amount(cells["amount"])
    except _Bad as bad:
        problems.append(str(bad))
    try:
        paid_at = parse_paid_at(cells["paid_at"], zone, now)
    except _Bad as bad:
        problems.append(str(bad))
    if debtor_id is None or amount is None or paid_at is None:
        return None, problems
    return Payment(debtor_id=debtor_id, amount=amount, paid_at=paid_at), []


def parse_paid_at(raw: str, zone: ZoneInfo, now: dt.datetime) -> dt.datetime:
    """An aware UTC time from an ISO date or date-time; naive values are local time in ``zone``."""
    if not raw:
        raise _Bad("paid_at is empty")
    shown = f" {raw!r}" if len(raw) <= 40 else ""
    try:
        if len(raw) == 10:
            day = dt.date.fromisoformat(raw)
            when = dt.datetime(day.year, day.month, day.day)
        else:
            when = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise _Bad(f"paid_at{shown} is not an ISO date or date and time ({_FORMS})") from None
    if not 1900 <= when.year <= 2100:
        raise _Bad(f"paid_at{shown} has a year outside 1900-2100")
    if when.tzinfo is None:
        when = when.replace(tzinfo=zone)
    when = when.astimezone(dt.UTC)
    if when > now:
        raise _Bad(f"paid_at{shown} is in the future")
    return when
