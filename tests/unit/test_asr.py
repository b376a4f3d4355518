"""Recognition with the real Korean Vosk model, on prompts the real synthesizer rendered."""

from __future__ import annotations

import asyncio
import logging
import math
import random
from array import array
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bot.errors import SpeechError
from bot.speech.asr import RecognitionStream, Recognizer, best_phrase, best_words
from bot.speech.tts import Synthesizer
from bot.speech.wav import read_pcm

TARGETS = ["네", "아니요", "내일 낼게요", "다음주 월요일"]
DISTRACTORS = ["모레", "상담원 연결", "본인 아닙니다", "돈이 없어요", "다시 전화해 주세요"]
GRAMMAR = TARGETS + DISTRACTORS
CHUNK = 3200  # 200 ms of 8 kHz 16-bit audio, as the AGI side reads it


@pytest.fixture(scope="module")
def spoken(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The target phrases as the product's synthesizer says them, as raw 8 kHz PCM."""

    async def render() -> dict[str, bytes]:
        async with Synthesizer(tmp_path_factory.mktemp("prompts"), rate=170) as synth:
            return {phrase: read_pcm(await synth.prompt(phrase, "ko")) for phrase in TARGETS}

    # On a thread of its own, so asyncio.run leaves the test event loops alone.
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, render()).result()


@pytest.fixture
async def recognizer() -> AsyncIterator[Recognizer]:
    async with Recognizer(None, workers=2) as rec:
        await rec.load()
        yield rec


async def recognize(stream: RecognitionStream, pcm: bytes) -> tuple[str, float]:
    for i in range(0, len(pcm), CHUNK):
        await stream.feed(pcm[i : i + CHUNK])
    return await stream.result()


@pytest.mark.parametrize("phrase", TARGETS)
async def test_each_phrase_is_recognized_exactly(recognizer: Recognizer, spoken: dict[str, bytes], phrase: str):
    stream = recognizer.stream(GRAMMAR)
    text, confidence = await recognize(stream, spoken[phrase])
    stream.close()
    assert text == phrase
    assert 0.0 < confidence <= 1.0


async def test_silence_is_heard_as_nothing(recognizer: Recognizer):
    stream = recognizer.stream(GRAMMAR)
    assert await recognize(stream, bytes(16000 * 2)) == ("", 0.0)
    stream.close()


async def test_quiet_line_noise_is_not_forced_into_a_phrase(recognizer: Recognizer):
    # The Korean model has no [unk] word, so the grammar alone would say "네" to this.
    noise = random.Random(1)
    pcm = array("h", (int(noise.gauss(0, 300)) for _ in range(16000))).tobytes()
    stream = recognizer.stream(GRAMMAR)
    assert await recognize(stream, pcm) == ("", 0.0)
    stream.close()


async def test_a_stream_is_reused_turn_after_turn(recognizer: Recognizer, spoken: dict[str, bytes]):
    stream = recognizer.stream(GRAMMAR)
    assert (await recognize(stream, spoken["아니요"]))[0] == "아니요"
    assert (await recognize(stream, spoken["네"]))[0] == "네"
    stream.close()


async def test_feeds_sent_at_once_are_decoded_in_order(recognizer: Recognizer, spoken: dict[str, bytes]):
    stream = recognizer.stream(GRAMMAR)
    pcm = spoken["다음주 월요일"]
    await asyncio.gather(*(stream.feed(pcm[i : i + 640]) for i in range(0, len(pcm), 640)))
    assert (await stream.result())[0] == "다음주 월요일"
    stream.close()


async def test_streams_decode_in_parallel_on_the_pool(spoken: dict[str, bytes]):
    async with Recognizer(None, workers=4) as recognizer:
        streams = [recognizer.stream(GRAMMAR) for _ in TARGETS]
        results = await asyncio.gather(*(recognize(s, spoken[p]) for s, p in zip(streams, TARGETS, strict=True)))
        assert [text for text, _ in results] == TARGETS
        for stream in streams:
            stream.close()


async def test_free_vocabulary_stream(recognizer: Recognizer, spoken: dict[str, bytes]):
    stream = recognizer.stream(None)
    text, confidence = await recognize(stream, spoken["네"])
    stream.close()
    assert text == "네"
    assert 0.0 < confidence <= 1.0


async def test_missing_words_are_reported(recognizer: Recognizer):
    missing = recognizer.missing_words(["내일 갚을게요", "다음주 월요일", "이미 냈어요"])
    assert missing == ["갚을게요", "이미"]


