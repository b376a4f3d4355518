"""Speech throughput on this machine: synthesis (cold and cached) and recognition per pool size.

    .venv/bin/python bench/speech.py [--utterances 48] [--threads 1,2,4] [--calls 8]

Prints figures and asserts nothing. Audio is Korean synthesized by our own Synthesizer and
fed in 200 ms chunks as fast as the pool takes it, ``--calls`` streams at a time. Each
workload runs twice on one Recognizer: "cold" (starting with no spare decoders) and "warm" (free-vocabulary
decoders handed back by closed streams; grammar decoders are always new).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bot.speech.asr import Recognizer
from bot.speech.tts import Synthesizer
from bot.speech.wav import read_pcm

PHRASES = [
    "네",
    "아니요",
    "내일 낼게요",
    "다음주 월요일",
    "모레",
    "상담원 연결",
    "본인 아닙니다",
    "다시 전화해 주세요",
]
PROMPTS = [
    "안녕하세요, 고객님. 연체 금액 안내 전화입니다.",
    "본인이 맞으시면 네, 아니면 아니요라고 말씀해 주세요.",
    "언제 납부하실 수 있으신가요?",
    "감사합니다. 좋은 하루 되세요.",
    "잠시만 기다려 주세요. 상담원을 연결해 드리겠습니다.",
    "다시 한 번 말씀해 주시겠어요?",
]
CHUNK = 3200  # 200 ms at 8 kHz, 16-bit


@dataclass(frozen=True)
class Row:
    utterances: int
    audio_s: float
    wall_s: float
    accuracy: float
    final_s: float  # median wait for the result after the last chunk

    def cells(self) -> tuple[object, ...]:
        return (
            self.utterances,
            f"{self.audio_s:.1f}",
            f"{self.wall_s:.2f}",
            f"{self.utterances / self.wall_s:.1f}",
            f"{self.wall_s / self.audio_s:.3f}",
            f"{self.audio_s / self.wall_s:.0f}",
            f"{self.accuracy:.0%}",
            f"{self.final_s * 1000:.0f}",
        )


async def bench_tts(cache: Path) -> list[tuple[str, str]]:
    rows = []
    async with Synthesizer(cache, rate=170, workers=1) as synth:
        start = time.perf_counter()
        await synth.prompt("준비", "ko")  # starts the worker process
        rows.append(("first prompt (starts the worker)", f"{(time.perf_counter() - start) * 1000:.0f} ms"))
        cold = []
        for text in PROMPTS:
            start = time.perf_counter()
            await synth.prompt(text, "ko")
            cold.append(time.perf_counter() - start)
        rows.append(("cold synthesis per prompt (median)", f"{statistics.median(cold) * 1000:.1f} ms"))
        start = time.perf_counter()
        rounds = 200
        for _ in range(rounds):
            for text in PROMPTS:
                await synth.prompt(text, "ko")
        hit = (time.perf_counter() - start) / (rounds * len(PROMPTS))
        rows.append(("cache hit per prompt", f"{hit * 1e6:.0f} µs"))
    async with Synthesizer(cache / "parallel", rate=170, workers=2) as synth:
        await asyncio.gather(synth.prompt("준비", "ko"), synth.prompt("준비 둘", "ko"))
        start = time.perf_counter()
        await asyncio.gather(*(synth.prompt(f"{t} ({i})", "ko") for i, t in enumerate(PROMPTS * 2)))
        per = (time.perf_counter() - start) / (2 * len(PROMPTS))
        rows.append(("cold synthesis, 2 workers, per prompt", f"{per * 1000:.1f} ms"))
    return rows


async def render_utterances(cache: Path) -> dict[str, bytes]:
    async with Synthesizer(cache, rate=170) as synth:
        return {p: read_pcm(await synth.prompt(p, "ko")) for p in PHRASES}


async def bench_asr(
    audio: dict[str, bytes], utterances: int, threads: int, grammar: bool, calls: int
) -> tuple[Row, Row]:
    """The same workload twice on one Recognizer: cold decoders, then warm ones."""
    async with Recognizer(None, workers=threads, spare_free_decoders=calls) as recognizer:
        await recognizer.load()
        cold = await _recognize_all(recognizer, audio, utterances, grammar, calls)
        warm = await _recognize_all(recognizer, audio, utterances, grammar, calls)
    return cold, warm


async def _recognize_all(
    recognizer: Recognizer, audio: dict[str, bytes], utterances: int, grammar: bool, calls: int
) -> Row:
    jobs = [PHRASES[i % len(PHRASES)] for i in range(utterances)]
    latencies: list[float] = []
    lines = asyncio.Semaphore(calls)

    async def one(phrase: str) -> str:
        async with lines:
            stream = recognizer.stream(PHRASES if grammar else None)
            pcm = audio[phrase]
            for i in range(0, len(pcm), CHUNK):
                await stream.feed(pcm[i : i + CHUNK])
            done = time.perf_counter()
            text, _ = await stream.result()
            latencies.append(time.perf_counter() - done)
            stream.close()
            return text

    start = time.perf_counter()
    texts = await asyncio.gather(*(one(p) for p in jobs))
    wall = time.perf_counter() - start
    seconds = sum(len(audio[p]) for p in jobs) / 16000
    correct = sum(t == p for t, p in zip(texts, jobs, strict=True)) / len(jobs)
    return Row(len(jobs), seconds, wall, correct, statistics.median(latencies))


async def main(utterances: int, pools: list[int], calls: int) -> None:
    print(f"machine: {os.cpu_count()} CPU cores\n")
    with tempfile.TemporaryDirectory(prefix="collbot-bench-") as tmp:
        print("Synthesis (pyttsx3 + espeak-ng + sox, 8 kHz WAV, cache on local disk)")
        for name, value in await bench_tts(Path(tmp) / "tts"):
            print(f"  {name:<40} {value:>10}")
        audio = await render_utterances(Path(tmp) / "asr")

    start = time.perf_counter()
    async with Recognizer(None) as recognizer:
        await recognizer.load()
    print(f"\nRecognition (Vosk Korean small model; load {time.perf_counter() - start:.1f} s)")
    header = ("mode", "threads", "decoders", "utts", "audio s", "wall s", "rec/s", "RTF",
              "x realtime", "accuracy", "final ms")  # fmt: skip
    print("  " + " ".join(f"{h:>10}" for h in header))
    for grammar in (True, False):
        for threads in pools:
            cold, warm = await bench_asr(audio, utterances, threads, grammar, calls)
            for label, row in (("cold", cold), ("warm", warm)):
                cells = ("grammar" if grammar else "free", threads, label, *row.cells())
                print("  " + " ".join(f"{c:>10}" for c in cells))
    print(
        "\nRTF: wall time over audio time for all streams together; x realtime: how many"
        "\nreal-time streams the pool keeps up with; final ms: median wait for the result"
        "\nafter the last chunk, with the other streams competing for the pool. Accuracy of"
        "\nfree vocabulary counts exact matches only (espeak Korean is hard for it)."
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--utterances", type=int, default=48, help="recognitions per run")
    parser.add_argument("--threads", default="1,2,4", help="pool sizes to try, comma separated")
    parser.add_argument("--calls", type=int, default=8, help="streams decoding at the same time")
    args = parser.parse_args()
    asyncio.run(main(args.utterances, [int(t) for t in args.threads.split(",")], args.calls))
