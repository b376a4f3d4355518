"""Simulated customers with timing of their own, on the far end of an AudioSocket.

The sandbox's dialplan customers can only wait for silence and play a file. These hear the
robot frame by frame and answer when a persona says: ``barge_in_after_s`` after the prompt
starts (speaking over it), ``answer_gap_ms`` after its last word, or after 200 ms of the
robot's silence; and they may send the robot's own audio back as an echo
(``echo_delay_ms``, ``echo_db``). To answer a fixed time after the last word, which a
listener cannot know in advance, a customer recognizes the prompt from its first audible
frame in the robot's prompt cache (audio passes through Asterisk's Local channels
unchanged) and so knows where its speech ends.

Every reply leaves a ``ReplyLog`` (times on this process's monotonic clock) for tests and
benches: when the robot's prompt started, when its last word ended, when the customer
started and stopped speaking, and when the robot's audio stopped after the customer began.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from array import array
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from bot.config import Settings
from bot.speech.endpoint import frame_rms
from bot.speech.tts import Synthesizer
from bot.speech.wav import read_pcm
from bot.telephony.audiosocket import AudioSocketConnection, AudioSocketServer
from bot.telephony.audiosocket_protocol import FRAME_BYTES, Kind, call_uuid
from bot.telephony.sandbox import Sandbox
from bot.telephony.sim import (
    REPLY_SHAPE,
    SIM_SOUNDS,
    DtmfReply,
    HangupReply,
    Persona,
    PersonasFile,
    SilenceReply,
    _key,
    render_replies,
)

log = logging.getLogger(__name__)

FRAME_S = 0.02
LOUD = 200.0  # robot frames above this RMS are its voice
PROMPT_GAP_S = 0.5  # robot silence that separates two prompts
TURN_SILENCE_S = 0.2  # a customer with no timing of its own answers after this much silence
STOPPED_S = 0.3  # longer than any pause inside a prompt (tts.max_pause_ms)


def persona_uuid(number: str) -> str:
    return str(call_uuid("sim-" + number.lstrip("+")))


@dataclass
class ReplyLog:
    number: str
    turn: int
    prompt_start: float | None = None
    prompt_end: float | None = None  # the last word, known from the cache (None if not recognized)
    spoke: float | None = None
    spoke_end: float | None = None
    robot_stopped: float | None = None  # the robot's first silent frame after the customer began
    robot_last_loud: float | None = None
    robot_next: float | None = None  # the robot's first audio after the customer finished


@dataclass
class _Prompts:
    """Every audible frame of the robot's cached prompts -> seconds from it to the last word.

    Any frame will do, not just the first: the customer's socket may connect after the
    robot's first prompt began. Files are read in a thread, never on the event loop.
    """

    folder: Path
    index: dict[bytes, float] = field(default_factory=dict)
    seen: set[Path] = field(default_factory=set)
    _scan: asyncio.Task[None] | None = None

    def lookup(self, frame: bytes) -> float | None:
        found = self.index.get(hashlib.sha1(frame).digest())
        if found is None and (self._scan is None or self._scan.done()):
            self._scan = asyncio.ensure_future(asyncio.to_thread(self.scan))
        return found

    def scan(self) -> None:
        for path in self.folder.glob("*.wav"):
            if path in self.seen:
                continue
            self.seen.add(path)
            with contextlib.suppress(Exception):
                pcm = read_pcm(path)
                frames = [pcm[i:i + FRAME_BYTES] for i in range(0, len(pcm) - FRAME_BYTES + 1, FRAME_BYTES)]
                loud = [i for i, f in enumerate(frames) if frame_rms(f) >= 1.0]
                for i in loud:
                    self.index[hashlib.sha1(frames[i]).digest()] = (loud[-1] + 1 - i) * FRAME_S


class StreamCustomers:
    """The AudioSocket server the streamed personas' calls connect to."""

    def __init__(self, personas: PersonasFile, reply_audio: dict[str, bytes], prompt_cache: Path):
        self.personas = {persona_uuid(p.number): p for p in personas.personas if p.streamed}
        self.reply_audio = reply_audio  # sim._key(persona, phrase) -> speech samples
        self.prompts = _Prompts(prompt_cache)
        self.logs: list[ReplyLog] = []
        self.server = AudioSocketServer(self._call, host="127.0.0.1", port=0, write_timeout_s=5.0)

    async def start(self) -> int:
        await self.server.start()
        return self.server.port

    async def close(self) -> None:
        await self.server.close()

    async def _call(self, conn: AudioSocketConnection) -> None:
        persona = self.personas.get(str(conn.uuid))
        if persona is None:
            await conn.hangup()
            return
        await _Customer(self, persona, conn).run()


