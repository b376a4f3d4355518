"""Which cached prompt WAV a call played, by a hash of its text. The cache is shared and
content-addressed, so only a call's own manifest says which files were its: `collbot debtor forget`
and the retention purge delete the ones whose PROMPT event is marked ``personal`` (the template
filled a placeholder with the debtor's data) or, for events from before that mark, spoke the name."""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterator, Mapping
from pathlib import Path

log = logging.getLogger(__name__)

PROMPTS_MANIFEST = "prompts.txt"  # under spool_dir/<call id>/: "<text digest> <cached wav name>" lines


def prompt_digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


def note_prompt(folder: Path, call_id: str, text: str, path: Path) -> None:
    """Append the played prompt to the call's manifest in ``folder`` (spool_dir/<call id>)."""
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        with open(os.open(folder / PROMPTS_MANIFEST, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "a",
                  encoding="ascii") as manifest:
            manifest.write(f"{prompt_digest(text)} {path.name}\n")
    except OSError as exc:  # the call goes on; only the later erasure of that prompt is affected
        log.warning("call %s: cannot note a played prompt: %s", call_id, exc.strerror or exc)


def is_personal(data: Mapping[str, object], name: str) -> bool:
    """Whether a PROMPT event's text spoke the debtor's data."""
    text = data.get("text")
    return isinstance(text, str) and (data.get("personal") is True or (bool(name.strip()) and name in text))


def played(folder: Path, digests: set[str]) -> Iterator[str]:
    """Names of the cached WAVs the call in ``folder`` played for these text digests."""
    manifest = folder / PROMPTS_MANIFEST
    if not manifest.is_file():
        return
    for line in manifest.read_text(encoding="ascii", errors="replace").splitlines():
        digest, _, name = line.partition(" ")
        if digest in digests and name.endswith(".wav") and "/" not in name and not name.startswith("."):
            yield name
