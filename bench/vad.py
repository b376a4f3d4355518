"""Voice activity engines compared: cost per 20 ms frame and accuracy on telephone-like audio.

    .venv/bin/python bench/vad.py [--seconds-between 0.6]

Speech: Korean phrases spoken by espeak-ng (three voices), 8 kHz, with silence between them.
A frame's truth is its level in the clean audio (RMS above 30: the gaps are digital silence);
the engines judge the same audio with band-limited (300-3400 Hz) noise at 20 and 10 dB SNR
added. Prints, per engine and SNR: microseconds per frame, speech recall, and the share of
silent frames called speech. Asserts nothing.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.speech.vad import SileroVad, WebRtcVad

PHRASES = ["네", "내일 낼게요", "못 내요", "상담원 연결해 주세요", "다음주 월요일에 낼게요", "전화 하지 마세요",
           "본인 아닙니다", "돈이 없어요"]
VOICES = ["ko", "ko+m3", "ko+f2"]


def speech(text: str, voice: str, folder: Path) -> np.ndarray:
    raw, out = folder / "raw.wav", folder / "out.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(raw), text], check=True, capture_output=True)
    subprocess.run(["sox", str(raw), "-r", "8000", "-c", "1", "-b", "16", str(out)], check=True)
    return np.frombuffer(out.read_bytes()[44:], dtype="<i2").astype(np.float64)


def line_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    white = rng.standard_normal(n + 64)
    spectrum = np.fft.rfft(white)
    freqs = np.fft.rfftfreq(len(white), 1 / 8000)
    spectrum[(freqs < 300) | (freqs > 3400)] = 0
    return np.fft.irfft(spectrum, len(white))[:n]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds-between", type=float, default=0.6)
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    gap = np.zeros(int(args.seconds_between * 8000))
    with tempfile.TemporaryDirectory() as tmp:
        parts = [gap]
        for voice in VOICES:
            for text in PHRASES:
                parts += [speech(text, voice, Path(tmp)), gap]
    clean = np.concatenate(parts)
    clean = clean[: len(clean) // 160 * 160]
    frames = clean.reshape(-1, 160)
    rms = np.sqrt((frames ** 2).mean(axis=1))
    truth = rms > 30
    speech_power = (frames[truth] ** 2).mean()
    noise = line_noise(len(clean), rng)
    print(f"{len(frames)} frames ({len(frames) / 50:.0f} s), {truth.mean():.0%} speech")
    print("| engine | SNR | us/frame | speech recall | silence called speech |")
    print("|---|---|---|---|---|")
    for snr in (None, 20, 10):
        audio = clean.copy()
        if snr is not None:
            audio += noise * np.sqrt(speech_power / 10 ** (snr / 10) / (noise ** 2).mean())
        pcm = np.clip(audio, -32768, 32767).astype("<i2").tobytes()
        for name, make in (("webrtc(2)", lambda: WebRtcVad(2)), ("webrtc(3)", lambda: WebRtcVad(3)),
                           ("silero", SileroVad)):
            vad = make()
            started = time.perf_counter()
            said = np.array([vad.speech(pcm[i * 320:(i + 1) * 320]) >= 0.5 for i in range(len(frames))])
            cost = (time.perf_counter() - started) / len(frames) * 1e6
            recall = (said & truth).sum() / truth.sum()
            false = (said & ~truth).sum() / (~truth).sum()
            print(f"| {name} | {'clean' if snr is None else f'{snr} dB'} | {cost:.0f} | {recall:.1%} | {false:.1%} |")


if __name__ == "__main__":
    main()
