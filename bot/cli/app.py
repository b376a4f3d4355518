"""The root `collbot` app: loads the settings into typer's context, then one line per command module."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bot.cli import calls, campaign, cases, intake, ops, queue, results, sandbox, script, sim, web
from bot.cli.context import keep
from bot.config import load_settings

app = typer.Typer(no_args_is_help=True, add_completion=False, help="collbot: a voice collections robot for Asterisk.")

ConfigOpt = Annotated[
    Path | None, typer.Option("--config", "-c", help="Settings file (default: ./collbot.yaml if present).")
]


@app.callback()
def _main(ctx: typer.Context, config: ConfigOpt = None) -> None:
    from bot.logutil import setup_logging

    settings = load_settings(config)
    setup_logging(settings)
    keep(ctx, settings)


# One line per command module. A module defines `app = typer.Typer(...)`; its commands take
# `ctx: typer.Context` and read `settings(ctx)` from bot.cli.context. Unnamed apps add top-level
# commands (in help order), named ones a group: `app.add_typer(area.app, name="area")`.
app.add_typer(calls.app)
app.add_typer(intake.app)
app.add_typer(results.app)
app.add_typer(campaign.commands)
app.add_typer(sandbox.app, name="sandbox")
app.add_typer(sim.app, name="sim")
app.add_typer(script.app, name="script")
app.add_typer(campaign.app, name="campaign")
app.add_typer(intake.payments_app, name="payments")
cases.register(app)  # collbot cases ..., collbot agents ...
app.add_typer(web.web_app, name="web")
ops.register(app)  # collbot debtor ..., suppress ..., purge
app.add_typer(queue.app, name="queue")
