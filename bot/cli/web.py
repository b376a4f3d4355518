"""`collbot web`: serve the desk, manage its users, push a screen pop (the transfer's test hook)."""

from __future__ import annotations

import getpass
import re
import socket
import sys
from typing import Annotated

import typer

from bot.errors import ConfigError, InputError

web_app = typer.Typer(help="The web desk: `collbot web` serves it; `collbot web user ...` manages logins.",
                      invoke_without_command=True)
user_app = typer.Typer(no_args_is_help=True, help="Desk users (agents, supervisors, admins).")
web_app.add_typer(user_app, name="user")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def _settings():
    from bot.cli import settings

    return settings()


@web_app.callback()
def serve(ctx: typer.Context,
          host: Annotated[str | None, typer.Option(help="Address to bind (default: web.host, loopback).")] = None,
          port: Annotated[int | None, typer.Option(min=0, max=65535, help="Port (default: web.port).")] = None) -> None:
    """Serve the desk until interrupted."""
    if ctx.invoked_subcommand is not None:
        return
    import uvicorn

    from bot.privacy.keys import Hasher
    from bot.store.repo import open_store
    from bot.web.app import create_app
    from bot.web.routes_preview import PreviewDialer

    settings = _settings()
    web = settings.web
    bind_host, bind_port = host or web.host, web.port if port is None else port
    sock = _listen(bind_host, bind_port)
    with sock, open_store(settings.database.url, number_hash=Hasher(settings.privacy.key_file)) as store:
        app = create_app(web, store, allocation=settings.allocation)
        app.state.preview = PreviewDialer(settings)  # Call on /preview: AMI, dial template, gate
        shown = f"[{bind_host}]" if ":" in bind_host else bind_host
        print(f"collbot desk on http://{shown}:{sock.getsockname()[1]}/ (Ctrl-C stops it)", file=sys.stderr,
              flush=True)
        config = uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=3,
                                proxy_headers=False)
        uvicorn.Server(config).run(sockets=[sock])


def _listen(host: str, port: int) -> socket.socket:
    """Bind before anything else, so a busy port or a wrong address is one clear line."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise ConfigError(f"web: cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    return sock


@user_app.command("add")
def user_add(name: Annotated[str, typer.Argument(help="Login name (letters, digits, . _ -).")],
             role: Annotated[str, typer.Option(help="agent, supervisor or admin.")] = "agent") -> None:
    """Add a user; the password is asked for (or read from the first line of stdin), never taken from argv."""
    from bot.store.desk import ROLES
    from bot.store.repo import open_store
    from bot.web.passwords import hash_password, password_problem

    if not NAME.match(name):
        raise InputError(f"user name {name!r}: use 1-64 letters, digits, '.', '_' or '-'")
    if role not in ROLES:
        raise InputError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    password = _read_password()
    problem = password_problem(password)
    if problem:
        raise InputError(problem)
    with open_store(_settings().database.url) as store:
        store.add_web_user(name, hash_password(password), role)
        store.audit(None, "user_add", f"user:{name}", {"role": role, "by": "cli"})
    print(f"added {role} {name}")


def _read_password() -> str:
    if not sys.stdin.isatty():
        line = sys.stdin.readline()
        return line[:-1] if line.endswith("\n") else line
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise InputError("the two passwords differ")
    return first


@user_app.command("list")
def user_list() -> None:
    """Every user with their role and whether they are disabled."""
    from bot.store.repo import open_store

    with open_store(_settings().database.url) as store:
        users = store.web_users()
    for u in users:
        print(f"{u.name}\t{u.role}\t{'disabled' if u.disabled else 'enabled'}")
    if not users:
        print("no users: add one with `collbot web user add NAME --role admin`", file=sys.stderr)


@user_app.command("disable")
def user_disable(name: Annotated[str, typer.Argument(help="Login name.")]) -> None:
    """Disable a user and end their sessions at once."""
    from bot.store.repo import open_store

    with open_store(_settings().database.url) as store:
        store.disable_web_user(name)
        store.audit(None, "user_disable", f"user:{name}", {"by": "cli"})
    print(f"disabled {name}")


@web_app.command("pop")
def pop(agent: Annotated[str, typer.Argument(help="The agent's login name.")],
        attempt: Annotated[str, typer.Argument(help="The robot's call attempt id.")],
        reason: Annotated[str, typer.Option(help="Why the customer asked for a person.")] = "") -> None:
    """Push the robot's summary of a call to an agent's desk (what a transfer does; a test hook)."""
    from bot.store.repo import open_store
    from bot.web.live import pop_screen
    from bot.web.summary import summary_of

    with open_store(_settings().database.url) as store:
        user = store.web_user(agent)
        if user is None or user.role != "agent" or user.disabled:
            raise InputError(f"no enabled agent {agent!r}")
        event_id = pop_screen(store, agent, summary_of(store, attempt, reason))
    print(f"screen pop {event_id} sent to {agent}")
