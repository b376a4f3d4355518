"""The FastAGI wire format as pure functions: quoting arguments, parsing replies and headers.

The quoting rules follow ``parse_args`` and ``run_agi`` in Asterisk's ``res/res_agi.c``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from bot.errors import AgiError

# res_agi.c reads a command with fgets() into a 2048-byte buffer: a longer line is cut and its
# tail executed as a second command, so 2047 bytes including the newline is the hard ceiling.
MAX_COMMAND_BYTES = 2047
# res_agi.c has room for 128 argv slots, one of them the terminating NULL; past that it drops
# words, and words opened by a quote are not even checked against the bound.
MAX_COMMAND_WORDS = 127

_UNSENDABLE = ("\r", "\n", "\x00")
_VERB = re.compile(r"[A-Za-z]+(?: [A-Za-z]+)*")
_REPLY = re.compile(r"([0-9]{3})(?:([ -])(.*))?", re.DOTALL)
_INTEGER = re.compile(r"[-+]?[0-9]+")
_EXTRA = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)=(?:"([^"]*)"|(\S*))')
_HEADER = re.compile(r"(agi_[A-Za-z0-9_]+): ?(.*)", re.DOTALL)


def quote_arg(value: str) -> str:
    """Quote ``value`` so that res_agi reads it back as exactly one argument equal to it."""
    for position, char in enumerate(value):
        if char in _UNSENDABLE:
            # The protocol is line based: such a value would end the command early. The value
            # itself stays out of the message because it may be a name or a phone number.
            raise AgiError(
                f"an AGI argument of {len(value)} characters contains CR, LF or NUL "
                f"(at position {position}) and cannot be sent"
            )
    # Inside double quotes only '"' and '\' are special to parse_args; a backslash makes the
    # next character literal, so escaping exactly those two keeps every other byte as is.
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def build_command(verb: str, *args: str) -> bytes:
    """Encode one command line: the fixed ``verb`` raw, every argument quoted."""
    if not _VERB.fullmatch(verb):
        raise ValueError(f"not an AGI command verb: {verb[:40]!r}")
    words = len(verb.split(" ")) + len(args)
    if words > MAX_COMMAND_WORDS:
        raise AgiError(f"AGI {verb} has {words} words; Asterisk takes at most {MAX_COMMAND_WORDS}")
    text = " ".join([verb, *(quote_arg(arg) for arg in args)]) + "\n"
    try:
        line = text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise AgiError(f"an argument of AGI {verb} is not encodable as UTF-8") from exc
    if len(line) > MAX_COMMAND_BYTES:
        raise AgiError(f"AGI {verb} would be {len(line)} bytes; Asterisk reads at most {MAX_COMMAND_BYTES}")
    return line


@dataclass(frozen=True, slots=True)
class AgiReply:
    """One reply from Asterisk, e.g. ``200 result=0 (timeout) endpos=1234``."""

    code: int
    result: str = ""
    data: str = ""  # the text in parentheses: 'timeout', 'dtmf', a variable's value ...
    extra: dict[str, str] = field(default_factory=dict)
    raw: str = ""

    @property
    def result_int(self) -> int:
        if not _INTEGER.fullmatch(self.result):
            raise AgiError(f"AGI result {preview(self.result)} is not an integer")
        return int(self.result)


def parse_reply(line: str) -> AgiReply:
    """Parse one reply line (without its newline); raise AgiError when it is not a reply."""
    match = _REPLY.fullmatch(line)
    if match is None:
        raise AgiError(f"malformed AGI reply {preview(line)}")
    code, rest = int(match[1]), match[3] or ""
    if code != 200:
        # Interim (100) and error (5xx) replies carry free text, sometimes after a result=.
        result = ""
        if rest.startswith("result="):
            result, _, rest = rest[len("result=") :].partition(" ")
        return AgiReply(code, result, rest.strip(), {}, line)
    if not rest.startswith("result="):
        raise AgiError(f"AGI reply without result=: {preview(line)}")
    result, _, tail = rest[len("result=") :].partition(" ")
    data, extra = _split_data(tail.lstrip(" "), line)
    return AgiReply(code, result, data, extra, line)


def _split_data(tail: str, line: str) -> tuple[str, dict[str, str]]:
    if not tail.startswith("("):
        extra = _parse_extra(tail)
        if extra is None:
            raise AgiError(f"malformed AGI reply {preview(line)}")
        return "", extra
    # A variable's value is sent raw inside the parentheses and may itself contain ')': take
    # the last closing parenthesis after which only key=value pairs follow.
    close = len(tail)
    while (close := tail.rfind(")", 0, close)) > 0:
        extra = _parse_extra(tail[close + 1 :])
        if extra is not None:
            return tail[1:close], extra
    raise AgiError(f"malformed AGI reply {preview(line)}")


def _parse_extra(text: str) -> dict[str, str] | None:
    extra: dict[str, str] = {}
    position = 0
    while position < len(text):
        match = _EXTRA.match(text, position)
        if match is None:
            return None if text[position:].strip() else extra
        extra[match[1]] = match[2] if match[2] is not None else match[3]
        position = match.end()
    return extra


def parse_header_line(line: str) -> tuple[str, str]:
    """Split one header line ``agi_key: value``; raise AgiError on anything else."""
    match = _HEADER.fullmatch(line)
    if match is None:
        raise AgiError(f"malformed FastAGI header line {preview(line)}")
    return match[1], match[2]


def script_name(env: Mapping[str, str]) -> str:
    """The requested script path without leading '/' and without its query string."""
    script = env.get("agi_network_script")
    if script is None:
        script = urlsplit(env.get("agi_request", "")).path
    return script.split("?", 1)[0].lstrip("/")


def preview(text: str, limit: int = 40) -> str:
    """A short, escaped rendering of peer text for error messages."""
    return repr(text[:limit]) + ("..." if len(text) > limit else "")
