"""Whether a clear opt-out cue was also heard clearly enough to honour without asking.

An open grammar lets the recognizer answer with any sequence of its words, so speech it
cannot say (most of a real answer, for a small model) comes back as a salad of the grammar's
own words, in which "연락 ... 마세요" turns up by chance. A cue is only as clear as the
hearing: it is honoured outright when the recognizer was sure of the words and the words are
an opt-out sentence, not a cue among unrelated words; otherwise it is confirmed.
"""

from __future__ import annotations

from collections.abc import Iterable

from .morph import lemmas, normalize
from .phrases import builtin_phrases
from .result import Kind

# Words that sit in an opt-out sentence without changing it: contact nouns, insistence.
_KO_OPT_OUT_EXTRA = ("전화", "연락", "문자", "통화", "콜", "제발", "절대", "이제", "다시는", "앞으로", "더", "이상",
                     "그만", "좀", "그냥", "번호", "이", "제", "저", "네", "예", "아", "어", "음", "요", "마")
_OTHER_EXTRA = ("please", "just", "me", "my", "again", "anymore", "the", "this", "number", "请", "我", "了")


def opt_out_vocabulary(language: str, examples: Iterable[str]) -> frozenset[str]:
    """Lemmas (Korean) or words that an opt-out sentence is made of: the step's examples, the
    built-in opt-out phrases and words of insistence."""
    texts = [*examples, *builtin_phrases(Kind.OPT_OUT, language)]
    if language == "ko":
        return frozenset().union(*(lemmas(normalize(t)) for t in (*texts, " ".join(_KO_OPT_OUT_EXTRA))))
    return frozenset(w for t in (*texts, " ".join(_OTHER_EXTRA)) for w in normalize(t).split())


def whole_opt_out(norm: str, language: str, vocabulary: frozenset[str]) -> bool:
    """Whether every content word of ``norm`` (normalized) belongs to an opt-out sentence."""
    words = lemmas(norm) if language == "ko" else frozenset(norm.split())
    return bool(words) and words <= vocabulary
