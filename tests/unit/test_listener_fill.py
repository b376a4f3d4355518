"""The turn listener's stand-in silence for wall time without frames: it moves the turn's clocks,
but frames that were only late reach the recognizer as sent (no made-up gap inside a word)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from bot.speech.listener import TurnListener
from bot.speech.turns import TurnConfig, TurnEvent

SILENCE = bytes(320)


class _Stream:
    def __init__(self, fed: bytearray):
        self.fed = fed

    async def feed(self, pcm: bytes) -> None:
        self.fed += pcm

    async def result(self) -> tuple[str, float]:
        return "네", 0.9

    def close(self) -> None:
        return None


class _Recognizer:
    def __init__(self) -> None:
        self.fed = bytearray()

    def stream(self, phrases: object) -> _Stream:
        return _Stream(self.fed)


def _listener(recognizer: _Recognizer) -> TurnListener:
    listener = TurnListener(TurnConfig(), vad=None, pool=ThreadPoolExecutor(1), recognizer=recognizer)  # type: ignore[arg-type]
    listener.begin(["네"], no_input_s=5, max_speech_s=10)
    return listener


async def test_late_frames_are_recognized_as_sent_without_the_filler_between_them() -> None:
    recognizer = _Recognizer()
    listener = _listener(recognizer)
    voice = [bytes([i + 1]) * 320 for i in range(20)]
    for frame in voice[:10]:
        listener.step(frame, True, playing=False)
    for _ in range(3):  # 60 ms in which nothing arrived: the frames were late, not missing
        listener.step(SILENCE, False, playing=False, filler=True)
    for frame in voice[10:]:
        listener.step(frame, True, playing=False)
    assert listener.turn is not None
    while listener.turn.event is None:
        listener.step(SILENCE, False, playing=False)  # the line's own silence ends the turn
    heard = await listener.heard()
    assert heard.text == "네"
    speech = b"".join(voice)
    assert speech in listener.audio and speech in recognizer.fed


async def test_fillers_alone_still_end_a_turn_on_a_line_that_sends_nothing() -> None:
    listener = _listener(_Recognizer())
    for frame in [b"\x01" * 320] * 10:
        listener.step(frame, True, playing=False)
    assert listener.turn is not None
    events = [listener.step(SILENCE, False, playing=False, filler=True) for _ in range(100)]
    assert TurnEvent.ENDED in events
