"""The turn listener: fed a call's 20 ms frames, it decides endpointing and barge-in, and
recognizes the turn. Transport-free: a channel gives it audio and reads its events.

Voice activity runs in a bounded worker pool (one job per frame, in order per call);
recognition streams the turn's audio into ``Recognizer.stream(phrases)`` while the customer
speaks, so the result is ready a few ms after the turn ends.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from bot.domain import Heard
from bot.speech.asr import RecognitionStream, Recognizer
from bot.speech.endpoint import frame_rms
from bot.speech.serial import SerialJobs
from bot.speech.turns import FRAME_MS, Turn, TurnConfig, TurnEvent, voiced
from bot.speech.vad import Vad

FRAME_BYTES = 320
# The recognizer needs silence before speech to settle (measured for the AGI channel, which
# feeds the same): it is fed this much digital silence before each utterance.
RECOGNIZER_LEAD = bytes(300 * 16)
FEED_FRAMES = 5  # audio goes to the recognizer in 100 ms pieces


class TurnListener:
    """One call's listening: one turn at a time, frames pushed in arrival order."""

    def __init__(self, cfg: TurnConfig, *, vad: Vad, pool: ThreadPoolExecutor, recognizer: Recognizer):
        self.cfg = cfg
        self._vad = vad
        self._jobs = SerialJobs(pool)
        self._recognizer = recognizer
        self._preroll: deque[bytes] = deque(maxlen=max(1, cfg.preroll_ms // FRAME_MS))
        self.turn: Turn | None = None
        self._phrases: list[str] = []
        self._stream: RecognitionStream | None = None
        self._feeds: list[asyncio.Future[None]] = []
        self._pending = bytearray()
        self._audio = bytearray()
        self._arrived: deque[float] = deque(maxlen=64)  # when recent frames arrived (monotonic)
        self.onset_at: float | None = None  # when the turn's first voiced frame arrived
        self.ended_at: float | None = None  # when the frame that ended it arrived

    def begin(self, phrases: Sequence[str], *, no_input_s: float, max_speech_s: float,
              interruptible: bool = True) -> Turn:
        """Start a new turn (the previous one, if any, is dropped)."""
        self.drop()
        self._phrases = list(phrases)
        self.turn = Turn(self.cfg, no_input_s=no_input_s, max_speech_s=max_speech_s, interruptible=interruptible)
        self.onset_at = self.ended_at = None
        return self.turn

    def drop(self) -> None:
        if self._stream is not None:
            self._stream.close()
        for feed in self._feeds:
            feed.cancel()
        self._stream, self._feeds, self.turn = None, [], None
        self._pending.clear()
        self._audio.clear()

    async def judge(self, frame: bytes, sent_rms: float) -> bool:
        """Voice or not, the engine run in the pool (quiet frames are judged without it)."""
        rms = frame_rms(frame)
        if rms < self.cfg.noise_floor_rms:
            return False
        likelihood = await asyncio.wrap_future(self._jobs.submit(self._vad.speech, frame))
        return voiced(likelihood, rms, sent_rms, self.cfg)

    async def push(self, frame: bytes, *, playing: bool, sent_rms: float = 0.0,
                   arrived: float | None = None) -> TurnEvent | None:
        """One frame of the call; returns the turn's event, if this frame made one."""
        is_voice = await self.judge(frame, sent_rms) if len(frame) == FRAME_BYTES else False
        return self.step(frame, is_voice, playing=playing, arrived=arrived)

    def step(self, frame: bytes, is_voice: bool, *, playing: bool, arrived: float | None = None,
             filler: bool = False) -> TurnEvent | None:
        """Judge one frame. A ``filler`` stands for wall time in which the line sent nothing: it moves
        the turn's clocks but is never recognized, so frames that were only late (a loaded machine)
        reach the recognizer as sent, without a made-up silence inside the customer's words."""
        arrived = time.monotonic() if arrived is None else arrived
        self._arrived.append(arrived)
        turn = self.turn
        if turn is None or turn.event is not None:
            if not filler:
                self._preroll.append(frame)
            return None
        was_speaking = turn.start is not None
        event = turn.push(is_voice, playing=playing)
        if was_speaking:
            if not filler:
                self._take(frame)
        elif event in (TurnEvent.STARTED, TurnEvent.BARGE_IN):
            back = turn.frames - (turn.start or 0)  # voiced frames before this one, already in preroll
            self.onset_at = self._arrived[-back] if back <= len(self._arrived) else arrived
            self._stream = self._recognizer.stream(self._phrases)
            self._pending += RECOGNIZER_LEAD
            for old in self._preroll:
                self._take(old)
            self._take(frame)
        elif not filler:
            self._preroll.append(frame)
        if event is not None and event.final:
            self.ended_at = arrived
            self._flush()
        return event

    def _take(self, frame: bytes) -> None:
        self._audio += frame
        self._pending += frame
        if len(self._pending) >= FEED_FRAMES * FRAME_BYTES:
            self._flush()

    def _flush(self) -> None:
        if self._stream is not None and self._pending:
            self._feeds.append(asyncio.ensure_future(self._stream.feed(bytes(self._pending))))
        self._pending.clear()

    @property
    def audio(self) -> bytes:
        """The turn's audio from the preroll before speech to now."""
        return bytes(self._audio)

    async def heard(self) -> Heard:
        """Recognize the finished turn (no speech: an empty Heard) and end it."""
        turn, stream, feeds = self.turn, self._stream, self._feeds
        assert turn is not None and turn.event is not None
        ended = self.ended_at or time.monotonic()
        if stream is None:
            self.drop()
            return Heard()
        started = time.monotonic()
        try:
            await asyncio.gather(*feeds)
            text, confidence = await stream.result()
        finally:
            self._feeds = []
            stream.close()
            self._stream = None
        done = time.monotonic()
        trailing_ms = (turn.frames - 1 - turn.last_voice) * FRAME_MS
        timing = {"eos_ms": trailing_ms + round((started - ended) * 1000), "asr_ms": round((done - started) * 1000),
                  "speech_ms": turn.speech_ms, "max_speech": int(turn.event is TurnEvent.MAX_SPEECH),
                  "barge_in": int(turn.barged)}
        audio_ms = len(self._audio) // 16
        self.turn = None
        return Heard(text=text, confidence=confidence, audio_ms=audio_ms, timing=timing)
