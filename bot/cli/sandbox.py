"""`collbot sandbox up|down|status`."""

from __future__ import annotations

import time

import typer

from bot.cli.context import err, out, settings

app = typer.Typer(no_args_is_help=True, help="The bundled sandbox Asterisk (Debian sid, chrooted).")


@app.command("up")
def sandbox_up(ctx: typer.Context) -> None:
    """Build (once) and start the sandbox Asterisk; returns when AMI accepts a login."""
    from bot.telephony.sandbox import Sandbox

    started = time.monotonic()
    status = Sandbox(settings(ctx), progress=lambda m: err.print(f"[dim]{m}[/dim]")).up()
    out.print(f"sandbox up in {time.monotonic() - started:.1f}s: {status.version} "
              f"(pid {status.pid}), AMI 127.0.0.1:{status.ami_port}, FastAGI 127.0.0.1:{status.agi_port}")


@app.command("down")
def sandbox_down(ctx: typer.Context) -> None:
    """Stop the sandbox Asterisk (only the one it started) and unmount what it mounted."""
    from bot.telephony.sandbox import Sandbox

    was = Sandbox(settings(ctx)).down()
    out.print("sandbox stopped" if was else "sandbox was not running")


@app.command("status")
def sandbox_status(ctx: typer.Context) -> None:
    """Whether the sandbox runs, its version and its ports."""
    from bot.telephony.sandbox import Sandbox

    s = Sandbox(settings(ctx)).status()
    state = f"running (pid {s.pid}), {s.version}" if s.running else "stopped"
    out.print(f"sandbox: {state}\nroot: {s.root}\nAMI: 127.0.0.1:{s.ami_port}\nFastAGI: 127.0.0.1:{s.agi_port}")
    if not s.running:
        raise typer.Exit(3)
