"""`collbot queue sync`: keep the collectors' queue members in step with their desk states."""

from __future__ import annotations

import asyncio

import typer

from bot.cli.context import out, settings

app = typer.Typer(no_args_is_help=True, help="The collectors' queue (docs/agents.md).")


@app.command("sync")
def queue_sync(ctx: typer.Context) -> None:
    """Add, pause and remove queue members as agents go ready, pause or log out (until Ctrl-C)."""
    from bot.agents.queue_sync import QueueMembers
    from bot.store.repo import open_store
    from bot.telephony.ami import Ami

    s = settings(ctx)

    async def run() -> None:
        with open_store(s.database.url) as store:
            async with Ami(s.ami) as ami:
                out.print(f"keeping queue {s.queue.name} in step with the desk (Ctrl-C stops)")
                await QueueMembers(ami, s.queue).run(store)

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        out.print("stopped")
