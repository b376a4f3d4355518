"""Turn taking on a stream of 20 ms frames: pure, no I/O, no clock but the frames themselves.

Each frame arrives judged (voiced or not, see ``voiced``) and flagged with whether the
robot's prompt is playing. Speech starts after a run of voiced frames: ``min_speech_ms``
normally, ``barge_in_ms`` while a prompt plays (so a cough, a click or a burst of echo does
not stop it). The turn ends after ``end_silence_ms`` of unvoiced frames, at ``max_speech_s``
of speech, or after ``no_input_s`` of waiting once the prompt has ended.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

FRAME_MS = 20


class TurnEvent(StrEnum):
    STARTED = "started"  # speech began (the robot was silent)
    BARGE_IN = "barge_in"  # speech began while an interruptible prompt played: stop it
    ENDED = "ended"  # speech, then end_silence_ms of silence
    NO_INPUT = "no_input"
    MAX_SPEECH = "max_speech"

    @property
    def final(self) -> bool:
        return self in (TurnEvent.ENDED, TurnEvent.NO_INPUT, TurnEvent.MAX_SPEECH)


@dataclass(frozen=True, slots=True)
class TurnConfig:
    end_silence_ms: int = 300
    min_speech_ms: int = 80
    barge_in_ms: int = 80
    threshold: float = 0.5  # VAD likelihood that counts as voice
    # Echo of our own prompt comes back quieter than we sent it: while the prompt plays and
    # for echo_window_ms after, a frame is voice only if it is louder than the loudest frame
    # sent in that window less echo_margin_db.
    echo_window_ms: int = 800
    echo_margin_db: float = 12.0
    noise_floor_rms: float = 60.0  # below this no engine is asked: the line is quiet
    preroll_ms: int = 200


def voiced(likelihood: float, rms: float, sent_rms: float, cfg: TurnConfig) -> bool:
    """Is a frame the customer's voice: likely speech, and louder than an echo of ours could be."""
    if likelihood < cfg.threshold or rms < cfg.noise_floor_rms:
        return False
    return rms > sent_rms * 10 ** (-cfg.echo_margin_db / 20)


def _frames(ms: float) -> int:
    return max(1, math.ceil(round(ms / FRAME_MS, 6)))


class Turn:
    """One listening turn, frame by frame."""

    def __init__(self, cfg: TurnConfig, *, no_input_s: float, max_speech_s: float, interruptible: bool = True):
        self.cfg = cfg
        self.interruptible = interruptible
        self._no_input = _frames(no_input_s * 1000)
        self._max_speech = _frames(max_speech_s * 1000)
        self._end_silence = _frames(cfg.end_silence_ms)
        self._onset = _frames(cfg.min_speech_ms)
        self._barge = _frames(max(cfg.barge_in_ms, cfg.min_speech_ms))
        self.frames = 0  # frames seen
        self.waited = 0  # frames waited since the prompt ended, before speech
        self._run = 0
        self._silence = 0
        self.start: int | None = None  # frame index where speech began
        self.last_voice = -1
        self.event: TurnEvent | None = None  # the final event, once the turn is over
        self.barged = False

    @property
    def speaking(self) -> bool:
        return self.start is not None and self.event is None

    @property
    def speech_ms(self) -> int:
        return 0 if self.start is None else (self.last_voice + 1 - self.start) * FRAME_MS

    def push(self, is_voice: bool, *, playing: bool) -> TurnEvent | None:
        """Judge one frame; returns an event when one happens with it."""
        if self.event is not None:
            return None
        index = self.frames
        self.frames += 1
        if self.start is None:
            self._run = self._run + 1 if is_voice else 0
            if self._run >= (self._barge if playing else self._onset):
                self.start = index + 1 - self._run
                self.last_voice = index
                if playing and self.interruptible:
                    self.barged = True
                    return TurnEvent.BARGE_IN
                return TurnEvent.STARTED
            if not playing:
                self.waited += 1
                if self._run == 0 and self.waited >= self._no_input:
                    self.event = TurnEvent.NO_INPUT
                    return self.event
            return None
        if is_voice:
            self.last_voice = index
            self._silence = 0
        else:
            self._silence += 1
        if self._silence >= self._end_silence:
            self.event = TurnEvent.ENDED
        elif index + 1 - self.start >= self._max_speech:
            self.event = TurnEvent.MAX_SPEECH
        return self.event
