"""The keyed hash that replaces a forgotten debtor's numbers in the ledger.

HMAC-SHA256 with a secret kept outside the database (``privacy.key_file``, mode 0600): a dump of the
database alone cannot be searched for a number by hashing every possible one. The result fits the
16-character phone columns and is never a dialable number: ``#`` and 15 base32 characters (75 bits).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from bot.errors import ConfigError

PREFIX = "#"


def load_key(path: Path) -> bytes:
    """The secret at ``path``, created (0600, parents 0700) on first use."""
    try:
        if not path.exists():
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="ascii") as f:
                f.write(secrets.token_hex(32) + "\n")
        key = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the privacy key: {getattr(exc, 'strerror', None) or exc}",
                          path=str(path)) from exc
    if len(key) < 32:
        raise ConfigError("the privacy key is too short (at least 32 characters)", path=str(path))
    return key.encode("ascii")


def number_hash(e164: str, key: bytes) -> str:
    digest = hmac.new(key, e164.encode("ascii"), hashlib.sha256).digest()
    return PREFIX + base64.b32encode(digest).decode("ascii")[:15]


def is_hashed(value: str) -> bool:
    return value.startswith(PREFIX)


class Hasher:
    """``number_hash`` for ``open_store``: the keyed hash of a number, or None while no key exists
    (the key is made by the first `forget`, so until then no number is hashed in the ledger).
    Looks for the key again until it finds one: a `forget` in another process may make it."""

    def __init__(self, path: Path):
        self.path = path
        self._key: bytes | None = None

    def __call__(self, e164: str) -> str | None:
        if self._key is None:
            if not self.path.exists():
                return None
            self._key = load_key(self.path)
        return number_hash(e164, self._key)
