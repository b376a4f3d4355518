"""What every command module shares: the settings the root callback loaded, and one console."""

from __future__ import annotations

import sys
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer
from rich.console import Console

from bot.config import Settings

# Tables stay readable when the output is a file or a CI log, not only in a wide terminal.
out = Console(width=None if sys.stdout.isatty() else 140)
err = Console(stderr=True)

DEFAULT_SCRIPT = Path("scripts/reminder-ko.yaml")
ScriptOpt = Annotated[Path, typer.Option("--script", help="Call script the robot follows.")]
ZoneOpt = Annotated[str, typer.Option("--timezone", help="IANA zone for times without an offset / hours.")]


# Set by the root callback beside ctx.obj, for command modules written against the old bot/cli.py
# (`from bot.cli import settings; settings()`) until they take `ctx` like the ones here.
_running: ContextVar[Settings] = ContextVar("collbot_settings")


def settings(ctx: typer.Context | None = None) -> Settings:
    """The settings loaded once by the root callback; typer hands its context to every sub-command."""
    loaded = ctx.obj if ctx is not None else _running.get(None)
    if not isinstance(loaded, Settings):
        raise RuntimeError("the collbot root callback did not run")
    return loaded


def keep(ctx: typer.Context, loaded: Settings) -> None:
    """Where the root callback puts the settings."""
    ctx.obj = loaded
    _running.set(loaded)


def zone_named(name: str) -> ZoneInfo:
    from bot.errors import InputError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(f"--timezone {name!r} is not an IANA time zone name such as Asia/Seoul") from None
