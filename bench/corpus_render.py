"""The corpus spoken by synthetic voices and passed through telephone lines, cached on disk.

    .venv/bin/python bench/corpus_render.py [--corpus bench/corpus/ko.yaml] [--voices ko,ko+m3]
        [--lines clean,g711,g711-20db,g711-10db] [--workers 2] [--cache DIR] [--limit N]

Each (item, voice) is spoken once by espeak-ng with the silences a customer's reply has in the
sandbox (300 ms before, 700 ms after), then coded once per line condition. Files live under
``--cache`` (default ``~/.cache/collbot/corpus``), named by a hash of what made them, so a
second run renders nothing. A bounded pool of worker threads runs espeak-ng and sox.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus_model import Corpus, Item, load_corpus

from bot.speech.speaker import Line, Speaker, line_file, speak

DEFAULT_CORPUS = Path(__file__).with_name("corpus") / "ko.yaml"
DEFAULT_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "collbot" / "corpus"
RENDER_TAG = "corpus-audio/3 lead=300 tail=700"  # bump when the rendering changes
LEAD_MS, TAIL_MS = 300, 700
# Six speakers: espeak-ng's Korean voice and five variants, at different rates and pitches.
VOICES: dict[str, Speaker] = {
    "ko": Speaker("ko", 170, 50),  # the sandbox customers' voice today
    "ko+m3": Speaker("ko+m3", 150, 40),
    "ko+f2": Speaker("ko+f2", 175, 65),
    "ko+f4": Speaker("ko+f4", 160, 72),
    "ko+m7": Speaker("ko+m7", 195, 35),
    "ko+f5": Speaker("ko+f5", 140, 58),
}
LINES: dict[str, Line] = {
    "clean": Line(),  # 8 kHz linear PCM, as the sandbox's customers sound today
    "g711": Line("g711"),
    "g711-20db": Line("g711", 20),
    "g711-10db": Line("g711", 10),
}


@dataclass(frozen=True)
class Job:
    item: Item
    voice: str
    line: str

    def seed(self) -> int:
        # From the text, not the item: an answer listed at both steps is one file per voice and line.
        return int(hashlib.sha256(f"{self.item.text}\0{self.voice}\0{self.line}".encode()).hexdigest()[:12], 16)


def spoken_path(cache: Path, item: Item, voice: str) -> Path:
    digest = hashlib.sha256(f"{RENDER_TAG}\0{VOICES[voice].tag()}\0{item.text}".encode()).hexdigest()[:24]
    return cache / "spoken" / voice / f"{digest}.wav"


def audio_path(cache: Path, job: Job) -> Path:
    """The WAV of one (item, voice, line) trial."""
    spoken = spoken_path(cache, job.item, job.voice)
    if job.line == "clean":
        return spoken
    return cache / "lines" / job.line / job.voice / spoken.name


def jobs(corpus: Corpus, voices: Sequence[str], lines: Sequence[str], limit: int | None = None,
         split: str | None = None) -> list[Job]:
    items = [i for i in corpus.items if split is None or i.split == split]
    if limit is not None:
        items = _spread(items, limit)
    return [Job(item, voice, line) for item in items for voice in voices for line in lines]


def _spread(items: list[Item], limit: int) -> list[Item]:
    """``limit`` items taken evenly across the file, so a quick run still sees every kind."""
    if limit >= len(items):
        return items
    return [items[i * len(items) // limit] for i in range(limit)]


def render(todo: list[Job], cache: Path, *, workers: int = 2,
           progress: Callable[[int, int], None] | None = None) -> int:
    """Make every job's audio that is not cached yet; returns how many files were written."""
    spoken = {spoken_path(cache, j.item, j.voice): j for j in todo}  # one file per text and voice
    missing_spoken = [j for path, j in spoken.items() if not path.is_file()]
    missing_lines = list({audio_path(cache, j): j for j in todo
                          if j.line != "clean" and not audio_path(cache, j).is_file()}.values())
    total = len(missing_spoken) + len(missing_lines)
    done = 0
    with ThreadPoolExecutor(max(1, workers), thread_name_prefix="render") as pool:
        for batch in (
            [pool.submit(speak, j.item.text, VOICES[j.voice], spoken_path(cache, j.item, j.voice),
                         lead_ms=LEAD_MS, tail_ms=TAIL_MS) for j in missing_spoken],
            [pool.submit(_coded, cache, j) for j in missing_lines],
        ):
            for future in as_completed(batch):
                future.result()
                done += 1
                if progress is not None:
                    progress(done, total)
    return total


def _coded(cache: Path, job: Job) -> Path:
    dest = audio_path(cache, job)
    dest.parent.mkdir(parents=True, exist_ok=True)
    return line_file(spoken_path(cache, job.item, job.voice), dest, LINES[job.line], seed=job.seed())


def printer(label: str) -> Callable[[int, int], None]:
    """Progress on stderr: a line every 5 % (and at the end)."""
    started = time.monotonic()
    shown = [-1]

    def show(done: int, total: int) -> None:
        step = done * 20 // max(total, 1)
        if step != shown[0] or done == total:
            shown[0] = step
            print(f"  {label}: {done}/{total} ({time.monotonic() - started:.0f} s)", file=sys.stderr, flush=True)
    return show


def parse_list(text: str, known: dict[str, object], what: str) -> list[str]:
    chosen = [v.strip() for v in text.split(",") if v.strip()]
    unknown = [v for v in chosen if v not in known]
    if unknown or not chosen:
        raise SystemExit(f"unknown {what} {', '.join(unknown) or '(none given)'}; known: {', '.join(known)}")
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--voices", default=",".join(VOICES))
    parser.add_argument("--lines", default=",".join(LINES))
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--limit", type=int, help="only this many items, spread over the corpus")
    args = parser.parse_args()
    corpus = load_corpus(args.corpus)
    todo = jobs(corpus, parse_list(args.voices, VOICES, "voice"), parse_list(args.lines, LINES, "line"), args.limit)
    written = render(todo, args.cache, workers=args.workers, progress=printer("rendering"))
    print(f"{len(todo)} trials' audio under {args.cache}; {written} file(s) rendered now")


if __name__ == "__main__":
    main()
