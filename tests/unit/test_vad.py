"""Voice activity on real audio: espeak-ng speech stops a prompt; a click or a cough-like burst
does not (bot.speech.vad + bot.speech.turns)."""

from __future__ import annotations

import random
import shutil
import subprocess
from array import array
from pathlib import Path

import pytest

from bot.speech.endpoint import frame_rms
from bot.speech.turns import Turn, TurnConfig, TurnEvent, voiced
from bot.speech.vad import SileroVad, Vad, WebRtcVad
from bot.speech.wav import read_pcm

CFG = TurnConfig()


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    if shutil.which("espeak-ng") is None or shutil.which("sox") is None:
        pytest.fail("espeak-ng and sox are required (make setup installs them)")
    folder = tmp_path_factory.mktemp("vad")
    subprocess.run(["espeak-ng", "-v", "ko", "-w", str(folder / "raw.wav"), "내일 낼게요"], check=True)
    subprocess.run(["sox", str(folder / "raw.wav"), "-r", "8000", "-c", "1", "-b", "16", str(folder / "s.wav")],
                   check=True)
    return read_pcm(Path(folder / "s.wav"))


def frames(pcm: bytes) -> list[bytes]:
    return [pcm[i:i + 320] for i in range(0, len(pcm) - 319, 320)]


def over_prompt(vad: Vad, pcm: bytes) -> list[TurnEvent]:
    """Events of a turn fed ``pcm`` while an interruptible prompt plays (no echo to compare)."""
    turn = Turn(CFG, no_input_s=5, max_speech_s=10)
    events = []
    for frame in frames(bytes(3200) + pcm + bytes(3200)):
        event = turn.push(voiced(vad.speech(frame), frame_rms(frame), 0.0, CFG), playing=True)
        if event is not None:
            events.append(event)
    return events


def click() -> bytes:
    samples = array("h", bytes(320 * 5))
    samples[400] = 30000
    samples[401] = -30000
    return samples.tobytes()


def burst(ms: int, seed: int = 3) -> bytes:
    rng = random.Random(seed)
    n = ms * 8
    return array("h", (int(rng.gauss(0, 6000) * min(1.0, i / 80, (n - i) / 80)) for i in range(n))).tobytes()


@pytest.mark.parametrize("make", [SileroVad, lambda: WebRtcVad(2)], ids=["silero", "webrtc"])
def test_speech_over_the_prompt_is_a_barge_in(speech: bytes, make: type[Vad]) -> None:
    assert over_prompt(make(), speech)[:1] == [TurnEvent.BARGE_IN]


def test_click_and_cough_like_burst_do_not_stop_the_prompt() -> None:
    vad = SileroVad()
    assert over_prompt(vad, click()) == []
    assert over_prompt(SileroVad(), burst(150)) == []
