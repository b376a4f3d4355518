"""The endpointer on synthetic audio: silence and tone bursts, 20 ms frames at 8 kHz."""

from __future__ import annotations

import math
from array import array

import pytest

from bot.config import ListenSettings
from bot.speech.endpoint import Endpointer, EndpointState, frame_rms

RATE = 8000
FRAME = 160 * 2  # bytes in one 20 ms frame


def silence(frames: int) -> bytes:
    return bytes(FRAME * frames)


def tone(frames: int, amplitude: int = 3000, hz: int = 440) -> bytes:
    n = 160 * frames
    samples = array("h", (round(amplitude * math.sin(2 * math.pi * hz * i / RATE)) for i in range(n)))
    return samples.tobytes()  # the test machine is little-endian, like call audio


def endpointer(*, max_speech_s: float = 2.0) -> Endpointer:
    return Endpointer(RATE, no_input_s=1.0, end_silence_ms=200, max_speech_s=max_speech_s, energy_threshold=300)


def states(ep: Endpointer, pcm: bytes) -> list[EndpointState]:
    """The state after each frame of ``pcm``, pushed one frame at a time."""
    return [ep.push(pcm[i : i + FRAME]) for i in range(0, len(pcm), FRAME)]


def first(seq: list[EndpointState], state: EndpointState) -> int:
    return seq.index(state)


def test_rms_of_silence_and_a_square_wave():
    assert frame_rms(silence(1)) == 0.0
    assert frame_rms(array("h", [1000, -1000] * 80).tobytes()) == pytest.approx(1000)
    assert frame_rms(b"") == 0.0


def test_silence_only_ends_as_no_input_exactly_at_the_deadline():
    ep = endpointer()
    seq = states(ep, silence(60))
    assert first(seq, EndpointState.DONE_NO_INPUT) == 49  # the 50th frame ends 1.0 s
    assert set(seq[:49]) == {EndpointState.WAITING}
    assert ep.elapsed_ms == 1000
    assert ep.speech_start is None and ep.speech_ms == 0 and ep.trim_offset() == 0


def test_speech_starts_after_three_loud_frames_and_remembers_where():
    ep = endpointer()
    seq = states(ep, silence(10) + tone(5))
    assert seq[:12] == [EndpointState.WAITING] * 12
    assert seq[12] is EndpointState.SPEAKING  # third tone frame
    assert ep.speech_start == 10 * FRAME
    assert ep.speech_ms == 5 * 20
    assert ep.trim_offset(preroll_ms=100) == 5 * FRAME
    assert ep.trim_offset(preroll_ms=1000) == 0


def test_a_click_is_not_speech():
    ep = endpointer()
    seq = states(ep, silence(5) + tone(2) + silence(5) + tone(1) + silence(60))
    assert EndpointState.SPEAKING not in seq
    assert ep.state is EndpointState.DONE_NO_INPUT
    assert ep.elapsed_ms == 1000


def test_end_silence_ends_the_turn_on_its_last_frame():
    ep = endpointer()
    seq = states(ep, tone(10) + silence(20))
    assert first(seq, EndpointState.DONE_SPEECH) == 10 + 10 - 1  # 200 ms = 10 silent frames
    assert ep.speech_ms == 200
    assert ep.speech_start == 0


def test_a_pause_shorter_than_end_silence_keeps_the_turn_open():
    ep = endpointer()
    seq = states(ep, tone(10) + silence(9) + tone(10) + silence(10))
    assert EndpointState.DONE_SPEECH not in seq[:-1]
    assert seq[-1] is EndpointState.DONE_SPEECH
    assert ep.speech_ms == (10 + 9 + 10) * 20


def test_long_speech_is_cut_at_max_speech():
    ep = endpointer(max_speech_s=1.0)
    seq = states(ep, silence(3) + tone(100))
    assert first(seq, EndpointState.DONE_MAX) == 3 + 50 - 1
    assert ep.speech_ms == 1000


def test_speech_that_starts_just_before_the_no_input_deadline_is_heard():
    ep = endpointer()
    seq = states(ep, silence(48) + tone(5) + silence(15))
    assert EndpointState.DONE_NO_INPUT not in seq
    assert ep.state is EndpointState.DONE_SPEECH


def test_done_is_final_and_later_audio_is_ignored():
    ep = endpointer()
    states(ep, tone(5) + silence(10))
    assert ep.state is EndpointState.DONE_SPEECH
    elapsed = ep.elapsed_ms
    assert ep.push(tone(50)) is EndpointState.DONE_SPEECH
    assert ep.elapsed_ms == elapsed
    assert ep.state.done and not EndpointState.SPEAKING.done


@pytest.mark.parametrize("chunk", [1, 7, 320, 1600, 3200])
def test_chunking_does_not_change_the_outcome(chunk: int):
    pcm = silence(7) + tone(12) + silence(4) + tone(6) + silence(12)
    ep = endpointer()
    for i in range(0, len(pcm), chunk):
        ep.push(pcm[i : i + chunk])
    assert ep.state is EndpointState.DONE_SPEECH
    assert ep.speech_start == 7 * FRAME
    assert ep.speech_ms == (12 + 4 + 6) * 20
    assert ep.elapsed_ms == (7 + 12 + 4 + 6 + 10) * 20


def test_quiet_audio_below_the_threshold_is_silence():
    ep = endpointer()
    states(ep, tone(60, amplitude=300))  # RMS ~212 < 300
    assert ep.state is EndpointState.DONE_NO_INPUT


def test_built_from_listen_settings():
    ep = Endpointer.from_settings(ListenSettings(), RATE)
    seq = states(ep, silence(300))
    assert first(seq, EndpointState.DONE_NO_INPUT) == 249  # 5 s default


def test_rejects_a_frame_that_is_not_whole_samples():
    with pytest.raises(ValueError, match="whole number of samples"):
        Endpointer(
            11025, no_input_s=1, end_silence_ms=200, max_speech_s=2, energy_threshold=300,
            frame_ms=10,
        )  # fmt: skip
