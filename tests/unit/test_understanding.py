"""Understanding answers by meaning: paraphrases, no forced matches, questions back, dates."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from bot.dialogue.checker import load_script
from bot.dialogue.compiler import CompiledScript, compile_script
from bot.dialogue.listening import OPEN
from bot.understanding import IntentSpec, Kind, Result, StepModel, understand

ROOT = Path(__file__).parents[2]
TODAY = dt.date(2026, 12, 7)  # a Monday


@pytest.fixture(scope="module")
def compiled() -> CompiledScript:
    script, _ = load_script(ROOT / "scripts/reminder-ko.yaml")
    return compile_script(script)


def meaning(compiled: CompiledScript, step: str, text: str, confidence: float = 1.0):
    return compiled.models[step].understand(text, confidence, TODAY, audio_ms=1000)


@pytest.mark.parametrize("text", ["그만 연락 하지 마세요", "다시는 전화하지 마세요", "더 이상 연락하지 마세요",
                                  "이 번호로 전화 그만하세요", "전화 하지 마세요", "수신 거부할게요"])
@pytest.mark.parametrize("step", ["greet", "ask"])
def test_opt_out_paraphrases_in_every_step(compiled: CompiledScript, step: str, text: str) -> None:
    u = meaning(compiled, step, text)
    assert u.matched and u.intent == "globals.opt_out"


def test_a_bare_prohibition_is_an_opt_out_to_confirm(compiled: CompiledScript) -> None:
    u = meaning(compiled, "ask", "하지 마세요")
    assert u.intent == "globals.opt_out" and u.score < compiled.models["ask"].policy.certain_score


@pytest.mark.parametrize("text", ["연락 하지", "전화 걸지 말고", "전화 하지 그냥"])
def test_a_prohibition_cut_short_is_an_opt_out_to_confirm(compiled: CompiledScript, text: str) -> None:
    # the recognizer often keeps "연락 하지" and loses "마세요"
    u = meaning(compiled, "ask", text, 0.7)
    assert u.intent == "globals.opt_out" and u.score < compiled.models["ask"].policy.certain_score


@pytest.mark.parametrize("text", ["연락 하지 못했어요", "전화 하지 않았어요"])
def test_a_negation_is_no_cut_prohibition(compiled: CompiledScript, text: str) -> None:
    u = meaning(compiled, "ask", text, 0.7)
    assert not (u.intent == "globals.opt_out" and u.score >= compiled.models["ask"].policy.certain_score)


@pytest.mark.parametrize("text", ["이미 냈는데요", "벌써 입금했는데요", "어제 냈어요", "납부 완료했습니다"])
def test_already_paid_paraphrases(compiled: CompiledScript, text: str) -> None:
    assert meaning(compiled, "ask", text).intent == "globals.already_paid"


@pytest.mark.parametrize("text", ["누구세요?", "누구신데요", "무슨 일이세요?", "네? 뭐라고요?",
                                  "어디서 전화하신 거예요?"])
def test_a_question_back_is_never_an_answer(compiled: CompiledScript, text: str) -> None:
    u = meaning(compiled, "greet", text)
    assert u.result is Result.NO_MATCH and u.reason == "question"


@pytest.mark.parametrize("text", ["네", "네 네", "음", "잘 모르겠어요", "오늘 날씨가 좋네요"])
def test_a_backchannel_or_aside_is_no_promise(compiled: CompiledScript, text: str) -> None:
    assert meaning(compiled, "ask", text).result is Result.NO_MATCH


@pytest.mark.parametrize(("text", "date"), [
    ("모레 낼게요", dt.date(2026, 12, 9)), ("글피에 낼게요", dt.date(2026, 12, 10)),
    ("다음주 월요일 낼게요", dt.date(2026, 12, 14)), ("이번 주 금요일까지 낼게요", dt.date(2026, 12, 11)),
    ("15일에 낼게요", dt.date(2026, 12, 15)), ("12월 20일에 낼게요", dt.date(2026, 12, 20)),
    ("월말에 낼게요", dt.date(2026, 12, 31)), ("내일 입금할게요", dt.date(2026, 12, 8)),
])
def test_promise_dates_as_people_say_them(compiled: CompiledScript, text: str, date: dt.date) -> None:
    u = meaning(compiled, "ask", text)
    assert u.intent == "promise" and u.slots == {"promise_date": date}


@pytest.mark.parametrize("text", ["다음 달에 낼게요", "곧 낼게요", "낼게요"])
def test_a_promise_without_a_day_is_no_date(compiled: CompiledScript, text: str) -> None:
    u = meaning(compiled, "ask", text)
    assert u.intent == "promise" and u.missing == ("promise_date",) and not u.certain
    assert "promise_date" not in u.slots


@pytest.mark.parametrize("text", ["돈이 없어서 못 내요", "안 낼 거예요", "낼 생각 없어요", "그 돈 못 드려요"])
def test_refusals_are_not_promises(compiled: CompiledScript, text: str) -> None:
    assert meaning(compiled, "ask", text).intent == "refuse"


def test_identity_answers(compiled: CompiledScript) -> None:
    assert meaning(compiled, "greet", "네 맞습니다").intent == "is_me"
    assert meaning(compiled, "greet", "아니에요").intent == "not_me"
    assert meaning(compiled, "greet", "잘못 거셨어요").intent == "globals.wrong_number"


def test_certainty_needs_a_sure_recognizer(compiled: CompiledScript) -> None:
    assert meaning(compiled, "ask", "모레 낼게요", 1.0).certain
    assert not meaning(compiled, "ask", "모레 낼게요", 0.95).certain


def test_nothing_heard_is_no_input_but_unrecognized_speech_is_no_match(compiled: CompiledScript) -> None:
    model = compiled.models["ask"]
    assert model.understand("", 0.0, TODAY, audio_ms=0).result is Result.NO_INPUT
    u = model.understand("", 0.0, TODAY, audio_ms=2100)
    assert u.result is Result.NO_MATCH and u.reason == "unrecognized"


def test_operator_examples_generalize_for_an_intent_without_a_kind() -> None:
    step = StepModel("ko", [IntentSpec("branch", None, ["지점 방문 예약"])])
    assert understand("지점 방문 예약 할게요", 1.0, step, TODAY).intent == "branch"
    assert understand("오늘 날씨", 1.0, step, TODAY).result is Result.NO_MATCH


def test_grammar_is_compiled_once_per_script_and_open(compiled: CompiledScript) -> None:
    grammar = compiled.models["ask"].grammar
    assert OPEN in grammar and "내일 낼게요" in grammar and "못 내요" in grammar
    assert compiled.models["ask"] is compiled.models["ask"]


def test_english_and_mandarin_cues() -> None:
    en = StepModel("en", [IntentSpec("opt_out", Kind.OPT_OUT, ["stop calling me"]),
                          IntentSpec("promise", Kind.PROMISE, ["tomorrow"], {"promise_date": "date"})])
    assert understand("please don't call me again", 1.0, en, TODAY).intent == "opt_out"
    u = understand("i will pay next monday", 1.0, en, TODAY)
    assert u.intent == "promise" and u.slots["promise_date"] == dt.date(2026, 12, 14)
    zh = StepModel("zh", [IntentSpec("promise", Kind.PROMISE, ["明天 还"], {"promise_date": "date"})])
    assert understand("后天 还", 1.0, zh, TODAY).slots["promise_date"] == dt.date(2026, 12, 9)


def test_the_development_set() -> None:
    """A regression guard over bench/dev (the set the rules were written against)."""
    dev = yaml.safe_load((ROOT / "bench/dev/understanding-ko.yaml").read_text())
    script, _ = load_script(ROOT / "scripts/reminder-ko.yaml")
    models = compile_script(script).models
    right = 0
    for item in dev["utterances"]:
        u = models["greet" if item["step"] == "identity" else "ask"].understand(item["text"], 1.0, TODAY)
        want = "none" if item["expect"] == "question" else item["expect"]
        got = u.kind.value if u.matched and u.kind else "none"
        if item["step"] == "identity" and {want, got} <= {"no", "wrong_number"}:
            got = want
        ok = got == want and (want != "promise" or str(u.slots.get("promise_date")) == str(item["date"])
                              or (item["date"] == "ask_day" and not u.slots))
        right += ok
        if want == "opt_out":
            assert got == "opt_out", item["text"]
        if not ok and u.matched:
            assert not u.certain or u.kind not in (Kind.PROMISE, Kind.REFUSE, Kind.ALREADY_PAID, Kind.WRONG_NUMBER), \
                item["text"]
    assert right / len(dev["utterances"]) >= 0.95


def test_checker_refuses_an_opt_out_kind_that_does_not_opt_out(tmp_path: Path) -> None:
    from bot.dialogue.checker import check

    text = (ROOT / "scripts/reminder-ko.yaml").read_text().replace(
        'callback: {phrases: ["나중에 전화 주세요"', 'callback: {kind: opt_out, phrases: ["나중에 전화 주세요"')
    assert "kind: opt_out" in text
    path = tmp_path / "s.yaml"
    path.write_text(text)
    script, loaded = load_script(path)
    problems = [str(p) for p in check(script, loaded)]
    assert any("intents.callback.kind" in p and "outcome opt_out" in p for p in problems), problems


def test_confirm_texts_and_question_reprompts_are_checked(tmp_path: Path) -> None:
    from bot.dialogue.checker import check

    text = (ROOT / "scripts/reminder-ko.yaml").read_text().replace(
        'confirm: "오늘 납부하시는', 'confirm: "{nothing} 오늘 납부하시는')
    path = tmp_path / "s.yaml"
    path.write_text(text)
    script, loaded = load_script(path)
    problems = [str(p) for p in check(script, loaded)]
    assert any("intents.today.confirm" in p and "{nothing}" in p for p in problems), problems


@pytest.mark.parametrize(("text", "amount"), [("삼십 만 원 낼게요", 300000), ("300,000원 드릴게요", 300000),
                                              ("오십 만 원이요", 500000)])
def test_amounts_as_heard(text: str, amount: int) -> None:
    step = StepModel("ko", [IntentSpec("partial", Kind.PROMISE, ["십 만 원 낼게요"], {"promise_amount": "amount"})])
    u = understand(text, 1.0, step, TODAY)
    assert u.intent == "partial" and u.slots == {"promise_amount": amount}


def test_a_month_without_a_day_in_mandarin_and_english() -> None:
    zh = StepModel("zh", [IntentSpec("promise", Kind.PROMISE, ["明天 还"], {"promise_date": "date"})])
    assert understand("下个月还", 1.0, zh, TODAY).missing == ("promise_date",)
    en = StepModel("en", [IntentSpec("promise", Kind.PROMISE, ["i will pay tomorrow"], {"promise_date": "date"})])
    assert understand("i will pay next month", 1.0, en, TODAY).missing == ("promise_date",)
