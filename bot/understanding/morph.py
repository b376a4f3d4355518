"""Korean morphology with kiwipiepy: one analyser per process, loaded on first use."""

from __future__ import annotations

import re
import threading
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

_lock = threading.Lock()
_kiwi: object | None = None


@dataclass(frozen=True)
class Morph:
    form: str
    tag: str


def normalize(text: str) -> str:
    """NFKC, lower case, punctuation out (a '?' is kept as a word: it marks a question)."""
    text = unicodedata.normalize("NFKC", text).lower().replace("'", "").replace("’", "").replace("?", " ? ")
    return " ".join(re.sub(r"[^\w?]+", " ", text).split())


def _analyser() -> object:
    global _kiwi
    with _lock:
        if _kiwi is None:
            from kiwipiepy import Kiwi

            _kiwi = Kiwi()
        return _kiwi


@lru_cache(maxsize=4096)
def morphs(text: str) -> tuple[Morph, ...]:
    """Morphemes of a normalized Korean text ('냈는데요' -> 내/VV 었/EP 는데/EC 요/JX)."""
    kiwi = _analyser()
    with _lock:  # the analyser is shared by the recognizer's threads
        tokens = kiwi.tokenize(text.replace("?", " "))  # type: ignore[attr-defined]
    return tuple(Morph(t.form, t.tag.split("-")[0]) for t in tokens)


CONTENT_TAGS = ("NNG", "NNP", "NP", "VV", "VA", "VX", "MAG", "IC", "VCN", "XR", "SN", "MM")


def lemmas(text: str) -> frozenset[str]:
    """Content morphemes of a text (nouns, verb stems, adverbs, interjections)."""
    return frozenset(m.form for m in morphs(text) if m.tag in CONTENT_TAGS)
