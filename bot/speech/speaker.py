"""Synthetic speakers and telephone lines, for test speech that is not one voice on a clean wire.

A ``Speaker`` is an espeak-ng voice with an optional variant (``ko+m3``), a rate and a pitch.
A ``Line`` does to audio what a phone call does: noise at the caller's end at a chosen SNR,
then a 300-3400 Hz band-pass and a G.711 µ-law round trip. Both run the espeak-ng and sox
programs: blocking, so callers on an event loop use worker threads.
"""

from __future__ import annotations

import functools
import math
import os
import random
import re
import shutil
import subprocess
import sys
import uuid
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from bot.errors import SpeechError
from bot.speech.render import VOICES
from bot.speech.wav import SAMPLE_RATE, read_pcm, write_pcm

VOICE_PATTERN = r"^[a-z]{2,3}(-[a-z]{2})?(\+[A-Za-z0-9_-]{1,30})?$"
DEFAULT_RATE = 170
DEFAULT_PITCH = 50
BAND_HZ = (300, 3400)
_TIMEOUT_S = 60
_FRAME = SAMPLE_RATE // 50  # 20 ms
# Frames quieter than this, relative to the loudest, are pauses: the SNR is set against the
# level of the speech itself, not of the speech diluted by its silences.
_ACTIVE_DB = -25.0


@dataclass(frozen=True, slots=True)
class Speaker:
    voice: str = "ko"  # our language code or espeak-ng voice, optionally +variant
    rate: int = DEFAULT_RATE  # words per minute
    pitch: int = DEFAULT_PITCH  # espeak-ng's 0-99

    def espeak(self) -> str:
        """The espeak-ng voice argument, e.g. ``ko+m3``; SpeechError for an unknown one."""
        if not re.match(VOICE_PATTERN, self.voice):
            raise SpeechError(f"bad voice {self.voice!r}: write a language code with an optional +variant, e.g. ko+m3")
        language, _, variant = self.voice.partition("+")
        base = VOICES.get(language.lower(), language.lower())
        if variant and variant not in espeak_variants():
            raise SpeechError(f"espeak-ng has no voice variant {variant!r} (see: espeak-ng --voices=variant)")
        return f"{base}+{variant}" if variant else base

    def tag(self) -> str:
        return f"{self.voice} s{self.rate} p{self.pitch}"


@dataclass(frozen=True, slots=True)
class Line:
    codec: Literal["none", "g711"] = "none"  # g711: band-pass and a µ-law round trip
    noise_db: float | None = None  # white noise this many dB below the speech; None: none

    def tag(self) -> str:
        noise = "" if self.noise_db is None else f" snr{self.noise_db:g}"
        return f"{self.codec}{noise}"


@functools.cache
def espeak_variants() -> frozenset[str]:
    """Names usable after ``+`` in an espeak-ng voice (m3, f2, klatt, ...)."""
    out = _run([_program("espeak-ng"), "--voices=variant"], b"").decode(errors="replace")
    return frozenset(m.group(1) for m in re.finditer(r"!v/(\S+)", out))


def speak(text: str, speaker: Speaker, dest: Path, *, lead_ms: int = 0, tail_ms: int = 0) -> Path:
    """Render ``text`` as an 8 kHz 16-bit mono WAV at ``dest`` (written whole, atomically)."""
    if not text.strip():
        raise SpeechError("cannot synthesize an empty text")
    if not 80 <= speaker.rate <= 450 or not 0 <= speaker.pitch <= 99:
        raise SpeechError(f"rate must be 80-450 and pitch 0-99, got {speaker.rate} and {speaker.pitch}")
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    stem = f".{dest.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}"
    raw, tmp = dest.with_name(stem + ".raw.wav"), dest.with_name(stem + ".tmp.wav")
    try:
        # The text goes on stdin: as an argument, a text starting with '-' would be an option.
        # sox -D: no dither, so that the silences around the speech stay digital silence.
        _run([_program("espeak-ng"), "--stdin", "-v", speaker.espeak(), "-s", str(speaker.rate),
              "-p", str(speaker.pitch), "-w", str(raw)], text.encode("utf-8"))
        _run([_program("sox"), "-V1", "-G", "-D", str(raw), "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16",
              "-e", "signed-integer", str(tmp), "pad", f"{lead_ms / 1000:.3f}", f"{tail_ms / 1000:.3f}"], b"")
        os.replace(tmp, dest)
    finally:
        raw.unlink(missing_ok=True)
        tmp.unlink(missing_ok=True)
    return dest


