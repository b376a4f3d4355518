"""`collbot import` (debtors) and `collbot payments import`: CSV files in, rejected rows reported."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bot.cli.context import ZoneOpt, err, out, settings, zone_named
from bot.inputfile import MB

app = typer.Typer()
payments_app = typer.Typer(no_args_is_help=True, help="Payments from the lender's books: import them.")


@app.command("import")
def import_debtors_cmd(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="Debtors CSV: id, name, phone, amount, currency, due_date, ...")],
    rejects: Annotated[Path | None, typer.Option(help="Where rejected rows go (default: FILE.rejects.csv).")] = None,
) -> None:
    """Import or update debtors from a CSV file; rejected rows are written with their line and reason."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    from bot.campaign.importer import check_header, import_debtors
    from bot.store.repo import open_store

    limit = settings(ctx).input.max_csv_mb * MB
    check_header(file, max_bytes=limit)  # a file-level problem is reported before any database is created
    bar = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TimeRemainingColumn(),
                   console=err, transient=True, disable=file.stat().st_size <= 1_000_000)
    task = bar.add_task("importing", total=None)
    with bar, open_store(settings(ctx).database.url) as store:
        report = import_debtors(file, store, settings(ctx).dial, rejects=rejects, max_bytes=limit,
                                progress=lambda done, total, rows:
                                bar.update(task, completed=done, total=total, description=f"{rows:,} rows"))
    where = f" (rejects written to {report.rejects_path})" if report.rejected else ""
    out.print(f"imported {report.imported}, updated {report.updated}, rejected {report.rejected}{where}",
              soft_wrap=True, highlight=False, markup=False)


@payments_app.command("import")
def payments_import(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="Payments CSV: debtor_id, amount, paid_at.")],
    rejects: Annotated[Path | None, typer.Option(help="Where rejected rows go (default: FILE.rejects.csv).")] = None,
    timezone: ZoneOpt = "Asia/Seoul",
) -> None:
    """Import payments; ones already stored are skipped, rejected rows written with their line and reason."""
    from bot.campaign.payments import check_header, import_payments
    from bot.store.repo import open_store

    zone = zone_named(timezone)
    limit = settings(ctx).input.max_csv_mb * MB
    check_header(file, max_bytes=limit)  # a file-level problem is reported before any database is created
    with open_store(settings(ctx).database.url) as store:
        report = import_payments(file, store, zone=zone, rejects=rejects, max_bytes=limit)
    where = f" (rejects written to {report.rejects_path})" if report.rejected else ""
    out.print(f"imported {report.imported}, duplicate {report.duplicate}, rejected {report.rejected}{where}",
              soft_wrap=True, highlight=False, markup=False)
