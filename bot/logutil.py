"""Logging set-up: one file and stderr, phone numbers masked and control characters escaped.

The masking filter sits on our handlers, so it also covers records from libraries
(panoramisk logs whole AMI actions at debug level). Every record carries the attempt id of the
call it belongs to (``attempt=...``; ``-`` outside a call), taken from a context variable the
controller sets for each call's tasks; ``log.json_lines`` writes one JSON object per line instead.
Work handed to a thread inherits it only when run in a copy of the context (``asyncio.to_thread``,
``Controller.db``); a bare ``run_in_executor`` does not.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import logging.handlers
import unicodedata
from pathlib import Path
from typing import TYPE_CHECKING

from bot.errors import ConfigError
from bot.phone import mask_numbers

if TYPE_CHECKING:
    from bot.config import Settings

DEFAULT_LOG_FILE = Path("var/collbot.log")
FORMAT = "%(asctime)s %(levelname)s %(name)s attempt=%(attempt)s: %(message)s"
ATTEMPT: contextvars.ContextVar[str] = contextvars.ContextVar("collbot_attempt", default="-")
_NAMED = {"\r": "\\r", "\n": "\\n", "\t": "\\t", "\0": "\\0"}
_BIDI = set(range(0x202A, 0x202F)) | set(range(0x2066, 0x206A))
_OURS = "_collbot_handler"
FILE_ONLY = "collbot_file_only"  # ``extra={FILE_ONLY: True}`` keeps a record (a traceback) off the terminal


def safe(value: str) -> str:
    """Escape CR, LF and other control, line-separator and bidi characters for one log line."""
    return "".join(_escape(ch) for ch in str(value))


def _escape(ch: str) -> str:
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    if code < 32 or 127 <= code < 160 or code in _BIDI or unicodedata.category(ch) in ("Zl", "Zp"):
        return f"\\x{code:02x}" if code < 256 else f"\\u{code:04x}"
    return ch


class PhoneMaskFilter(logging.Filter):
    """Masks E.164-looking numbers and escapes control characters in every record it sees."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not lose the record
            message = f"{record.msg!r} % {record.args!r}"
        record.msg = safe(mask_numbers(message))
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = mask_numbers(logging.Formatter().formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = mask_numbers(record.stack_info)
        return True


class AttemptFilter(logging.Filter):
    """Adds ``record.attempt``: the attempt id of the call being handled, or ``-``."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "attempt"):
            record.attempt = safe(ATTEMPT.get())
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO), level, logger, attempt, message (and exc)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
                 "level": record.levelname, "logger": record.name, "attempt": getattr(record, "attempt", "-"),
                 "message": record.getMessage()}
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exc"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(settings: Settings) -> list[logging.Handler]:
    """Send the root logger to ``settings.log.file`` and stderr; calling again replaces them."""
    reset_logging()
    path = settings.log.file or DEFAULT_LOG_FILE
    from bot.inputfile import check_output_path

    check_output_path(path)  # appending to a FIFO would wait for a reader forever
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        file_handler: logging.Handler = logging.handlers.WatchedFileHandler(path, encoding="utf-8")
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ConfigError(f"cannot open the log file: {reason}", path=str(path)) from exc
    console = logging.StreamHandler()
    # The terminal shows problems; the file keeps the configured detail.
    console.setLevel(max(logging.WARNING, logging.getLevelName(settings.log.level)))
    console.addFilter(lambda record: not getattr(record, FILE_ONLY, False))
    handlers = [file_handler, console]
    formatter = JsonFormatter() if settings.log.json_lines else logging.Formatter(FORMAT)
    root = logging.getLogger()
    for handler in handlers:
        handler.setFormatter(formatter)
        handler.addFilter(PhoneMaskFilter())
        handler.addFilter(AttemptFilter())
        setattr(handler, _OURS, True)
        root.addHandler(handler)
    root.setLevel(settings.log.level)
    # transitions logs every state change at INFO; our dialogue records those as call events.
    logging.getLogger("transitions").setLevel(logging.WARNING)
    return handlers


def log_file() -> Path | None:
    """The file ``setup_logging`` writes to, or None when it has not run."""
    for handler in logging.getLogger().handlers:
        if getattr(handler, _OURS, False) and isinstance(handler, logging.FileHandler):
            return Path(handler.baseFilename)
    return None


def reset_logging() -> None:
    """Remove and close the handlers a previous ``setup_logging`` installed."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, _OURS, False):
            root.removeHandler(handler)
            handler.close()