async def test_a_phrase_with_unknown_words_is_dropped_with_a_warning(
    recognizer: Recognizer, spoken: dict[str, bytes], caplog: pytest.LogCaptureFixture
):
    with caplog.at_level(logging.WARNING, logger="bot.speech.asr"):
        stream = recognizer.stream(["내일 갚을게요", *GRAMMAR])
        assert (await recognize(stream, spoken["내일 낼게요"]))[0] == "내일 낼게요"
        stream.close()
    assert "'내일 갚을게요'" in caplog.text
    assert "does not know" in caplog.text


@pytest.mark.parametrize("phrases", [[], ["갚을게요"], ["[unk]"]], ids=["none", "all-unknown-words", "open-only"])
async def test_a_grammar_with_nothing_to_say_hears_nothing(recognizer: Recognizer, spoken: dict[str, bytes],
                                                           phrases: list[str]) -> None:
    # Vosk kills the process (SIGSEGV) on an empty grammar; a keys-only listen (the queue's
    # callback offer) met a customer who spoke, and took every call of the controller with it.
    stream = recognizer.stream(phrases)
    try:
        assert await recognize(stream, spoken["네"]) == ("", 0.0)
        assert await recognize(stream, spoken["아니요"]) == ("", 0.0)  # and again, turn after turn
    finally:
        stream.close()


async def test_a_closed_stream_refuses_audio(recognizer: Recognizer):
    stream = recognizer.stream(GRAMMAR)
    stream.close()
    stream.close()
    with pytest.raises(RuntimeError, match="closed"):
        await stream.feed(b"\0\0")


async def test_a_cancelled_feed_leaves_the_stream_usable(recognizer: Recognizer, spoken: dict[str, bytes]):
    stream = recognizer.stream(GRAMMAR)
    pcm = spoken["아니요"]
    feeding = asyncio.create_task(stream.feed(pcm))
    await asyncio.sleep(0)
    feeding.cancel()
    await asyncio.gather(feeding, return_exceptions=True)
    text, _ = await recognize(stream, b"")  # whatever was decoded, the stream still answers
    assert text in ("", "아니요")
    assert (await recognize(stream, pcm))[0] == "아니요"
    stream.close()


def test_a_missing_model_dir_is_a_speech_error(tmp_path: Path):
    with pytest.raises(SpeechError, match="does not exist"):
        Recognizer(tmp_path / "nowhere")
    with pytest.raises(SpeechError, match=r"is not a Vosk model directory \(no am/final.mdl\)"):
        Recognizer(tmp_path)


def test_a_broken_model_is_a_speech_error(tmp_path: Path, capfd: pytest.CaptureFixture[str]):
    # capfd: Kaldi writes its own one-line reason to file descriptor 2.
    (tmp_path / "am").mkdir()
    (tmp_path / "conf").mkdir()
    (tmp_path / "am" / "final.mdl").write_bytes(b"not a model")
    (tmp_path / "conf" / "mfcc.conf").write_text("--sample-frequency=8000\n")
    recognizer = Recognizer(tmp_path, workers=1)
    with pytest.raises(SpeechError, match="cannot load the Vosk model") as caught:
        recognizer.missing_words(["네"])
    assert "\n" not in str(caught.value)
    recognizer.close()


def test_the_best_phrase_is_the_likeliest_alternative_that_is_a_phrase():
    allowed = frozenset(["내일 낼게요", "네"])
    segment = {
        "alternatives": [
            {"text": "낼게요 낼게요", "confidence": 65.0},
            {"text": "내일 낼게요", "confidence": 63.0},
            {"text": "네", "confidence": 61.0},
            {"text": "내일 낼게요", "confidence": 60.0},
        ]
    }
    text, confidence = best_phrase([segment], allowed)
    assert text == "내일 낼게요"
    weights = [math.exp(x - 65.0) for x in (65.0, 63.0, 61.0, 60.0)]
    assert confidence == pytest.approx((weights[1] + weights[3]) / sum(weights))


def test_hearing_nothing_competes_with_the_phrases():
    allowed = frozenset(["네"])
    quiet = {"alternatives": [{"text": "", "confidence": 72.0}, {"text": "네", "confidence": 70.0}]}
    assert best_phrase([quiet], allowed) == ("", 0.0)
    assert best_phrase([{"alternatives": [{"text": "", "confidence": 1.0}]}], allowed) == ("", 0.0)
    spoken = {"alternatives": [{"text": "네", "confidence": 80.0}]}
    assert best_phrase([quiet, spoken], allowed) == ("네", 1.0)


def test_free_results_skip_segments_that_heard_nothing():
    segments = [
        {"text": "[unk]", "result": [{"word": "[unk]", "conf": 0.2}]},
        {"text": "네", "result": [{"word": "네", "conf": 0.9}]},
        {"text": ""},
    ]
    assert best_words(segments) == ("네", pytest.approx(0.9))
    assert best_words([{"text": ""}]) == ("", 0.0)
