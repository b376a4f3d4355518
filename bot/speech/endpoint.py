"""Turn endpointing by frame energy: when did the customer start talking, and are they done?

Pure and synchronous: feed it the call's audio as it arrives, read the state it returns.
"""

from __future__ import annotations

import math
import sys
from array import array
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.config import ListenSettings


class EndpointState(StrEnum):
    WAITING = "waiting"  # no speech yet
    SPEAKING = "speaking"  # speech started, the turn is not over
    DONE_SPEECH = "done_speech"  # speech, then end_silence_ms of silence
    DONE_NO_INPUT = "done_no_input"  # no speech within no_input_s
    DONE_MAX = "done_max"  # speech went on for max_speech_s

    @property
    def done(self) -> bool:
        return self not in (EndpointState.WAITING, EndpointState.SPEAKING)


def frame_rms(frame: bytes | bytearray | memoryview) -> float:
    """RMS level of 16-bit little-endian mono samples."""
    samples = array("h")
    samples.frombytes(frame)
    if sys.byteorder == "big":
        samples.byteswap()
    if not samples:
        return 0.0
    # hypot computes sqrt(sum of squares) in C: ~20x faster than a Python loop.
    return math.hypot(*samples) / math.sqrt(len(samples))


def _frames(ms: float, frame_ms: int) -> int:
    return max(1, math.ceil(round(ms / frame_ms, 6)))


class Endpointer:
    """Decides, frame by frame, whether a listening turn is over.

    A frame is speech when its RMS exceeds ``energy_threshold``; speech starts only after
    ``min_speech_frames`` consecutive speech frames, so a click does not count. Times are
    whole frames: a limit that is not a multiple of ``frame_ms`` rounds up.
    """

    def __init__(
        self,
        sample_rate: int = 8000,
        *,
        no_input_s: float,
        end_silence_ms: int,
        max_speech_s: float,
        energy_threshold: float,
        frame_ms: int = 20,
        min_speech_frames: int = 3,
    ):
        samples, rest = divmod(sample_rate * frame_ms, 1000)
        if samples <= 0 or rest:
            raise ValueError(f"{frame_ms} ms is not a whole number of samples at {sample_rate} Hz")
        if min_speech_frames < 1:
            raise ValueError("min_speech_frames must be at least 1")
        self.sample_rate = sample_rate
        self.frame_ms = frame_ms
        self.frame_bytes = samples * 2
        self.energy_threshold = energy_threshold
        self.min_speech_frames = min_speech_frames
        self._no_input_frames = _frames(no_input_s * 1000, frame_ms)
        self._end_silence_frames = _frames(end_silence_ms, frame_ms)
        self._max_speech_frames = _frames(max_speech_s * 1000, frame_ms)
        self._pending = bytearray()
        self._frames = 0  # whole frames judged so far
        self._run = 0  # consecutive speech frames while waiting
        self._silence = 0  # consecutive silent frames while speaking
        self._start: int | None = None  # frame where speech began
        self._last_speech = -1  # last speech frame since then
        self.state = EndpointState.WAITING

    @classmethod
    def from_settings(cls, listen: ListenSettings, sample_rate: int = 8000) -> Endpointer:
        return cls(
            sample_rate,
            no_input_s=listen.no_input_s,
            end_silence_ms=listen.end_silence_ms,
            max_speech_s=listen.max_speech_s,
            energy_threshold=listen.energy_threshold,
        )

    @property
    def elapsed_ms(self) -> int:
        """Audio judged so far (whole frames)."""
        return self._frames * self.frame_ms

    @property
    def speech_ms(self) -> int:
        """From the start of speech to the end of its last speech frame (0 before speech)."""
        if self._start is None:
            return 0
        return (self._last_speech + 1 - self._start) * self.frame_ms

    @property
    def speech_start(self) -> int | None:
        """Byte offset in all audio pushed where speech began, or None before speech."""
        return None if self._start is None else self._start * self.frame_bytes

    @property
    def speech_end(self) -> int | None:
        """Byte offset in all audio pushed where the last speech frame ends, or None before speech."""
        return None if self._start is None else (self._last_speech + 1) * self.frame_bytes

    def trim_offset(self, preroll_ms: int = 200) -> int:
        """Byte offset to keep audio from: speech start less ``preroll_ms`` (0 before speech)."""
        if self._start is None:
            return 0
        return max(0, self._start - preroll_ms // self.frame_ms) * self.frame_bytes

    def push(self, pcm: bytes | bytearray | memoryview) -> EndpointState:
        """Judge the whole frames now available; audio after the turn ended is ignored."""
        if self.state.done:
            return self.state
        self._pending += pcm
        size = self.frame_bytes
        view = memoryview(self._pending)
        used = 0
        while not self.state.done and len(view) - used >= size:
            self._step(frame_rms(view[used : used + size]) > self.energy_threshold)
            used += size
        view.release()
        del self._pending[:used]
        if self.state.done:
            self._pending.clear()
        return self.state

    def _step(self, speech: bool) -> None:
        index = self._frames
        self._frames += 1
        if self.state is EndpointState.WAITING:
            self._run = self._run + 1 if speech else 0
            if self._run >= self.min_speech_frames:
                self._start = index + 1 - self._run
                self._last_speech = index
                self.state = EndpointState.SPEAKING
            elif self._run == 0 and self._frames >= self._no_input_frames:
                self.state = EndpointState.DONE_NO_INPUT
                return
            else:
                return
        if speech:
            self._last_speech = index
            self._silence = 0
        else:
            self._silence += 1
        assert self._start is not None
        if self._silence >= self._end_silence_frames:
            self.state = EndpointState.DONE_SPEECH
        elif self._frames - self._start >= self._max_speech_frames:
            self.state = EndpointState.DONE_MAX