class _Customer:
    def __init__(self, owner: StreamCustomers, persona: Persona, conn: AudioSocketConnection):
        self.owner = owner
        self.p = persona
        self.conn = conn
        self.speech: deque[bytes] = deque()  # frames still to say
        delay = round((persona.echo_delay_ms or 0) / 20)
        self.echo: deque[bytes] = deque([bytes(FRAME_BYTES)] * delay) if persona.echo_delay_ms is not None else deque()
        self.gain = 10 ** (persona.echo_db / 20)
        self.prompt_started = asyncio.Event()
        self.prompt_start: float | None = None
        self.prompt_end: float | None = None
        self.last_loud = 0.0
        self.last_audible = 0.0
        self.quiet_since: float | None = None
        self.turn_log: ReplyLog | None = None
        self.prompt_known = asyncio.Event()  # the prompt playing is one from the cache: its end is known
        self.said = asyncio.Event()  # the speech queue ran dry
        self.gone = asyncio.Event()  # the call ended
        self.current: ReplyLog | None = None
        self.last_spoke: float | None = None  # when this customer's latest reply began ...
        self.last_spoke_end: float | None = None  # ... and ended

    async def run(self) -> None:
        reader = asyncio.ensure_future(self._hear())
        sender = asyncio.ensure_future(self._send())
        try:
            await self._script()
            await asyncio.wait({reader, sender}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (reader, sender):
                task.cancel()
            await asyncio.gather(reader, sender, return_exceptions=True)

    async def _hear(self) -> None:
        try:
            await self._hear_frames()
        finally:
            self.gone.set()
            self.said.set()

    async def _hear_frames(self) -> None:
        while (frame := await self.conn.read()) is not None:
            if frame.kind is not Kind.AUDIO:
                continue
            now = time.monotonic()
            pcm = frame.payload
            if self.p.echo_delay_ms is not None:
                self.echo.append(pcm)
            level = frame_rms(pcm)
            log_ = self.current
            if level >= 1.0:
                # a new prompt: after a pause longer than any inside one, or the robot speaking
                # again after a silence longer than its own pauses that began before the customer
                # finished (after a barge-in the robot may answer in less than PROMPT_GAP_S)
                resumed = self.last_spoke_end is not None and self.last_audible < self.last_spoke_end \
                    and now - self.last_audible > STOPPED_S
                if self.prompt_start is None or now - self.last_audible > PROMPT_GAP_S or resumed:
                    self.prompt_start = now
                    self.prompt_end = None
                    self.prompt_known.clear()
                    self.prompt_started.set()
                if self.prompt_end is None:
                    ahead = self.owner.prompts.lookup(pcm[:FRAME_BYTES])
                    if ahead is not None:
                        self.prompt_end = now + ahead - FRAME_S
                        self.prompt_known.set()
                        if self.turn_log is not None and self.turn_log.prompt_start == self.prompt_start:
                            self.turn_log.prompt_end = self.prompt_end
                self.last_audible = now
            if level >= 1.0 and log_ is not None and log_.spoke_end is not None and log_.robot_next is None:
                log_.robot_next = now
            if level >= LOUD:
                self.last_loud = now
                if log_ is not None and log_.spoke is not None:
                    log_.robot_last_loud = now
            if log_ is not None and log_.spoke is not None and log_.robot_stopped is None:
                # the robot stopped when a run of silence began that is longer than its pauses
                if level >= 1.0:
                    self.quiet_since = None
                elif self.quiet_since is None:
                    self.quiet_since = now
                elif now - self.quiet_since >= STOPPED_S:
                    log_.robot_stopped = self.quiet_since

    async def _send(self) -> None:
        start, n = time.monotonic(), 0
        while not self.conn.closed:
            n += 1
            delay = start + n * FRAME_S - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            own = self.speech.popleft() if self.speech else None
            if not self.speech:
                self.said.set()
            if own is None and self.current is not None and self.current.spoke is not None \
                    and self.current.spoke_end is None:
                self.current.spoke_end = self.last_spoke_end = time.monotonic()
            echo = self.echo.popleft() if len(self.echo) > round((self.p.echo_delay_ms or 0) / 20) else None
            if not await self.conn.send_audio(_mix(own, echo, self.gain)):
                return

    async def _script(self) -> None:
        for turn, reply in enumerate(self.p.replies, 1):
            log_ = ReplyLog(self.p.number, turn)
            await self._await_turn(log_)
            if self.gone.is_set():
                return
            if isinstance(reply, HangupReply):
                await asyncio.sleep(0.5)
                await self.conn.hangup()
                return
            if isinstance(reply, SilenceReply):
                continue
            self.current = log_
            self.quiet_since = None
            self.owner.logs.append(log_)
            log_.spoke = self.last_spoke = time.monotonic()
            if isinstance(reply, DtmfReply):
                for digit in reply.dtmf:
                    await self.conn.send_dtmf(digit)
                    await asyncio.sleep(0.1)
                continue
            pcm = self.owner.reply_audio[_key(self.p, reply)]
            self.said.clear()
            self.speech.extend(pcm[i:i + FRAME_BYTES].ljust(FRAME_BYTES, b"\0")
                               for i in range(0, len(pcm), FRAME_BYTES))
            await self.said.wait()
        await self.gone.wait()

    async def _await_turn(self, log_: ReplyLog) -> None:
        """Wait for the robot's next prompt, then for the moment this persona answers in."""
        # on a loaded machine the robot's next prompt may begin before this task gets here
        begun = self.last_spoke is not None and self.prompt_start is not None and self.prompt_start > self.last_spoke
        if not begun:
            self.prompt_started.clear()
            self.prompt_known.clear()
            started = asyncio.ensure_future(self.prompt_started.wait())
            gone = asyncio.ensure_future(self.gone.wait())
            await asyncio.wait({started, gone}, return_when=asyncio.FIRST_COMPLETED)
            started.cancel()
            gone.cancel()
        if self.gone.is_set():
            return
        log_.prompt_start, log_.prompt_end = self.prompt_start, self.prompt_end
        self.turn_log = log_
        assert self.prompt_start is not None
        if self.p.barge_in_after_s is not None:
            await _until(self.prompt_start + self.p.barge_in_after_s)
        elif self.p.answer_gap_ms is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.prompt_known.wait(), 1.0)
            if self.prompt_end is not None:
                await _until(self.prompt_end + self.p.answer_gap_ms / 1000)
            else:
                await self._robot_silent()
        else:
            await self._robot_silent()

    async def _robot_silent(self) -> None:
        # a condition on time, not on an event: poll it at the frame rate
        while time.monotonic() - self.last_loud < TURN_SILENCE_S and not self.conn.closed:  # noqa: ASYNC110
            await asyncio.sleep(FRAME_S)


