"""Which cached prompt WAV a call played, by a hash of its text: `collbot debtor forget` deletes the
ones that spoke the debtor's name (the cache is shared and content-addressed, so only a call's own
manifest says which files were its)."""

from __future__ import annotations

import hashlib

PROMPTS_MANIFEST = "prompts.txt"  # under spool_dir/<call id>/: "<text digest> <cached wav name>" lines


def prompt_digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]
