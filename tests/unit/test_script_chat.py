"""`collbot script chat` drives each example script through every outcome it has."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from bot.commands import chat
from bot.dialogue.chat import ChatChannel, Reply
from bot.dialogue.checker import load_script
from bot.dialogue.compiler import CompiledScript, compile_script
from bot.domain import Debtor, DialogueEvent, EventKind, Outcome

ROOT = Path(__file__).parents[2]
TODAY = dt.date(2026, 12, 30)  # promises cross the year end
TOMORROW = dt.date(2026, 12, 31)

# The words a customer says, per language: (is it you, yes), refusal, ...
SAY = {
    "ko": {"yes": "네", "no": "아니요", "tomorrow": "내일 낼게요", "today": "오늘", "refuse": "못 내요",
           "paid": "벌써 냈어요", "wrong": "본인 아닙니다", "later": "다시 전화 주세요",
           "stop": "전화 하지 마세요", "human": "상담원 연결"},
    "zh": {"yes": "是", "no": "不是", "tomorrow": "明天 还", "today": "今天", "refuse": "还 不 了",
           "paid": "已经 还 了", "wrong": "我 不是 本人", "later": "以后 再 打",
           "stop": "不要 再 打 了", "human": "转 人工"},
    "en": {"yes": "yes", "no": "no", "tomorrow": "i will pay tomorrow", "today": "today",
           "refuse": "i cannot pay", "paid": "i already paid", "wrong": "wrong number",
           "later": "call me later", "stop": "stop calling me", "human": "talk to a person"},
}
SILENCE: Reply = {"silence": True}
# scenario -> (replies as SAY keys / literal replies, outcome, detail that must be present)
SCENARIOS: dict[str, tuple[list[object], Outcome, dict[str, object]]] = {
    "promise by speech": (["yes", "tomorrow"], Outcome.PROMISE_TO_PAY, {"promise_date": TOMORROW.isoformat()}),
    "promise by keys": ([{"dtmf": "1"}, {"dtmf": "1"}], Outcome.PROMISE_TO_PAY, {"promise_date": TODAY.isoformat()}),
    "promise after a reprompt": (["yes", "huh?", "today"], Outcome.PROMISE_TO_PAY, {"promise_date": TODAY.isoformat()}),
    "refused": (["yes", "refuse"], Outcome.REFUSED, {}),
    "refused by key": (["yes", {"dtmf": "2"}], Outcome.REFUSED, {}),
    "already paid": (["yes", "paid"], Outcome.ALREADY_PAID, {}),
    "wrong number (global)": (["wrong"], Outcome.WRONG_NUMBER, {}),
    "not me": (["no"], Outcome.WRONG_NUMBER, {}),
    "callback": (["yes", "later"], Outcome.CALLBACK, {"action": "callback"}),
    "opt-out by speech": (["stop"], Outcome.OPT_OUT, {"action": "opt_out"}),
    "opt-out by key mid-call": (["yes", {"dtmf": "9"}], Outcome.OPT_OUT, {"action": "opt_out"}),
    "human": (["yes", "human"], Outcome.TRANSFER_REQUESTED, {"action": "transfer"}),
    "human by key": ([{"dtmf": "0"}], Outcome.TRANSFER_REQUESTED, {"action": "transfer"}),
    "silence": ([SILENCE, SILENCE, SILENCE], Outcome.NO_RESPONSE, {}),
    "hang-up": (["yes", {"hangup": True}], Outcome.HUNG_UP, {"step": "ask", "identified": True}),
    "hang-up-first": ([{"hangup": True}], Outcome.HUNG_UP, {"step": "greet", "identified": False}),
}


@pytest.fixture(scope="module", params=["ko", "zh", "en"])
def compiled(request: pytest.FixtureRequest) -> CompiledScript:
    script, _ = load_script(ROOT / f"scripts/reminder-{request.param}.yaml")
    return compile_script(script)


def debtor(language: str, **extra: object) -> Debtor:
    fields: dict[str, object] = {"id": "D-1", "name": "Kim", "phone": "+821055550001",
                                 "amount": Decimal("300000"), "language": language}
    fields.update(extra)
    return Debtor(**fields)  # type: ignore[arg-type]


async def talk(compiled: CompiledScript, replies: list[object], person: Debtor | None = None
               ) -> tuple[object, list[str], list[DialogueEvent]]:
    lang = compiled.script.language
    queue = [SAY[lang].get(r, r) if isinstance(r, str) else r for r in replies]
    shown: list[str] = []
    events: list[DialogueEvent] = []
    channel = ChatChannel(lambda spec: queue.pop(0) if queue else None, shown.append)
    result = await chat(compiled, person or debtor(lang), channel, today=TODAY, events=events)
    return result, shown, events


@pytest.mark.parametrize("scenario", list(SCENARIOS))
async def test_every_outcome(compiled: CompiledScript, scenario: str) -> None:
    replies, outcome, detail = SCENARIOS[scenario]
    result, shown, events = await talk(compiled, replies)
    assert result.outcome is outcome, "\n".join(shown)  # type: ignore[attr-defined]
    for key, value in detail.items():
        assert result.detail[key] == value  # type: ignore[attr-defined]
    assert events[0].kind is EventKind.STATE and events[0].data["step"] == "greet"


async def test_debt_is_told_only_after_identification(compiled: CompiledScript) -> None:
    _, shown, _ = await talk(compiled, ["wrong"])
    spoken = " ".join(shown)
    amount = {"ko": "삼십 만", "zh": "三十万", "en": "three hundred thousand"}[compiled.script.language]
    assert amount not in spoken
    _, shown, _ = await talk(compiled, ["yes", "tomorrow"])
    assert amount in " ".join(shown)


async def test_empty_debtor_field_ends_politely_with_a_reason(compiled: CompiledScript) -> None:
    result, shown, events = await talk(compiled, ["yes"], debtor(compiled.script.language, name=""))
    assert result.outcome is Outcome.ERROR  # type: ignore[attr-defined]
    assert "'name' is empty" in result.detail["reason"]  # type: ignore[attr-defined]
    assert shown[-1] == "robot: (hangs up)"
    assert [e for e in events if e.kind is EventKind.ERROR]


def test_chat_command_with_a_replies_file(tmp_path: Path) -> None:
    (tmp_path / "replies.yaml").write_text('replies: ["네", "내일 낼게요"]\n')
    done = subprocess.run(
        [sys.executable, "-m", "bot", "script", "chat", str(ROOT / "scripts/reminder-ko.yaml"),
         "--debtor", "name=김민준", "--debtor", "amount=300000", "--replies", str(tmp_path / "replies.yaml"),
         "--today", "2026-12-31"],
        capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "COLLBOT__LOG__FILE": str(tmp_path / "log")})
    assert done.returncode == 0, done.stderr
    assert "path: greet > verify > ask > check_date > bye_promise" in done.stdout
    assert "outcome: promise_to_pay (promise_date=2027-01-01, promise_amount=300000)" in done.stdout
    assert "삼십 만 원" in done.stdout and "일월 일일" in done.stdout


@pytest.mark.parametrize(("said", "outcome", "detail"), [
    ({"ko": "한 시간 뒤에 다시 전화 주세요", "zh": "一个 小时 以后 再 打", "en": "call me back in an hour"},
     Outcome.CALLBACK, {"callback_at": "in 60 min"}),
    ({"ko": "내일 오후 세 시쯤 다시 전화 주세요", "zh": "明天 下午 三点 再 打",
      "en": "call me back tomorrow at three pm"},
     Outcome.CALLBACK, {"callback_at": "tomorrow 15:00"}),
    ({"ko": "내일", "zh": "明天", "en": "tomorrow"}, Outcome.PROMISE_TO_PAY, {"promise_date": TOMORROW.isoformat()}),
])
async def test_a_callback_time_is_captured_and_a_day_alone_stays_a_promise(
        compiled: CompiledScript, said: dict[str, str], outcome: Outcome, detail: dict[str, str]) -> None:
    # a spoken promise is confirmed before it is stored: the last "yes" answers that question
    result, shown, _ = await talk(compiled, ["yes", said[compiled.script.language], "yes"])
    assert result.outcome is outcome, "\n".join(shown)  # type: ignore[attr-defined]
    for key, value in detail.items():
        assert result.detail[key] == value  # type: ignore[attr-defined]


@pytest.mark.parametrize("replies", [["stop"], ["yes", {"dtmf": "9"}]], ids=["speech", "key"])
async def test_a_taken_opt_out_is_stored_with_its_kind_before_the_call_ends(
        compiled: CompiledScript, replies: list[object]) -> None:
    """A call cut after this event is still known to be an opt-out (bot.campaign.interrupted)."""
    _, _, events = await talk(compiled, replies)
    taken = [e.data for e in events if e.kind is EventKind.STATE and "intent" in e.data]
    assert taken[-1].get("kind") == "opt_out"
    assert all(t.get("kind") != "opt_out" for t in taken[:-1])
