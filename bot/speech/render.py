"""Rendering one prompt in this process: espeak-ng through pyttsx3, resampled to 8 kHz by sox.

libespeak-ng is one global synthesizer per process (one current voice, one audio callback)
and pyttsx3 hands every caller the same cached engine, so this process renders one prompt at
a time, under a lock. `bot.speech.tts.Synthesizer` gets parallelism from worker processes.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import shutil
import subprocess
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.errors import SpeechError
from bot.speech.wav import SAMPLE_RATE

# Part of every cache key: bump it when the rendering pipeline changes so old prompts are redone.
ENGINE_TAG = "collbot-tts/1 pyttsx3+espeak-ng sox 8000Hz s16le mono"

# Our language codes, and the espeak-ng voices they resolve to (also keys: resolving is idempotent).
VOICES: dict[str, str] = {
    "ko": "ko",
    "ko-kr": "ko",
    "cmn": "cmn",
    "zh": "cmn",
    "zh-cn": "cmn",
    "en": "en-us",
    "en-us": "en-us",
    "en-gb": "en-gb",
}

_SOX_TIMEOUT_S = 60
_SPEAK_TIMEOUT_S = 30
_ATTEMPTS = 3
_WAV_HEADER_BYTES = 44


@dataclass(frozen=True, slots=True)
class Shape:
    """How a prompt sits in time: silence before and after it, and its longest inner pause.

    Turn taking depends on it: a listener that waits for N ms of silence before answering
    must never find N ms inside a prompt, and must find it right after one.
    """

    lead_ms: int = 0
    tail_ms: int = 0
    max_pause_ms: int = 0  # 0 keeps espeak-ng's own pauses

    def tag(self) -> str:
        return f"lead={self.lead_ms} tail={self.tail_ms} pause={self.max_pause_ms}"

    def sox_effects(self) -> list[str]:
        effects: list[str] = []
        if self.max_pause_ms:
            # trim leading silence, and cut every pause (trailing one included) to max_pause_ms
            pause = f"{self.max_pause_ms / 1000:.3f}"
            effects += ["silence", "-l", "1", "0.01", "0.3%", "-1", pause, "0.3%"]
        if self.lead_ms or self.tail_ms:
            effects += ["pad", f"{self.lead_ms / 1000:.3f}", f"{self.tail_ms / 1000:.3f}"]
        return effects


PLAIN = Shape()  # espeak-ng's own timing, untouched


def espeak_voice(voice: str) -> str:
    """The espeak-ng voice for one of our language codes; SpeechError if we have none."""
    try:
        return VOICES[voice.strip().lower()]
    except KeyError:
        known = ", ".join(sorted(VOICES))
        raise SpeechError(f"unknown TTS voice {voice!r}; known voices: {known}") from None


def cache_key(text: str, voice: str, rate: int, shape: Shape = PLAIN) -> str:
    """Hex name of a rendered prompt: a hash over the engine tag, voice, rate, shape and text."""
    digest = hashlib.sha256()
    for part in (ENGINE_TAG, espeak_voice(voice), str(rate), shape.tag(), text):
        digest.update(part.encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()[:32]


class _EspeakEngine:
    """This process's one pyttsx3 engine, used under a lock.

    pyttsx3 2.99's espeak driver loses a whole utterance now and then (about 1 in 200 on
    short Korean prompts: the audio of a callback that also ends the message is dropped, so
    only a WAV header is written), and it may report completion from espeak-ng's thread
    after ``runAndWait`` returned. So we wait for its 'finished-utterance' event, check
    that audio was written, and speak again if not.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._engine: Any = None
        self._errors: list[BaseException] = []
        self._finished = threading.Event()

    def render(self, text: str, voice: str, rate: int, dest: Path) -> None:
        """Write ``text`` spoken by espeak-ng ``voice`` to ``dest`` (the driver's 22.05 kHz WAV)."""
        with self._lock:
            engine = self._started()
            for _ in range(_ATTEMPTS):
                dest.unlink(missing_ok=True)
                self._errors.clear()
                self._finished.clear()
                # pyttsx3 queues commands and reports failures as 'error' events, not exceptions.
                engine.setProperty("voice", voice)
                engine.setProperty("rate", rate)
                engine.save_to_file(text, str(dest))
                with contextlib.redirect_stdout(io.StringIO()):  # the driver prints "Audio saved"
                    engine.runAndWait()
                    finished = self._finished.wait(_SPEAK_TIMEOUT_S)
                if self._errors:
                    raise SpeechError(f"espeak-ng could not speak with voice {voice!r}: {self._errors[0]}")
                if not finished:
                    raise SpeechError(f"espeak-ng did not finish within {_SPEAK_TIMEOUT_S} s")
                if dest.is_file() and dest.stat().st_size > _WAV_HEADER_BYTES:
                    return
            raise SpeechError(f"espeak-ng produced no audio for {text[:40]!r} ({voice})")

    def _started(self) -> Any:
        if self._engine is None:
            try:
                import pyttsx3

                engine = pyttsx3.init("espeak")
            except Exception as exc:
                raise SpeechError(f"cannot start espeak-ng through pyttsx3: {exc}") from exc
            engine.connect("error", self._on_error)
            engine.connect("finished-utterance", self._on_finished)
            # pyttsx3 keeps engines in a weak cache: hold ours so it is made once per process.
            self._engine = engine
        return self._engine

    def _on_error(self, name: object = None, exception: BaseException | None = None) -> None:
        self._errors.append(exception or RuntimeError("unknown pyttsx3 error"))
        self._finished.set()

    def _on_finished(self, name: object = None, completed: bool = False) -> None:
        self._finished.set()


