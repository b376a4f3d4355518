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


@app.command("agents")
def sim_agents(ctx: typer.Context, agents: Annotated[Path, typer.Argument(help="Agents YAML file.")],
               seconds: Annotated[float, typer.Option(help="Keep the desks working this long (0: until Ctrl-C).")]
               = 0.0) -> None:
    """Create simulated agents: queue members that answer as scripted, desks that wrap up."""
    from bot.agents.sim_agents import run_sim_agents

    loaded = asyncio.run(run_sim_agents(settings(ctx), agents, seconds=seconds,
                                        ready=lambda n: out.print(f"{n} simulated agents ready")))
    out.print(f"simulated agents stopped ({len(loaded.agents)} agents)")
