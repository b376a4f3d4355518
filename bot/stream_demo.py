"""Customers with timing of their own (``bot.telephony.sim_stream``) called over AudioSocket:
the streaming part of ``collbot demo --stream``. Each row says, turn by turn, what the robot
heard and whether the customer's speech stopped the prompt it spoke over."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from bot.commands import persona_debtor, persona_row
from bot.config import Settings
from bot.controller import Controller
from bot.dialogue.compiler import CompiledScript
from bot.domain import DialogueEvent, EventKind
from bot.errors import ConfigError
from bot.speech.asr import Recognizer
from bot.speech.models import model_dir_for
from bot.speech.tts import Synthesizer
from bot.store.repo import open_store
from bot.telephony.sandbox import Sandbox
from bot.telephony.sim import read_personas
from bot.telephony.sim_stream import ReplyLog, start_customers


async def call_stream_personas(settings: Settings, path: Path, *, script: CompiledScript, sandbox: Sandbox,
                               progress: Callable[[dict[str, str]], None] | None = None) -> list[dict[str, str]]:
    """Call, one at a time, each persona of ``path`` that has timing of its own, with the robot on
    ``call.transport: audiosocket``. The personas must be loaded into the sandbox already."""
    personas = read_personas(path)
    streamed = [p for p in personas.personas if p.streamed and p.debtor is not None]
    if not streamed:
        raise ConfigError(f"{path}: no persona with a debtor and timing of its own "
                          "(barge_in_after_s, answer_gap_ms or echo_delay_ms)")
    s = settings.model_copy(update={
        "call": settings.call.model_copy(update={"transport": "audiosocket"}),
        "audiosocket": settings.audiosocket.model_copy(update={"port": 0}),  # a free port, never a busy one
    })
    store = open_store(s.database.url)
    rows: list[dict[str, str]] = []
    customers = await start_customers(s, personas, sandbox)
    try:
        rate = script.script.rate or s.tts.rate
        async with Synthesizer(s.tts_cache_dir(), rate=rate, workers=s.tts.workers, shape=s.prompt_shape()) as synth, \
                Recognizer(model_dir_for(s, script.script.asr_model), workers=s.speech.workers,
                           sample_rate=s.speech.sample_rate) as recognizer, \
                Controller(s, store, script=script, recognizer=recognizer, synth=synth) as ctl:
            assert ctl.audiosocket is not None
            await asyncio.to_thread(sandbox.cli,
                                    f"dialplan set global COLLBOT_AUDIOSOCKET 127.0.0.1:{ctl.audiosocket.port}")
            try:
                for persona in streamed:
                    debtor = persona_debtor(persona, s)
                    assert debtor is not None
                    store.upsert_debtor(debtor)
                    report = await ctl.call(debtor)
                    row = persona_row(persona, report)
                    logs = [log for log in customers.logs if log.number == debtor.phone]
                    row["turns"] = describe_turns(store.events_for(report.attempt_id), logs)
                    if persona.barge_in_after_s is not None and "over the prompt" not in row["turns"]:
                        row["ok"] = "NO"  # it spoke over the robot, and no prompt stopped
                    rows.append(row)
                    if progress:
                        progress(row)
            finally:  # the address the sandbox's dialplan names, for whatever runs next
                await asyncio.to_thread(sandbox.cli, "dialplan set global COLLBOT_AUDIOSOCKET "
                                        f"127.0.0.1:{settings.audiosocket.port}")
    finally:
        await customers.close()
        store.close()
    return rows


def describe_turns(events: list[DialogueEvent], logs: list[ReplyLog]) -> str:
    """What the robot heard in each turn; for speech over a prompt, how fast the robot stopped it
    (its own clock: the first voiced frame's arrival -> playback stopped) and how much of the
    prompt was left unsaid (the customer's clock)."""
    heard = [e for e in events if e.kind in (EventKind.RECOGNITION, EventKind.DTMF, EventKind.NO_INPUT)]
    spoken = [log for log in logs if log.spoke is not None]
    parts = []
    for i, event in enumerate(heard):
        what = {EventKind.RECOGNITION: f'"{event.data.get("text", "")}"',
                EventKind.DTMF: f'key {event.data.get("digit", "")}'}.get(event.kind, "no input")
        timing = event.data.get("timing")
        if isinstance(timing, dict) and timing.get("barge_in") == 1:
            what += " said over the prompt, which stopped"
            if isinstance(timing.get("barge_in_stop_ms"), int):
                what += f" {timing['barge_in_stop_ms']} ms after the speech began"
            log = spoken[i] if len(spoken) == len(heard) else None
            if log is not None and log.prompt_end is not None and log.robot_stopped is not None:
                what += f", {log.prompt_end - log.robot_stopped:.1f} s of it unsaid"
        parts.append(what)
    return "; ".join(parts)
