"""A script step can record a contact restriction the customer asks for in the call; it is kept in the
outcome's detail (even if the customer hangs up next) and bad hours are refused with file:line."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from bot.commands import chat
from bot.dialogue.chat import ChatChannel
from bot.dialogue.checker import check, load_script
from bot.dialogue.compiler import compile_script
from bot.domain import Debtor, Outcome
from bot.errors import ConfigError

KIM = Debtor("D-1", "Kim", "+821055550001", Decimal(1))
TODAY = dt.date(2026, 12, 7)
SCRIPT = """\
script: t
language: ko
globals:
  opt_out: {{phrases: ["전화 하지 마세요"], dtmf: "9", goto: bye}}
start: greet
steps:
  greet:
    say: "안녕하세요."
    listen:
      intents:
        work: {{phrases: ["회사"], dtmf: "3", goto: noted}}
      no_input: {{goto: bye}}
  noted:
    say: "알겠습니다, 근무 시간에는 전화 드리지 않겠습니다. 다른 말씀 있으세요?"
    contact_request: {{hours: ["{hours}"], means: [phone]}}
    listen:
      intents:
        nothing: {{phrases: ["없어요"], goto: later}}
      no_input: {{goto: later}}
  later:
    say: "감사합니다."
    outcome: callback
    end: true
  bye:
    say: "알겠습니다."
    outcome: opt_out
    end: true
"""


def script(tmp_path: Path, hours: str = "mon-fri 09:00-18:00"):
    path = tmp_path / "t.yaml"
    path.write_text(SCRIPT.format(hours=hours), encoding="utf-8")
    loaded_script, loaded = load_script(path)
    assert [str(p) for p in check(loaded_script, loaded)] == []
    return compile_script(loaded_script)


@pytest.mark.parametrize(("replies", "outcome"), [([{"dtmf": "3"}, "없어요"], Outcome.CALLBACK),
                                                   ([{"dtmf": "3"}, {"hangup": True}], Outcome.HUNG_UP)])
async def test_the_request_is_in_the_outcome(tmp_path: Path, replies: list[object], outcome: Outcome) -> None:
    queue = list(replies)
    channel = ChatChannel(lambda spec: queue.pop(0) if queue else None, lambda _: None)
    result = await chat(script(tmp_path), KIM, channel, today=TODAY, events=[])
    assert result.outcome == outcome
    assert result.detail["contact_requests"] == [{"hours": ["mon-fri 09:00-18:00"], "means": ["phone"],
                                                  "step": "noted"}]


async def test_no_request_without_the_step(tmp_path: Path) -> None:
    queue: list[object] = [{"dtmf": "9"}]
    channel = ChatChannel(lambda spec: queue.pop(0) if queue else None, lambda _: None)
    result = await chat(script(tmp_path), KIM, channel, today=TODAY, events=[])
    assert "contact_requests" not in result.detail


def test_bad_hours_in_a_script_name_the_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        script(tmp_path, hours="mon-fri 9-18")
    assert f"{tmp_path / 't.yaml'}:15:" in str(caught.value) and "hours 'mon-fri 9-18'" in str(caught.value)
