"""The `collbot` entry point: every way out is one line and an exit code, never a traceback.

    CollbotError           "collbot: error: …", exit 1 (one line per problem)
    usage error            "collbot: usage error: … (see 'collbot x --help')", exit 2
    anything unexpected    "collbot: internal error: …", exit 1; the traceback goes to the log file only
"""

from __future__ import annotations

import sys

import typer

from bot.cli.app import app
from bot.cli.context import err
from bot.config import Settings, load_settings
from bot.errors import CollbotError


def main() -> None:
    """The `collbot` entry point: every way out is one line and an exit code, never a traceback."""
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
    except BrokenPipeError:
        _quiet_stdout()  # `collbot ... | head`: the reader left, nothing more to say
        sys.exit(1)
    except Exception as exc:
        usage, click_error = _click_errors()
        if isinstance(exc, usage):
            sys.exit(_usage_error(exc))
        if isinstance(exc, click_error):
            print(f"collbot: error: {_one_line(exc.format_message())}", file=sys.stderr)
            sys.exit(exc.exit_code)
        from bot.phone import mask_numbers  # a bug's message may quote debtor data

        what = mask_numbers(_one_line(f"{type(exc).__name__}: {exc}"))
        print(f"collbot: internal error: {what} ({_log_crash(exc)})", file=sys.stderr)
        sys.exit(1)


def _click_errors() -> tuple[type[Exception], type[Exception]]:
    """click's UsageError and ClickException, found through typer's public BadParameter: typer
    vendors click (as typer._click) in recent releases and depends on it in older ones."""
    by_name = {cls.__name__: cls for cls in typer.BadParameter.__mro__}
    return by_name["UsageError"], by_name["ClickException"]


def _usage_error(exc: Exception) -> int:
    ctx = getattr(exc, "ctx", None)
    if type(exc).__name__ == "NoArgsIsHelpError":  # `collbot` or `collbot script` alone: show the help
        shown = exc.format_message()  # type: ignore[attr-defined]  # rich help is already printed: ""
        if shown.strip():
            print(shown, file=sys.stderr)
        return 2
    where = ctx.command_path if ctx is not None else "collbot"
    hint = f" (see '{where} --help')" if ctx is not None else ""
    message = _one_line(exc.format_message())  # type: ignore[attr-defined]
    print(f"collbot: usage error: {message}{hint}", file=sys.stderr)
    return 2


def _one_line(text: str) -> str:
    return " ".join(part.strip() for part in str(text).splitlines() if part.strip())


def _log_crash(exc: Exception) -> str:
    """Write the traceback to the log file only; say where it went."""
    import logging

    from bot.logutil import FILE_ONLY, log_file, setup_logging

    try:
        if log_file() is None:  # the crash came before logging was set up
            try:
                setup_logging(load_settings())
            except CollbotError:
                setup_logging(Settings())
        logging.getLogger("bot.cli").error("unexpected error", exc_info=exc, extra={FILE_ONLY: True})
    except Exception:  # the log itself is broken: the one line is all we can give
        return "the log could not be written"
    return f"traceback in {log_file()}"


def _quiet_stdout() -> None:
    import contextlib
    import os

    with contextlib.suppress(OSError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
