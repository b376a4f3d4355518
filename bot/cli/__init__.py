"""The `collbot` command: thin, it parses, calls and prints.

    entry.py     the entry point: every error becomes one line and an exit code
    app.py       the root app, its --config callback, and one line per command module
    context.py   what every command module shares: the settings (in typer's context) and the console
    calls.py     call, demo          intake.py    import, payments import
    results.py   export, report      campaign.py  run, serve, campaign add|list|status|…
    script.py    script check|graph|chat|test
    sandbox.py   sandbox up|down|status          sim.py  sim load

Nothing outside this package imports it (bot/__main__.py and the console script excepted).
"""

from bot.cli.context import settings
from bot.cli.entry import main

__all__ = ["main", "settings"]
