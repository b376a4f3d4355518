"""`collbot payments import` and `collbot report` (registered by bot.cli)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer
from rich.console import Console
from rich.table import Table

payments_app = typer.Typer(no_args_is_help=True, help="Payments from the lender's books: import them.")
out = Console(width=None if sys.stdout.isatty() else 140)
ZoneOpt = Annotated[str, typer.Option("--timezone", help="IANA zone for times without an offset / hours.")]


def _settings():
    from bot.cli import settings

    return settings()


def _zone(name: str) -> ZoneInfo:
    from bot.errors import InputError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(f"--timezone {name!r} is not an IANA time zone name such as Asia/Seoul") from None


@payments_app.command("import")
def payments_import(
    file: Annotated[Path, typer.Argument(help="Payments CSV: debtor_id, amount, paid_at.")],
    rejects: Annotated[Path | None, typer.Option(help="Where rejected rows go (default: FILE.rejects.csv).")] = None,
    timezone: ZoneOpt = "Asia/Seoul",
) -> None:
    """Import payments; ones already stored are skipped, rejected rows written with their line and reason."""
    from bot.campaign.payments import check_header, import_payments
    from bot.store.repo import open_store

    zone = _zone(timezone)
    check_header(file)  # a file-level problem is reported before any database is created
    with open_store(_settings().database.url) as store:
        report = import_payments(file, store, zone=zone, rejects=rejects)
    where = f" (rejects written to {report.rejects_path})" if report.rejected else ""
    out.print(f"imported {report.imported}, duplicate {report.duplicate}, rejected {report.rejected}{where}",
              soft_wrap=True, highlight=False, markup=False)


def report_cmd(
    campaign: Annotated[str, typer.Argument(help="Campaign name.")],
    html: Annotated[Path | None, typer.Option("--html", help="Also write one self-contained HTML file.")] = None,
    timezone: ZoneOpt = "Asia/Seoul",
    script: Annotated[str | None, typer.Option("--script", help="Script name for attempts that did not record "
                                                                  "theirs.")] = None,
) -> None:
    """Reach, right-party, promise-to-pay and kept-promise rates, in total and by round, hour and script."""
    from bot.campaign.report import COLUMNS, build_report, cells
    from bot.campaign.report_html import write_html
    from bot.store.repo import open_store, utc_now

    zone = _zone(timezone)
    with open_store(_settings().database.url) as store:
        report = build_report(store, campaign, zone=zone, now=utc_now(), script=script)
    for title, rows in (("total", [report.total]), ("by round", report.by_round),
                        ("by hour", report.by_hour), ("by script", report.by_script)):
        table = Table(title=f"{campaign}: {title}", title_justify="left")
        for column in COLUMNS:
            table.add_column(column, justify="left" if not column else "right")
        for row in rows:
            table.add_row(*cells(row))
        out.print(table)
    out.print(f"as of {report.today} ({report.zone}); script: {report.script_note}", highlight=False, markup=False)
    if html is not None:
        write_html(report, html)
        out.print(f"wrote {html}", highlight=False, markup=False)
