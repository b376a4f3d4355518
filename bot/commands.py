"""What the CLI's commands do, as plain async functions the tests call too."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from bot.config import Settings
from bot.controller import CallReport, Controller
from bot.domain import Debtor
from bot.phone import mask, normalize
from bot.speech.asr import Recognizer
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


async def call_personas(settings: Settings, path: Path, *, concurrency: int,
                        progress: Callable[[dict[str, str]], None] | None = None) -> list[dict[str, str]]:
    """Call each persona that carries debtor data; one row per call, in file order."""
    personas = [p for p in read_personas(path).personas if p.debtor is not None]
    debtors = [persona_debtor(p, settings) for p in personas]
    store = open_store(settings.database.url)
    for debtor in debtors:
        assert debtor is not None
        store.upsert_debtor(debtor)
    by_id = {p.debtor.id: p for p in personas if p.debtor}
    async with Synthesizer(settings.tts_cache_dir(), rate=settings.tts.rate,
                           workers=settings.tts.workers, shape=settings.prompt_shape()) as synth, \
            Recognizer(settings.speech.model_dir, workers=settings.speech.workers,
                       sample_rate=settings.speech.sample_rate) as recognizer, \
            Controller(settings, store, recognizer=recognizer, synth=synth) as controller:

        def report(r: CallReport) -> None:
            if progress:
                progress(_row(by_id[r.debtor_id], r))

        reports = await controller.call_many([d for d in debtors if d], concurrency=concurrency,
                                             progress=report)
    return [_row(by_id[r.debtor_id], r) for r in reports]


def _row(persona: Persona, r: CallReport) -> dict[str, str]:
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