def through_line(pcm: bytes, line: Line, *, seed: int = 0) -> bytes:
    """``pcm`` (8 kHz 16-bit mono) as the far end of ``line`` hears it; the same seed, the same noise."""
    if line.noise_db is not None:
        pcm = add_noise(pcm, line.noise_db, seed=seed)
    if line.codec == "g711":
        raw = ["-t", "raw", "-r", str(SAMPLE_RATE), "-c", "1"]
        ulaw = _run([_program("sox"), "-V1", "-G", *raw, "-e", "signed-integer", "-b", "16", "-",
                     *raw, "-e", "u-law", "-b", "8", "-",
                     # a low-pass then a high-pass: sox's one-filter band-pass inverts polarity
                     "sinc", f"-{BAND_HZ[1]}", "sinc", str(BAND_HZ[0])], pcm)
        pcm = _run([_program("sox"), "-V1", *raw, "-e", "u-law", "-b", "8", "-",
                    *raw, "-e", "signed-integer", "-b", "16", "-"], ulaw)
    return pcm


def line_file(src: Path, dest: Path, line: Line, *, seed: int = 0) -> Path:
    """A WAV through ``line``, written whole at ``dest``."""
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
    try:
        write_pcm(tmp, through_line(read_pcm(src), line, seed=seed))
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def active_level(pcm: bytes) -> float:
    """RMS of the speech frames (20 ms frames within 25 dB of the loudest); 0 for silence."""
    samples = _samples(pcm)
    levels = [math.hypot(*samples[i:i + _FRAME]) / math.sqrt(len(samples[i:i + _FRAME]))
              for i in range(0, len(samples), _FRAME) if samples[i:i + _FRAME]]
    loudest = max(levels, default=0.0)
    if loudest == 0:
        return 0.0
    floor = loudest * 10 ** (_ACTIVE_DB / 20)
    active = [v for v in levels if v >= floor]
    return math.sqrt(sum(v * v for v in active) / len(active))


def add_noise(pcm: bytes, snr_db: float, *, seed: int = 0) -> bytes:
    """White noise over the whole of ``pcm`` (its pauses too, as on a real line), ``snr_db``
    below the speech's active level."""
    samples = _samples(pcm)
    level = active_level(pcm)
    if level == 0:
        return pcm
    sigma = level / 10 ** (snr_db / 20)
    rng = random.Random(seed)
    noisy = array("h", (max(-32768, min(32767, round(s + rng.gauss(0.0, sigma)))) for s in samples))
    if sys.byteorder == "big":
        noisy.byteswap()
    return noisy.tobytes()


def _samples(pcm: bytes) -> array[int]:
    samples = array("h")
    samples.frombytes(pcm[: len(pcm) - len(pcm) % 2])
    if sys.byteorder == "big":
        samples.byteswap()
    return samples


def _program(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise SpeechError(f"the {name!r} program is needed (apt-get install {name})")
    return path


def _run(args: list[str], data: bytes) -> bytes:
    try:
        done = subprocess.run(args, input=data, capture_output=True, timeout=_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired as exc:
        raise SpeechError(f"{Path(args[0]).name} took more than {_TIMEOUT_S} s") from exc
    if done.returncode != 0:
        reason = done.stderr.decode(errors="replace").strip().splitlines()
        raise SpeechError(f"{Path(args[0]).name} failed ({done.returncode}): {reason[-1] if reason else 'no message'}")
    return done.stdout
