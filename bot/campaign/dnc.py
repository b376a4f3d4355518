"""A campaign's do-not-call list: one number per line, ``#`` comments. A list that cannot be read
whole stops the campaign (a number left out could be called), with file:line."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from bot.errors import ConfigError, InputError
from bot.inputfile import MB, read_regular

MAX_DNC_BYTES = 64 * MB  # about four million numbers


def read_dnc(path: Path, normalize: Callable[[str], str], *, max_bytes: int = MAX_DNC_BYTES) -> set[str]:
    raw = read_regular(path, max_bytes=max_bytes, limit_hint="a do-not-call list")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError("not UTF-8 text (a binary file?); a do-not-call list is one number per line",
                          path=str(path), line=line) from None
    numbers = set()
    for number, line in enumerate(text.split("\n"), start=1):
        if "\0" in line:
            raise ConfigError("contains a NUL byte (a binary file?)", path=str(path), line=number)
        entry = line.split("#", 1)[0].strip()
        if not entry:
            continue
        try:
            numbers.add(normalize(entry))
        except InputError as exc:
            raise ConfigError(f"not a usable phone number: {exc}", path=str(path), line=number) from None
    return numbers
