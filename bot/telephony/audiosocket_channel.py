"""The Channel over AudioSocket: prompts streamed in real time, the customer heard all along.

Two tasks per call. The player sends one 20 ms frame every 20 ms on a monotonic schedule
(frame n at start + n x 20 ms, so it never drifts): the prompt's next frame, or silence, as a
live line would. The reader takes Asterisk's frames and keys and feeds the turn listener,
which runs while the prompt plays: speech over an interruptible prompt stops it (barge-in)
and becomes the answer, and an answer that starts right after the prompt's last word is
heard, since there is no gap to fall in. Asterisk's idle Local channels send no frames: wall
time without them is silence.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bot.config import Settings
from bot.domain import Heard
from bot.errors import TelephonyError
from bot.privacy.prompts import note_prompt
from bot.speech.asr import Recognizer
from bot.speech.endpoint import frame_rms
from bot.speech.listener import TurnListener
from bot.speech.tts import Synthesizer
from bot.speech.turns import TurnConfig, TurnEvent
from bot.speech.vad import Vad
from bot.speech.wav import read_pcm, write_pcm
from bot.telephony.audiosocket import AudioSocketConnection
from bot.telephony.audiosocket_protocol import FRAME_BYTES, Kind
from bot.telephony.channel import Hangup, ListenSpec

log = logging.getLogger(__name__)

FRAME_S = 0.02
QUIET_S = 0.06  # no frame for this long: the line is silent, and the listener is told so
MAX_KEYS = 32  # keys kept between two listens; a burst beyond that is dropped
SILENCE = bytes(FRAME_BYTES)


class _Prompt:
    def __init__(self, pcm: bytes, levels: list[float], interruptible: bool):
        self.pcm = pcm
        self.levels = levels
        self.interruptible = interruptible
        self.pos = 0
        self.done = asyncio.get_running_loop().create_future()
        self.stopped_at: float | None = None

    @property
    def frames(self) -> int:
        return len(self.levels)


def speech_part(pcm: bytes, levels: list[float], floor: float = 1.0) -> int:
    """Frames up to the prompt's last sound: its silent tail is for AGI, not for a stream."""
    end = len(levels)
    while end > 0 and levels[end - 1] < floor:
        end -= 1
    return end


