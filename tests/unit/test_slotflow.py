"""The checker proves every slot placeholder is set on every path to its prompt, and that a recording
notice (kr) is played before the first listen; each problem names file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.dialogue.checker import check, load_script
from tests.cli import collbot

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """\
script: t
language: ko
globals:
  opt_out: {{phrases: ["전화 하지 마세요"], dtmf: "9", goto: bye_opt_out}}
{notice}start: greet
steps:
  greet:
    say: "이 통화는 녹음됩니다. 얼마를 내실 수 있나요?"
    listen:
      intents:
        amount: {{phrases: ["만 원"], capture: {{promise_amount: amount}}, {key}goto: {after}}}
      no_input: {{goto: bye}}
  check:
    branch:
      - {{if: {{slot: promise_amount, set: true}}, goto: confirm}}
      - {{else: true, goto: bye}}
  confirm:
    say: "{{promise_amount}} 약속 감사합니다."
    outcome: promise_to_pay
    end: true
  bye:
    say: "안녕히 계세요."
    outcome: no_response
    end: true
  bye_opt_out:
    say: "알겠습니다."
    outcome: opt_out
    end: true
"""


def problems(tmp_path: Path, *, key: str = 'dtmf: "1", ', after: str = "confirm", notice: str = "",
             required: bool = False) -> list[str]:
    path = tmp_path / "t.yaml"
    text = SCRIPT.format(key=key, after=after, notice=notice)
    if after == "confirm":
        text = text.replace("  check:\n    branch:\n      - {if: {slot: promise_amount, set: true}, goto: confirm}\n"
                            "      - {else: true, goto: bye}\n", "")
    path.write_text(text, encoding="utf-8")
    script, loaded = load_script(path)
    return [str(p) for p in check(script, loaded, require_recording_notice=required)]


def test_a_keypress_path_that_skips_the_capture_is_refused_with_file_line(tmp_path: Path) -> None:
    [problem] = problems(tmp_path)
    assert problem.startswith(f"{tmp_path / 't.yaml'}:14:5: steps.confirm.say: ")
    assert "{promise_amount} may be unset here" in problem
    assert "greet -[intent amount (key 1)]-> confirm" in problem


def test_speech_only_capture_sets_the_slot_on_every_path(tmp_path: Path) -> None:
    assert problems(tmp_path, key="") == []


def test_a_phrase_that_cannot_be_parsed_leaves_the_slot_unset(tmp_path: Path) -> None:
    path_problems = problems(tmp_path, key="")
    assert path_problems == []
    text = SCRIPT.format(key="", after="confirm", notice="").replace('["만 원"]', '["네"]')
    text = text.replace("  check:\n    branch:\n      - {if: {slot: promise_amount, set: true}, goto: confirm}\n"
                        "      - {else: true, goto: bye}\n", "")
    (tmp_path / "p.yaml").write_text(text, encoding="utf-8")
    script, loaded = load_script(tmp_path / "p.yaml")
    [problem] = [str(p) for p in check(script, loaded)]
    assert "intent amount (phrase '네')" in problem


def test_a_branch_that_tests_the_slot_guards_the_prompt(tmp_path: Path) -> None:
    assert problems(tmp_path, after="check") == []


def test_the_recording_notice(tmp_path: Path) -> None:
    assert problems(tmp_path, key="", notice="recording_notice: greet\n", required=True) == []
    [missing] = problems(tmp_path, key="", required=True)
    assert "requires a recording notice" in missing and ":5:" in missing  # the start: line
    [late] = problems(tmp_path, key="", notice="recording_notice: confirm\n", required=True)
    assert "listens before the recording notice 'confirm'" in late
    [unknown] = problems(tmp_path, key="", notice="recording_notice: gret\n")
    assert "unknown step 'gret'; did you mean 'greet'?" in unknown


@pytest.mark.parametrize("name", ["reminder-ko", "reminder-en", "reminder-zh"])
def test_the_shipped_scripts_pass_the_path_analysis(name: str) -> None:
    script, loaded = load_script(ROOT / "scripts" / f"{name}.yaml")
    assert [str(p) for p in check(script, loaded)] == []


def test_script_check_pack_kr_asks_for_the_notice(tmp_path: Path) -> None:
    done = collbot("script", "check", str(ROOT / "scripts" / "reminder-ko.yaml"), "--pack", "kr", cwd=tmp_path)
    assert done.returncode == 1 and "requires a recording notice" in done.stderr
    done = collbot("script", "check", str(ROOT / "scripts" / "reminder-ko.yaml"), "--pack", "nope", cwd=tmp_path)
    assert done.returncode == 1 and done.stderr.strip().splitlines() == [
        "collbot: error: --pack 'nope': known packs are default, us_reg_f, us_ma_ny, cn_2026, kr"]


def test_a_kr_campaign_does_not_start_with_a_script_without_a_notice(tmp_path: Path) -> None:
    campaign = tmp_path / "c.yaml"
    campaign.write_text(f"campaign: k\nscript: {ROOT / 'scripts' / 'reminder-ko.yaml'}\n"
                        "rounds: [{name: first, retries: [new]}]\ncompliance: {pack: kr}\n", encoding="utf-8")
    done = collbot("run", "--dry-run", str(campaign), cwd=tmp_path, database=True)
    assert done.returncode == 1
    assert "cannot start" in done.stderr and "requires a recording notice" in done.stderr
