"""The Channel over FastAGI: prompts with STREAM FILE, listening with short RECORD FILE chunks.

Listening records the customer in chunks of ``listen.chunk_ms``; our endpointer decides when
the turn ends and Vosk recognizes the utterance against the step's phrases. A chunk that
brought fewer samples than its duration is padded with silence: a line that sends no frames
(Local channels, SIP with DTX) is silent, not frozen.
"""

from __future__ import annotations

import contextlib
import logging
import time
from pathlib import Path

from bot.config import Settings
from bot.domain import Heard
from bot.errors import AgiError
from bot.speech.asr import Recognizer
from bot.speech.endpoint import Endpointer, EndpointState
from bot.speech.tts import Synthesizer
from bot.speech.wav import read_pcm, write_pcm
from bot.telephony.agi import AgiSession
from bot.telephony.agi_protocol import AgiReply
from bot.telephony.channel import Hangup, ListenSpec

log = logging.getLogger(__name__)

BYTES_PER_MS = 16  # 8 kHz, 16-bit mono
PRE_ROLL_MS = 100  # audio kept before detected speech: a soft first syllable starts below the threshold
# The recognizer needs silence before speech to settle: measured on every phrase of
# scripts/reminder-ko.yaml, 0 ms gave 15/23 right and 3 heard as another phrase, 300 ms
# 18/23 right and none wrong. It is fed this much digital silence before each utterance.
RECOGNIZER_LEAD = bytes(300 * 16)


class AgiChannel:
    """One answered call as a :class:`bot.telephony.channel.Channel`."""

    def __init__(self, session: AgiSession, *, settings: Settings, synth: Synthesizer,
                 recognizer: Recognizer, call_id: str):
        self.session = session
        self.settings = settings
        self.synth = synth
        self.recognizer = recognizer
        self.call_id = call_id
        self._turn = 0
        self.last_utterance: Path | None = None

    async def say(self, text: str, *, language: str, dtmf: str = "") -> str:
        path = await self.synth.prompt(text, language)
        asterisk_path = f"{self.settings.asterisk.sounds_dir.rstrip('/')}/{path.stem}"
        reply = await self.session.command("STREAM FILE", asterisk_path, dtmf)
        return await self._digit(reply, "STREAM FILE")

    async def play_file(self, name: str, *, dtmf: str = "") -> str:
        """Play a recorded prompt kept under ``<sounds_dir>/recorded/`` (extension omitted)."""
        stem = name.rsplit(".", 1)[0] if name.endswith((".wav", ".gsm", ".ulaw", ".sln")) else name
        path = f"{self.settings.asterisk.sounds_dir.rstrip('/')}/recorded/{stem}"
        reply = await self.session.command("STREAM FILE", path, dtmf)
        return await self._digit(reply, "STREAM FILE")

    async def listen(self, spec: ListenSpec) -> Heard:
        """Short chunks until speech starts, then one recording of the rest of the utterance.

        Between two AGI commands Asterisk reads and drops the caller's frames, so chunking
        through speech would cut holes in it whenever the bot answers slowly (a loaded
        machine). Once speech has started, one RECORD FILE ends on ``end_silence_ms``
        (rounded up to whole seconds, AGI's unit) and nothing is lost.
        """
        cfg = self.settings.listen
        self._turn += 1
        endpointer = Endpointer(
            self.settings.speech.sample_rate, no_input_s=spec.no_input_s,
            end_silence_ms=cfg.end_silence_ms, max_speech_s=spec.max_speech_s,
            energy_threshold=cfg.energy_threshold,
        )
        pending = bytearray()  # the pre-roll while waiting for speech
        chunk_bytes = cfg.chunk_ms * BYTES_PER_MS
        started = time.monotonic()
        for k in range(100_000):
            reply, pcm = await self._record(f"{k}", spec.dtmf, cfg.chunk_ms)
            digit = await self._digit(reply, "RECORD FILE")
            if digit:
                return Heard(digit=digit)
            if len(pcm) < chunk_bytes - 20 * BYTES_PER_MS:
                pcm += bytes(chunk_bytes - len(pcm))  # no frames is silence (Local channels, DTX)
            state = endpointer.push(pcm)
            pending += pcm
            if state is EndpointState.DONE_NO_INPUT:
                return Heard()
            if state is EndpointState.WAITING:
                del pending[: max(0, len(pending) - PRE_ROLL_MS * BYTES_PER_MS)]
                continue
            break
        utterance = bytes(pending)
        if endpointer.state is EndpointState.SPEAKING:
            rest_ms = max(1000, int(spec.max_speech_s * 1000) - endpointer.speech_ms)
            silence_s = max(1, -(-cfg.end_silence_ms // 1000))
            reply, rest = await self._record("rest", spec.dtmf, rest_ms, f"s={silence_s}")
            digit = await self._digit(reply, "RECORD FILE")
            if digit:
                return Heard(digit=digit)
            utterance += rest
        stream = self.recognizer.stream(list(spec.phrases))
        try:
            await stream.feed(RECOGNIZER_LEAD + utterance)
            text, confidence = await stream.result()
        finally:
            stream.close()
        self.last_utterance = self._keep_utterance(utterance)
        log.debug("turn %d heard %d ms in %.0f ms", self._turn, len(utterance) // BYTES_PER_MS,
                  (time.monotonic() - started) * 1000)
        return Heard(text=text, confidence=confidence, audio_ms=len(utterance) // BYTES_PER_MS)

    async def _record(self, part: str, dtmf: str, timeout_ms: int, *options: str) -> tuple[AgiReply, bytes]:
        name = f"{self.settings.asterisk.spool_dir.rstrip('/')}/{self.call_id}-{self._turn}-{part}"
        reply = await self.session.command("RECORD FILE", name, "wav", dtmf, str(timeout_ms), *options)
        return reply, self._take_chunk(name)

    async def hangup(self) -> None:
        with contextlib.suppress(Hangup):
            await self.session.command("HANGUP")

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

    def _keep_utterance(self, pcm: bytes) -> Path | None:
        """Keep each utterance (for QA and disputes) under spool_dir/<call id>/."""
        if not pcm:
            return None
        folder = self.settings.host_path(self.settings.asterisk.spool_dir) / self.call_id
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"turn-{self._turn:02d}.wav"
        write_pcm(path, pcm, sample_rate=self.settings.speech.sample_rate)
        return path
