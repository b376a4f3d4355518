"""How a simulated customer sounds: voice, rate, pitch, fillers, line noise and a G.711 line.

A persona that sets none of these speaks as before (the prompt synthesizer's voice for its
language). One that sets any of them is rendered by `bot.speech.speaker`: espeak-ng with the
chosen variant, rate and pitch, then through its line (noise at ``noise_db`` SNR, and with
``line: g711`` a 300-3400 Hz band-pass and a µ-law round trip).
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from bot.errors import SpeechError
from bot.speech.render import Shape
from bot.speech.speaker import VOICE_PATTERN, Line, Speaker, line_file, speak

RENDER_TAG = "collbot-sim-voice/1"  # bump when the rendering changes
Filler = Annotated[str, StringConstraints(min_length=1, max_length=20, pattern=r"^[^\n\r]+$")]


class PersonaVoice(BaseModel):
    """The voice fields of a persona (bot/telephony/sim.py); all optional."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    voice: Annotated[str, StringConstraints(pattern=VOICE_PATTERN)] | None = None  # e.g. ko+m3
    rate: int | None = Field(None, ge=80, le=450)  # words per minute; default: tts.rate
    pitch: int | None = Field(None, ge=0, le=99)  # espeak-ng pitch; default 50
    noise_db: float | None = Field(None, ge=0, le=60)  # white noise this many dB below the speech
    fillers: list[Filler] = Field(default_factory=list, max_length=5)  # said before every spoken reply
    line: Literal["g711"] | None = None  # band-pass and G.711 µ-law round trip

    @field_validator("voice")
    @classmethod
    def _known_voice(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                Speaker(value).espeak()
            except SpeechError as exc:
                raise ValueError(str(exc)) from None
        return value

    @property
    def voiced(self) -> bool:
        """True when this persona does not simply speak with the prompt synthesizer."""
        return any(v not in (None, []) for v in
                   (self.voice, self.rate, self.pitch, self.noise_db, self.fillers, self.line))


def speaker_of(persona: PersonaVoice, language: str, default_rate: int) -> Speaker:
    return Speaker(persona.voice or language, persona.rate or default_rate,
                   persona.pitch if persona.pitch is not None else 50)


def line_of(persona: PersonaVoice) -> Line:
    return Line("g711" if persona.line == "g711" else "none", persona.noise_db)


def spoken_text(persona: PersonaVoice, reply: str) -> str:
    return " ".join([*persona.fillers, reply])


def voice_key(persona: PersonaVoice) -> str:
    """Part of a reply's key: the same phrase in another voice or line is another file."""
    if not persona.voiced:
        return ""
    return "\x00" + repr((persona.voice, persona.rate, persona.pitch, persona.noise_db,
                          tuple(persona.fillers), persona.line))


async def render_voiced(persona: PersonaVoice, language: str, reply: str, cache_dir: Path, *,
                        default_rate: int, shape: Shape) -> Path:
    """The reply as this persona says it, as an 8 kHz WAV in ``cache_dir`` (rendered once)."""
    speaker, line, text = speaker_of(persona, language, default_rate), line_of(persona), spoken_text(persona, reply)
    digest = hashlib.sha256("\0".join([RENDER_TAG, speaker.tag(), line.tag(), shape.tag(), text]).encode())
    name = digest.hexdigest()[:32]
    dest = cache_dir / f"{name}.wav"
    if not dest.is_file():
        await asyncio.to_thread(_render, text, speaker, line, dest, shape, int(name[:12], 16))
    return dest


def _render(text: str, speaker: Speaker, line: Line, dest: Path, shape: Shape, seed: int) -> None:
    spoken = dest.with_name(f".{dest.stem}-{uuid.uuid4().hex[:8]}-voice.wav")  # two personas may share dest
    speak(text, speaker, spoken, lead_ms=shape.lead_ms, tail_ms=shape.tail_ms)
    try:
        line_file(spoken, dest, line, seed=seed)
    finally:
        spoken.unlink(missing_ok=True)
