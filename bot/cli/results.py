"""`collbot export` and `collbot report`: what the campaigns achieved."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from bot.cli.context import ZoneOpt, out, settings, zone_named

app = typer.Typer()


@app.command("export")
def export_cmd(ctx: typer.Context,
               campaign: Annotated[str, typer.Argument(help="Campaign name.")],
               output: Annotated[Path, typer.Option("-o", "--output", help="CSV file to write.")],
               attempts: Annotated[bool, typer.Option("--attempts", help="One row per attempt.")] = False,
               full_phone: Annotated[bool, typer.Option("--full-phone", help="Do not mask numbers.")] = False,
               script: Annotated[str, typer.Option("--script", help="Script name for attempts that did not "
                                                                    "record theirs.")] = "") -> None:
    """Export a campaign's results as CSV (numbers masked unless --full-phone)."""
    from bot.campaign.export import export
    from bot.errors import StoreError
    from bot.store.repo import open_store

    with open_store(settings(ctx).database.url) as store:
        if store.campaign_status(campaign) is None:
            raise StoreError(f"no campaign {campaign!r}")
        count = export(store, campaign, output, attempts=attempts, full_phone=full_phone, script=script)
    out.print(f"wrote {count} rows to {output}")


@app.command("report")
def report_cmd(
    ctx: typer.Context,
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

    zone = zone_named(timezone)
    with open_store(settings(ctx).database.url) as store:
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
