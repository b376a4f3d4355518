"""Built-in phrases per kind of answer, for the recognizer's grammar.

The classifier understands far more than these (cues_ko); the grammar needs whole phrases
in the speech model's words so that paraphrases the recognizer can say are not forced onto
the script's few examples. Korean phrases use only words of the Korean Vosk model (words
it lacks are dropped with a warning, so a missing one costs recall, not correctness).
"""

from __future__ import annotations

from .result import Kind

KO: dict[Kind, list[str]] = {
    Kind.OPT_OUT: ["전화 하지 마세요", "연락 하지 마세요", "다시 전화 하지 마세요", "그만 연락 하지 마세요",
                   "전화 그만 하세요", "연락 그만 하세요", "수신 거부", "문자 하지 마세요", "앞으로 전화 하지 마세요",
                   "더 이상 연락 하지 마세요", "하지 마세요"],
    Kind.WRONG_NUMBER: ["본인 아닙니다", "잘못 전화", "번호 잘못", "그런 사람 없어요", "모르는 사람",
                        "모르는 번호"],
    Kind.HUMAN: ["상담원", "상담원 연결", "상담원 바꿔 주세요", "사람 바꿔 주세요", "직원 연결", "담당자 연결"],
    Kind.ALREADY_PAID: ["냈어요", "벌써 냈어요", "냈습니다", "입금 했어요", "입금 했습니다", "납부 했어요", "납부 완료",
                        "다 냈어요", "어제 냈어요", "벌써 입금 했어요"],
    Kind.REFUSE: ["못 내요", "돈이 없어요", "안 내요", "낼 수 없어요", "돈 없어요", "못 해요", "싫어요"],
    Kind.CALLBACK: ["나중에 전화 주세요", "다시 전화 주세요", "나중에 다시 전화 주세요", "나중에 통화",
                    "지금 통화 못 해요"],
    Kind.PROMISE: ["낼게요", "드릴게요", "입금 할게요", "납부 할게요", "낼 수 있어요"],
    Kind.QUESTION: ["누구 세요", "누구", "무슨 일", "왜요", "뭐라고 요", "어디", "뭐"],
    Kind.YES: ["네", "예", "맞아", "네 본인 입니다", "네 접니다", "그래요", "그렇습니다"],
    Kind.NO: ["아니요", "아뇨", "아니오", "아닙니다"],
}
EN: dict[Kind, list[str]] = {
    Kind.OPT_OUT: ["stop calling me", "do not call me again", "don't call me", "remove my number"],
    Kind.WRONG_NUMBER: ["wrong number", "wrong person", "that is not me"],
    Kind.HUMAN: ["agent", "a real person", "talk to a person", "representative"],
    Kind.ALREADY_PAID: ["i already paid", "already paid", "i paid it"],
    Kind.REFUSE: ["i can't pay", "i will not pay", "i have no money"],
    Kind.CALLBACK: ["call me later", "call me back", "i am busy"],
    Kind.PROMISE: ["i will pay", "i can pay"],
    Kind.QUESTION: ["who is this", "what is this about", "what"],
    Kind.YES: ["yes", "yeah", "speaking"],
    Kind.NO: ["no", "nope"],
}
ZH: dict[Kind, list[str]] = {
    Kind.QUESTION: ["你 是 谁", "什么 事"],
}


def builtin_phrases(kind: Kind, language: str) -> list[str]:
    return {"ko": KO, "en": EN, "zh": ZH}.get(language, {}).get(kind, [])
