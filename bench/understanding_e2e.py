"""The understanding bench end to end: corpus utterances as sandbox personas, called for real.

    .venv/bin/python bench/understanding.py --e2e [--voices ko,ko+f2] [--lines g711-20db]
        [--limit 20] [--concurrency 10]

Each (utterance, voice, line condition) becomes a persona of bench/corpus_render's voice and
line (bot/telephony/sim_voice.py). For a ``greet`` item it says the utterance when first asked;
for an ``ask`` item it presses 1 ("it's me") first, so that every call reaches the question
whatever its voice, then says the utterance. The robot runs as in a campaign (controller,
sandbox Asterisk, FastAGI, Vosk), and what it made of the utterance is read from the call's
events: the intent it took at the item's step with its slots, or no_match (heard but no
intent), or no_input. Scores are those of the offline bench, on the date the robot used.

Uses the sandbox of the current settings (source your env file), starts it if needed, and a
throwaway SQLite database.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import corpus_render as render
import yaml
from corpus_model import NO_INPUT, NO_MATCH, Corpus, Trial, Understood, intent_name, script_path

from bot.commands import compiled_script, load_personas, persona_debtor
from bot.config import Settings
from bot.controller import Controller, local_today
from bot.domain import DialogueEvent, EventKind
from bot.speech.asr import Recognizer
from bot.speech.tts import Synthesizer
from bot.store.repo import open_store
from bot.telephony.sandbox import Sandbox
from bot.telephony.sim import read_personas

FIRST_NUMBER = 821077000000  # +82 10 7700 xxxx: numbers of no real customer's persona file


def persona(job: render.Job, n: int, debt: int) -> dict[str, object]:
    speaker, line = render.VOICES[job.voice], render.LINES[job.line]
    replies: list[object] = [job.item.text] if job.item.step == "greet" else [{"dtmf": "1"}, job.item.text]
    entry: dict[str, object] = {
        "number": f"+{FIRST_NUMBER + n}", "answer_after_s": 0.2, "voice": speaker.voice, "rate": speaker.rate,
        "pitch": speaker.pitch, "replies": replies,
        "debtor": {"id": f"U-{n:05d}", "name": "김민준", "amount": debt, "currency": "KRW"},
    }
    if line.codec == "g711":
        entry["line"] = "g711"
    if line.noise_db is not None:
        entry["noise_db"] = line.noise_db
    return entry


def understood_at(events: list[DialogueEvent], step: str) -> Understood:
    """What the robot made of the first answer at ``step``, from the call's events: a
    recognition followed by the step's intent, or by a confirmation of one (``asks``), or by
    anything else (no_match)."""
    current = None
    heard: tuple[str, float] | None = None
    for n, event in enumerate(events):
        data = event.data
        if event.kind is EventKind.STATE and "intent" not in data:
            if heard is not None:
                break  # the step ended without an intent for what was heard
            current = data.get("step")
        elif current != step:
            continue
        elif event.kind is EventKind.STATE:
            return _taken(data, heard)
        elif heard is not None and event.kind is EventKind.PROMPT:
            asked = _confirmation(events[n + 1:], step)
            if asked is not None:
                return replace(asked, heard=heard[0], confidence=heard[1])
            break  # heard, and the robot went on without taking an intent
        elif heard is not None and event.kind in (EventKind.RECOGNITION, EventKind.NO_INPUT,
                                                  EventKind.DTMF, EventKind.HANGUP):
            break
        elif event.kind is EventKind.RECOGNITION:
            heard = (str(data.get("text", "")), float(str(data.get("confidence", 0.0))))
        elif event.kind is EventKind.NO_INPUT:
            # speech that gave no text is the robot's no_match, though logged as no input (issue 11)
            return Understood(NO_MATCH if data.get("audio_ms") else NO_INPUT)
    if heard is not None:
        return Understood(NO_MATCH, heard=heard[0], confidence=heard[1])
    return Understood(NO_INPUT)


def _taken(data: dict[str, object], heard: tuple[str, float] | None, asks: bool = False) -> Understood:
    slots = data.get("slots") or {}
    assert isinstance(slots, dict)
    date, amount = slots.get("promise_date"), slots.get("promise_amount")
    text, confidence = heard or ("", 0.0)
    return Understood(intent_name(str(data["intent"])), dt.date.fromisoformat(str(date)) if date else None,
                      Decimal(str(amount)) if amount else None, text, confidence, asks)


def _confirmation(rest: list[DialogueEvent], step: str) -> Understood | None:
    """When the prompt that follows an answer asks to confirm it: the intent asked about, with
    its slots if the customer said yes; else None. The caller fills in what was heard."""
    intent: str | None = None
    for event in rest:
        if event.kind is EventKind.CONFIRM and event.data.get("step") == step:
            intent = str(event.data.get("intent"))
        elif event.kind is EventKind.STATE:
            if intent is not None and "intent" in event.data:
                return _taken(event.data, None, asks=True)
            break
        elif event.kind is EventKind.PROMPT and intent is not None:
            break  # asked again after a "no" or no clear answer
    return None if intent is None else Understood(intent_name(intent), asks=True)


async def main(args: argparse.Namespace, corpus: Corpus, todo: list[render.Job], base: Settings) -> None:
    from understanding import print_text, report  # the offline bench's reporting

    with tempfile.TemporaryDirectory(prefix="collbot-e2e-") as tmp:
        settings = base.model_copy(update={
            "database": base.database.model_copy(update={"url": f"sqlite:///{tmp}/e2e.db"}),
            "dial": base.dial.model_copy(update={"ring_timeout_s": 10.0}),
        })
        people = [persona(job, n, corpus.debt_amount) for n, job in enumerate(todo)]
        path = Path(tmp) / "personas.yaml"
        path.write_text(yaml.safe_dump({"personas": people}, allow_unicode=True))
        box = Sandbox(settings)
        box.up()
        started = time.monotonic()
        print(f"rendering {len(people)} personas' replies into the sandbox", file=sys.stderr, flush=True)
        await load_personas(settings, path)
        debtors = [persona_debtor(p, settings) for p in read_personas(path).personas]
        store = open_store(settings.database.url)
        for d in debtors:
            assert d is not None
            store.upsert_debtor(d)
        script = compiled_script(settings, script_path(corpus))
        progress = render.printer("calls")
        done = 0

        def tick(_: object) -> None:
            nonlocal done
            done += 1
            progress(done, len(debtors))

        async with Synthesizer(settings.tts_cache_dir(), rate=settings.tts.rate,
                               shape=settings.prompt_shape()) as synth, \
                Recognizer(settings.speech.model_dir, workers=settings.speech.workers) as recognizer, \
                Controller(settings, store, script=script, recognizer=recognizer, synth=synth) as ctl:
            reports = await ctl.call_many([d for d in debtors if d is not None], concurrency=args.concurrency,
                                          progress=tick)
        by_debtor = {r.debtor_id: r for r in reports}
        trials, today = [], None
        unanswered = 0
        for n, (job, debtor) in enumerate(zip(todo, debtors, strict=True)):
            assert debtor is not None
            rep = by_debtor[f"U-{n:05d}"]
            today = today or local_today(debtor.phone)
            if rep.attempt_id is None or rep.outcome is None:
                unanswered += 1
                continue
            trials.append(Trial(job.item, job.voice, job.line, understood_at(store.events_for(rep.attempt_id),
                                                                              job.item.step)))
        store.close()
    figures = report(trials, corpus, today or dt.date.today())
    figures["seconds"] = round(time.monotonic() - started, 1)
    figures["calls"] = {"placed": len(todo), "unanswered_or_failed": unanswered, "concurrency": args.concurrency}
    if args.json:
        import json

        print(json.dumps(figures, ensure_ascii=False, indent=1, default=str))
    else:
        print(f"end to end: {len(todo)} calls at concurrency {args.concurrency}, {unanswered} not answered")
        print_text(figures, args.examples)
