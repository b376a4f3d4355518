"""The Channel over FastAGI: prompts with STREAM FILE, listening with RECORD FILE.

Asterisk reads and drops the caller's frames between two AGI commands, so every command
boundary is a hole in what the robot hears. Listening therefore uses as few commands as it
can: one RECORD FILE that Asterisk ends after ``end_silence_ms`` of silence (rounded up to whole
seconds, AGI's unit) or when the no-input time is up. Our endpointer then judges the audio:
speech in it ends the turn; a recording of only silence (a line that sends silence frames)
starts the next one; speech cut by the time limit goes on in one more recording.

Keys pressed in a hole (the prompt ended, the recording has not started yet) come from AMI
(bot.telephony.keys): taken before each recording, and replayed into the channel with AMI
PlayDTMF when one arrives while a recording runs, so that recording ends with it.

A recording holds only the frames that arrived. A line that sends none while the customer is
quiet (Local channels, SIP with DTX) is quiet: wall time the audio does not cover counts as
silence.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.config import Settings
from bot.domain import Heard
from bot.errors import AgiError, AmiError
from bot.metrics import TURN_LATENCY
from bot.privacy.prompts import note_prompt
from bot.speech.asr import Recognizer
from bot.speech.endpoint import Endpointer, EndpointState
from bot.speech.tts import Synthesizer
from bot.speech.wav import read_pcm, wav_duration_ms, write_pcm
from bot.telephony.agi import AgiSession
from bot.telephony.agi_protocol import AgiReply
from bot.telephony.channel import Hangup, ListenSpec
from bot.telephony.keys import CallKeys

log = logging.getLogger(__name__)

BYTES_PER_MS = 16  # 8 kHz, 16-bit mono
PRE_ROLL_MS = 200  # audio kept before detected speech: a soft first syllable starts below the threshold
# The recognizer needs silence before speech to settle: measured on every phrase of
# scripts/reminder-ko.yaml, 0 ms gave 15/23 right and 3 heard as another phrase, 300 ms
# 18/23 right and none wrong. It is fed this much digital silence before each utterance.
RECOGNIZER_LEAD = bytes(300 * 16)
MIN_RECORD_MS = 300  # a shorter recording is not worth a command
ReplayKey = Callable[[str, str], Awaitable[None]]


@dataclass
class _Recorded:
    """One RECORD FILE done: its reply, its audio and the wall time it took."""

    reply: AgiReply
    pcm: bytes
    sent: float  # monotonic
    returned: float
    early: bool = False  # started inside the prompt's silent tail, with no hole before it


class AgiChannel:
    """One answered call as a :class:`bot.telephony.channel.Channel`."""

    def __init__(self, session: AgiSession, *, settings: Settings, synth: Synthesizer,
                 recognizer: Recognizer, call_id: str, keys: CallKeys | None = None,
                 replay_key: ReplayKey | None = None):
        self.session = session
        self.settings = settings
        self.synth = synth
        self.recognizer = recognizer
        self.call_id = call_id
        self.keys = keys
        self._replay_key = replay_key
        self._turn = 0
        self._recordings = 0
        self._played_at: float | None = None  # when the last prompt ended (monotonic)
        self._first: _Recorded | None = None  # the next turn's first recording, made with its prompt
        self.last_utterance: Path | None = None

    async def prepare(self, text: str, *, language: str) -> None:
        await self.synth.prompt(text, language)

    async def say(self, text: str, *, language: str, dtmf: str = "", listen: ListenSpec | None = None) -> str:
        self._observe_turn_latency()
        path = await self.synth.prompt(text, language)
        self._note_prompt(text, path)
        asterisk_path = f"{self.settings.asterisk.sounds_dir.rstrip('/')}/{path.stem}"
        early_ms = self.settings.listen.early_start_ms
        if listen is not None and early_ms and self.keys is not None and self._replay_key is not None:
            duration_ms = wav_duration_ms(path)
            if duration_ms > 2 * early_ms:
                return await self._play_then_record(asterisk_path, dtmf, listen, duration_ms)
        return await self._play(asterisk_path, dtmf)

    async def play_file(self, name: str, *, dtmf: str = "", listen: ListenSpec | None = None) -> str:
        """Play a recorded prompt kept under ``<sounds_dir>/recorded/`` (extension omitted)."""
        self._observe_turn_latency()
        stem = name.rsplit(".", 1)[0] if name.endswith((".wav", ".gsm", ".ulaw", ".sln")) else name
        return await self._play(f"{self.settings.asterisk.sounds_dir.rstrip('/')}/recorded/{stem}", dtmf)

    async def _play(self, asterisk_path: str, dtmf: str) -> str:
        self._first = None
        if self.keys is not None:
            self.keys.clear()  # keys pressed before this prompt answer nothing it asks
        reply = await self.session.command("STREAM FILE", asterisk_path, dtmf)
        self._played_at = time.monotonic()
        return await self._digit(reply, "STREAM FILE")

    async def _play_then_record(self, asterisk_path: str, dtmf: str, listen: ListenSpec, duration_ms: int) -> str:
        """The prompt, and the next turn's first recording sent during its silent tail.

        The recording interrupts STREAM FILE ``listen.early_start_ms`` before the prompt's end
        (inside its silent tail), so no speech is cut and no frame falls between the two
        commands. The time is counted from when STREAM FILE was sent, or from when Asterisk
        started it if AMI's ``AGIExecStart`` (with ``Timestamp``) says so before then: a
        lagging AMI stream can no longer make the recording late. A late event loop just sends
        it after the prompt ended.
        """
        self._first = None
        assert self.keys is not None
        keys = self.keys
        early_ms = self.settings.listen.early_start_ms
        keys.clear()
        started = keys.when_started(self.session.sent + 1)
        sent: list[float] = []

        async def at_the_tail() -> None:
            lead_s = (duration_ms - early_ms) / 1000
            # Counted from when STREAM FILE went out (Asterisk cannot start it sooner) ...
            sent_at = self.session.sent_at or time.monotonic()
            await asyncio.sleep(max(0.0, sent_at + lead_s - time.monotonic()))
            # ... or from Asterisk's own start time, if AMI has told it by then and it is later.
            began = started.result() if started.done() else None
            if began is not None and began > sent_at:
                await asyncio.sleep(max(0.0, began + lead_s - time.monotonic()))
            sent.append(time.monotonic())

        def then_if(reply: AgiReply) -> bool:  # the prompt ended first: record now unless a key ended it
            sent.append(time.monotonic())
            return reply.result == "0"

        async def on_first(reply: AgiReply) -> None:  # a key ended the prompt as the recording went out
            if reply.result not in ("0", "-1") and reply.result_int > 1:
                await self._replay(chr(reply.result_int))

        name = self._recording_name()
        budget_ms = int(listen.no_input_s * 1000) + early_ms
        record = ("RECORD FILE", name, "wav", listen.dtmf, str(budget_ms), self._silence_option())
        recording = asyncio.ensure_future(self.session.command_then(
            ("STREAM FILE", asterisk_path, dtmf), record, early=at_the_tail(),
            is_first=lambda r: r.data == "", then_if=then_if, on_first=on_first))
        try:
            replayed = await self._replay_lost_keys(listen.dtmf, recording, armed=lambda: bool(sent))
            played, recorded = await recording
        finally:
            started.cancel()
        if recorded is not None:
            recorded = _with_replayed(recorded, replayed)
        returned = time.monotonic()
        self._played_at = returned
        digit = await self._digit(played, "STREAM FILE") if played is not None else ""
        if recorded is None:
            return digit
        pcm = self._take_chunk(name)
        if digit:
            return digit  # the key answered; the recording it cut short is not an answer
        self._first = _Recorded(recorded, pcm, sent[0] if sent else returned, returned, early=played is None)
        log.debug("prompt then recording: early=%s, recorded %d ms of audio in %.0f ms", played is None,
                  len(pcm) // BYTES_PER_MS, (returned - self._first.sent) * 1000)
        return ""

    def _observe_turn_latency(self) -> None:
        # From the end of the customer's turn to the next prompt: recognition, decision and synthesis.
        heard_at, self._heard_at = getattr(self, "_heard_at", None), None
        if heard_at is not None:
            TURN_LATENCY.observe(time.monotonic() - heard_at)

    async def listen(self, spec: ListenSpec) -> Heard:
        """Record until the customer has spoken and fallen silent, a key, or no input in time."""
        heard = await self._listen(spec)
        self._heard_at: float | None = time.monotonic()
        return heard

    async def _listen(self, spec: ListenSpec) -> Heard:
        cfg = self.settings.listen
        self._turn += 1
        first, self._first = self._first, None
        started = first.sent if first is not None else time.monotonic()
        endpointer = Endpointer(
            self.settings.speech.sample_rate, no_input_s=86_400,  # no input is judged by the clock, below
            end_silence_ms=cfg.end_silence_ms,
            max_speech_s=spec.max_speech_s, energy_threshold=cfg.energy_threshold,
        )
        audio = bytearray()  # what was heard this turn, missing frames filled with silence
        pushed = 0  # bytes given to the endpointer (audio keeps only the last of them)
        # The hole between the prompt and the first recording, where the caller is not heard.
        if first is not None:
            gap_ms = 0 if first.early else max(0, round((first.sent - (self._played_at or first.sent)) * 1000))
        else:
            gap_ms = round((started - self._played_at) * 1000) if self._played_at is not None else 0
        self._played_at = None
        base = {"gap_ms": gap_ms, "early": int(first.early) if first is not None else 0}
        for _ in range(1000):
            if first is None:
                key = self.keys.take(spec.dtmf) if self.keys is not None else ""
                if key:
                    return Heard(digit=key, timing={**base, "lost_key": 1})
            waited_ms = (time.monotonic() - started) * 1000
            if endpointer.state is EndpointState.WAITING:
                budget_ms = spec.no_input_s * 1000 - waited_ms
                if first is None and budget_ms < MIN_RECORD_MS:
                    return Heard(timing=base)
            else:  # speech went on past the last recording's time limit
                budget_ms = max(MIN_RECORD_MS, spec.max_speech_s * 1000 - endpointer.speech_ms)
            part = first or await self._record(spec.dtmf, int(budget_ms), self._silence_option())
            first = None
            returned = part.returned
            digit = await self._digit(part.reply, "RECORD FILE")
            if digit:
                return Heard(digit=digit, timing=base)
            pcm = part.pcm
            missing = int((part.returned - part.sent) * 1000) * BYTES_PER_MS - len(pcm)
            if endpointer.state is EndpointState.WAITING and missing > 0:
                pcm = bytes(missing - missing % 2) + pcm  # the quiet line sent nothing before the speech
            endpointer.push(pcm)
            pushed += len(pcm)
            audio += pcm
            if endpointer.state is EndpointState.SPEAKING and missing >= cfg.end_silence_ms * BYTES_PER_MS:
                break  # the line went quiet after the speech without sending frames
            if endpointer.state.done:
                break
            if endpointer.state is EndpointState.WAITING:
                del audio[: max(0, len(audio) - PRE_ROLL_MS * BYTES_PER_MS)]
        else:
            raise AgiError("listening did not end after 1000 recordings")
        trailing_ms = (pushed - (endpointer.speech_end or pushed)) // BYTES_PER_MS
        del audio[: max(0, endpointer.trim_offset(PRE_ROLL_MS) - (pushed - len(audio)))]
        utterance = bytes(audio)
        asr_started = time.monotonic()
        stream = self.recognizer.stream(list(spec.phrases))
        try:
            await stream.feed(RECOGNIZER_LEAD + utterance)
            text, confidence = await stream.result()
        finally:
            stream.close()
        done = time.monotonic()
        self.last_utterance = self._keep_utterance(utterance)
        # how long the robot was listening before the customer spoke (a clipped start shows as ~0)
        lead_ms = (endpointer.speech_start or 0) // BYTES_PER_MS
        timing = {**base, "lead_ms": lead_ms, "eos_ms": trailing_ms + round((asr_started - returned) * 1000),
                  "asr_ms": round((done - asr_started) * 1000)}
        log.debug("turn %d heard %d ms in %.0f ms", self._turn, len(utterance) // BYTES_PER_MS,
                  (done - started) * 1000)
        return Heard(text=text, confidence=confidence, audio_ms=len(utterance) // BYTES_PER_MS, timing=timing)

    async def _record(self, dtmf: str, timeout_ms: int, *options: str) -> _Recorded:
        """One RECORD FILE; a key that AMI reports as pressed before it started is replayed
        into the channel so the recording ends with it."""
        name = self._recording_name()
        sent = time.monotonic()
        command = asyncio.ensure_future(
            self.session.command("RECORD FILE", name, "wav", dtmf, str(timeout_ms), *options))
        replayed = await self._replay_lost_keys(dtmf, command)
        reply = _with_replayed(await command, replayed)
        return _Recorded(reply, self._take_chunk(name), sent, time.monotonic())

    async def _replay_lost_keys(self, dtmf: str, command: asyncio.Future[Any],
                                armed: Callable[[], bool] = lambda: True) -> str:
        """While ``command`` runs, replay into the channel the first key AMI reports as lost
        (pressed while no command read the call), so the running RECORD FILE ends with it.
        Returns that key, '' if none."""
        replayed = ""
        try:
            while dtmf and self.keys is not None and self._replay_key is not None and not command.done():
                arrived = asyncio.ensure_future(self.keys.wait())
                await asyncio.wait({command, arrived}, return_when=asyncio.FIRST_COMPLETED)
                if not arrived.done():
                    arrived.cancel()
                    break
                if not armed():  # the recording is not out yet: the key waits for it
                    await asyncio.wait({command}, timeout=0.02)
                    continue
                key = self.keys.take(dtmf)
                if key and not replayed:
                    replayed = key
                    await self._replay(key)
        except BaseException:
            command.cancel()
            raise
        return replayed

    def _recording_name(self) -> str:
        self._recordings += 1
        return f"{self.settings.asterisk.spool_dir.rstrip('/')}/{self.call_id}-{self._recordings}"

    def _silence_option(self) -> str:
        """RECORD FILE's end of speech: listen.end_silence_ms in whole seconds, AGI's unit."""
        return f"s={max(1, math.ceil(self.settings.listen.end_silence_ms / 1000))}"

    async def _replay(self, digit: str) -> None:
        channel = self.session.env.get("agi_channel", "")
        assert self._replay_key is not None
        try:
            await self._replay_key(channel, digit)
        except AmiError as exc:
            log.warning("could not replay a key pressed between AGI commands: %s", exc)

    async def hangup(self) -> None:
        with contextlib.suppress(Hangup):
            await self.session.command("HANGUP")

    async def transfer(self) -> None:
        """Mark the call for the queue; the dialplan goes on to it once this AGI session ends.
        The variable and its value are fixed here: nothing heard or imported reaches them."""
        await self.session.command("SET VARIABLE", "COLLBOT_NEXT", "queue")

    async def _digit(self, reply: AgiReply, verb: str) -> str:
        """The DTMF key in a STREAM FILE / RECORD FILE reply, '' if none.

        ``result=-1`` is a hangup or a failure; Asterisk sends its HANGUP line after the
        reply, so a NOOP tells the two apart.
        """
        if reply.result == "-1":
            if not self.session.hung_up:
                await self.session.command("NOOP")
            if self.session.hung_up:
                raise Hangup("customer")
            raise AgiError(f"{verb} failed ({reply.data or 'no reason given'})")
        value = reply.result_int
        if reply.data == "dtmf" or (value > 1 and reply.data != "timeout"):
            return chr(value)
        return ""

    def _take_chunk(self, name: str) -> bytes:
        path = self.settings.host_path(name + ".wav")
        try:
            return read_pcm(path, sample_rate=self.settings.speech.sample_rate)
        except FileNotFoundError:
            return b""
        except (OSError, ValueError) as exc:
            raise AgiError(f"cannot read recorded chunk {path.name}: {exc}") from exc
        finally:
            path.unlink(missing_ok=True)

    def _note_prompt(self, text: str, path: Path) -> None:
        """Note the cached prompt WAV this call played (bot.privacy.prompts)."""
        note_prompt(self.settings.host_path(self.settings.asterisk.spool_dir) / self.call_id, self.call_id, text, path)

    def _keep_utterance(self, pcm: bytes) -> Path | None:
        """Keep each utterance (for QA and disputes) under spool_dir/<call id>/."""
        if not pcm:
            return None
        folder = self.settings.host_path(self.settings.asterisk.spool_dir) / self.call_id
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)  # customer audio: not world-readable
        path = folder / f"turn-{self._turn:02d}.wav"
        write_pcm(path, pcm, sample_rate=self.settings.speech.sample_rate)
        path.chmod(0o600)
        return path


def _with_replayed(reply: AgiReply, replayed: str) -> AgiReply:
    """A recording that ended just before the key replayed into it reached it: the key counts."""
    if replayed and reply.result == "0":
        return AgiReply(reply.code, str(ord(replayed)), "dtmf", reply.extra, reply.raw)
    return reply
