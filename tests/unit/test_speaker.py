"""Synthetic speakers and telephone lines with the real espeak-ng and sox, and the persona fields
that use them."""

from __future__ import annotations

import math
import struct
from array import array
from pathlib import Path

import pytest

from bot.errors import ConfigError, SpeechError
from bot.speech.render import Shape
from bot.speech.speaker import Line, Speaker, active_level, add_noise, speak, through_line
from bot.speech.wav import read_pcm, wav_duration_ms
from bot.telephony.sim import Persona, read_personas
from bot.telephony.sim_voice import render_voiced

RATE = 8000


def tone(hz: float, ms: int = 1000, amplitude: int = 8000) -> bytes:
    n = RATE * ms // 1000
    return struct.pack(f"<{n}h", *(round(amplitude * math.sin(2 * math.pi * hz * i / RATE)) for i in range(n)))


def rms(pcm: bytes) -> float:
    samples = array("h")
    samples.frombytes(pcm)
    return math.sqrt(sum(s * s for s in samples) / len(samples))


def names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_speak_writes_8khz_mono_with_the_silences_asked(tmp_path: Path) -> None:
    path = speak("내일 낼게요", Speaker("ko+m3", 150, 40), tmp_path / "a.wav", lead_ms=300, tail_ms=700)
    pcm = read_pcm(path)  # refuses anything but 8 kHz 16-bit mono
    assert wav_duration_ms(path) > 1000 + 300
    assert rms(pcm[: 280 * 16]) == 0 and rms(pcm[-680 * 16:]) == 0
    assert rms(pcm) > 300
    assert [p.name for p in tmp_path.iterdir()] == ["a.wav"]  # no temporary file left


def test_variant_rate_and_pitch_each_change_the_voice(tmp_path: Path) -> None:
    def audio(speaker: Speaker) -> bytes:
        return read_pcm(speak("네 맞아요", speaker, tmp_path / f"{speaker.tag()}.wav"))

    base = audio(Speaker("ko", 170, 50))
    others = [audio(Speaker("ko+f2", 170, 50)), audio(Speaker("ko", 120, 50)), audio(Speaker("ko", 170, 80))]
    assert all(other != base for other in others)
    assert len(others[1]) > len(base) * 1.2  # slower speech is longer


def test_unknown_variant_and_dash_text(tmp_path: Path) -> None:
    with pytest.raises(SpeechError, match="no voice variant 'nobody'"):
        speak("네", Speaker("ko+nobody"), tmp_path / "x.wav")
    with pytest.raises(SpeechError, match="rate must be"):
        speak("네", Speaker("ko", 20), tmp_path / "x.wav")
    # a text that looks like an option is still spoken: it goes on stdin, not in argv
    assert rms(read_pcm(speak("-v en 네", Speaker("ko"), tmp_path / "dash.wav"))) > 100


def test_g711_line_keeps_the_voice_band_and_cuts_outside_it() -> None:
    inside, low = tone(1000), tone(100)
    coded = through_line(inside, Line("g711"))
    assert len(coded) == len(inside)
    error = bytes(struct.pack(f"<{len(inside) // 2}h", *(
        a - b for a, b in zip(struct.unpack(f"<{len(inside) // 2}h", inside),
                              struct.unpack(f"<{len(coded) // 2}h", coded), strict=True))))
    assert coded != inside  # µ-law quantizes
    assert 0.8 < rms(coded[1600:-1600]) / rms(inside[1600:-1600]) < 1.2
    assert rms(error[1600:-1600]) < rms(inside) / 5  # but keeps the signal
    assert rms(through_line(low, Line("g711"))[1600:-1600]) < rms(low) / 10  # 100 Hz is below the band


def test_noise_is_added_at_the_snr_asked_and_repeatable() -> None:
    speech = bytes(4000 * 2) + tone(500, 1000) + bytes(4000 * 2)  # speech with pauses around it
    for snr in (20, 10):
        noisy = add_noise(speech, snr, seed=7)
        noise = [a - b for a, b in zip(struct.unpack(f"<{len(noisy) // 2}h", noisy),
                                       struct.unpack(f"<{len(speech) // 2}h", speech), strict=True)]
        noise_rms = math.sqrt(sum(n * n for n in noise) / len(noise))
        measured = 20 * math.log10(active_level(speech) / noise_rms)
        assert abs(measured - snr) < 0.5
        assert rms(noisy[: 4000 * 2]) > 0  # the pauses are noisy too
    assert add_noise(speech, 10, seed=7) == add_noise(speech, 10, seed=7)
    assert add_noise(speech, 10, seed=7) != add_noise(speech, 10, seed=8)
    assert add_noise(bytes(1600), 10) == bytes(1600)  # silence has no level to set noise against


def test_persona_voice_fields_are_checked(tmp_path: Path) -> None:
    plain = Persona(number="+821055550001", replies=["네"])
    assert not plain.voiced
    voiced = Persona(number="+821055550001", replies=["네"], voice="ko+f2", noise_db=20, line="g711",
                     fillers=["어…"])
    assert voiced.voiced
    bad = tmp_path / "personas.yaml"
    bad.write_text('personas:\n  - number: "+821055550001"\n    voice: ko+nobody\n    replies: ["네"]\n')
    with pytest.raises(ConfigError, match=r"personas.yaml:3.*no voice variant 'nobody'"):
        read_personas(bad)
    bad.write_text('personas:\n  - number: "+821055550001"\n    line: g729\n')
    with pytest.raises(ConfigError, match=r"personas.yaml:3"):
        read_personas(bad)
    bad.write_text('personas:\n  - number: "+821055550001"\n    pitch: 120\n')
    with pytest.raises(ConfigError, match=r"personas.yaml:3"):
        read_personas(bad)
    bad.write_text('personas:\n  - number: "+821055550001"\n    noise: 20\n')
    with pytest.raises(ConfigError, match=r"personas.yaml:3"):
        read_personas(bad)


async def test_a_voiced_reply_is_rendered_once_through_its_line(tmp_path: Path) -> None:
    shape = Shape(lead_ms=300, tail_ms=1300)
    persona = Persona(number="+821055550001", voice="ko+m3", rate=150, pitch=40, noise_db=10, line="g711")
    path = await render_voiced(persona, "ko", "내일 낼게요", tmp_path, default_rate=170, shape=shape)
    pcm = read_pcm(path)
    assert rms(pcm[: 250 * 16]) > 50  # line noise before the speech
    again = await render_voiced(persona, "ko", "내일 낼게요", tmp_path, default_rate=170, shape=shape)
    assert again == path and again.stat().st_mtime_ns == path.stat().st_mtime_ns
    with_filler = persona.model_copy(update={"fillers": ["어…"]})
    longer = await render_voiced(with_filler, "ko", "내일 낼게요", tmp_path, default_rate=170, shape=shape)
    assert longer != path and wav_duration_ms(longer) > wav_duration_ms(path) + 150
    assert names(tmp_path) == sorted([path.name, longer.name])  # no temporary file left
