"""`collbot run`, `collbot serve` and `collbot campaign add|list|status|pause|resume|cancel`."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.live import Live
from rich.table import Table

from bot.cli.context import err, out, settings

commands = typer.Typer()
app = typer.Typer(no_args_is_help=True, help="Control campaigns: add, list, status, pause, resume, cancel.")


@commands.command("run")
def run_cmd(ctx: typer.Context, campaign: Annotated[Path, typer.Argument(help="Campaign file (YAML).")],
            dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would happen now, and why.")] = False,
            ) -> None:
    """Run a campaign now until it is finished or outside its windows; Ctrl-C / SIGTERM finish
    the calls in flight and place no new ones."""
    from bot.campaign.commands import dry_run as plan
    from bot.campaign.commands import run_campaign, schedule_block
    from bot.campaign.spec import read_campaign

    if dry_run:
        rows = plan(settings(ctx), campaign)
        round_name = rows[0].round if rows else "(none: every round is finished)"
        table = Table(title=f"dry run: {campaign}, round {round_name}")
        for column in ("debtor", "would call", "reason", "detail"):
            table.add_column(column)
        for row in rows:
            table.add_row(row.debtor_id, "yes" if row.allow else "no", row.reason, row.detail)
        out.print(table)
        out.print(f"round {round_name}: {sum(r.allow for r in rows)} of {len(rows)} debtors would be called now",
                  soft_wrap=True, highlight=False, markup=False)
        unscripted = sorted({r.detail.split("'")[1] for r in rows if r.reason == "no_script_for_language"})
        if unscripted:
            err.print(f"warning: no script for language(s) {', '.join(unscripted)}: "
                      f"{sum(r.reason == 'no_script_for_language' for r in rows)} debtor(s) would be skipped",
                      soft_wrap=True, highlight=False, markup=False)
        closed = schedule_block(read_campaign(campaign), dt.datetime.now(dt.UTC))
        out.print(f"schedule: {'closed now: ' + closed if closed else 'open now'}", soft_wrap=True, highlight=False,
                  markup=False)
        return
    started = time.monotonic()
    with Live(console=err, refresh_per_second=2, transient=False) as live:
        def show(p: object) -> None:
            paused = f" (dialling held: {p.paused})" if p.paused else ""  # type: ignore[attr-defined]
            live.update(f"round {p.round}{paused}: {p.in_flight} in flight, {p.done} done, "  # type: ignore[attr-defined]
                        f"{p.skipped} deferred; " + ", ".join(f"{k} {v}" for k, v in sorted(p.results.items()))
                        + (f"; {p.governor}" if p.governor else ""))  # type: ignore[attr-defined]

        progress = asyncio.run(run_campaign(settings(ctx), campaign, on_progress=show))
    for line in progress.interrupted:
        out.print(line, soft_wrap=True, highlight=False, markup=False)
    if progress.stopped:  # never exit 0 with work left
        out.print(f"campaign stopped with work left after {time.monotonic() - started:.0f}s: {progress.done} calls; "
                  + ", ".join(f"{k} {v}" for k, v in sorted(progress.results.items())))
        raise typer.Exit(3)
    state = "finished" if progress.finished else "finished its work for now"
    out.print(f"campaign {state} in {time.monotonic() - started:.0f}s: {progress.done} calls; "
              + ", ".join(f"{k} {v}" for k, v in sorted(progress.results.items())))


@commands.command("serve")
def serve_cmd(ctx: typer.Context, poll: Annotated[float, typer.Option("--poll", min=0.2, max=300,
                                                  help="Seconds between looks at the database.")] = 5.0) -> None:
    """Run every campaign registered with `collbot campaign add` in its schedule windows, until
    SIGTERM or Ctrl-C: then the calls in flight finish, no new one is placed, and it exits."""
    from bot.campaign.commands import serve

    loaded = settings(ctx)
    # A daemon's stderr is its log (journald, docker): show what it does, not only problems.
    for handler in logging.getLogger().handlers:
        if type(handler) is logging.StreamHandler:
            handler.setLevel(loaded.log.level)
    logging.getLogger("alembic").setLevel(logging.WARNING)  # "Context impl SQLiteImpl." on every start
    started = time.monotonic()
    summary = asyncio.run(serve(loaded, poll_s=poll))
    out.print(f"collbot serve: stopped after {time.monotonic() - started:.0f}s; {summary.line()}",
              soft_wrap=True, highlight=False, markup=False)


@app.command("add")
def add(ctx: typer.Context, file: Annotated[Path, typer.Argument(help="Campaign file (YAML).")]) -> None:
    """Register a campaign (or update it, by name) for `collbot serve`; checked like `run` first."""
    from bot.campaign.commands import add_campaign

    reg = add_campaign(settings(ctx), file)
    out.print(f"campaign {reg.name}: {reg.change}, {reg.status}; definition {reg.sha256[:12]} from {reg.source}",
              soft_wrap=True, highlight=False, markup=False)


@app.command("list")
def list_cmd(ctx: typer.Context) -> None:
    """Registered campaigns: status, where the definition came from, its hash."""
    from bot.campaign.commands import list_campaigns

    table = Table(title="registered campaigns")
    for column in ("campaign", "status", "definition", "source", "updated (UTC)"):
        table.add_column(column)
    for reg in list_campaigns(settings(ctx)):
        table.add_row(reg.name, reg.status, reg.sha256[:12], reg.source_path, f"{reg.updated_at:%Y-%m-%d %H:%M}")
    out.print(table)


@app.command("status")
def status(ctx: typer.Context, name: Annotated[str, typer.Argument(help="Campaign name.")]) -> None:
    """Status, attempts and results so far."""
    from bot.campaign.commands import status_of

    info = status_of(settings(ctx), name)
    out.print(f"campaign {info['campaign']}: {info['status']}; {info['attempts']} attempts to "
              f"{info['debtors']} debtors")
    for key, count in sorted(info["results"].items()):  # type: ignore[union-attr]
        out.print(f"  {key}: {count}")
    for line in info["interrupted"]:  # type: ignore[attr-defined]
        out.print(line, soft_wrap=True, highlight=False, markup=False)
    out.print(f"  amount promised: {info['promised']}; recovered: {info['recovered']} (per currency)",
              soft_wrap=True, highlight=False, markup=False)


def _setter(state: str, verb: str):
    def command(ctx: typer.Context, name: Annotated[str, typer.Argument(help="Campaign name.")]) -> None:
        from bot.campaign.commands import set_status

        set_status(settings(ctx), name, state)
        out.print(f"campaign {name}: {state}")

    command.__doc__ = verb
    return command


app.command("pause")(_setter("paused", "Place no new calls (calls in flight finish)."))
app.command("resume")(_setter("active", "Allow a paused campaign to run again."))
app.command("cancel")(_setter("cancelled", "Stop the campaign for good."))
