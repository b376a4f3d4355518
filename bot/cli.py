"""The collbot command: thin, it parses, calls and prints. Errors become one line and exit 1."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from bot.config import Settings, load_settings
from bot.errors import CollbotError

app = typer.Typer(no_args_is_help=True, add_completion=False, help="collbot: a voice collections robot for Asterisk.")
sandbox_app = typer.Typer(no_args_is_help=True, help="The bundled sandbox Asterisk (Debian sid, chrooted).")
sim_app = typer.Typer(no_args_is_help=True, help="Simulated carrier and customers in the sandbox.")
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(sim_app, name="sim")
# Tables stay readable when the output is a file or a CI log, not only in a wide terminal.
out = Console(width=None if sys.stdout.isatty() else 140)
err = Console(stderr=True)

ConfigOpt = Annotated[
    Path | None, typer.Option("--config", "-c", help="Settings file (default: ./collbot.yaml if present).")
]
_state: dict[str, Settings] = {}


@app.callback()
def _main(config: ConfigOpt = None) -> None:
    from bot.logutil import setup_logging

    settings = load_settings(config)
    setup_logging(settings)
    _state["settings"] = settings


def settings() -> Settings:
    return _state["settings"]


@sandbox_app.command("up")
def sandbox_up() -> None:
    """Build (once) and start the sandbox Asterisk; returns when AMI accepts a login."""
    from bot.telephony.sandbox import Sandbox

    started = time.monotonic()
    status = Sandbox(settings(), progress=lambda m: err.print(f"[dim]{m}[/dim]")).up()
    out.print(f"sandbox up in {time.monotonic() - started:.1f}s: {status.version} "
              f"(pid {status.pid}), AMI 127.0.0.1:{status.ami_port}, FastAGI 127.0.0.1:{status.agi_port}")


@sandbox_app.command("down")
def sandbox_down() -> None:
    """Stop the sandbox Asterisk (only the one it started) and unmount what it mounted."""
    from bot.telephony.sandbox import Sandbox

    was = Sandbox(settings()).down()
    out.print("sandbox stopped" if was else "sandbox was not running")


@sandbox_app.command("status")
def sandbox_status() -> None:
    """Whether the sandbox runs, its version and its ports."""
    from bot.telephony.sandbox import Sandbox

    s = Sandbox(settings()).status()
    state = f"running (pid {s.pid}), {s.version}" if s.running else "stopped"
    out.print(f"sandbox: {state}\nroot: {s.root}\nAMI: 127.0.0.1:{s.ami_port}\nFastAGI: 127.0.0.1:{s.agi_port}")
    if not s.running:
        raise typer.Exit(3)


@sim_app.command("load")
def sim_load(personas: Annotated[Path, typer.Argument(help="Personas YAML file.")]) -> None:
    """Install simulated customers into the running sandbox."""
    from bot.commands import load_personas

    loaded = asyncio.run(load_personas(settings(), personas))
    out.print(f"loaded {len(loaded.personas)} personas from {personas}")


@app.command("call")
def call(personas: Annotated[Path, typer.Argument(help="Personas file whose entries carry debtor data.")],
         concurrency: Annotated[int, typer.Option(min=1, max=500, help="Calls in flight at once.")] = 10) -> None:
    """Call every persona that carries debtor data and print one row per call."""
    from bot.commands import call_personas

    rows = asyncio.run(call_personas(settings(), personas, concurrency=concurrency, progress=_progress))
    _print_table(rows)
    _exit_on_mismatch(rows)


@app.command("demo")
def demo(personas: Annotated[Path, typer.Argument(help="Personas file.")] = Path("demo/personas.yaml"),
         concurrency: Annotated[int, typer.Option(min=1, max=500)] = 10) -> None:
    """Start the sandbox, load the demo customers, call them and show what happened."""
    from bot.commands import call_personas, load_personas
    from bot.telephony.sandbox import Sandbox

    started = time.monotonic()
    Sandbox(settings(), progress=lambda m: err.print(f"[dim]{m}[/dim]")).up()
    asyncio.run(load_personas(settings(), personas))
    rows = asyncio.run(call_personas(settings(), personas, concurrency=concurrency, progress=_progress))
    _print_table(rows)
    s = settings()
    out.print(f"database: {s.database.url}\nlogs: {s.log.file or 'var/collbot.log'}\n"
              f"recordings: {s.host_path(s.asterisk.spool_dir)}\n"
              f"demo took {time.monotonic() - started:.0f}s")
    _exit_on_mismatch(rows)


def _exit_on_mismatch(rows: list[dict[str, str]]) -> None:
    if any(r["ok"] == "NO" for r in rows):
        err.print("collbot: some calls did not end as their personas expect (rows marked NO)")
        raise typer.Exit(1)


def _progress(row: dict[str, str]) -> None:
    err.print(f"[dim]{row['number']}: {row['result']} {row['outcome']}[/dim]")


COLUMNS = ("number", "debtor", "behavior", "result", "cause", "outcome", "detail", "expected", "ok")


def _print_table(rows: list[dict[str, str]]) -> None:
    table = Table(title="collbot calls")
    for column in COLUMNS:
        table.add_column(column, no_wrap=column != "detail")
    for row in rows:
        table.add_row(*(row[c] for c in COLUMNS))
    out.print(table)
    checked = [r for r in rows if r["expected"]]
    matched = sum(r["ok"] == "yes" for r in checked)
    out.print(f"{len(rows)} calls; {matched} of {len(checked)} ended as their persona expects")


def main() -> None:
    try:
        code = app(standalone_mode=False)
        sys.exit(code if isinstance(code, int) else 0)
    except CollbotError as exc:
        print(f"collbot: error: {exc}", file=sys.stderr)  # never wrapped or styled: one line per problem
        sys.exit(1)
    except (typer.Abort, KeyboardInterrupt):
        err.print("collbot: interrupted")
        sys.exit(130)
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except Exception as exc:  # click usage errors etc.
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise
