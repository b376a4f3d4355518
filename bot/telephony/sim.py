"""Simulated carrier and customers inside the sandbox's real Asterisk.

A personas file maps numbers to behaviours; ``load`` renders each spoken reply to 8 kHz WAV
with espeak-ng and writes one dialplan extension per persona (only digits, numbers and
content hashes reach the dialplan), then reloads the dialplan.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from bot.domain import CallResult, Outcome
from bot.speech.tts import Shape, Synthesizer
from bot.speech.wav import read_pcm, write_pcm
from bot.telephony.sandbox import SIM_PERSONAS_FILE, Sandbox
from bot.telephony.sim_voice import PersonaVoice, render_voiced, voice_key
from bot.yamlfile import load_yaml, validate

SIM_SOUNDS = "/var/lib/asterisk/sounds/collbot-sim"
# The customer breathes before answering (covers the robot's switch from playing to
# listening) and the line stays open after: real lines carry silence, and Asterisk's
# end-of-speech detection needs frames to measure it (Local channels send none when idle).
REPLY_SHAPE = Shape(lead_ms=300, tail_ms=1300)
TURNS_FAMILY = "collbot-sim-turns"  # AstDB: when a timed persona's replies ended, and the robot answered
TIMED_SILENCE = "silence-30s"  # what a timed persona sends while it waits for the robot (collbot-sim.conf)
E164 = Annotated[str, StringConstraints(pattern=r"^\+[1-9][0-9]{6,14}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DtmfReply(_Strict):
    dtmf: Annotated[str, StringConstraints(pattern=r"^[0-9*#A-D]{1,20}$")]


class HangupReply(_Strict):
    hangup: Literal[True]


class SilenceReply(_Strict):
    silence: Literal[True]


Reply = Annotated[str, StringConstraints(min_length=1, max_length=500)] | DtmfReply | HangupReply | SilenceReply


class PersonaDebtor(_Strict):
    """Debtor data the demo and the test bench create for this persona's number."""

    id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,64}$")]
    name: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    amount: Decimal = Field(gt=0)
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = "KRW"
    due_date: dt.date | None = None


class Persona(PersonaVoice):  # voice, rate, pitch, noise_db, fillers, line: sim_voice.py
    number: E164
    behavior: Literal["answer", "no_answer", "busy", "congestion"] = "answer"
    answer_after_s: float = Field(1.0, ge=0, le=120)
    language: Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[a-z]{2})?$")] = "ko"
    replies: list[Reply] = Field(default_factory=list, max_length=50)
    expect: Outcome | CallResult | None = None  # the outcome (or, unanswered, the result) expected
    debtor: PersonaDebtor | None = None
    timed: bool = False  # a latency probe: time each reply's end and the robot's first audio after it
    # --- timing over a streamed line: customers served by bot/telephony/sim_stream.py -------
    barge_in_after_s: float | None = Field(None, ge=0, le=60)  # speak this long after the prompt starts
    answer_gap_ms: int | None = Field(None, ge=0, le=300)  # answer this long after the prompt's last word
    echo_delay_ms: int | None = Field(None, ge=0, le=2000)  # send the robot's audio back this much later ...
    echo_db: float = Field(-20.0, ge=-60, le=0)  # ... at this level

    @property
    def streamed(self) -> bool:
        return any(v is not None for v in (self.barge_in_after_s, self.answer_gap_ms, self.echo_delay_ms))

    @field_validator("replies", mode="before")
    @classmethod
    def _no_bare_bools(cls, value: object) -> object:
        if isinstance(value, list):
            for item in value:
                if isinstance(item, bool):
                    raise ValueError("a reply read as true/false: write yes/no phrases in quotes")
        return value


class PersonasFile(_Strict):
    personas: list[Persona] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_numbers(self) -> PersonasFile:
        seen: set[str] = set()
        for persona in self.personas:
            if persona.number in seen:
                raise ValueError(f"number {persona.number} appears twice")
            seen.add(persona.number)
        return self


def read_personas(path: Path) -> PersonasFile:
    """Load and validate a personas file; errors name file:line."""
    return validate(PersonasFile, load_yaml(path))


def extension(persona: Persona, reply_files: dict[str, str]) -> list[str]:
    """Dialplan lines for one persona; every value is a digit string, a number or a hash."""
    digits = persona.number.lstrip("+")
    lines = [f"exten => {digits},1,Gosub(collbot-sim-count,s,1({digits}))"]
    steps = {
        "no_answer": ["Goto(collbot-sim-no-answer,s,1)"],
        "busy": ["Goto(collbot-sim-busy,s,1)"],
        "congestion": ["Goto(collbot-sim-congestion,s,1)"],
    }.get(persona.behavior)
    if steps is None:
        steps = [f"Gosub(collbot-sim-answer,s,1({persona.answer_after_s:g}))"]
        if persona.streamed:  # the customer is a program on the other end of an AudioSocket
            steps.append(f"Gosub(collbot-sim-stream,s,1({digits}))")
            lines.extend(f" same => n,{step}" for step in steps)
            return lines
        timed = "-timed" if persona.timed else ""
        for turn, reply in enumerate(persona.replies, 1):
            key = f",{digits}/{turn}" if persona.timed else ""  # the AstDB key of this reply's times
            if isinstance(reply, str):
                sound = f"{SIM_SOUNDS}/{reply_files[_key(persona, reply)]}"
                steps.append(f"Gosub(collbot-sim-say{timed},s,1({sound}{key}))")
            elif isinstance(reply, DtmfReply):
                steps.append(f"Gosub(collbot-sim-dtmf{timed},s,1({reply.dtmf}{key}))")
            elif isinstance(reply, SilenceReply):
                steps.append("Gosub(collbot-sim-await-turn,s,1(${COLLBOT_SIM_TURN_MS}))")
            else:
                steps.append("Goto(collbot-sim-hangup,s,1)")
                break
        else:
            steps.append("Goto(collbot-sim-silent,s,1)")
    lines.extend(f" same => n,{step}" for step in steps)
    return lines


def render_dialplan(personas: PersonasFile, reply_files: dict[str, str]) -> str:
    out = ["; generated by `collbot sim load`; do not edit", "[collbot-sim-carrier]"]
    for persona in personas.personas:
        out.extend(extension(persona, reply_files))
    out.append("; any other number fails like an unallocated number (Q.850 cause 1)")
    out.append("exten => _X.,1,Hangup(1)")
    return "\n".join(out) + "\n"


def _key(persona: Persona, phrase: str) -> str:
    return f"{persona.language}\x00{phrase}" + ("\x00timed" if persona.timed else "") + voice_key(persona)


async def render_replies(personas: PersonasFile, synth: Synthesizer) -> dict[str, str]:
    """Synthesize every distinct spoken reply once; returns key -> file name without extension.

    ``synth`` must render with ``REPLY_SHAPE`` (see ``reply_synthesizer``). A timed persona
    speaks the same audio without its silent tail (see ``speech_only``).
    """
    wanted = {
        _key(p, r): (r, p.language, p.timed, p)
        for p in personas.personas if p.behavior == "answer"
        for r in p.replies if isinstance(r, str)
    }
    paths = await asyncio.gather(
        *(render_voiced(p, voice, text, synth.cache_dir, default_rate=synth.rate, shape=REPLY_SHAPE)
          if p.voiced else synth.prompt(text, voice) for text, voice, _, p in wanted.values())
    )
    return {key: (speech_only(path) if timed else path).stem
            for (key, (_, _, timed, _)), path in zip(wanted.items(), paths, strict=True)}


def speech_only(path: Path) -> Path:
    """The reply without the tail ``REPLY_SHAPE`` added, beside it: its Playback returns when
    the reply ends, and the timed customer then plays silence while it listens for the robot."""
    target = path.with_name(f"{path.stem}-speech{path.suffix}")
    if not target.exists():
        _write_once(target, read_pcm(path)[: -REPLY_SHAPE.tail_ms * 16])
    return target


def _write_once(path: Path, pcm: bytes) -> None:
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        write_pcm(tmp, pcm)
        os.replace(tmp, path)


async def load(path: Path, sandbox: Sandbox, synth: Synthesizer) -> PersonasFile:
    """Validate personas, render their audio and install them into the running sandbox."""
    personas = read_personas(path)
    files = await render_replies(personas, synth)
    target = sandbox.root / "etc/asterisk/collbot" / SIM_PERSONAS_FILE
    tmp = target.with_suffix(".tmp")
    tmp.write_text(render_dialplan(personas, files))
    os.replace(tmp, target)
    timed = any(p.timed for p in personas.personas)
    if timed:
        _write_once(synth.cache_dir / f"{TIMED_SILENCE}.wav", bytes(30_000 * 16))
    if sandbox.pid() is not None:
        await asyncio.to_thread(sandbox.cli, "dialplan reload")
        await asyncio.to_thread(sandbox.cli, "database deltree collbot-sim-calls")
        if timed:
            await asyncio.to_thread(_prepare_timed, sandbox)
    return personas


def _prepare_timed(sandbox: Sandbox) -> None:
    """Timed personas need BackgroundDetect, which the sandbox does not load by default, and
    no times left from an earlier run."""
    if "app_talkdetect" not in sandbox.cli("module show like app_talkdetect"):
        sandbox.cli("module load app_talkdetect.so")
    sandbox.cli(f"database deltree {TURNS_FAMILY}")


def call_counts(sandbox: Sandbox) -> dict[str, int]:
    """How many calls each simulated number received since the personas were loaded."""
    counts: dict[str, int] = {}
    for line in sandbox.cli("database show collbot-sim-calls").splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip().startswith("/collbot-sim-calls/"):
            counts["+" + key.strip().rsplit("/", 1)[1]] = int(value.strip() or 0)
    return counts


def turn_times(sandbox: Sandbox) -> dict[tuple[str, int], tuple[float, float | None]]:
    """(number, reply) -> (when the timed reply ended, when the robot's first audio began after
    it, or None if it never did), as epoch seconds with ms, for the timed personas since ``load``."""
    times: dict[tuple[str, int], tuple[float, float | None]] = {}
    for line in sandbox.cli(f"database show {TURNS_FAMILY}").splitlines():
        key, sep, value = line.partition(":")
        parts = key.strip().split("/")
        fields = value.split()
        if sep and len(parts) == 4 and parts[1] == TURNS_FAMILY and len(fields) == 3:
            ended, heard, lag_ms = fields
            began = float(heard) - int(lag_ms) / 1000 if heard != "-" else None
            times[("+" + parts[2], int(parts[3]))] = (float(ended), began)
    return times
