"""Every value we send over FastAGI arrives as exactly one argument (reliability catalogue #12).

The oracle is a Python model of how Asterisk's res_agi.c reads a command: run_agi() takes a line
with fgets() into a 2048-byte buffer, and parse_args() splits it on unquoted, unescaped spaces and
tabs, with '"' toggling quoting and '\\' making the next character literal anywhere.
"""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from bot.errors import AgiError
from bot.telephony.agi_protocol import (
    MAX_COMMAND_BYTES,
    MAX_COMMAND_WORDS,
    build_command,
    quote_arg,
)

AGI_BUF_LEN = 2048
MAX_ARGS = 128


def asterisk_read_lines(wire: bytes) -> list[bytes]:
    """run_agi(): fgets() into a 2048-byte buffer, then the trailing newline is cut."""
    lines = []
    while wire:
        end = wire.find(b"\n", 0, AGI_BUF_LEN - 1)
        size = end + 1 if end >= 0 else min(len(wire), AGI_BUF_LEN - 1)
        chunk, wire = wire[:size], wire[size:]
        lines.append(chunk.removesuffix(b"\n"))
    return lines


def asterisk_parse_args(line: bytes) -> list[bytes]:
    """parse_args(): compacts the line in place; each argument ends at the next NUL written."""
    out = bytearray()
    starts: list[int] = []
    quoted = escaped = False
    whitespace = True
    for byte in line:
        if byte == 0:  # a C string ends here
            break
        char = chr(byte)
        normal = False
        if char == '"':
            if escaped:
                normal = True
            else:
                quoted = not quoted
                if quoted and whitespace:
                    starts.append(len(out))
                    whitespace = False
                escaped = False
        elif char in " \t":
            if not quoted and not escaped:
                whitespace = True
                out.append(0)
            else:
                normal = True
        elif char == "\\":
            if escaped:
                normal = True
            else:
                escaped = True
        else:
            normal = True
        if normal:
            if whitespace:
                if len(starts) >= MAX_ARGS - 1:
                    continue  # "Too many arguments, truncating": the byte is dropped
                starts.append(len(out))
                whitespace = False
            out.append(byte)
            escaped = False
    out.append(0)
    return [bytes(out[start : out.index(0, start)]) for start in starts]


def asterisk_argv(wire: bytes) -> list[list[str]]:
    return [[arg.decode("utf-8") for arg in asterisk_parse_args(line)] for line in asterisk_read_lines(wire)]


# Text that can be sent, biased towards the characters parse_args treats specially.
SPECIAL = " \t\"\\'`$;|&(),=\x0b\x0c\x1b\x7f한中é"
sendable = st.text(
    alphabet=st.one_of(st.sampled_from(SPECIAL), st.characters(codec="utf-8", exclude_characters="\r\n\x00")),
)
VERBS = ["STREAM FILE", "GET VARIABLE", "SET VARIABLE", "EXEC", "RECORD FILE", "WAIT FOR DIGIT"]


def test_model_reads_documented_examples() -> None:
    assert asterisk_parse_args(b'STREAM FILE hello "12"') == [b"STREAM", b"FILE", b"hello", b"12"]
    assert asterisk_parse_args(b'EXEC Playback "a b"') == [b"EXEC", b"Playback", b"a b"]
    assert asterisk_parse_args(b'SET VARIABLE x ""') == [b"SET", b"VARIABLE", b"x", b""]
    assert asterisk_parse_args(b"a\\ b c\\\\") == [b"a b", b"c\\"]


@pytest.mark.parametrize(
    ("value", "quoted"),
    [
        ("", '""'),
        ("12", '"12"'),
        ("a b", '"a b"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("C:\\dir\\", '"C:\\\\dir\\\\"'),
    ],
)
def test_quote_arg_examples(value: str, quoted: str) -> None:
    assert quote_arg(value) == quoted


@given(sendable)
@example("")
@example('" EXEC System "rm -rf /')
@example('\\" HANGUP \\')
@example("\\")
@example('"')
@example(" \t ")
def test_one_value_is_one_argument(value: str) -> None:
    assert asterisk_parse_args(quote_arg(value).encode("utf-8")) == [value.encode("utf-8")]


@given(st.sampled_from(VERBS), st.lists(sendable, max_size=12))
@example("EXEC", ["Dial", 'PJSIP/1" "x', ""])
@example("SET VARIABLE", ["A", "b\\"])
def test_a_command_line_is_one_command_with_exactly_its_arguments(verb: str, args: list[str]) -> None:
    try:
        wire = build_command(verb, *args)
    except AgiError:
        size = len(" ".join([verb, *map(quote_arg, args)]).encode("utf-8")) + 1
        assert size > MAX_COMMAND_BYTES
        return
    assert wire.endswith(b"\n")
    assert wire.count(b"\n") == 1
    assert asterisk_argv(wire) == [[*verb.split(" "), *args]]


@given(sendable, st.sampled_from(["\r", "\n", "\x00"]), sendable)
def test_line_breaks_and_nul_are_refused(before: str, bad: str, after: str) -> None:
    with pytest.raises(AgiError, match="CR, LF or NUL"):
        quote_arg(before + bad + after)


def test_value_is_not_echoed_in_the_error() -> None:
    with pytest.raises(AgiError) as caught:
        quote_arg("+821012345678\nHANGUP")
    assert "821012345678" not in str(caught.value)


def test_longest_sendable_command_fits_asterisks_buffer() -> None:
    filler = "x" * (MAX_COMMAND_BYTES - len('EXEC ""\n'))
    wire = build_command("EXEC", filler)
    assert len(wire) == MAX_COMMAND_BYTES
    assert asterisk_argv(wire) == [["EXEC", filler]]
    with pytest.raises(AgiError, match="bytes"):
        build_command("EXEC", filler + "x")


def test_multibyte_text_is_measured_in_bytes() -> None:
    with pytest.raises(AgiError, match="bytes"):
        build_command("EXEC", "한" * 700)  # 700 characters, 2100 bytes


def test_word_count_stays_within_asterisks_argv() -> None:
    args = [""] * (MAX_COMMAND_WORDS - 1)
    assert asterisk_argv(build_command("EXEC", *args)) == [["EXEC", *args]]
    with pytest.raises(AgiError, match="words"):
        build_command("EXEC", *args, "")


def test_unencodable_text_is_refused() -> None:
    with pytest.raises(AgiError, match="UTF-8"):
        build_command("EXEC", "\udc80")


@pytest.mark.parametrize("verb", ["", "STREAM  FILE", "EXEC\n", 'EXEC "x"', "GET VARIABLE x y1"])
def test_verbs_are_fixed_words(verb: str) -> None:
    with pytest.raises(ValueError, match="verb"):
        build_command(verb)
