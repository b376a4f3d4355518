"""The understanding bench's own parts: the corpus file, what its labels mean, how results score."""

from __future__ import annotations

import datetime as dt
import importlib.util
import sys
from decimal import Decimal
from pathlib import Path
from types import ModuleType

import pytest

from bot.errors import ConfigError

BENCH = Path(__file__).resolve().parents[2] / "bench"
CORPUS = BENCH / "corpus" / "ko.yaml"


def _load(name: str) -> ModuleType:
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCH))


cm = _load("corpus_model")
MONDAY = dt.date(2026, 12, 7)


def test_the_corpus_is_large_varied_and_labelled_with_the_scripts_intents() -> None:
    corpus = cm.load_corpus(CORPUS)
    items = corpus.items
    assert len(items) >= 350
    kinds = {(i.step, i.intent) for i in items}
    for wanted in [("greet", "is_me"), ("greet", "not_me"), ("greet", "no_match"), ("ask", "today"),
                   ("ask", "promise"), ("ask", "refuse"), ("ask", "callback"), ("ask", "no_match"),
                   ("greet", "opt_out"), ("ask", "opt_out"), ("ask", "human"), ("ask", "already_paid"),
                   ("greet", "wrong_number")]:
        assert wanted in kinds
    assert sum(i.intent == "opt_out" for i in items) >= 40
    assert any(i.date == "none" for i in items) and any(i.amount for i in items)
    splits = [i.split for i in items]
    assert 0.2 < splits.count("test") / len(splits) < 0.4
    # every promise date rule resolves (or is 'none' on purpose) whatever the day
    for today in (MONDAY, dt.date(2027, 1, 31), dt.date(2028, 2, 29)):
        for item in items:
            if item.intent == "promise" and item.date != "none":
                assert cm.resolve_date(item.date, today) is not None, item


@pytest.mark.parametrize(("rule", "today", "want"), [
    ("+2d", MONDAY, dt.date(2026, 12, 9)),
    ("friday", MONDAY, dt.date(2026, 12, 11)),
    ("monday", MONDAY, dt.date(2026, 12, 14)),  # a bare weekday is never today
    ("this monday", MONDAY, MONDAY),
    ("next monday", dt.date(2026, 12, 13), dt.date(2026, 12, 14)),  # said on a Sunday
    ("next friday", MONDAY, dt.date(2026, 12, 18)),
    ("day 15", MONDAY, dt.date(2026, 12, 15)),
    ("day 5", MONDAY, dt.date(2027, 1, 5)),
    ("day 31", dt.date(2027, 2, 1), dt.date(2027, 3, 31)),
    ("next month day 5", MONDAY, dt.date(2027, 1, 5)),
    ("next month day 31", dt.date(2027, 1, 10), None),  # February has no 31st
    ("12-20", MONDAY, dt.date(2026, 12, 20)),
    ("01-05", MONDAY, dt.date(2027, 1, 5)),
    ("02-29", MONDAY, dt.date(2028, 2, 29)),
    ("end of month", dt.date(2027, 2, 3), dt.date(2027, 2, 28)),
    ("none", MONDAY, None),
    (None, MONDAY, MONDAY),  # 'today' carries no rule
])
def test_date_rules(rule: str | None, today: dt.date, want: dt.date | None) -> None:
    assert cm.resolve_date(rule, today) == want


