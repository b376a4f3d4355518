"""`collbot sim load`."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from bot.cli.context import out, settings

app = typer.Typer(no_args_is_help=True, help="Simulated carrier and customers in the sandbox.")


@app.command("load")
def sim_load(ctx: typer.Context, personas: Annotated[Path, typer.Argument(help="Personas YAML file.")]) -> None:
    """Install simulated customers into the running sandbox."""
    from bot.commands import load_personas

    loaded = asyncio.run(load_personas(settings(ctx), personas))
    out.print(f"loaded {len(loaded.personas)} personas from {personas}")
