"""Speech recognition with Vosk: one shared model, grammar-constrained streams, a bounded pool.

Every Vosk call runs in the recognizer's thread pool (cffi releases the GIL while Kaldi
decodes), never on the event loop. A stream's calls run one at a time and in order, on
whichever pool thread is free, even when the coroutine that asked for one is cancelled.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import vosk

from bot.errors import SpeechError
from bot.metrics import RECOGNITION_QUEUE
from bot.speech.pressure import RECOGNITION_WAIT
from bot.speech.serial import SerialJobs
from bot.speech.vosk_model import check_model_dir, default_model_dir, shared_model

__all__ = ["RecognitionStream", "Recognizer", "default_model_dir"]

log = logging.getLogger(__name__)

T = TypeVar("T")

UNKNOWN = "[unk]"
N_BEST = 10  # alternatives a grammar stream picks its phrase from
# Kaldi keeps alternatives within this many log-likelihood units of the best in the lattice.
# The Korean model's own 2.0 drops phrases that lose narrowly to a non-phrase word sequence
# the n-best choice must see; 6.0 costs ~10 % more decoding time on grammar streams.
LATTICE_BEAM = 6.0


class Recognizer:
    """A Vosk model and the thread pool that every stream of this process decodes in."""

    def __init__(
        self,
        model_dir: Path | None = None,
        *,
        workers: int = 0,
        sample_rate: int = 8000,
        lattice_beam: float | None = LATTICE_BEAM,
        spare_free_decoders: int = 4,
    ):
        path = Path(model_dir).expanduser() if model_dir is not None else default_model_dir()
        path = path.resolve()
        check_model_dir(path)
        self.model_dir = path
        self.sample_rate = sample_rate
        self.lattice_beam = lattice_beam
        self.workers = workers or os.cpu_count() or 1
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="vosk")
        self._model: vosk.Model | None = None
        # A new free-vocabulary decoder builds its search graph while it decodes (~1 s of CPU
        # for the first utterance, then ~20x less), so closed streams hand theirs back.
        self.spare_free_decoders = spare_free_decoders
        self._spares: list[vosk.KaldiRecognizer] = []
        self._spares_lock = threading.Lock()
        # grammar JSON per phrase list: a script's steps repeat the same few lists every turn
        self._grammars: dict[tuple[str, ...], tuple[str, frozenset[str]]] = {}
        self._closed = False

    async def load(self) -> None:
        """Load the model in the pool (1-2 s the first time in a process)."""
        await asyncio.wrap_future(self._pool.submit(self._loaded))

    def _loaded(self) -> vosk.Model:
        if self._model is None:
            self._model = shared_model(self.model_dir, lattice_beam=self.lattice_beam)
        return self._model

    def missing_words(self, phrases: Sequence[str]) -> list[str]:
        """Words of ``phrases`` the model cannot recognize. Blocks to load the model if needed."""
        model = self._loaded()
        words = dict.fromkeys(word for phrase in phrases for word in phrase.split())
        return [word for word in words if model.vosk_model_find_word(word) == -1]

    def stream(self, phrases: Sequence[str] | None) -> RecognitionStream:
        """A stream that recognizes one of ``phrases`` (or anything at all, for None).

        With ``[unk]`` among the phrases the grammar is open: the stream answers with the word
        sequence it heard over the phrases' words (never forced onto the nearest phrase), for
        the dialogue to understand; ``[unk]`` itself is kept only if the model has that word.
        """
        if self._closed:
            raise RuntimeError("Recognizer is closed")
        return RecognitionStream(self, None if phrases is None else list(phrases))

    def _grammar(self, phrases: list[str]) -> tuple[str, frozenset[str]]:
        """Vosk grammar JSON for the phrases the model can say, and those phrases."""
        model = self._loaded()
        kept: dict[str, None] = {}
        dropped: list[str] = []
        for phrase in phrases:
            words = phrase.split()
            if not words or phrase == UNKNOWN:
                continue
            if any(model.vosk_model_find_word(word) == -1 for word in words):
                dropped.append(phrase)
            else:
                kept[" ".join(words)] = None
        if dropped:
            log.warning(
                "dropped %d phrase(s) with words the speech model does not know: %s",
                len(dropped),
                ", ".join(repr(p) for p in dropped),
            )
        # Not every model has an unknown-word entry (the Korean small model has none).
        extra = [UNKNOWN] if model.vosk_model_find_word(UNKNOWN) != -1 else []
        return json.dumps([*kept, *extra], ensure_ascii=False), frozenset(kept)

    def _kaldi(self, phrases: list[str] | None) -> tuple[vosk.KaldiRecognizer | None, frozenset[str]]:
        model = self._loaded()
        allowed: frozenset[str] = frozenset()
        if phrases is None:
            with self._spares_lock:
                if self._spares:
                    return self._spares.pop(), allowed
        try:
            if phrases is None:
                rec = vosk.KaldiRecognizer(model, self.sample_rate)
            else:
                key = tuple(phrases)
                if key not in self._grammars:
                    if len(self._grammars) >= 256:
                        self._grammars.clear()
                    self._grammars[key] = self._grammar(phrases)
                grammar, allowed = self._grammars[key]
                if not allowed and grammar == "[]":
                    return None, allowed  # every phrase dropped: see RecognitionStream._decoder
                rec = vosk.KaldiRecognizer(model, self.sample_rate, grammar)
                rec.SetMaxAlternatives(N_BEST)
        except Exception as exc:
            raise SpeechError(f"cannot create a Vosk recognizer: {exc}") from exc
        rec.SetWords(True)
        return rec, allowed

    def _spare(self, rec: vosk.KaldiRecognizer) -> None:
        """Keep a free-vocabulary decoder for the next stream (called in the pool)."""
        # FinalResult (not Reset) so the next caller's audio starts a fresh feature
        # pipeline: no adaptation carried over from another call.
        rec.FinalResult()
        with self._spares_lock:
            if not self._closed and len(self._spares) < self.spare_free_decoders:
                self._spares.append(rec)

    def close(self) -> None:
        """Finish queued decoding and stop the pool's threads (blocking)."""
        self._closed = True
        self._pool.shutdown(wait=True)
        with self._spares_lock:
            self._spares.clear()

    async def aclose(self) -> None:
        self._closed = True
        await asyncio.to_thread(self.close)

    async def __aenter__(self) -> Recognizer:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class RecognitionStream:
    """One utterance-at-a-time decoder: feed audio, then ask for the final result.

    Vosk compiles a phrase list into a bigram over the phrases' words, so it may hear word
    sequences that are no phrase at all ("낼게요 낼게요"). A grammar stream therefore asks
    for the n-best and answers with the likeliest alternative that is exactly one of the
    phrases (unless hearing nothing is likelier); its confidence is that phrase's share of
    the n-best likelihood, so a phrase rescued from behind a non-phrase scores low. A
    free-vocabulary stream answers with Vosk's 1-best and the mean of its word confidences.
    """

    def __init__(self, owner: Recognizer, phrases: list[str] | None):
        self._owner = owner
        self._phrases = phrases
        self._rec: vosk.KaldiRecognizer | None = None
        self._allowed: frozenset[str] = frozenset()
        self._segments: list[dict[str, Any]] = []
        self._mute = False  # no phrase the model can say: hears nothing (see _decoder)
        self._closed = False
        self._jobs = SerialJobs(owner._pool)
        self._jobs.submit(self._decoder)  # build the decoder before the first audio arrives

    async def feed(self, pcm: bytes) -> None:
        """Decode 16-bit little-endian mono samples at the recognizer's sample rate."""
        if pcm:
            await self._run(self._accept, bytes(pcm))

    async def result(self) -> tuple[str, float]:
        """The final text ('' if nothing was recognized) and its confidence (0-1); resets."""
        return await self._run(self._final)

    def close(self) -> None:
        """Free the decoder once queued work is done."""
        if not self._closed:
            self._closed = True
            self._jobs.submit(self._release)

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        if self._closed:
            raise RuntimeError("recognition stream is closed")
        RECOGNITION_QUEUE.inc()
        asked = time.monotonic()
        try:
            return await asyncio.wrap_future(self._jobs.submit(fn, *args))
        finally:
            RECOGNITION_QUEUE.dec()
            RECOGNITION_WAIT.record(time.monotonic() - asked)  # read by the overload governor

    def _decoder(self) -> vosk.KaldiRecognizer | None:
        """None for a grammar with no phrase the model can say: Vosk crashes the whole process
        (SIGSEGV) on an empty grammar, so such a stream hears nothing without a decoder."""
        if self._rec is None and not self._mute:
            if self._phrases is not None and not any(p.split() and p != UNKNOWN for p in self._phrases):
                self._mute = True
                return None
            self._rec, self._allowed = self._owner._kaldi(self._phrases)
            self._mute = self._rec is None
        return self._rec

    def _accept(self, pcm: bytes) -> None:
        rec = self._decoder()
        if rec is None:
            return
        try:
            if rec.AcceptWaveform(pcm):
                # Kaldi found an endpoint inside this audio: keep that segment or it is lost.
                self._segments.append(json.loads(rec.Result()))
        except Exception as exc:
            raise SpeechError(f"Vosk failed to decode audio: {exc}") from exc

    def _final(self) -> tuple[str, float]:
        rec = self._decoder()
        if rec is None:
            return "", 0.0
        segments = [*self._segments, json.loads(rec.FinalResult())]
        self._segments.clear()
        if self._phrases is None:
            return best_words(segments)
        if UNKNOWN in self._phrases:
            return best_sequence(segments, self._allowed)
        return best_phrase(segments, self._allowed)

    def _release(self) -> None:
        rec, self._rec = self._rec, None
        self._segments.clear()
        if rec is not None and self._phrases is None:
            self._owner._spare(rec)


