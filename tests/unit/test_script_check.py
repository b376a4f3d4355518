"""`collbot script check` on a corpus of broken scripts and on the example scripts.

Each file in tests/scripts/broken has one defect; its first line, ``# expect: TEXT``, is what
the check must say about it. The Korean vocabulary comes from the real Vosk model.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.dialogue.checker import MissingWords, check, check_file, load_script
from bot.dialogue.schema import Script
from bot.dialogue.slots import slot_phrases
from bot.errors import ConfigError
from bot.speech.asr import Recognizer

ROOT = Path(__file__).resolve().parents[2]
BROKEN = ROOT / "tests" / "scripts" / "broken"
EXAMPLES = ROOT / "scripts"
EXPECT = "# expect: "

# Corpus files whose defect the checker does not report yet: name -> reason. Each is marked
# xfail(strict=True), so closing the gap turns it into a failure until the entry is removed.
GAPS: dict[str, str] = {}

CORPUS = sorted(BROKEN.glob("*.yaml"))


@pytest.fixture(scope="module")
def missing_words() -> Iterator[MissingWords]:
    """The real Korean model's vocabulary check (loads the model once, ~2 s)."""
    recognizer = Recognizer(None, workers=1)
    yield recognizer.missing_words
    recognizer.close()


def check_text(path: Path, missing_words: MissingWords | None = None) -> str:
    """Everything the check says about ``path``, one problem per line ('' when it passes)."""
    try:
        script, loaded = load_script(path)
    except ConfigError as exc:
        return str(exc)
    return "\n".join(map(str, check(script, loaded, missing_words=missing_words)))


def expectation(path: Path) -> str:
    first = path.read_text(encoding="utf-8").splitlines()[0] if path.stat().st_size else ""
    assert first.startswith(EXPECT), f"{path.name}: the first line must be '{EXPECT}<text>'"
    expected = first.removeprefix(EXPECT).strip()
    assert expected, f"{path.name}: empty expectation"
    return expected


def corpus_params() -> list[Any]:
    return [
        pytest.param(path, id=path.name,
                     marks=[pytest.mark.xfail(strict=True, reason=GAPS[path.name])] if path.name in GAPS else [])
        for path in CORPUS
    ]


# --- The corpus ----------------------------------------------------------------------------


def test_corpus_is_complete() -> None:
    assert len(CORPUS) >= 32
    names = {path.name for path in CORPUS}
    assert set(GAPS) <= names, "a GAPS entry names no corpus file"
    for path in CORPUS:
        assert re.fullmatch(r"\d\d-[a-z0-9-]+\.yaml", path.name), path.name
        expectation(path)


@pytest.mark.parametrize("path", corpus_params())
def test_broken_script_is_reported(path: Path, missing_words: MissingWords) -> None:
    expected = expectation(path)
    text = check_text(path, missing_words)
    assert expected in text, f"{path.name}: expected {expected!r} in:\n{text or '(no problem reported)'}"


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.name)
def test_messages_are_plain_lines_that_name_the_file(path: Path, missing_words: MissingWords) -> None:
    text = check_text(path, missing_words)
    for marker in ("Traceback", 'File "', "errors.pydantic.dev", "validation error for", "[type="):
        assert marker not in text, f"{path.name}: {marker!r} in:\n{text}"
    for line in text.splitlines():
        assert line.startswith(f"{path}:"), f"{path.name}: a line that does not name the file: {line!r}"


