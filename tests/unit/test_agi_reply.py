"""Parsing of FastAGI reply and header lines."""

from __future__ import annotations

import pytest

from bot.errors import AgiError
from bot.telephony.agi_protocol import AgiReply, parse_header_line, parse_reply, script_name


@pytest.mark.parametrize(
    ("line", "code", "result", "data", "extra"),
    [
        ("200 result=0", 200, "0", "", {}),
        ("200 result=-1 endpos=0", 200, "-1", "", {"endpos": "0"}),
        ("200 result=0 (timeout) endpos=8000", 200, "0", "timeout", {"endpos": "8000"}),
        ("200 result=49 (dtmf) endpos=1234", 200, "49", "dtmf", {"endpos": "1234"}),
        ("200 result=-1 (hangup) endpos=0", 200, "-1", "hangup", {"endpos": "0"}),
        ("200 result= (timeout)", 200, "", "timeout", {}),
        ("200 result=1 ()", 200, "1", "", {}),
        # A variable's value is sent raw: parentheses inside it must not cut it short.
        ("200 result=1 (a (b) c)", 200, "1", "a (b) c", {}),
        ("200 result=1 (x) endpos=3 (y)", 200, "1", "x) endpos=3 (y", {}),
        (
            '200 result=1 (speech) endpos=0 results=1 text0="hi) there" grammar0=g',
            200,
            "1",
            "speech",
            {"endpos": "0", "results": "1", "text0": "hi) there", "grammar0": "g"},
        ),
        ("100 result=0 Trying...", 100, "0", "Trying...", {}),
        ("510 Invalid or unknown command", 510, "", "Invalid or unknown command", {}),
        (
            "511 Command Not Permitted on a dead channel",
            511,
            "",
            "Command Not Permitted on a dead channel",
            {},
        ),
        (
            "520-Invalid command syntax.  Proper usage follows:",
            520,
            "",
            "Invalid command syntax.  Proper usage follows:",
            {},
        ),
    ],
)
def test_replies(line: str, code: int, result: str, data: str, extra: dict[str, str]) -> None:
    assert parse_reply(line) == AgiReply(code, result, data, extra, line)


@pytest.mark.parametrize(
    "line",
    [
        "",
        "HANGUP",
        "hello world",
        "20 result=0",
        "2000 result=0",
        "200",
        "200 ok",
        "200 result=1 (unclosed",
        "200 result=1 (x) garbage",
        "200 result=0 endpos=1 junk",
    ],
)
def test_malformed_replies(line: str) -> None:
    with pytest.raises(AgiError):
        parse_reply(line)


def test_result_int() -> None:
    assert parse_reply("200 result=-1").result_int == -1
    assert parse_reply("200 result=35").result_int == 35
    for bad in ("200 result=", "200 result=1_0", "200 result=abc", "200 result=١"):
        with pytest.raises(AgiError, match="not an integer"):
            parse_reply(bad).result_int  # noqa: B018 - the property raises


def test_header_lines() -> None:
    assert parse_header_line("agi_network: yes") == ("agi_network", "yes")
    assert parse_header_line("agi_arg_1: a: b ") == ("agi_arg_1", "a: b ")
    assert parse_header_line("agi_dnid:") == ("agi_dnid", "")
    for bad in ("GET / HTTP/1.1", "network: yes", "agi_x yes", ": x"):
        with pytest.raises(AgiError):
            parse_header_line(bad)


def test_script_name() -> None:
    assert script_name({"agi_network_script": "robot?campaign=7"}) == "robot"
    assert script_name({"agi_network_script": "/collbot/robot"}) == "collbot/robot"
    assert script_name({"agi_request": "agi://127.0.0.1:4573/robot?x=1"}) == "robot"
    assert script_name({}) == ""
