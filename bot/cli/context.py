"""What every command module shares: the settings the root callback loaded, and one console."""

from __future__ import annotations

import sys
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


def settings(ctx: typer.Context) -> Settings:
    """The settings loaded once by the root callback; typer hands its context to every sub-command."""
    loaded = ctx.obj
    if not isinstance(loaded, Settings):
        raise RuntimeError("the collbot root callback did not run")
    return loaded


def zone_named(name: str) -> ZoneInfo:
    from bot.errors import InputError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(f"--timezone {name!r} is not an IANA time zone name such as Asia/Seoul") from None