def best_words(segments: Sequence[dict[str, Any]]) -> tuple[str, float]:
    """Text and mean word confidence of 1-best results, leaving out segments that heard nothing."""
    texts: list[str] = []
    confs: list[float] = []
    for segment in segments:
        text = segment.get("text", "").strip()
        if text in ("", UNKNOWN):
            continue
        texts.append(text)
        confs.extend(float(word.get("conf", 0.0)) for word in segment.get("result", []))
    if not texts:
        return "", 0.0
    return " ".join(texts), (sum(confs) / len(confs) if confs else 0.0)


def best_phrase(segments: Sequence[dict[str, Any]], allowed: frozenset[str]) -> tuple[str, float]:
    """The allowed phrase the n-best results favour most, and its share of all their likelihood.

    Scores are log-likelihoods. Hearing nothing (the empty alternative) competes with the
    phrases, so near-silence is not forced into one; alternatives that are no phrase only
    lower the confidence. With several segments (Kaldi split the turn) the most confident
    one wins: a turn answers with one phrase.
    """
    best = ("", 0.0)
    for segment in segments:
        mass = _mass(segment, drop=None)
        if not mass:
            continue
        candidates = [(weight, text) for text, weight in mass.items() if text in allowed or not text]
        if not candidates:
            continue
        weight, text = max(candidates)
        share = weight / sum(mass.values())
        if text and share >= best[1]:
            best = (text, share)
    return best


