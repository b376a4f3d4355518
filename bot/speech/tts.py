"""Prompt synthesis for calls: each prompt rendered once into a content-addressed WAV cache.

A prompt becomes an 8 kHz, 16-bit, mono WAV named by a hash of what made it (engine tag,
voice, rate, shape, text), so Asterisk plays it straight from the cache and any change is a
new file. Rendering happens in up to ``workers`` child processes
(`bot.speech.synth_worker`), each driven by one thread of a small pool, because libespeak-ng
renders one prompt at a time per process; a child that dies costs one retry, not the bot.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType

from bot.errors import SpeechError
from bot.speech.render import PLAIN, VOICES, Shape, cache_key, espeak_voice, synthesize_to
from bot.speech.synth_worker import WorkerDied, WorkerProcess
from bot.speech.wav import wav_duration_ms

__all__ = ["VOICES", "Shape", "Synthesizer", "espeak_voice", "synthesize_to", "wav_duration_ms"]

log = logging.getLogger(__name__)


class Synthesizer:
    """Async, cached prompt synthesis: each distinct prompt is rendered once, off the event loop."""

    def __init__(self, cache_dir: Path, *, rate: int, workers: int = 1, shape: Shape = PLAIN):
        if workers < 1:
            raise ValueError("workers must be at least 1")
        if rate <= 0:
            raise ValueError("rate must be positive (words per minute)")
        self.cache_dir = Path(cache_dir)
        self.rate = rate
        self.workers = workers
        self.shape = shape
        self._threads: ThreadPoolExecutor | None = None
        self._idle: queue.SimpleQueue[WorkerProcess] = queue.SimpleQueue()
        self._procs: list[WorkerProcess] = []
        self._procs_lock = threading.Lock()
        self._inflight: dict[Path, asyncio.Task[Path]] = {}
        self._hits = 0
        self._misses = 0
        self._closed = False

    @property
    def hits(self) -> int:
        """Requests answered without starting a synthesis (cached file, or joined one in flight)."""
        return self._hits

    @property
    def misses(self) -> int:
        """Syntheses started."""
        return self._misses

    @property
    def queued(self) -> int:
        """Syntheses queued or running now (read by the overload governor)."""
        return len(self._inflight)

    def path_for(self, text: str, voice: str) -> Path:
        """Where the prompt is (or will be) cached; nothing is synthesized."""
        return self.cache_dir / f"{cache_key(text, voice, self.rate, self.shape)}.wav"

    async def prompt(self, text: str, voice: str) -> Path:
        """The cached WAV for ``text`` in ``voice``, synthesizing it first if needed."""
        if not text.strip():
            raise SpeechError("cannot synthesize an empty prompt")
        path = self.path_for(text, voice)
        task = self._inflight.get(path)
        if task is None:
            if path.is_file():
                self._hits += 1
                # Its access time says when it was last used: the retention purge keeps a personal
                # prompt still in use (bot.privacy.purge). Set explicitly: mounts may not keep atimes.
                with contextlib.suppress(OSError):
                    os.utime(path, ns=(time.time_ns(), path.stat().st_mtime_ns))
                return path
            if self._closed:
                raise RuntimeError("Synthesizer is closed")
            self._misses += 1
            loop = asyncio.get_running_loop()
            task = loop.create_task(self._render(loop, text, voice, path))
            self._inflight[path] = task
            task.add_done_callback(lambda done: self._settle(path, done))
        else:
            self._hits += 1
        # Shielded: one caller giving up (a hangup) must not cancel the synthesis others share.
        return await asyncio.shield(task)

    async def _render(self, loop: asyncio.AbstractEventLoop, text: str, voice: str, path: Path) -> Path:
        if self._threads is None:
            self._threads = ThreadPoolExecutor(self.workers, thread_name_prefix="tts")
        await loop.run_in_executor(self._threads, self._render_blocking, text, voice, path)
        return path

    def _settle(self, path: Path, task: asyncio.Task[Path]) -> None:
        self._inflight.pop(path, None)
        if not task.cancelled():
            task.exception()  # retrieved here: every waiter may have given up

    def _render_blocking(self, text: str, voice: str, path: Path) -> None:
        for attempt in (1, 2):
            proc = self._checkout()
            try:
                proc.render(text, voice, self.rate, path, self.shape)
                return
            except WorkerDied as exc:
                if attempt == 2:
                    raise SpeechError(f"speech synthesis workers keep dying: {exc}") from exc
                log.warning("%s; retrying on a new worker", exc)
            finally:
                self._checkin(proc)

    def _checkout(self) -> WorkerProcess:
        while True:
            try:
                proc = self._idle.get_nowait()
            except queue.Empty:
                break
            if proc.alive:
                return proc
            self._checkin(proc)  # died while idle: retire it
        proc = WorkerProcess()
        with self._procs_lock:
            self._procs.append(proc)
        return proc

    def _checkin(self, proc: WorkerProcess) -> None:
        if proc.alive:
            self._idle.put(proc)
            return
        with self._procs_lock:
            self._procs.remove(proc)
        proc.close(timeout_s=0)

    def close(self) -> None:
        """Stop the worker processes (blocking until they exit)."""
        self._closed = True
        threads, self._threads = self._threads, None
        if threads is not None:
            threads.shutdown(wait=True, cancel_futures=True)
        with self._procs_lock:
            procs, self._procs = self._procs, []
        for proc in procs:
            proc.close()

    async def aclose(self) -> None:
        """Wait for syntheses in flight, then stop the workers without blocking the loop."""
        self._closed = True
        if self._inflight:
            await asyncio.gather(*self._inflight.values(), return_exceptions=True)
        await asyncio.to_thread(self.close)

    async def __aenter__(self) -> Synthesizer:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
