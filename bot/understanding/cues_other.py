"""Keyword cues for English and Mandarin: a small built-in lexicon per kind of answer."""

from __future__ import annotations

import re

from .result import Kind

CLEAR, LIKELY, UNCLEAR = 0.95, 0.8, 0.55

_EN: list[tuple[Kind, float, str]] = [
    (Kind.OPT_OUT, CLEAR, r"\b(stop|don'?t|do not|never) (calling|call|contacting|contact)\b|\bremove (me|my number)\b"
                          r"|\bunsubscribe\b|\bleave me alone\b"),
    (Kind.OPT_OUT, UNCLEAR, r"\bstop\b|\bdon'?t\b"),
    (Kind.WRONG_NUMBER, CLEAR, r"\bwrong (number|person)\b|\bno one (by|named)\b|\bnot (me|him|her)\b"),
    (Kind.HUMAN, CLEAR, r"\b(agent|operator|human|representative|real person|a person|someone)\b"),
    (Kind.ALREADY_PAID, CLEAR, r"\balready (paid|sent|made)\b|\b(i|we) paid\b|\bpaid (it|already|yesterday)\b"),
    (Kind.REFUSE, CLEAR, r"\b(can ?not|can'?t|won'?t|will not|unable to) pay\b|\bno money\b|\bnot paying\b"),
    (Kind.CALLBACK, CLEAR, r"\b(call|ring) (me )?(back|later|again)\b|\bbusy\b|\bnot a good time\b"),
    (Kind.PROMISE, LIKELY, r"\b(i will|i'll|will|can|going to) pay\b|\bpay (it|on|by|tomorrow|today|next)\b"),
    (Kind.QUESTION, CLEAR, r"\b(who|what|why|where|which)\b|\?"),
    (Kind.NO, CLEAR, r"\b(no|nope|not)\b"),
    (Kind.YES, CLEAR, r"\b(yes|yeah|yep|speaking|correct|that'?s me|it is)\b"),
]
_ZH: list[tuple[Kind, float, str]] = [
    (Kind.OPT_OUT, CLEAR, r"(不要|别|不用)再?(打|联系|来电)|不要打了|别打了"),
    (Kind.WRONG_NUMBER, CLEAR, r"打错|不是本人|不认识|没有这个人"),
    (Kind.HUMAN, CLEAR, r"人工|客服|转人|真人"),
    (Kind.ALREADY_PAID, CLEAR, r"(已经|早就)还|还过了|还了$|已还款|已经还款"),
    (Kind.REFUSE, CLEAR, r"还不了|不还|没有?钱|不会还"),
    (Kind.CALLBACK, CLEAR, r"(晚点|以后|等会|待会|回头)再?打|再打|回电|打回来|在忙|没空"),
    (Kind.PROMISE, LIKELY, r"还款|会还|能还|还钱"),
    (Kind.QUESTION, CLEAR, r"谁|什么|为什么|哪里|\?"),
    (Kind.NO, CLEAR, r"不是|没有|不对"),
    (Kind.YES, CLEAR, r"^是|是的|对|嗯|我是"),
]


def kinds(text: str, language: str) -> dict[Kind, float]:
    rules = _ZH if language == "zh" else _EN
    text = text.replace(" ", "") if language == "zh" else text
    found: dict[Kind, float] = {}
    for kind, score, pattern in rules:
        if re.search(pattern, text):
            found[kind] = max(found.get(kind, 0.0), score)
    return found
