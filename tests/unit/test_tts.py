"""Prompt synthesis with the real espeak-ng (through pyttsx3) and sox."""

from __future__ import annotations

import asyncio
import os
import struct
import wave
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.errors import SpeechError
from bot.speech.endpoint import frame_rms
from bot.speech.tts import Synthesizer, synthesize_to, wav_duration_ms
from bot.speech.wav import read_pcm, write_pcm

GREETING = "안녕하세요, 고객님. 연체 금액 안내 전화입니다."


@pytest.fixture
async def synth(tmp_path: Path) -> AsyncIterator[Synthesizer]:
    async with Synthesizer(tmp_path / "prompts", rate=170) as synthesizer:
        yield synthesizer


def wav_header(path: Path) -> tuple[bytes, bytes, int, int, int, int, bytes, int]:
    """RIFF tag, WAVE tag, format, channels, rate, bits, data tag, data size."""
    head = path.read_bytes()[:44]
    riff, _, wave, _, _, fmt, channels, rate, _, _, bits, data, size = struct.unpack("<4sI4s4sIHHIIHH4sI", head)
    return riff, wave, fmt, channels, rate, bits, data, size


def leftovers(directory: Path) -> list[str]:
    """Temporary files a synthesis left behind."""
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("."))


async def test_a_korean_prompt_becomes_an_8khz_mono_16bit_wav(synth: Synthesizer):
    path = await synth.prompt(GREETING, "ko")
    riff, wave, fmt, channels, rate, bits, data, size = wav_header(path)
    assert (riff, wave, data) == (b"RIFF", b"WAVE", b"data")
    assert (fmt, channels, rate, bits) == (1, 1, 8000, 16)
    assert size == path.stat().st_size - 44
    assert 2000 < wav_duration_ms(path) < 8000
    assert frame_rms(read_pcm(path)) > 300  # speech, not silence
    assert path == synth.path_for(GREETING, "ko")
    assert path.parent == synth.cache_dir
    assert leftovers(synth.cache_dir) == []


async def test_a_cached_prompt_is_not_synthesized_again(synth: Synthesizer):
    first = await synth.prompt("네, 알겠습니다.", "ko")
    stamp, content = first.stat().st_mtime_ns, first.read_bytes()
    assert (synth.misses, synth.hits) == (1, 0)

    again = await synth.prompt("네, 알겠습니다.", "ko")
    assert again == first
    assert (synth.misses, synth.hits) == (1, 1)
    assert again.stat().st_mtime_ns == stamp
    assert again.read_bytes() == content

    os.utime(first, ns=(0, stamp))  # long unused; a hit marks it used now (the retention purge reads it)
    await synth.prompt("네, 알겠습니다.", "ko")
    assert first.stat().st_atime > 10**9 and first.stat().st_mtime_ns == stamp


async def test_a_new_synthesizer_finds_the_prompt_on_disk(tmp_path: Path):
    async with Synthesizer(tmp_path, rate=170) as one:
        path = await one.prompt("감사합니다.", "ko")
    async with Synthesizer(tmp_path, rate=170) as two:
        assert await two.prompt("감사합니다.", "ko") == path
        assert (two.misses, two.hits) == (0, 1)


async def test_concurrent_requests_share_one_synthesis(synth: Synthesizer):
    paths = await asyncio.gather(*(synth.prompt("잠시만 기다려 주세요.", "ko") for _ in range(10)))
    assert len(set(paths)) == 1
    assert (synth.misses, synth.hits) == (1, 9)
    assert [p.name for p in synth.cache_dir.iterdir()] == [paths[0].name]


async def test_one_caller_giving_up_does_not_cancel_the_others(synth: Synthesizer):
    quitter = asyncio.create_task(synth.prompt("상담원을 연결해 드릴게요.", "ko"))
    stayer = asyncio.create_task(synth.prompt("상담원을 연결해 드릴게요.", "ko"))
    await asyncio.sleep(0)
    quitter.cancel()
    path = await stayer
    assert quitter.cancelled()
    assert wav_duration_ms(path) > 500


async def test_rate_and_voice_are_part_of_the_cache_key(synth: Synthesizer):
    korean = await synth.prompt("네", "ko")
    english = await synth.prompt("네", "en")
    async with Synthesizer(synth.cache_dir, rate=120) as slow:
        slower = await slow.prompt("네", "ko")
    assert len({korean, english, slower}) == 3
    assert wav_duration_ms(slower) > wav_duration_ms(korean)
    # Language codes that name the same espeak-ng voice share a file.
    assert synth.path_for("你好", "zh") == synth.path_for("你好", "cmn")
    assert synth.path_for("hi", "EN-US") == synth.path_for("hi", "en")


async def test_an_unknown_voice_is_a_speech_error(synth: Synthesizer):
    with pytest.raises(SpeechError, match=r"unknown TTS voice 'klingon'; known voices: .*ko"):
        await synth.prompt("네", "klingon")
    with pytest.raises(SpeechError, match="unknown TTS voice"):
        synth.path_for("네", "xx")
    assert synth.misses == 0


async def test_an_empty_prompt_is_a_speech_error(synth: Synthesizer):
    with pytest.raises(SpeechError, match="empty prompt"):
        await synth.prompt("  ", "ko")


async def test_a_dead_worker_is_replaced(synth: Synthesizer):
    await synth.prompt("첫 번째", "ko")
    for worker in synth._procs:
        worker._proc.kill()
        worker._proc.wait()
    path = await synth.prompt("두 번째", "ko")
    assert wav_duration_ms(path) > 300


def test_synthesize_to_renders_in_this_process(tmp_path: Path):
    dest = synthesize_to("다음주 월요일에 낼게요.", "ko", 170, tmp_path / "reply.wav")
    assert dest == tmp_path / "reply.wav"
    assert wav_header(dest)[2:6] == (1, 1, 8000, 16)
    assert wav_duration_ms(dest) > 800
    assert leftovers(tmp_path) == []


def test_read_pcm_checks_the_format_and_lets_a_missing_file_through(tmp_path: Path):
    stereo = tmp_path / "stereo.wav"
    with wave.open(str(stereo), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(bytes(64))
    with pytest.raises(SpeechError, match="expected mono 16-bit 8000 Hz, got 2 channel"):
        read_pcm(stereo)
    (tmp_path / "junk.wav").write_bytes(b"not a wav at all")
    with pytest.raises(SpeechError, match="cannot read WAV"):
        read_pcm(tmp_path / "junk.wav")
    with pytest.raises(FileNotFoundError):
        read_pcm(tmp_path / "missing.wav")
    write_pcm(tmp_path / "ok.wav", b"\x01\x00" * 80)
    assert read_pcm(tmp_path / "ok.wav") == b"\x01\x00" * 80
    assert wav_duration_ms(tmp_path / "ok.wav") == 10
