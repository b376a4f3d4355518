"""Consequential answers heard with less than certainty are confirmed before they are stored."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from bot.commands import chat
from bot.dialogue.checker import load_script
from bot.dialogue.compiler import CompiledScript, compile_script
from bot.domain import Debtor, DialogueEvent, EventKind, Heard, Outcome
from bot.telephony.channel import ListenSpec, TextChannel

ROOT = Path(__file__).parents[2]
TODAY = dt.date(2026, 12, 7)  # a Monday


class UnsureChannel(TextChannel):
    """Replies are heard word for word, but with the recognizer's usual doubt."""

    def __init__(self, replies: list[object], confidence: float = 0.6):
        super().__init__(replies)  # type: ignore[arg-type]
        self.confidence = confidence

    async def listen(self, spec: ListenSpec) -> Heard:
        heard = await super().listen(spec)
        return Heard(heard.text, self.confidence, heard.digit, heard.audio_ms) if heard.text else heard


@pytest.fixture(scope="module")
def compiled() -> CompiledScript:
    script, _ = load_script(ROOT / "scripts/reminder-ko.yaml")
    return compile_script(script)


async def call(compiled: CompiledScript, replies: list[object], confidence: float = 0.6):
    channel = UnsureChannel(replies, confidence)
    events: list[DialogueEvent] = []
    person = Debtor(id="D-1", name="김민준", phone="+821055550001", amount=Decimal("300000"), language="ko")
    result = await chat(compiled, person, channel, today=TODAY, events=events)
    return result, channel.said, events


async def test_a_promise_is_stored_once_confirmed(compiled: CompiledScript) -> None:
    result, said, events = await call(compiled, ["네 맞습니다", "다음주 월요일 낼게요", "네"])
    assert result.outcome is Outcome.PROMISE_TO_PAY
    assert result.detail["promise_date"] == "2026-12-14"
    assert any("십이월 십사일" in s and "맞으세요" in s for s in said)
    assert [e.data["answer"] for e in events if e.kind is EventKind.CONFIRM] == ["yes"]


async def test_a_denied_promise_is_asked_again_and_never_stored_as_another_date(compiled: CompiledScript) -> None:
    result, _said, events = await call(compiled, ["네", "모레 낼게요", "아니요", "글피에 낼게요", "네"])
    assert result.outcome is Outcome.PROMISE_TO_PAY
    assert result.detail["promise_date"] == "2026-12-10"
    assert [e.data["answer"] for e in events if e.kind is EventKind.CONFIRM] == ["no", "yes"]


async def test_an_unconfirmed_refusal_is_not_stored(compiled: CompiledScript) -> None:
    result, _, _ = await call(compiled, ["네", "못 내요", "", "", "", "", ""])
    assert result.outcome is Outcome.NO_RESPONSE


async def test_a_month_without_a_day_asks_for_the_day(compiled: CompiledScript) -> None:
    result, said, events = await call(compiled, ["네", "다음 달에 낼게요", "15일에요", "네"])
    assert any("며칠에" in s for s in said)
    assert result.outcome is Outcome.PROMISE_TO_PAY and result.detail["promise_date"] == "2026-12-15"
    [missing] = [e.data for e in events if e.kind is EventKind.NO_MATCH]
    assert missing["reason"] == "missing_promise_date" and missing["text"] == "다음 달에 낼게요"


async def test_a_backchannel_to_the_date_question_is_no_promise(compiled: CompiledScript) -> None:
    result, _, events = await call(compiled, ["네", "네", "네", "네"])
    assert result.outcome is Outcome.NO_RESPONSE
    assert all(e.data.get("text") == "네" for e in events if e.kind is EventKind.NO_MATCH)


async def test_a_question_back_gets_its_own_answer_not_wrong_number(compiled: CompiledScript) -> None:
    result, said, _ = await call(compiled, ["누구세요?", "네 맞아요", "내일 낼게요", "네"])
    assert "콜봇 금융의 자동 안내 전화입니다" in said[1]
    assert result.outcome is Outcome.PROMISE_TO_PAY