def _corpus(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(f"language: ko\nscript: scripts/reminder-ko.yaml\ndebt_amount: 300000\n"
                    f"consequential: [today, promise, refuse, already_paid, wrong_number, not_me, opt_out]\n"
                    f"items:\n{body}")
    return path


@pytest.mark.parametrize(("line", "message"), [
    ('- {step: greet, intent: promise, date: +1d, text: "내일"}', r"c.yaml:7: .*'promise' is not one of"),
    ('- {step: nowhere, intent: is_me, text: "네"}', r"c.yaml:7: .*no listening step"),
    ('- {step: ask, intent: promise, text: "내일"}', r"c.yaml:7: .*needs a date rule"),
    ('- {step: ask, intent: promise, date: soon, text: "곧"}', r"c.yaml:7: .*not a rule"),
    ('- {step: ask, intent: refuse, amount: 5, text: "못 내요"}', r"c.yaml:7: .*only today/promise"),
    ('- {step: ask, intent: refuse, text: "못 내요", mood: sad}', r"c.yaml:7: .*mood"),
])
def test_bad_items_name_their_line(tmp_path: Path, line: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        cm.load_corpus(_corpus(tmp_path, '- {step: greet, intent: is_me, text: "네 맞아요"}\n' + line + "\n"))


def _trial(step: str, intent: str, got: object, date: str | None = None, amount: int | None = None,
           text: str = "x") -> object:
    item = cm.Item(step=step, intent=intent, text=text, date=date, amount=amount)
    return cm.Trial(item, "ko", "clean", got)


def test_scores_count_consequential_errors_as_defined(tmp_path: Path) -> None:
    corpus = cm.load_corpus(_corpus(tmp_path, '- {step: greet, intent: is_me, text: "네"}\n'))
    U = cm.Understood
    tomorrow, day_after = MONDAY + dt.timedelta(1), MONDAY + dt.timedelta(2)
    trials = [
        _trial("ask", "promise", U("promise", day_after), "+2d", text="a"),  # right
        _trial("ask", "promise", U("promise", tomorrow), "+2d", text="b"),  # wrong date: consequential
        _trial("ask", "promise", U("refuse"), "+2d", text="c"),  # a promise stored as a refusal
        _trial("ask", "promise", U("promise", None), "none", text="d"),  # vague, asked again: fine
        _trial("ask", "promise", U("promise", tomorrow), "none", text="e"),  # vague became a date
        _trial("ask", "today", U("promise", MONDAY), text="f"),  # the same as 'today'
        _trial("ask", "promise", U("promise", tomorrow), "+1d", 100000, text="g"),  # whole debt, not 100000
        _trial("ask", "promise", U("promise", tomorrow, Decimal(100000)), "+1d", 100000, text="h"),
        _trial("ask", "no_match", U("promise", tomorrow), text="i"),  # "네" forced into a promise
        _trial("ask", "no_match", U("no_match"), text="j"),
        _trial("ask", "no_match", U("no_input"), text="k"),
        _trial("ask", "opt_out", U("no_match"), text="l"),  # missed: not stored, but recall drops
        _trial("ask", "opt_out", U("opt_out"), text="m"),
        _trial("greet", "not_me", U("wrong_number"), text="n"),  # the same outcome
        _trial("ask", "callback", U("human"), text="o"),  # wrong, but nothing consequential stored
    ]
    got = cm.score(trials, corpus, MONDAY)
    assert got["trials"] == 15 and got["in_scope"] == 12
    assert got["intent_accuracy_pct"] == round(100 * 9 / 12, 2)
    assert got["consequential_errors"] == 5  # b, c, e, g, i
    assert {e["text"] for e in got["consequential_examples"]} == {"b", "c", "e", "g", "i"}
    assert got["opt_out_recall_pct"] == 50.0
    assert got["promise_date_accuracy_pct"] == round(100 * 4 / 5, 2)  # a, b, f, g, h have a date
    assert (got["promise_date_wrong_pct"], got["promise_date_asked_pct"]) == (20.0, 0.0)  # b
    assert (got["no_match_handled_pct"], got["no_match_as_no_input_pct"]) == (round(100 / 3, 2), round(100 / 3, 2))
    assert got["confusion"]["promise -> refuse"] == 1
    assert got["confusion"]["wrong_number -> wrong_number"] == 1


def test_answers_the_robot_confirms_are_not_counted_as_stored_without_asking(tmp_path: Path) -> None:
    corpus = cm.load_corpus(_corpus(tmp_path, '- {step: greet, intent: is_me, text: "네"}\n'))
    U = cm.Understood
    tomorrow, day_after = MONDAY + dt.timedelta(1), MONDAY + dt.timedelta(2)
    trials = [
        _trial("ask", "promise", U("promise", tomorrow, asks=True), "+2d", text="a"),  # wrong, but asked
        _trial("ask", "promise", U("promise", tomorrow), "+2d", text="b"),  # wrong and stored
        _trial("ask", "promise", U("promise", day_after, asks=True), "+2d", text="c"),  # right, asked
        _trial("ask", "opt_out", U("opt_out", asks=True), text="d"),  # caught by the confirmation
        _trial("ask", "opt_out", U("no_match"), text="e"),
        _trial("ask", "no_match", U("no_match"), text="f"),
    ]
    got = cm.score(trials, corpus, MONDAY)
    assert (got["consequential_errors"], got["stored_unasked_errors"]) == (2, 1)
    assert (got["confirmations"], got["confirmations_of_wrong"], got["opt_out_confirmed"]) == (3, 1, 1)
    assert got["opt_out_recall_pct"] == 50.0
    assert got["no_match_pct"] == round(100 * 2 / 6, 2) and got["in_scope_no_match_pct"] == 20.0


e2e = _load("understanding_e2e")


def _events(*pairs: tuple[str, dict[str, object]]) -> list[object]:
    from bot.domain import DialogueEvent, EventKind

    return [DialogueEvent(EventKind(kind), data) for kind, data in pairs]


def test_the_end_to_end_bench_reads_what_the_robot_made_of_an_answer() -> None:
    greet_ok = _events(("state", {"step": "greet"}), ("prompt", {"text": "..."}), ("dtmf", {"digit": "1"}),
                       ("state", {"step": "greet", "intent": "is_me", "slots": {}}), ("state", {"step": "verify"}),
                       ("state", {"step": "ask"}), ("prompt", {"text": "..."}),
                       ("recognition", {"text": "내일 낼게요", "confidence": 0.4, "audio_ms": 900}),
                       ("state", {"step": "ask", "intent": "promise", "slots": {"promise_date": "2026-12-08"}}),
                       ("state", {"step": "check_date"}))
    got = e2e.understood_at(greet_ok, "ask")
    assert (got.intent, got.date, got.heard, got.confidence) == ("promise", dt.date(2026, 12, 8), "내일 낼게요", 0.4)
    forced = _events(("state", {"step": "ask"}), ("recognition", {"text": "냈어요", "confidence": 0.1}),
                     ("state", {"step": "ask", "intent": "globals.already_paid", "slots": {}}))
    assert e2e.understood_at(forced, "ask").intent == "already_paid"
    unmatched = _events(("state", {"step": "ask"}), ("recognition", {"text": "오늘", "confidence": 0.1}),
                        ("prompt", {"text": "죄송합니다"}),
                        ("recognition", {"text": "내일 낼게요", "confidence": 0.9}),
                        ("state", {"step": "ask", "intent": "promise", "slots": {"promise_date": "2026-12-08"}}))
    first = e2e.understood_at(unmatched, "ask")  # the first answer counts, not the reprompt's
    assert (first.intent, first.heard) == ("no_match", "오늘")
    heard_nothing = _events(("state", {"step": "greet"}), ("no_input", {"audio_ms": 2100}))
    assert e2e.understood_at(heard_nothing, "greet").intent == "no_match"  # speech without text
    silent = _events(("state", {"step": "greet"}), ("no_input", {"audio_ms": 0}))
    assert e2e.understood_at(silent, "greet").intent == "no_input"
    assert e2e.understood_at(silent, "ask").intent == "no_input"  # never got there


und = _load("understanding")


def test_the_end_to_end_bench_reads_an_answer_the_robot_confirmed() -> None:
    said = ("state", {"step": "ask"}), ("prompt", {"text": "..."}), ("recognition", {"text": "모레", "confidence": 0.4})
    ask = ("prompt", {"text": "12월 9일에 납부하시는 거 맞으세요?"})
    yes = _events(*said, ask, ("recognition", {"text": "네", "confidence": 0.9}),
                  ("confirm", {"step": "ask", "intent": "promise", "answer": "yes"}),
                  ("state", {"step": "ask", "intent": "promise", "slots": {"promise_date": "2026-12-09"}}))
    got = e2e.understood_at(yes, "ask")
    assert (got.intent, got.date, got.asks, got.heard) == ("promise", MONDAY + dt.timedelta(2), True, "모레")
    silent = _events(*said, ask, ("no_input", {"audio_ms": 0}),
                     ("confirm", {"step": "ask", "intent": "globals.opt_out", "answer": "unclear"}), ask)
    got = e2e.understood_at(silent, "ask")
    assert (got.intent, got.date, got.asks) == ("opt_out", None, True)
    plain = _events(*said, ("prompt", {"text": "다시 말씀해 주세요"}))
    assert (e2e.understood_at(plain, "ask").intent, e2e.understood_at(plain, "ask").asks) == ("no_match", False)


@pytest.mark.parametrize("path", ["old", "new"])
async def test_the_adapter_runs_the_robots_listening_path_on_real_audio(tmp_path: Path, path: str) -> None:
    from bot.config import Settings
    from bot.speech.speaker import Speaker, speak
    from bot.speech.wav import read_pcm

    corpus = cm.load_corpus(CORPUS)
    listener = await und.Listener.start(Settings(), corpus)
    try:
        said = read_pcm(speak("내일 낼게요", Speaker("ko"), tmp_path / "a.wav", lead_ms=300, tail_ms=700))
        got = await und.understand(listener, "ask", said, MONDAY, path)
        assert (got.intent, got.date, got.heard) == ("promise", MONDAY + dt.timedelta(days=1), "내일 낼게요")
        yes = read_pcm(speak("네", Speaker("ko"), tmp_path / "b.wav", lead_ms=300, tail_ms=700))
        assert (await und.understand(listener, "greet", yes, MONDAY, path)).intent == "is_me"
        assert (await und.understand(listener, "greet", bytes(16_000), MONDAY, path)).intent == "no_input"
    finally:
        await listener.recognizer.aclose()
