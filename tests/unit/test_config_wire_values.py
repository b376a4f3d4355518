"""Settings that reach AMI or AGI verbatim are refused at load, with file:line, by the wire checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.config import load_settings
from bot.errors import ConfigError
from tests.cli import collbot

KEYS = [("ami", "username"), ("ami", "secret"), ("ami", "host"), ("dial", "context"), ("dial", "exten"),
        ("dial", "caller_id"), ("dial", "template"), ("asterisk", "sounds_dir"), ("asterisk", "spool_dir")]
BAD = ["\r\nAction: Originate", "\n", "\r", "\0", "\x85", "\u2028", "\t"]
# AGI arguments are quoted: there only CR, LF and NUL cut a command.
CASES = [(section, key, bad) for section, key in KEYS for bad in BAD
         if section != "asterisk" or bad in ("\r\nAction: Originate", "\n", "\r", "\0")]


@pytest.mark.parametrize(("section", "key", "bad"), CASES)
def test_a_control_character_is_refused_with_file_and_line(
        tmp_path: Path, section: str, key: str, bad: str) -> None:
    value = ("PJSIP/{e164}" if key == "template" else "x") + bad
    path = tmp_path / "collbot.yaml"
    path.write_text(f"# settings\n{section}:\n  {key}: {json.dumps(value)}\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={})
    message = str(caught.value)
    assert message.startswith(f"{path}:3: {section}.{key}: ")
    assert "\n" not in message and "\r" not in message
    assert "Originate" not in message  # the value itself is not repeated


@pytest.mark.parametrize(("section", "key"), [("ami", "username"), ("ami", "secret"), ("dial", "context"),
                                              ("dial", "exten")])
def test_required_values_cannot_be_empty(tmp_path: Path, section: str, key: str) -> None:
    path = tmp_path / "collbot.yaml"
    path.write_text(f"{section}:\n  {key}: '  '\n")
    with pytest.raises(ConfigError, match=rf"collbot.yaml:2: {section}\.{key}: is empty"):
        load_settings(path, env={})


def test_environment_values_are_checked_too() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(None, env={"COLLBOT__AMI__SECRET": "pw\r\nAction: Originate"})
    assert str(caught.value).startswith("environment variable COLLBOT__AMI__SECRET: ami.secret: contains control")


def test_ordinary_values_still_load(tmp_path: Path) -> None:
    path = tmp_path / "collbot.yaml"
    path.write_text('ami:\n  secret: "pa ss:w0rd;,&"\ndial:\n  caller_id: \'"대부 Lender" <+82212345678>\'\n'
                    "  context: from-collbot\n  exten: '1000'\n")
    loaded = load_settings(path, env={})
    assert loaded.ami.secret == "pa ss:w0rd;,&" and loaded.dial.exten == "1000"


def test_the_cli_refuses_at_start_up_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "collbot.yaml").write_text('ami:\n  secret: "pw\\r\\nAction: Originate"\n')
    done = collbot("sandbox", "status", cwd=tmp_path)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip() == ("collbot: error: collbot.yaml:2: ami.secret: contains control character '\\r'; "
                                   "it is sent to Asterisk (AMI) as is")
