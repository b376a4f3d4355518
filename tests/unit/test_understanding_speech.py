"""Paraphrases spoken by espeak-ng, recognized by the real Korean Vosk model with a step's
open grammar, then understood: the words the customer chose, not the script's."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bot.dialogue.checker import load_script
from bot.dialogue.compiler import CompiledScript, compile_script
from bot.speech.asr import Recognizer, best_sequence
from bot.speech.tts import Synthesizer
from bot.speech.wav import read_pcm

ROOT = Path(__file__).parents[2]
TODAY = dt.date(2026, 12, 7)
SPOKEN = ["모레 낼게요", "그만 연락 하지 마세요", "네 맞습니다", "누구세요", "돈이 없어서 못 내요", "네"]


@pytest.fixture(scope="module")
def compiled() -> CompiledScript:
    script, _ = load_script(ROOT / "scripts/reminder-ko.yaml")
    return compile_script(script)


@pytest.fixture(scope="module")
def audio(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    async def render() -> dict[str, bytes]:
        async with Synthesizer(tmp_path_factory.mktemp("prompts"), rate=170) as synth:
            return {text: read_pcm(await synth.prompt(text, "ko")) for text in SPOKEN}

    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, render()).result()


@pytest.fixture
async def recognizer() -> AsyncIterator[Recognizer]:
    async with Recognizer(None, workers=2) as rec:
        await rec.load()
        yield rec


async def heard(recognizer: Recognizer, compiled: CompiledScript, step: str, pcm: bytes) -> tuple[str, float]:
    stream = recognizer.stream(compiled.models[step].grammar)
    for i in range(0, len(pcm), 3200):
        await stream.feed(pcm[i : i + 3200])
    try:
        return await stream.result()
    finally:
        stream.close()


@pytest.mark.parametrize(("step", "text", "intent"), [
    ("ask", "그만 연락 하지 마세요", "globals.opt_out"),
    ("greet", "네 맞습니다", "is_me"),
])
async def test_spoken_paraphrases_are_understood(recognizer: Recognizer, compiled: CompiledScript,
                                                 audio: dict[str, bytes], step: str, text: str, intent: str):
    words, confidence = await heard(recognizer, compiled, step, audio[text])
    u = compiled.models[step].understand(words, confidence, TODAY, audio_ms=1000)
    assert u.intent == intent, words
    if intent == "promise":
        assert u.slots == {"promise_date": dt.date(2026, 12, 9)}


@pytest.mark.parametrize("text", ["모레 낼게요", "돈이 없어서 못 내요"])
async def test_a_misheard_consequential_answer_is_never_certain(recognizer: Recognizer, compiled: CompiledScript,
                                                                audio: dict[str, bytes], text: str):
    # espeak-ng Korean is often misheard ("모레 낼게요" as "못 내요 ..."): then the robot must ask
    words, confidence = await heard(recognizer, compiled, "ask", audio[text])
    u = compiled.models["ask"].understand(words, confidence, TODAY, audio_ms=1000)
    right = {"모레 낼게요": "promise", "돈이 없어서 못 내요": "refuse"}[text]
    if u.intent != right or (right == "promise" and u.slots.get("promise_date") != dt.date(2026, 12, 9)):
        assert not u.certain, (words, confidence)


async def test_a_spoken_question_back_is_not_an_answer(recognizer: Recognizer, compiled: CompiledScript,
                                                       audio: dict[str, bytes]):
    words, confidence = await heard(recognizer, compiled, "greet", audio["누구세요"])
    u = compiled.models["greet"].understand(words, confidence, TODAY, audio_ms=1000)
    assert u.intent not in ("not_me", "globals.wrong_number")


async def test_a_spoken_backchannel_is_no_promise(recognizer: Recognizer, compiled: CompiledScript,
                                                  audio: dict[str, bytes]):
    words, confidence = await heard(recognizer, compiled, "ask", audio["네"])
    u = compiled.models["ask"].understand(words, confidence, TODAY, audio_ms=1000)
    # espeak-ng's "네" comes out as "내요" or "내일": never a promise stored without asking
    assert not (u.matched and u.certain), (words, confidence)


def test_an_open_grammar_answers_with_the_word_sequence_it_heard() -> None:
    segment = {"alternatives": [{"text": "모레 낼게요", "confidence": 10.0}, {"text": "못 내요", "confidence": 8.0},
                                {"text": "[unk] 낼게요", "confidence": 5.0}]}
    text, share = best_sequence([segment])
    assert text == "모레 낼게요" and 0.8 < share < 1.0
    assert best_sequence([{"alternatives": [{"text": "", "confidence": 1.0}]}]) == ("", 0.0)


async def test_every_built_in_korean_phrase_is_in_the_model_vocabulary(recognizer: Recognizer) -> None:
    from bot.understanding.phrases import KO

    phrases = [p for kind_phrases in KO.values() for p in kind_phrases]
    assert recognizer.missing_words(phrases) == []


def test_speech_is_never_certain() -> None:
    text, share = best_sequence([{"alternatives": [{"text": "모레 낼게요", "confidence": 10.0}]}],
                                frozenset({"모레 낼게요"}))
    assert text == "모레 낼게요" and share < 1.0