_ENGINE = _EspeakEngine()


def synthesize_to(text: str, voice: str, rate: int, dest: Path, shape: Shape = PLAIN) -> Path:
    """Render ``text`` into ``dest`` as an 8 kHz 16-bit mono WAV. Blocking; the file appears whole.

    Safe from any thread (one synthesis at a time per process). Code on an event loop should
    use `bot.speech.tts.Synthesizer`, which runs this in worker processes.
    """
    if not text.strip():
        raise SpeechError("cannot synthesize an empty prompt")
    espeak = espeak_voice(voice)
    sox = shutil.which("sox")
    if sox is None:
        raise SpeechError("the 'sox' program is needed to resample prompts (apt-get install sox)")
    dest = Path(dest)
    # Temporary names live beside dest so os.replace stays on one filesystem (atomic).
    stem = f".{dest.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}"
    raw = dest.with_name(stem + ".22k.wav")
    tmp = dest.with_name(stem + ".tmp.wav")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        _ENGINE.render(text, espeak, rate, raw)
        _resample(sox, raw, tmp, shape)
        with tmp.open("rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, dest)
    except OSError as exc:
        raise SpeechError(f"cannot write prompt {dest}: {exc}") from exc
    finally:
        raw.unlink(missing_ok=True)
        tmp.unlink(missing_ok=True)
    return dest


def _resample(sox: str, src: Path, dest: Path, shape: Shape) -> None:
    # -G: lower the gain if resampling would clip; -V1: only real failures on stderr.
    args = [sox, "-V1", "-G", str(src), "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16",
            "-e", "signed-integer", str(dest), *shape.sox_effects()]  # fmt: skip
    try:
        done = subprocess.run(args, capture_output=True, timeout=_SOX_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired as exc:
        raise SpeechError(f"sox took more than {_SOX_TIMEOUT_S} s resampling {src}") from exc
    if done.returncode != 0:
        reason = done.stderr.decode(errors="replace").strip().splitlines()
        raise SpeechError(f"sox failed ({done.returncode}): {reason[-1] if reason else 'no message'}")
