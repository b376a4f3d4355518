"""`collbot run`, `collbot serve` and `collbot campaign add|list|status|pause|resume|cancel` (registered by
bot.cli)."""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.live import Live
from rich.table import Table

campaign_app = typer.Typer(no_args_is_help=True,
                           help="Control campaigns: add, list, status, pause, resume, cancel.")
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
            paused = f" (dialling held: {p.paused})" if p.paused else ""  # type: ignore[attr-defined]
            live.update(f"round {p.round}{paused}: {p.in_flight} in flight, {p.done} done, "  # type: ignore[attr-defined]
                        f"{p.skipped} deferred; " + ", ".join(f"{k} {v}" for k, v in sorted(p.results.items())))

        progress = asyncio.run(run_campaign(_settings(), campaign, on_progress=show))
    for line in progress.interrupted:
        out.print(line, soft_wrap=True, highlight=False, markup=False)
    if progress.stopped:  # never exit 0 with work left
        out.print(f"campaign stopped with work left after {time.monotonic() - started:.0f}s: {progress.done} calls; "
                  + ", ".join(f"{k} {v}" for k, v in sorted(progress.results.items())))
        raise typer.Exit(3)
    state = "finished" if progress.finished else "finished its work for now"
    out.print(f"campaign {state} in {time.monotonic() - started:.0f}s: {progress.done} calls; "
              + ", ".join(f"{k} {v}" for k, v in sorted(progress.results.items())))


def serve_cmd(poll: Annotated[float, typer.Option("--poll", min=0.2, max=300,
                                                  help="Seconds between looks at the database.")] = 5.0) -> None:
    """Run every campaign registered with `collbot campaign add` in its schedule windows, until
    SIGTERM or Ctrl-C: then the calls in flight finish, no new one is placed, and it exits."""
    from bot.campaign.commands import serve

    settings = _settings()
    # A daemon's stderr is its log (journald, docker): show what it does, not only problems.
    for handler in logging.getLogger().handlers:
        if type(handler) is logging.StreamHandler:
            handler.setLevel(settings.log.level)
    logging.getLogger("alembic").setLevel(logging.WARNING)  # "Context impl SQLiteImpl." on every start
    started = time.monotonic()
    summary = asyncio.run(serve(settings, poll_s=poll))
    out.print(f"collbot serve: stopped after {time.monotonic() - started:.0f}s; {summary.line()}",
              soft_wrap=True, highlight=False, markup=False)


@campaign_app.command("add")
def add(file: Annotated[Path, typer.Argument(help="Campaign file (YAML).")]) -> None:
    """Register a campaign (or update it, by name) for `collbot serve`; checked like `run` first."""
    from bot.campaign.commands import add_campaign

    reg = add_campaign(_settings(), file)
    out.print(f"campaign {reg.name}: {reg.change}, {reg.status}; definition {reg.sha256[:12]} from {reg.source}",
              soft_wrap=True, highlight=False, markup=False)


@campaign_app.command("list")
def list_cmd() -> None:
    """Registered campaigns: status, where the definition came from, its hash."""
    from bot.campaign.commands import list_campaigns

    table = Table(title="registered campaigns")
    for column in ("campaign", "status", "definition", "source", "updated (UTC)"):
        table.add_column(column)
    for reg in list_campaigns(_settings()):
        table.add_row(reg.name, reg.status, reg.sha256[:12], reg.source_path, f"{reg.updated_at:%Y-%m-%d %H:%M}")
    out.print(table)


@campaign_app.command("status")
def status(name: Annotated[str, typer.Argument(help="Campaign name.")]) -> None:
    """Status, attempts and results so far."""
    from bot.campaign.commands import status_of

    info = status_of(_settings(), name)
    out.print(f"campaign {info['campaign']}: {info['status']}; {info['attempts']} attempts to "
              f"{info['debtors']} debtors")
    for key, count in sorted(info["results"].items()):  # type: ignore[union-attr]
        out.print(f"  {key}: {count}")
    for line in info["interrupted"]:  # type: ignore[attr-defined]
        out.print(line, soft_wrap=True, highlight=False, markup=False)


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
