"""Small helpers for the one audio format collbot speaks: 8 kHz, 16-bit, mono PCM WAV."""

from __future__ import annotations

import wave
from pathlib import Path

from bot.errors import SpeechError

SAMPLE_RATE = 8000
SAMPLE_WIDTH = 2


def wav_duration_ms(path: Path) -> int:
    """Length of a PCM WAV file in milliseconds (rounded)."""
    try:
        with wave.open(str(path), "rb") as w:
            return round(w.getnframes() * 1000 / w.getframerate())
    except (OSError, EOFError, wave.Error) as exc:
        raise SpeechError(f"cannot read WAV {path}: {exc}") from exc


def read_pcm(path: Path, *, sample_rate: int = SAMPLE_RATE) -> bytes:
    """The samples of a 16-bit mono WAV at ``sample_rate``.

    A file that is not such a WAV is a SpeechError; OSError (a missing file) passes through
    for the caller to judge.
    """
    try:
        with wave.open(str(path), "rb") as w:
            shape = (w.getnchannels(), w.getsampwidth(), w.getframerate())
            if shape != (1, SAMPLE_WIDTH, sample_rate):
                raise SpeechError(
                    f"{path}: expected mono 16-bit {sample_rate} Hz, got "
                    f"{shape[0]} channel(s), {shape[1] * 8}-bit, {shape[2]} Hz"
                )
            return w.readframes(w.getnframes())
    except (EOFError, wave.Error) as exc:
        raise SpeechError(f"cannot read WAV {path}: {exc}") from exc


def write_pcm(path: Path, pcm: bytes, *, sample_rate: int = SAMPLE_RATE) -> None:
    """Write 16-bit mono samples as a WAV file (a plain 44-byte header)."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(SAMPLE_WIDTH)
        w.setframerate(sample_rate)
        w.writeframes(pcm)
