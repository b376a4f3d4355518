"""`collbot call` and `collbot demo`: call personas through the sandbox and show one row per call."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from bot.cli.context import DEFAULT_SCRIPT, ScriptOpt, err, out, settings
from bot.config import Settings

app = typer.Typer()


@app.command("call")
def call(ctx: typer.Context,
         personas: Annotated[Path, typer.Argument(help="Personas file whose entries carry debtor data.")],
         script: ScriptOpt = DEFAULT_SCRIPT,
         concurrency: Annotated[int, typer.Option(min=1, max=500, help="Calls in flight at once.")] = 10) -> None:
    """Call every persona that carries debtor data and print one row per call."""
    from bot.commands import call_personas, compiled_script

    compiled = compiled_script(settings(ctx), script)
    rows = asyncio.run(call_personas(settings(ctx), personas, script=compiled, concurrency=concurrency,
                                     progress=_progress))
    print_table(rows)
    exit_on_mismatch(rows)


@app.command("demo")
def demo(ctx: typer.Context,
         personas: Annotated[Path, typer.Argument(help="Personas file.")] = Path("demo/personas.yaml"),
         script: ScriptOpt = DEFAULT_SCRIPT,
         concurrency: Annotated[int, typer.Option(min=1, max=500)] = 10,
         agents: Annotated[Path | None, typer.Option(help="Simulated agents YAML: transfers reach them.")]
         = None,
         stream: Annotated[Path | None, typer.Option(
             help="Personas with timing of their own (barge-in, quick answers), then called over AudioSocket.")]
         = None) -> None:
    """Start the sandbox, load the demo customers, call them and show what happened."""
    started = time.monotonic()
    s = settings(ctx)
    rows = bench(s, script, personas, concurrency, agents)
    print_table(rows)
    if stream is not None:
        streamed = stream_bench(s, script, stream)
        print_stream_table(streamed)
        rows += streamed
    out.print(f"database: {s.database.url}\nlogs: {s.log.file or 'var/collbot.log'}\n"
              f"recordings: {s.host_path(s.asterisk.spool_dir)}\n"
              f"demo took {time.monotonic() - started:.0f}s")
    exit_on_mismatch(rows)


def bench(settings: Settings, script: Path, personas: Path, concurrency: int,
          agents: Path | None = None) -> list[dict[str, str]]:
    """Start the sandbox, load the personas and call them (`demo`, `script test`)."""
    from bot.commands import call_personas, compiled_script, load_personas
    from bot.telephony.sandbox import Sandbox

    compiled = compiled_script(settings, script)  # a broken script never calls anyone
    Sandbox(settings, progress=lambda m: err.print(f"[dim]{m}[/dim]")).up()
    asyncio.run(load_personas(settings, personas))
    calls = call_personas(settings, personas, script=compiled, concurrency=concurrency, progress=_progress)
    if agents is None:
        return asyncio.run(calls)
    from bot.agents.sim_agents import with_sim_agents

    return asyncio.run(with_sim_agents(settings, agents, calls))


def stream_bench(settings: Settings, script: Path, personas: Path) -> list[dict[str, str]]:
    """Load the streamed personas into the running sandbox and call them over AudioSocket."""
    from bot.commands import compiled_script, load_personas
    from bot.stream_demo import call_stream_personas
    from bot.telephony.sandbox import Sandbox

    compiled = compiled_script(settings, script)
    err.print("[dim]streamed customers: the robot on call.transport audiosocket[/dim]")
    asyncio.run(load_personas(settings, personas))
    return asyncio.run(call_stream_personas(settings, personas, script=compiled, sandbox=Sandbox(settings),
                                            progress=_progress))


def print_stream_table(rows: list[dict[str, str]]) -> None:
    table = Table(title="streamed calls (AudioSocket): what the robot heard, turn by turn")
    for column in ("number", "debtor", "outcome", "expected", "ok", "turns"):
        table.add_column(column, no_wrap=column != "turns")
    for row in rows:
        table.add_row(*(row[c] for c in ("number", "debtor", "outcome", "expected", "ok", "turns")))
    out.print(table)


def exit_on_mismatch(rows: list[dict[str, str]]) -> None:
    if any(r["ok"] == "NO" for r in rows):
        err.print("collbot: some calls did not end as their personas expect (rows marked NO)")
        raise typer.Exit(1)


def _progress(row: dict[str, str]) -> None:
    err.print(f"[dim]{row['number']}: {row['result']} {row['outcome']}[/dim]")


COLUMNS = ("number", "debtor", "behavior", "result", "cause", "outcome", "detail", "expected", "ok")


def print_table(rows: list[dict[str, str]]) -> None:
    table = Table(title="collbot calls")
    for column in COLUMNS:
        table.add_column(column, no_wrap=column != "detail")
    for row in rows:
        table.add_row(*(row[c] for c in COLUMNS))
    out.print(table)
    checked = [r for r in rows if r["expected"]]
    matched = sum(r["ok"] == "yes" for r in checked)
    out.print(f"{len(rows)} calls; {matched} of {len(checked)} ended as their persona expects")
