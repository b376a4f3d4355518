"""`collbot run` and `collbot campaign status|pause|resume|cancel` (registered by bot.cli)."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.live import Live
from rich.table import Table

campaign_app = typer.Typer(no_args_is_help=True, help="Control campaigns: status, pause, resume, cancel.")
out = Console(width=None if sys.stdout.isatty() else 140)


def _settings():
    from bot.cli import settings

    return settings()


def run_cmd(campaign: Annotated[Path, typer.Argument(help="Campaign file (YAML).")],
            dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would happen now, and why.")] = False,
            ) -> None:
    """Run a campaign now until it is finished or outside its windows; Ctrl-C / SIGTERM finish
    the calls in flight and place no new ones."""
    from bot.campaign.commands import dry_run as plan
    from bot.campaign.commands import run_campaign

    if dry_run:
        rows = plan(_settings(), campaign)
        table = Table(title=f"dry run: {campaign}")
        for column in ("debtor", "would call", "reason", "detail"):
            table.add_column(column)
        for row in rows:
            table.add_row(row.debtor_id, "yes" if row.allow else "no", row.reason, row.detail)
        out.print(table)
        out.print(f"{sum(r.allow for r in rows)} of {len(rows)} debtors would be called now")
        return
    started = time.monotonic()
    with Live(console=Console(stderr=True), refresh_per_second=2, transient=False) as live:
        def show(p: object) -> None:
            live.update(f"round {p.round}: {p.in_flight} in flight, {p.done} done, "  # type: ignore[attr-defined]
                        f"{p.skipped} deferred; " + ", ".join(f"{k} {v}" for k, v in sorted(p.results.items())))

        progress = asyncio.run(run_campaign(_settings(), campaign, on_progress=show))
    out.print(f"campaign finished its work for now in {time.monotonic() - started:.0f}s: {progress.done} calls; "
              + ", ".join(f"{k} {v}" for k, v in sorted(progress.results.items())))


@campaign_app.command("status")
def status(name: Annotated[str, typer.Argument(help="Campaign name.")]) -> None:
    """Status, attempts and results so far."""
    from bot.campaign.commands import status_of

    info = status_of(_settings(), name)
    out.print(f"campaign {info['campaign']}: {info['status']}; {info['attempts']} attempts to "
              f"{info['debtors']} debtors")
    for key, count in sorted(info["results"].items()):  # type: ignore[union-attr]
        out.print(f"  {key}: {count}")


def _setter(state: str, verb: str):
    def command(name: Annotated[str, typer.Argument(help="Campaign name.")]) -> None:
        from bot.campaign.commands import set_status

        set_status(_settings(), name, state)
        out.print(f"campaign {name}: {state}")

    command.__doc__ = verb
    return command


campaign_app.command("pause")(_setter("paused", "Place no new calls (calls in flight finish)."))
campaign_app.command("resume")(_setter("active", "Allow a paused campaign to run again."))
campaign_app.command("cancel")(_setter("cancelled", "Stop the campaign for good."))