# In an open grammar, a listed phrase with at least this share of the n-best is preferred
# to a likelier word sequence that is no phrase: the bigram lets one word flip the meaning
# ("본인 아닙니다" heard as "본인 입니다" 0.85, the phrase 0.15). Measured in docs/understanding.md.
ENTRY_SHARE = 0.1
MAX_SPEECH_CONFIDENCE = 0.99


def best_sequence(segments: Sequence[dict[str, Any]], allowed: frozenset[str] = frozenset()) -> tuple[str, float]:
    """An open grammar's answer: per segment, the likeliest listed phrase when its share of
    the n-best reaches ENTRY_SHARE, else the likeliest word sequence; segments joined.

    Confidence is the answer's share of its segment's n-best likelihood (the least sure
    segment's); hearing nothing competes as in ``best_phrase``, and [unk] words are left out.
    """
    texts: list[str] = []
    shares: list[float] = []
    for segment in segments:
        mass = _mass(segment, drop=UNKNOWN)
        if not mass:
            continue
        weight, text = max((weight, text) for text, weight in mass.items())
        total = sum(mass.values())
        listed = [(w, t) for t, w in mass.items() if t in allowed and w / total >= ENTRY_SHARE]
        if listed and text not in allowed:
            weight, text = max(listed)
        if text:
            texts.append(text)
            shares.append(weight / total)
    if not texts:
        return "", 0.0
    # Never 1.0: the n-best is cut short, and a lone surviving path says little about the
    # words. 1.0 is left to what is certain (typed text), so that a script's default
    # certain_confidence of 1.0 confirms every spoken consequential answer.
    return " ".join(texts), min(min(shares), MAX_SPEECH_CONFIDENCE)


def _mass(segment: dict[str, Any], drop: str | None) -> dict[str, float]:
    """One segment's n-best as text -> likelihood relative to its best (texts that read the
    same add up); words equal to ``drop`` are left out. Empty when Vosk gave no confidences."""
    scored = [
        (" ".join(w for w in alternative.get("text", "").split() if w != drop), float(alternative["confidence"]))
        for alternative in segment.get("alternatives", [])
        if "confidence" in alternative
    ]
    if not scored:
        return {}
    top = max(score for _, score in scored)
    mass: dict[str, float] = {}
    for text, score in scored:
        mass[text] = mass.get(text, 0.0) + math.exp(score - top)
    return mass