class AudioSocketChannel:
    """One answered call as a :class:`bot.telephony.channel.Channel`; ``run`` owns its tasks."""

    def __init__(self, conn: AudioSocketConnection, *, settings: Settings, synth: Synthesizer,
                 recognizer: Recognizer, vad: Vad, pool: ThreadPoolExecutor, call_id: str,
                 turn_config: TurnConfig | None = None, hand_over: Callable[[], Awaitable[None]] | None = None):
        self.conn = conn
        self._hand_over = hand_over  # marks the call for the queue (AMI); see transfer()
        self.settings = settings
        self.synth = synth
        self.call_id = call_id
        self._pool = pool
        self.listener = TurnListener(turn_config or TurnConfig(), vad=vad, pool=pool, recognizer=recognizer)
        self._prompt: _Prompt | None = None
        self._sent: deque[tuple[float, float]] = deque()  # (when, rms) of loud frames sent lately
        self._keys: deque[str] = deque()
        self._changed = asyncio.Event()  # a key, a turn event or the end of the call
        self._events: deque[TurnEvent] = deque()
        self._last_rx = time.monotonic()
        self._gone = False
        self._tasks: list[asyncio.Task[None]] = []
        self._turns = 0
        self.last_utterance: Path | None = None
        self.frames_late = 0  # ticks the player found more than a frame late

    # --- lifecycle --------------------------------------------------------------------
    def start(self) -> None:
        self._tasks = [asyncio.ensure_future(self._read()), asyncio.ensure_future(self._play())]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        self.listener.drop()
        await self.conn.wait_closed()

    def _end(self) -> None:
        self._gone = True
        self._changed.set()
        if self._prompt is not None and not self._prompt.done.done():
            self._prompt.done.set_result(None)

    def _check(self) -> None:
        if self._gone or self.conn.closed:
            self._end()
            raise Hangup("customer")

    # --- the two tasks ----------------------------------------------------------------
    async def _read(self) -> None:
        try:
            while True:
                frame = await self.conn.read()
                if frame is None:
                    break
                self._last_rx = time.monotonic()
                if frame.kind is Kind.DTMF:
                    if len(self._keys) < MAX_KEYS:
                        self._keys.append(frame.digit)
                    self._changed.set()
                elif frame.kind is Kind.AUDIO:
                    await self._hear(frame.payload[:FRAME_BYTES].ljust(FRAME_BYTES, b"\0"), self._last_rx)
        finally:
            self._end()

    async def _hear(self, frame: bytes, arrived: float) -> None:
        prompt = self._prompt
        playing = prompt is not None and not prompt.done.done()
        event = await self.listener.push(frame, playing=playing, sent_rms=self._echo_level(arrived), arrived=arrived)
        if event is None:
            return
        if event is TurnEvent.BARGE_IN and prompt is not None and not prompt.done.done():
            prompt.stopped_at = time.monotonic()
            prompt.done.set_result(None)
        self._events.append(event)
        self._changed.set()

    def _echo_level(self, now: float) -> float:
        window = self.listener.cfg.echo_window_ms / 1000
        while self._sent and self._sent[0][0] < now - window:
            self._sent.popleft()
        return max((level for _, level in self._sent), default=0.0)

    async def _play(self) -> None:
        start = time.monotonic()
        n = 0
        try:
            while not self.conn.closed:
                n += 1
                delay = start + n * FRAME_S - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                elif delay < -FRAME_S:  # the loop stalled: skip the lost ticks rather than burst
                    self.frames_late += 1
                    start, n = time.monotonic(), 0
                now = time.monotonic()
                frame = self._next_frame(now)
                if not await self.conn.send_audio(frame):
                    break
                if now - self._last_rx > QUIET_S and self.listener.turn is not None:
                    self._last_rx = now
                    prompt = self._prompt
                    await self._hear_quiet(prompt is not None and not prompt.done.done())
        finally:
            self._end()

    async def _hear_quiet(self, playing: bool) -> None:
        """Wall time without frames: as many silent frames as the time covered."""
        for _ in range(round(QUIET_S / FRAME_S)):
            event = self.listener.step(SILENCE, False, playing=playing, filler=True)
            if event is not None:
                self._events.append(event)
                self._changed.set()
                return

    def _next_frame(self, now: float) -> bytes:
        prompt = self._prompt
        if prompt is None or prompt.done.done():
            return SILENCE
        i = prompt.pos
        prompt.pos += 1
        level = prompt.levels[i]
        if level > 0:
            self._sent.append((now, level))
        if prompt.pos >= prompt.frames:
            prompt.done.set_result(None)
        return prompt.pcm[i * FRAME_BYTES:(i + 1) * FRAME_BYTES].ljust(FRAME_BYTES, b"\0")

    # --- Channel ----------------------------------------------------------------------
    async def prepare(self, text: str, *, language: str) -> None:
        await self.synth.prompt(text, language)

    async def say(self, text: str, *, language: str, dtmf: str = "", listen: ListenSpec | None = None) -> str:
        path = await self.synth.prompt(text, language)
        # Which cached WAVs this call played: forget and the retention purge erase the personal ones.
        note_prompt(self.settings.host_path(self.settings.asterisk.spool_dir) / self.call_id, self.call_id, text, path)
        return await self._play_file(path, dtmf, listen)

    async def play_file(self, name: str, *, dtmf: str = "", listen: ListenSpec | None = None) -> str:
        stem = name.rsplit(".", 1)[0] if name.endswith((".wav", ".gsm", ".ulaw", ".sln")) else name
        path = self.settings.host_path(f"{self.settings.asterisk.sounds_dir.rstrip('/')}/recorded/{stem}.wav")
        return await self._play_file(path, dtmf, listen)

    async def _play_file(self, path: Path, dtmf: str, listen: ListenSpec | None) -> str:
        self._check()
        pcm, levels = await asyncio.get_running_loop().run_in_executor(self._pool, _load, path)
        self._keys.clear()  # keys pressed before this prompt answer nothing it asks
        self._events.clear()
        interruptible = listen.interruptible if listen is not None else True
        if listen is not None:
            self.listener.begin(listen.phrases, no_input_s=listen.no_input_s, max_speech_s=listen.max_speech_s,
                                interruptible=interruptible)
        else:
            self.listener.drop()
        prompt = _Prompt(pcm, levels, interruptible)
        self._prompt = prompt
        try:
            while not prompt.done.done():
                self._check()
                if dtmf and interruptible and self._key(dtmf):
                    prompt.stopped_at = time.monotonic()
                    return self._keys.popleft()
                self._changed.clear()
                waiter = asyncio.ensure_future(self._changed.wait())
                await asyncio.wait({waiter, prompt.done}, return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()
            self._check()
            return ""
        finally:
            if not prompt.done.done():
                prompt.done.set_result(None)

    def _key(self, dtmf: str) -> bool:
        """Drop keys the step does not expect; True when the first left is one it does."""
        while self._keys and self._keys[0] not in dtmf:
            self._keys.popleft()
        return bool(self._keys)

    async def listen(self, spec: ListenSpec) -> Heard:
        """The turn started with the prompt (or now): a key, or speech recognized when it ends."""
        self._check()
        self._turns += 1
        if self.listener.turn is None:
            self.listener.begin(spec.phrases, no_input_s=spec.no_input_s, max_speech_s=spec.max_speech_s)
        prompt = self._prompt
        barge = None
        if prompt is not None and prompt.stopped_at is not None and self.listener.onset_at is not None:
            barge = round((prompt.stopped_at - self.listener.onset_at) * 1000)
        while True:
            if spec.dtmf and self._key(spec.dtmf):
                self.listener.drop()
                return Heard(digit=self._keys.popleft())
            turn = self.listener.turn
            if turn is not None and turn.event is not None:
                break
            self._check()
            self._changed.clear()
            await self._changed.wait()
        heard = await self.listener.heard()
        if heard.audio_ms:
            audio = self.listener.audio
            self.last_utterance = await asyncio.get_running_loop().run_in_executor(self._pool, self._keep, audio)
        if barge is not None:
            heard = Heard(text=heard.text, confidence=heard.confidence, digit=heard.digit, audio_ms=heard.audio_ms,
                          timing={**heard.timing, "barge_in_stop_ms": barge})
        return heard

    async def hangup(self) -> None:
        self._gone = True
        await self.conn.hangup()

    async def transfer(self) -> None:
        """Hand the live call to the collectors' queue: mark it (COLLBOT_NEXT=queue, through AMI),
        then end the AudioSocket application; the dialplan goes on to the queue
        (dialplans/collbot-robot.conf), as it does after an AGI session."""
        self._check()
        if self._hand_over is None:
            raise TelephonyError("this AudioSocket channel has no way to hand its call to the queue")
        await self._hand_over()
        self._gone = True
        await self.conn.hangup()

    def _keep(self, pcm: bytes) -> Path | None:
        """Keep each utterance (for QA and disputes) under spool_dir/<call id>/."""
        if not pcm:
            return None
        folder = self.settings.host_path(self.settings.asterisk.spool_dir) / self.call_id
        with contextlib.suppress(OSError):
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"turn-{self._turns:02d}.wav"
            write_pcm(path, pcm)
            return path
        return None


def _load(path: Path) -> tuple[bytes, list[float]]:
    """A prompt's samples up to its last sound, and each frame's level (in the pool)."""
    pcm = read_pcm(path)
    levels = [frame_rms(pcm[i:i + FRAME_BYTES]) for i in range(0, len(pcm), FRAME_BYTES)]
    end = speech_part(pcm, levels)
    return pcm[: end * FRAME_BYTES], levels[:end]


def turn_config(settings: Settings) -> TurnConfig:
    t = settings.turns
    return TurnConfig(end_silence_ms=t.end_silence_ms, min_speech_ms=t.min_speech_ms, barge_in_ms=t.barge_in_ms,
                      threshold=t.vad_threshold, echo_window_ms=t.echo_window_ms, echo_margin_db=t.echo_margin_db,
                      noise_floor_rms=t.noise_floor_rms)