@pytest.mark.parametrize("content", [b"", b"\n\n", "\ufeff".encode(), b"# only a comment\n"])
def test_an_empty_file_names_the_required_keys(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "empty.yaml"
    path.write_bytes(content)
    text = check_text(path)
    for key in ("script", "language", "start", "steps"):
        assert f"{path}: {key}: missing required key {key!r}" in text


@pytest.mark.parametrize("file", ["../../etc/passwd", "/etc/passwd", "prompts/../../etc/passwd", "a/..",
                                  "..", "~/prompt.wav", "C:\\prompt.wav"])
def test_recorded_prompt_outside_the_sounds_directory_is_refused(tmp_path: Path, file: str) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(f"script: s\nlanguage: ko\nstart: a\nsteps:\n  a: {{say: {{file: '{file}'}}, "
                    "outcome: refused, end: true}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"s\.yaml:5:7: steps\.a\.say: .*inside the sounds directory"):
        load_script(path)


# --- The example scripts -------------------------------------------------------------------


def test_korean_example_passes_with_the_vocabulary(missing_words: MissingWords) -> None:
    # As `collbot script check` runs it: the date and amount phrases of captures included.
    script = check_file(EXAMPLES / "reminder-ko.yaml", missing_words=missing_words, slot_phrases=slot_phrases)
    assert script.language == "ko"


@pytest.mark.parametrize(("name", "language", "model"), [
    ("reminder-zh.yaml", "zh", "vosk-model-small-cn-0.22"),
    ("reminder-en.yaml", "en", "vosk-model-small-en-us-0.15"),
])
def test_other_examples_pass_without_their_models(name: str, language: str, model: str) -> None:
    assert check_text(EXAMPLES / name) == ""
    script, _ = load_script(EXAMPLES / name)
    assert (script.language, script.asr_model) == (language, model)


def shape(script: Script) -> dict[str, Any]:
    """Everything but the words: steps, ways on, intents, keys, slots, outcomes, placeholders."""
    def retry(r: Any) -> Any:
        return None if r is None else (r.retries, r.goto, sorted(script.placeholders(r.say or "")))

    steps: dict[str, Any] = {}
    for name, step in script.steps.items():
        listen = step.listen
        steps[name] = {
            "say": sorted(script.placeholders(step.say)) if isinstance(step.say, str) else step.say,
            "goto": step.goto, "end": step.end, "outcome": step.outcome, "action": step.action,
            "branch": step.branch,
            "listen": None if listen is None else {
                "intents": {i: (bool(v.phrases), v.dtmf, v.capture, v.set, v.goto) for i, v in listen.intents.items()},
                "no_input": retry(listen.no_input), "no_match": retry(listen.no_match),
                "timing": (listen.timeout_s, listen.max_speech_s, listen.globals),
            },
        }
    return {
        "identification": script.identification, "fields": script.fields, "start": script.start,
        "globals": {g: (bool(v.phrases), v.dtmf, v.goto) for g, v in script.globals.items()},
        "steps": steps,
    }


@pytest.mark.parametrize("name", ["reminder-zh.yaml", "reminder-en.yaml"])
def test_examples_are_the_same_call_in_each_language(name: str) -> None:
    korean, _ = load_script(EXAMPLES / "reminder-ko.yaml")
    other, _ = load_script(EXAMPLES / name)
    assert shape(other) == shape(korean)


def test_english_phrases_are_lower_case_words() -> None:
    script, _ = load_script(EXAMPLES / "reminder-en.yaml")
    intents = [*script.globals.values()]
    for step in script.steps.values():
        intents += list(step.listen.intents.values()) if step.listen else []
    phrases = [p for intent in intents for p in intent.phrases]
    assert phrases
    for phrase in phrases:
        assert re.fullmatch(r"[a-z]+( [a-z]+)*", phrase), phrase


# --- Several problems at once --------------------------------------------------------------

MANY = """\
script: many-problems
language: ko
identification: verify
fields: [name, amount]
globals:
  opt_out: {phrases: ["전화 하지 마세요"], dtmf: "9", goto: bye}
start: greet
steps:
  greet:
    say: "{name} 고객님, {amount} 건입니다. {balance}"
    listen:
      intents:
        is_me: {phrases: ["네"], dtmf: "1", goto: verify}
        later: {phrases: ["네", "내일 갚을게요"], dtmf: "9", goto: bye}
  verify: {say: "확인 감사합니다.", goto: loop}
  loop: {say: "잠시만요 }", goto: verify}
  orphan: {say: "감사합니다.", outcome: refused, end: true}
  bye: {say: "감사합니다.", outcome: refused, end: true}
"""


def test_check_reports_every_problem_at_once(tmp_path: Path, missing_words: MissingWords) -> None:
    path = tmp_path / "many.yaml"
    path.write_text(MANY, encoding="utf-8")
    text = check_text(path, missing_words)
    expected = [
        ":10:5: steps.greet.say: mentions {amount} before the identification step 'verify'",
        ":10:5: steps.greet.say: placeholder {balance} is neither a declared field nor a slot",
        ":11:5: steps.greet.listen: a listen step needs a no_input path",
        ":12:7: steps.greet.listen.intents: phrase '네' belongs to both 'is_me' and 'later'",
        ":12:7: steps.greet.listen.intents: key '9' belongs to both 'later' and 'globals.opt_out'",
        ":14:32: steps.greet.listen.intents.later.phrases[1]: '갚을게요' (in '내일 갚을게요') is not in the",
        ":15:3: steps.verify: no end step can be reached from here (a loop without exit)",
        ":16:3: steps.loop: no end step can be reached from here (a loop without exit)",
        ":16:10: steps.loop.say: a brace that is not a {placeholder}",
        ":17:3: steps.orphan: unreachable from the start step",
    ]
    for part in expected:
        assert part in text, f"{part!r} missing from:\n{text}"
    lines = text.splitlines()
    assert len(lines) == len(expected)
    positions = [tuple(int(n) for n in line.split(": ", 1)[0].split(":")[-2:]) for line in lines]
    assert positions == sorted(positions), "problems are listed in file order"
    with pytest.raises(ConfigError) as caught:
        check_file(path, missing_words=missing_words)
    assert str(caught.value) == text


def test_unknown_targets_are_all_reported_together(tmp_path: Path) -> None:
    path = tmp_path / "targets.yaml"
    path.write_text("""\
script: targets
language: ko
start: gret
steps:
  greet: {say: "안녕하세요.", goto: by}
  ask:
    branch:
      - {if: {counter: greet, ge: 2}, goto: bey}
      - {else: true, goto: bye}
  bye: {say: "감사합니다.", outcome: refused, end: true}
""", encoding="utf-8")
    lines = check_text(path).splitlines()
    assert [line.split(": ", 1)[1] for line in lines] == [
        "start: unknown step 'gret'; did you mean 'greet'?",
        "steps.greet.goto: unknown step 'by'; did you mean 'bye'?",
        "steps.ask.branch[0].goto: unknown step 'bey'; did you mean 'bye'?",
    ]


def test_schema_errors_are_all_listed_in_one_error(tmp_path: Path) -> None:
    path = tmp_path / "schema.yaml"
    path.write_text("""\
script: schema
language: ko
rate: 1000
start: greet
steps:
  greet:
    say: "안녕하세요."
    listen:
      intents:
        is_me: {phrases: ["네"], dtmf: x, goto: bye}
      no_imput: {goto: bye}
  bye: {say: "감사합니다.", outcome: paid, end: true}
""", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_script(path)
    lines = str(caught.value).splitlines()
    assert [line.split(": ", 2)[1] for line in lines] == [
        "rate",
        "steps.greet.listen.intents.is_me.dtmf",
        "steps.greet.listen.no_imput",
        "steps.bye.outcome",
    ]
    assert "did you mean 'no_input'?" in lines[2]
