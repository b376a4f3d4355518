"""Built-in Korean cues for each kind of answer, read from morphemes rather than phrases.

Each rule gives a score: CLEAR (the meaning is unmistakable in the words), LIKELY, or
UNCLEAR (a cue that could mean it, e.g. a bare "마세요" without "전화" or "연락"). Scores
are not probabilities; thresholds over them are calibrated on bench/dev (docs/understanding.md).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .morph import Morph, morphs
from .result import Kind

CLEAR, LIKELY, UNCLEAR = 0.95, 0.8, 0.55

PAY_VERBS = frozenset({"내", "갚", "드리", "보내", "넣", "부치", "주", "치르"})
PAY_NOUNS = frozenset({"입금", "납부", "송금", "이체", "결제", "상환", "변제", "완납"})
CONTACT = frozenset({"전화", "연락", "문자", "통화", "콜"})
PERSON = frozenset({"상담원", "상담사", "직원", "담당자", "상담", "담당", "매니저", "사람", "관리자"})
LATER = frozenset({"나중", "이따가", "이따", "다음", "내일", "저녁", "오후", "주말"})
BUSY = frozenset({"바쁘", "운전", "회의", "근무", "일하", "수업", "곤란"})
QUESTION_WORDS = frozenset({"누구", "무슨", "뭐", "무엇", "왜", "어디", "어떤", "웬"})
YES = frozenset({"네", "예", "응", "맞", "그렇", "그래", "넵", "옙", "당연"})
NO = frozenset({"아니", "아뇨", "아니요", "아니오", "아닙니다", "아니다"})
PAST = frozenset({"었", "았", "였"})
DONE_ADVERBS = frozenset({"이미", "벌써", "아까", "어제", "지난주", "지난달", "방금", "진작", "다"})


# Surface forms back the morphemes up: the analyser reads "곧 낼게요" as 나+의+ㄹ게요.
_STEMS = "(?:내|낼|냈|갚|드리|드릴|드렸|드려|보내|보낼|보냈|넣|부치|부칠|부쳤|입금|납부|송금|이체|결제|상환)"
SURFACE_FUTURE = re.compile(r"(낼|내겠|낼께|갚을|갚겠|드릴|드리겠|보낼|넣을|부칠|(입금|납부|송금|이체|결제|상환) ?할)")
SURFACE_PAST = re.compile(r"(냈|갚았|드렸|보냈|넣었|부쳤|(입금|납부|송금|이체|결제|상환) ?했|완납)")
SURFACE_NEGATED = re.compile(rf"(?:^| )(?:안|못) ?{_STEMS}|{_STEMS}\w* ?(?:지|진) ?(?:않|못|안)")


class _Words:
    """Morphemes of one answer with the look-ups the rules need."""

    def __init__(self, text: str):
        self.text = text
        self.m: Sequence[Morph] = morphs(text)
        self.forms = frozenset(m.form for m in self.m)

    def has(self, *forms: str) -> bool:
        return any(f in self.forms for f in forms)

    def any_of(self, forms: frozenset[str]) -> bool:
        return not self.forms.isdisjoint(forms)

    def pay_positions(self) -> list[int]:
        out = []
        for i, m in enumerate(self.m):
            if (m.tag == "VV" and m.form in PAY_VERBS) or (m.tag == "NNG" and m.form in PAY_NOUNS):
                out.append(i)
        return out

    def negated(self, i: int) -> bool:
        """Whether the verb at ``i`` is negated: 안/못 just before, or -지 않/못하 after."""
        before = [m.form for m in self.m[max(0, i - 2) : i] if m.tag == "MAG"]
        after = [m.form for m in self.m[i + 1 : i + 5]]
        return "안" in before or "못" in before or ("지" in after and ("않" in after or "못하" in after))

    def past(self, i: int) -> bool:
        after = self.m[i + 1 : i + 4]
        return any(m.tag == "EP" and m.form in PAST for m in after)

    def cut_prohibition(self) -> bool:
        """'전화 하지 …': the -지 of a prohibition (-지 마세요) whose 말다 was not heard, and
        not the -지 of a negation (-지 않다 / 못하다)."""
        for i, m in enumerate(self.m[:-1]):
            nxt = self.m[i + 1]
            if m.form in ("하", "걸") and m.tag in ("VV", "XSV") and nxt.form == "지" and nxt.tag in ("EC", "EF"):
                after = {x.form for x in self.m[i + 2 : i + 3]}
                if not after & {"않", "못하", "못"}:
                    return True
        return False

    def prohibitive(self) -> bool:
        """말다 as in 마세요 / 말아 주세요, or 그만, 거부, 싫다."""
        return any(m.form == "말" and m.tag == "VX" for m in self.m) or self.has("그만", "거부", "그만하", "싫")


def kinds(text: str) -> dict[Kind, float]:
    """How strongly an answer means each kind of thing (kinds without a cue are absent)."""
    w = _Words(text)
    found: dict[Kind, float] = {}

    def cue(kind: Kind, score: float) -> None:
        found[kind] = max(found.get(kind, 0.0), score)

    contact = w.any_of(CONTACT) or any(m.form == "걸" and m.tag == "VV" for m in w.m)
    pays = w.pay_positions()

    # opt-out: contact + prohibition is unmistakable; a prohibition alone is a cue to confirm
    if contact and w.prohibitive():
        cue(Kind.OPT_OUT, CLEAR)
    elif contact and w.has("안", "않") and w.has("받", "하", "걸", "싶", "좋"):
        cue(Kind.OPT_OUT, LIKELY if w.has("싶", "좋", "받") else UNCLEAR)
    elif w.has("거부"):
        cue(Kind.OPT_OUT, LIKELY)
    elif (contact and w.cut_prohibition()) or (w.prohibitive() and not pays):
        cue(Kind.OPT_OUT, UNCLEAR)

    # wrong number
    if w.has("잘못") and (contact or w.has("번호")):
        cue(Kind.WRONG_NUMBER, CLEAR)
    if w.has("본인") and w.has("아니", "아닙니다"):
        cue(Kind.WRONG_NUMBER, CLEAR)
    elif w.has("사람", "저", "제") and w.has("아니", "아닙니다"):
        cue(Kind.WRONG_NUMBER, LIKELY)
    if (w.has("그런", "모르") and w.has("사람") and w.has("없", "모르")) or (w.has("번호") and w.has("아니", "틀리")):
        cue(Kind.WRONG_NUMBER, LIKELY)

    # a person
    asks_person = w.has("사람") and w.has("바꾸", "연결", "통화", "얘기", "이야기") and not w.has("아니")
    if w.any_of(PERSON - {"사람"}) or asks_person:
        cue(Kind.HUMAN, CLEAR)
    elif w.has("연결") and not contact:
        cue(Kind.HUMAN, LIKELY)

    # paid already / refuse / promise, from the payment verbs and what surrounds them
    promise_cue = 0.0
    if not pays:
        if SURFACE_NEGATED.search(text):
            cue(Kind.REFUSE, CLEAR)
        elif SURFACE_PAST.search(text):
            cue(Kind.ALREADY_PAID, CLEAR)
        elif SURFACE_FUTURE.search(text):
            promise_cue = LIKELY if not w.has("없", "어렵", "힘들", "싫") else 0.0
    for i in pays:
        if w.negated(i):
            cue(Kind.REFUSE, CLEAR)
        elif w.past(i) or w.has("완료", "완납"):
            cue(Kind.ALREADY_PAID, CLEAR)
        elif w.has("없", "어렵", "힘들", "싫") and not w.has("있"):
            cue(Kind.REFUSE, LIKELY)
        else:
            promise_cue = LIKELY
    if not pays and w.has("완료", "완납"):
        cue(Kind.ALREADY_PAID, LIKELY)
    if w.has("돈") and w.has("없") and not pays:
        cue(Kind.REFUSE, LIKELY)
    if w.has("못") and not pays and not contact and not w.has("듣", "알아듣"):
        cue(Kind.REFUSE, UNCLEAR)
    if promise_cue:
        cue(Kind.PROMISE, promise_cue)

    # call me later
    if contact and (w.any_of(LATER) or w.has("다시")) and not w.prohibitive() and not w.has("잘못", "안"):
        cue(Kind.CALLBACK, CLEAR)
    elif w.any_of(BUSY) or (w.has("통화") and w.has("어렵", "힘들", "곤란")):
        cue(Kind.CALLBACK, LIKELY)

    # a question back, and yes / no
    asks = w.any_of(QUESTION_WORDS) or "?" in text.split() or w.has("뭐라고", "얼마라고")
    if asks and not (w.has("얼마") and not w.has("라고") and "?" not in text):
        cue(Kind.QUESTION, CLEAR if w.any_of(QUESTION_WORDS) or w.has("뭐라고") else LIKELY)
    if w.any_of(NO) or any(m.tag == "VCN" for m in w.m):
        cue(Kind.NO, CLEAR)
    if w.any_of(YES) or (w.has("저", "제", "본인") and any(m.tag == "VCP" for m in w.m) and not w.has("누구")):
        cue(Kind.YES, CLEAR if w.has("네", "예", "맞", "그렇") else LIKELY)
    return found