async def test_an_unclear_opt_out_is_confirmed_and_a_clear_one_is_not(compiled: CompiledScript) -> None:
    result, said, _ = await call(compiled, ["네", "하지 마세요", "네"])
    assert result.outcome is Outcome.OPT_OUT and any("원하지 않으시는" in s for s in said)
    result, said, _ = await call(compiled, ["네", "다시는 전화하지 마세요"], confidence=0.95)
    assert result.outcome is Outcome.OPT_OUT and not any("원하지 않으시는" in s for s in said)


async def test_clear_opt_out_words_heard_unsurely_or_among_other_words_are_confirmed(
        compiled: CompiledScript) -> None:
    # open-grammar word salad holds whole opt-out phrases by chance: a cue is as clear as the hearing
    for reply, confidence in (("다시는 전화하지 마세요", 0.6), ("연락 왜요 네 그만 하세요", 0.95)):
        result, said, _ = await call(compiled, ["네", reply, "네"], confidence=confidence)
        assert result.outcome is Outcome.OPT_OUT and any("원하지 않으시는" in s for s in said), reply
        result, said, _ = await call(compiled, ["네", reply, "아니요", "", "", "", ""], confidence=confidence)
        assert result.outcome is not Outcome.OPT_OUT, reply


async def test_an_opt_out_while_confirming_is_honoured(compiled: CompiledScript) -> None:
    # heard surely: honoured at once
    result, said, _ = await call(compiled, ["네", "못 내요", "전화 하지 마세요"], confidence=0.95)
    assert result.outcome is Outcome.OPT_OUT and not any("원하지 않으시는" in s for s in said)
    # heard unsurely (a misheard request can sound like one): asked as an opt-out first
    result, said, events = await call(compiled, ["네", "못 내요", "전화 하지 마세요", "네"])
    assert result.outcome is Outcome.OPT_OUT and any("원하지 않으시는" in s for s in said)
    assert [e.data["answer"] for e in events if e.kind is EventKind.CONFIRM] == ["opt_out", "yes"]
    # ... and never stored as one when the customer says no to that
    result, _, _ = await call(compiled, ["네", "못 내요", "전화 하지 마세요", "아니요", "", "", "", "", "", ""])
    assert result.outcome is not Outcome.OPT_OUT and "opt_out_review" not in result.detail


async def test_a_certain_answer_is_stored_without_asking(compiled: CompiledScript) -> None:
    result, _said, events = await call(compiled, ["네", "모레 낼게요"], confidence=1.0)
    assert result.outcome is Outcome.PROMISE_TO_PAY and result.detail["promise_date"] == "2026-12-09"
    assert not [e for e in events if e.kind is EventKind.CONFIRM]


async def test_speech_heard_but_not_recognized_is_no_match_not_no_input(compiled: CompiledScript) -> None:
    class Mumble(UnsureChannel):
        async def listen(self, spec: ListenSpec) -> Heard:
            return Heard(audio_ms=2100)

    channel = Mumble([])
    events: list[DialogueEvent] = []
    person = Debtor(id="D-1", name="김민준", phone="+821055550001", amount=Decimal("1"), language="ko")
    result = await chat(compiled, person, channel, today=TODAY, events=events)
    assert result.outcome is Outcome.NO_RESPONSE
    kinds = [e.kind for e in events if e.kind in (EventKind.NO_MATCH, EventKind.NO_INPUT)]
    assert kinds and set(kinds) == {EventKind.NO_MATCH}


async def test_an_unclear_opt_out_left_unanswered_is_held_for_review_not_stored_as_one(
        compiled: CompiledScript) -> None:
    # "하지 마세요" is an unclear cue: confirmed; silence to both confirmations
    result, said, events = await call(compiled, ["네", "하지 마세요", "", "", "", "", "", ""])
    assert result.outcome is not Outcome.OPT_OUT and sum("원하지 않으시는" in s for s in said) == 2
    marker = result.detail["opt_out_review"]
    assert marker["step"] == "ask" and 0 < marker["score"] < 1
    [held] = [e.data for e in events if e.kind is EventKind.NO_MATCH and e.data["reason"] == "opt_out_review"]
    assert held["text"] == "하지 마세요" and held["kind"] == "opt_out"


