"""Files a user names (CSV, YAML, DNC lists): regular files only, opened without blocking, read
only up to a size cap. A FIFO would block forever, /dev/zero never ends, a directory is no file:
each is one ConfigError naming the path, before anything is read."""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path
from typing import BinaryIO

from bot.errors import ConfigError

MB = 1024 * 1024
_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def open_regular(path: Path, *, max_bytes: int, limit_hint: str = "") -> BinaryIO:
    """``path`` opened for binary reading; reads past ``max_bytes`` (the file grew) raise ConfigError."""
    try:
        # O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer, forever.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror or exc}", path=str(path)) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = next((name for test, name in _KINDS if test(info.st_mode)), "not a file")
            raise ConfigError(f"cannot read: it is {kind}, not a regular file", path=str(path))
        if info.st_size > max_bytes:
            raise _too_big(path, max_bytes, limit_hint)
        os.set_blocking(fd, True)
        raw = _CappedFile(fd, path, max_bytes, limit_hint)
    except BaseException:
        os.close(fd)
        raise
    return io.BufferedReader(raw)


def read_regular(path: Path, *, max_bytes: int, limit_hint: str = "") -> bytes:
    """The whole of a regular file of at most ``max_bytes``."""
    with open_regular(path, max_bytes=max_bytes, limit_hint=limit_hint) as handle:
        return handle.read()


def check_output_path(path: Path) -> None:
    """Refuse to write to an existing path that is not a regular file (a FIFO would block)."""
    try:
        info = path.stat()
    except OSError:
        return
    if not stat.S_ISREG(info.st_mode):
        kind = next((name for test, name in _KINDS if test(info.st_mode)), "not a file")
        raise ConfigError(f"cannot write: it is {kind}, not a regular file", path=str(path))


def _too_big(path: Path, max_bytes: int, hint: str) -> ConfigError:
    limit = f"{max_bytes / MB:g} MB" if max_bytes >= MB else f"{max_bytes} bytes"
    return ConfigError(f"larger than {limit}{f' ({hint})' if hint else ''}", path=str(path))


class _CappedFile(io.FileIO):
    """A file that refuses to be read past ``max_bytes``, however much it grows meanwhile."""

    def __init__(self, fd: int, path: Path, max_bytes: int, hint: str):
        super().__init__(fd, "rb", closefd=True)
        self._path, self._max, self._hint = path, max_bytes, hint

    def readinto(self, buffer: memoryview | bytearray) -> int | None:  # type: ignore[override]
        count = super().readinto(buffer)
        if count and self.tell() > self._max:
            raise _too_big(self._path, self._max, self._hint)
        return count

    def readall(self) -> bytes:
        data = bytearray()
        while chunk := self.read(1 << 20):
            data += chunk
            if self.tell() > self._max:
                raise _too_big(self._path, self._max, self._hint)
        return bytes(data)
