"""Logs never hold a full phone number, and a logged value cannot forge a log line."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.config import LogSettings, Settings
from bot.logutil import PhoneMaskFilter, reset_logging, safe, setup_logging

NUMBER = "+821055500012"
MASKED = "+8210******12"


@pytest.fixture
def capture() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(PhoneMaskFilter())
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger = logging.getLogger("collbot.test.logutil")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)


@pytest.fixture
def restore_root() -> Iterator[None]:
    root = logging.getLogger()
    level = root.level
    yield
    reset_logging()
    root.setLevel(level)


def test_safe_escapes_line_breaks_and_control_characters() -> None:
    assert safe("a\r\nb") == "a\\r\\nb"
    assert safe("x\x00y\x1bz\x7f") == "x\\0y\\x1bz\\x7f"
    assert safe("tab\there") == "tab\\there"
    assert safe("bidi\u202eevil line\u2028sep") == "bidi\\u202eevil line\\u2028sep"
    assert safe("김철수 ok") == "김철수 ok"


@given(st.text())
def test_safe_output_is_one_printable_line_and_stable(value: str) -> None:
    out = safe(value)
    assert "\n" not in out and "\r" not in out
    assert all(ord(ch) >= 32 and ord(ch) != 127 for ch in out)
    assert safe(out) == out


Captured = tuple[logging.Logger, io.StringIO]


def test_numbers_in_message_and_args_are_masked(capture: Captured) -> None:
    logger, stream = capture
    logger.info("calling " + NUMBER)
    logger.debug("originate %s for %s", {"phone": NUMBER}, "L-1")
    text = stream.getvalue()
    assert NUMBER not in text
    assert text.splitlines() == [
        f"INFO calling {MASKED}",
        f"DEBUG originate {{'phone': '{MASKED}'}} for L-1",
    ]


def test_injected_line_breaks_stay_on_one_line(capture: Captured) -> None:
    logger, stream = capture
    logger.warning("heard %r then %s", "x", "ok\nINFO forged entry")
    assert stream.getvalue() == "WARNING heard 'x' then ok\\nINFO forged entry\n"


def test_tracebacks_are_masked(capture: Captured) -> None:
    logger, stream = capture
    try:
        raise ValueError(f"bad number {NUMBER}")
    except ValueError:
        logger.exception("failed")
    text = stream.getvalue()
    assert NUMBER not in text and f"ValueError: bad number {MASKED}" in text


def test_setup_logging_masks_records_in_the_file_and_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], restore_root: None
) -> None:
    log_file = tmp_path / "logs" / "collbot.log"
    settings = Settings(log=LogSettings(level="DEBUG", file=log_file))
    setup_logging(settings)
    setup_logging(settings)  # calling again replaces, not duplicates, the handlers
    logging.getLogger("panoramisk.manager").debug("Action: Originate\nChannel: PJSIP/%s", NUMBER)
    logging.getLogger("bot.controller").warning("lost call to %s", NUMBER)
    reset_logging()
    written = log_file.read_text(encoding="utf-8")
    err = capsys.readouterr().err
    # the file keeps the configured detail; the terminal shows warnings and errors only
    assert written.count(f"Channel: PJSIP/{MASKED}") == 1
    assert "Action: Originate\\nChannel" in written
    assert "Channel: PJSIP" not in err
    for text in (written, err):
        assert NUMBER not in text
        assert text.count(f"lost call to {MASKED}") == 1
    assert logging.getLogger().level == logging.DEBUG