async def test_a_denied_opt_out_or_a_confirmed_one_is_no_hold(compiled: CompiledScript) -> None:
    result, _, _ = await call(compiled, ["네", "하지 마세요", "아니요", "모레 낼게요", "네"])
    assert result.outcome is Outcome.PROMISE_TO_PAY and "opt_out_review" not in result.detail
    result, _, _ = await call(compiled, ["네", "하지 마세요", "네"])
    assert result.outcome is Outcome.OPT_OUT and "opt_out_review" not in result.detail


@pytest.mark.parametrize(("policy", "held", "outcome"), [
    ("no_match", False, Outcome.NO_RESPONSE), ("honour", False, Outcome.OPT_OUT),
    ("review", True, Outcome.NO_RESPONSE)])
async def test_unclear_opt_out_policies(compiled: CompiledScript, policy: str, held: bool,
                                        outcome: Outcome) -> None:
    script = compiled.script.model_copy(update={
        "understanding": compiled.script.understanding.model_copy(update={"unclear_opt_out": policy})})
    result, _, _ = await call(compile_script(script), ["네", "하지 마세요", "", "", "", "", "", ""])
    assert ("opt_out_review" in result.detail) is held
    assert result.outcome is outcome
async def test_a_spoken_callback_time_is_said_back_and_stored_once_confirmed(compiled: CompiledScript) -> None:
    result, said, events = await call(compiled, ["네", "내일 오후 세 시쯤 다시 전화 주세요", "네"])
    assert result.outcome is Outcome.CALLBACK and result.detail["callback_at"] == "tomorrow 15:00"
    assert any("내일 오후 세 시에 다시 전화드릴까요" in s for s in said)
    assert [e.data["answer"] for e in events if e.kind is EventKind.CONFIRM] == ["yes"]


async def test_a_denied_callback_time_is_never_stored(compiled: CompiledScript) -> None:
    # the robot heard four o'clock (as the small model hears "세 시" from synthetic voices): the
    # customer says no, and a time said again is confirmed again before it counts
    result, said, events = await call(compiled, ["네", "내일 오후 네 시쯤 다시 전화 주세요", "아니요",
                                                 "한 시간 뒤에 다시 전화 주세요", "네"])
    assert result.outcome is Outcome.CALLBACK and result.detail["callback_at"] == "in 60 min"
    assert any("내일 오후 네 시에 다시 전화드릴까요" in s for s in said)
    assert any("한 시간 뒤에 다시 전화드릴까요" in s for s in said)
    assert [e.data["answer"] for e in events if e.kind is EventKind.CONFIRM] == ["no", "yes"]
    taken = [e.data for e in events if e.kind is EventKind.STATE and e.data.get("intent") == "callback"]
    assert [t["slots"] for t in taken] == [{"callback_at": "in 60 min"}]


async def test_a_callback_without_a_time_is_confirmed_without_inventing_one(compiled: CompiledScript) -> None:
    result, said, _ = await call(compiled, ["네", "나중에 전화 주세요", "네"])
    assert result.outcome is Outcome.CALLBACK and "callback_at" not in result.detail
    assert any("나중에 다시 전화드릴까요" in s for s in said)


async def test_an_unconfirmed_callback_time_is_not_stored(compiled: CompiledScript) -> None:
    result, _, events = await call(compiled, ["네", "내일 오후 세 시쯤 다시 전화 주세요", "", "", "", "", "", ""])
    assert result.outcome is not Outcome.CALLBACK and "callback_at" not in result.detail
    assert not [e for e in events if e.kind is EventKind.STATE and e.data.get("intent") == "callback"]