async def _until(when: float) -> None:
    await asyncio.sleep(max(0.0, when - time.monotonic()))


def _mix(own: bytes | None, echo: bytes | None, gain: float) -> bytes:
    if echo is None:
        return own or bytes(FRAME_BYTES)
    out = array("h", own or bytes(FRAME_BYTES))
    back = array("h", echo[:FRAME_BYTES].ljust(FRAME_BYTES, b"\0"))
    for i, sample in enumerate(back):
        out[i] = max(-32768, min(32767, out[i] + int(sample * gain)))
    return out.tobytes()


def speech_of(pcm: bytes, floor: float = 1.0) -> bytes:
    """A reply without the silence before and after it: the customer times it itself."""
    frames = [pcm[i:i + FRAME_BYTES] for i in range(0, len(pcm), FRAME_BYTES)]
    loud = [i for i, f in enumerate(frames) if frame_rms(f) >= floor]
    return b"".join(frames[loud[0]:loud[-1] + 1]) if loud else b""


async def start_customers(settings: Settings, personas: PersonasFile, sandbox: Sandbox) -> StreamCustomers:
    """Serve the streamed personas (their replies already rendered by ``sim load``) and point
    the sandbox's dialplan at this server."""
    streamed = PersonasFile(personas=[p for p in personas.personas if p.streamed] or personas.personas[:1])
    folder = settings.host_path(SIM_SOUNDS)
    async with Synthesizer(folder, rate=settings.tts.rate, shape=REPLY_SHAPE) as synth:
        files = await render_replies(streamed, synth)
    audio = {key: speech_of(read_pcm(folder / f"{stem}.wav")) for key, stem in files.items()}
    customers = StreamCustomers(personas, audio, settings.tts_cache_dir())
    port = await customers.start()
    await asyncio.to_thread(sandbox.cli, f"dialplan set global COLLBOT_SIM_AUDIOSOCKET 127.0.0.1:{port}")
    return customers
