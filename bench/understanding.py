"""How well the robot understands Korean borrowers: the corpus through its real listening path.

    .venv/bin/python bench/understanding.py [--voices ko,ko+m3] [--lines g711,g711-10db] [--limit 40]
        [--split dev|test] [--today 2026-12-07] [--concurrency 4] [--json] [--e2e] [--path old,new]

Every (utterance, voice, line condition) of bench/corpus/ko.yaml, rendered by
bench/corpus_render.py (cached; missing audio is rendered first), goes through ``understand``:
the one adapter between this bench and the robot. It reports intent accuracy on in-scope
utterances, the confusion matrix, the consequential-error rate (a promise, refusal,
already-paid, wrong-number or opt-out stored that the customer did not give, or a wrong
promise date or amount), opt-out recall and how no_match answers were handled, overall and by
voice, line condition, step and split. Figures only; it asserts nothing. ``--vocabulary`` lists
the corpus's words the speech model lacks.

``--path`` picks the understanding: ``new`` (the robot's, default), ``old`` (the baseline's
closed grammar and exact match) or ``old,new`` side by side on the same audio. Besides the
corpus's rules it reports what the robot would store without asking, what it would confirm
first, and the no_match rate.

``--e2e`` calls the same utterances through the real sandbox instead (bench/understanding_e2e.py).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import re
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import corpus_render as render
from corpus_model import NO_INPUT, NO_MATCH, Corpus, Trial, Understood, intent_name, load_corpus, score, script_path

from bot.config import Settings, load_settings
from bot.dialogue import amounts, dates
from bot.dialogue.compiler import CompiledScript, load_compiled
from bot.dialogue.schema import Intent, Listen
from bot.dialogue.session import ScriptRun
from bot.dialogue.slots import literal, slot_phrases
from bot.domain import Debtor, Heard
from bot.errors import CollbotError
from bot.speech.asr import Recognizer
from bot.speech.endpoint import Endpointer, EndpointState
from bot.speech.wav import read_pcm
from bot.telephony.agi_channel import PRE_ROLL_MS, RECOGNIZER_LEAD
from bot.telephony.channel import ListenSpec
from bot.understanding import Kind, Result, StepModel, Understanding

DEFAULT_TODAY = dt.date(2026, 12, 7)  # a Monday: fixed, so that figures can be compared across runs
TAIL_MS = 1300  # the line stays open after a reply (sim.REPLY_SHAPE): silence that ends the turn


# --- the adapter: the ONLY place that knows how the robot listens ---------------------------

@dataclass
class Listener:
    """What the robot's listening needs, built once per bench run."""

    settings: Settings
    recognizer: Recognizer
    compiled: CompiledScript
    corpus: Corpus
    runs: dict[dt.date, ScriptRun]
    specs: dict[str, ListenSpec]

    @classmethod
    async def start(cls, settings: Settings, corpus: Corpus) -> Listener:
        recognizer = Recognizer(settings.speech.model_dir, workers=os.cpu_count() or 1)
        await recognizer.load()
        compiled = await asyncio.to_thread(load_compiled, script_path(corpus),
                                           missing_words=recognizer.missing_words)
        return cls(settings, recognizer, compiled, corpus, {}, {})

    def run_for(self, today: dt.date) -> ScriptRun:
        if today not in self.runs:
            debtor = Debtor("BENCH", "김민준", "+821000000000", Decimal(self.corpus.debt_amount))
            self.runs[today] = ScriptRun(self.compiled, debtor, today=today, record=_ignore,
                                         min_confidence=self.settings.listen.min_confidence)
        return self.runs[today]


async def _ignore(_: object) -> None:
    return None


async def understand(listener: Listener, step: str, pcm: bytes, today: dt.date, path: str = "new") -> Understood:
    """What the robot makes of ``pcm`` (8 kHz 16-bit mono, the whole reply) at ``step``.

    Both paths share the energy endpointer and the recognizer fed as ``AgiChannel.listen``
    does, so that they differ only in understanding. ``new``: the step's compiled grammar
    (``ScriptRun._spec``: the step model's phrases plus ``[unk]``, an open grammar), then the
    step model's ``understand`` and ``ScriptRun``'s confirmation rule. ``old``: the baseline,
    a closed phrase grammar and exact-phrase matching (``_old_spec``/``_old_match``).
    """
    run = listener.run_for(today)
    listen = listener.compiled.script.steps[step].listen
    assert listen is not None
    run.state = step
    key = f"{path}:{step}"
    spec = listener.specs.get(key) or listener.specs.setdefault(
        key, run._spec(listen) if path == "new" else _old_spec(run, listen))
    heard = await _hear(listener, spec, pcm)
    if path == "old":
        return _old_understand(run, listen, heard, today)
    model = listener.compiled.models[step]
    u = model.understand(heard.text, heard.confidence, today, audio_ms=heard.audio_ms)
    if heard.text and heard.confidence < run.min_confidence:  # as ScriptRun._listen does
        u = Understanding(Result.NO_MATCH, heard.text, asr_confidence=heard.confidence, reason="low_confidence")
    if u.result is Result.NO_INPUT:
        return Understood(NO_INPUT, heard=heard.text, confidence=heard.confidence)
    if not u.matched or u.intent is None:
        return Understood(NO_MATCH, heard=heard.text, confidence=heard.confidence)
    date = u.slots.get("promise_date")
    amount = u.slots.get("promise_amount")
    if u.missing:  # the robot asks for the day: nothing is stored, nothing confirmed
        date = None
    return Understood(intent_name(u.intent), date if isinstance(date, dt.date) else None,
                      Decimal(str(amount)) if amount is not None else None, heard.text, heard.confidence,
                      asks=not u.missing and _asks(model, u))


def _asks(model: StepModel, u: Understanding) -> bool:
    """Whether ScriptRun._confirmed would ask the customer before storing ``u``."""
    spec = model.spec_of(u.intent or "")
    unclear_opt_out = u.kind is Kind.OPT_OUT and u.score < model.policy.certain_score
    if u.certain and not unclear_opt_out:
        return False
    return unclear_opt_out or (spec is not None and spec.consequential)


async def _hear(listener: Listener, spec: ListenSpec, pcm: bytes) -> Heard:
    cfg = listener.settings.listen
    endpointer = Endpointer(listener.settings.speech.sample_rate, no_input_s=cfg.no_input_s,
                            end_silence_ms=cfg.end_silence_ms, max_speech_s=spec.max_speech_s,
                            energy_threshold=cfg.energy_threshold)
    audio = pcm + bytes(TAIL_MS * 16)
    endpointer.push(audio)
    if endpointer.state in (EndpointState.WAITING, EndpointState.DONE_NO_INPUT):
        return Heard(audio_ms=0)
    used = endpointer.elapsed_ms * 16
    utterance = audio[endpointer.trim_offset(PRE_ROLL_MS):used]
    stream = listener.recognizer.stream(list(spec.phrases))
    try:
        await stream.feed(RECOGNIZER_LEAD + utterance)
        text, confidence = await stream.result()
    finally:
        stream.close()
    return Heard(text=text, confidence=confidence, audio_ms=len(utterance) // 16)


# The baseline's listening, kept here to compare against (ScriptRun before the new listener,
# commit b468919): its closed date phrases, its grammar and its exact-phrase match. The date
# and amount parsers are today's.
OLD_COMPACT_DATES = {"ko": ["오늘", "내일", "모레", "오늘 낼게요", "내일 낼게요"]}


def _old_spec(run: ScriptRun, listen: Listen) -> ListenSpec:
    phrases: list[str] = []
    lang = run.script.language
    for _, intent in run.script.intents_of(listen):
        phrases += intent.phrases
        for kind in intent.capture.values():
            phrases += (OLD_COMPACT_DATES.get(lang) or slot_phrases(kind, lang)) if kind == "date" \
                else slot_phrases(kind, lang, run.debtor.amount)
    return ListenSpec(list(dict.fromkeys(phrases)), "", listen.timeout_s, listen.max_speech_s)


def _old_understand(run: ScriptRun, listen: Listen, heard: Heard, today: dt.date) -> Understood:
    matched = _old_match(run, heard, run.script.intents_of(listen), today)
    if matched is None:
        kind = NO_INPUT if heard.silent and heard.audio_ms == 0 else NO_MATCH
        return Understood(kind, heard=heard.text, confidence=heard.confidence)
    name, filled = matched
    date = filled.get("promise_date")
    amount = filled.get("promise_amount")
    return Understood(intent_name(name), date if isinstance(date, dt.date) else None,
                      Decimal(str(amount)) if amount is not None else None, heard.text, heard.confidence)


def _old_match(run: ScriptRun, heard: Heard, intents: list[tuple[str, Intent]],
               today: dt.date) -> tuple[str, dict[str, object]] | None:
    if not heard.text or heard.confidence < run.min_confidence:
        return None
    text = heard.text.strip().lower()
    for name, intent in intents:
        if text in (p.lower() for p in intent.phrases):
            return name, _old_filled(run, intent, text, today)
    for name, intent in intents:
        if intent.capture:
            filled = _old_filled(run, intent, text, today)
            if all(v is not None for v in filled.values()):
                return name, filled
    return None


def _old_filled(run: ScriptRun, intent: Intent, text: str, today: dt.date) -> dict[str, object]:
    values: dict[str, object] = {k: literal(v, today) for k, v in intent.set.items()}
    lang = run.script.language
    for slot, kind in intent.capture.items():
        values[slot] = dates.parse_date(text, lang, today) if kind == "date" else amounts.parse_amount(text, lang)
    return values


# --- the run ------------------------------------------------------------------------------

async def run_offline(corpus: Corpus, todo: list[render.Job], cache: Path, today: dt.date,
                      concurrency: int, settings: Settings, paths: list[str]) -> dict[str, list[Trial]]:
    listener = await Listener.start(settings, corpus)
    gate = asyncio.Semaphore(concurrency)
    progress = render.printer("understanding")
    done = 0
    trials: dict[str, list[Trial]] = {path: [] for path in paths}

    async def one(job: render.Job) -> None:
        nonlocal done
        async with gate:
            pcm = await asyncio.to_thread(read_pcm, render.audio_path(cache, job))
            for path in paths:
                got = await understand(listener, job.item.step, pcm, today, path)
                trials[path].append(Trial(job.item, job.voice, job.line, got))
        done += 1
        progress(done, len(todo))

    try:
        await asyncio.gather(*(one(job) for job in todo))
    finally:
        await listener.recognizer.aclose()
    return trials


def report(trials: list[Trial], corpus: Corpus, today: dt.date) -> dict[str, object]:
    out: dict[str, object] = {"today": today.isoformat(), "overall": score(trials, corpus, today)}
    for name, key in (("line", lambda t: t.line), ("voice", lambda t: t.voice),
                      ("step", lambda t: t.item.step), ("split", lambda t: t.item.split)):
        groups: dict[str, list[Trial]] = defaultdict(list)
        for t in trials:
            groups[key(t)].append(t)
        out[f"by_{name}"] = {k: _brief(score(v, corpus, today)) for k, v in sorted(groups.items())}
    return out


def _brief(figures: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in figures.items() if k not in ("confusion", "consequential_examples")}


COLUMNS = [("trials", "trials"), ("intent_accuracy_pct", "intent acc %"),
           ("consequential_error_pct", "conseq err %"), ("stored_unasked_error_pct", "stored unasked %"),
           ("confirmation_pct", "confirmed %"), ("no_match_pct", "no_match %"),
           ("opt_out_recall_pct", "opt-out recall %"),
           ("promise_date_accuracy_pct", "date acc %"), ("promise_date_wrong_pct", "date wrong %"),
           ("promise_date_asked_pct", "date re-asked %"), ("no_match_handled_pct", "no_match ok %"),
           ("no_match_forced_pct", "no_match forced %")]


def print_text(figures: dict[str, object], examples: int) -> None:
    overall = figures["overall"]
    assert isinstance(overall, dict)
    print(f"reference date {figures['today']}; consequential errors: {overall['consequential_errors']}"
          f" of {overall['trials']} trials\n")
    print(f"{'':<22}" + "".join(f"{title:>18}" for _, title in COLUMNS))
    rows: list[tuple[str, dict[str, object]]] = [("overall", overall)]
    for group in ("by_line", "by_voice", "by_step", "by_split"):
        section = figures[group]
        assert isinstance(section, dict)
        rows += [(f"{group[3:]} {name}", values) for name, values in section.items()]
    for label, values in rows:
        print(f"{label:<22}" + "".join(f"{_cell(values.get(key)):>18}" for key, _ in COLUMNS))
    confusion = overall["confusion"]
    assert isinstance(confusion, dict)
    print("\nconfusion (expected -> got: trials); 'today' counts as promise, 'not_me' as wrong_number")
    for pair, n in confusion.items():
        print(f"  {pair:<36} {n}")
    shown = overall["consequential_examples"]
    assert isinstance(shown, list)
    if shown and examples:
        print(f"\nconsequential errors (first {min(examples, len(shown))} of {len(shown)})")
        for e in shown[:examples]:
            how = "would confirm" if e.get("asks") else "stored"
            print(f"  [{e['step']}] {e['text']!r} ({e['voice']}, {e['line']}): expected {e['expected']}, "
                  f"{how} {e['stored']}; heard {e['heard']!r} ({e['confidence']})")


def print_vocabulary(corpus: Corpus, settings: Settings) -> None:
    """Words of the corpus (punctuation stripped) that the speech model cannot recognize."""
    words: dict[str, int] = {}
    for item in corpus.items:
        for word in re.sub(r"[^\w\s]", " ", item.text).split():
            words[word] = words.get(word, 0) + 1
    recognizer = Recognizer(settings.speech.model_dir, workers=1)
    try:
        missing = set(recognizer.missing_words([" ".join(words)]))
    finally:
        recognizer.close()
    items = sum(any(w in missing for w in re.sub(r"[^\w\s]", " ", i.text).split()) for i in corpus.items)
    print(f"{len(missing)} of {len(words)} distinct words are not in the model; "
          f"{items} of {len(corpus.items)} utterances have at least one:")
    print(" ".join(sorted(missing, key=lambda w: (-words[w], w))))


def _cell(value: object) -> str:
    return "n/a" if value is None else str(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=render.DEFAULT_CORPUS)
    parser.add_argument("--voices", default=",".join(render.VOICES), help="comma separated")
    parser.add_argument("--lines", default=",".join(render.LINES), help="comma separated line conditions")
    parser.add_argument("--limit", type=int, help="only this many utterances, spread over the corpus")
    parser.add_argument("--split", choices=["dev", "test"], help="only one split (default: all)")
    parser.add_argument("--today", type=dt.date.fromisoformat, default=DEFAULT_TODAY,
                        help="reference date the promise dates are judged against")
    parser.add_argument("--path", default="new",
                        help="understanding to measure: new, old (the baseline) or old,new side by side")
    parser.add_argument("--concurrency", type=int, default=4, help="utterances in flight (offline)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="rendering processes")
    parser.add_argument("--cache", type=Path, default=render.DEFAULT_CACHE)
    parser.add_argument("--examples", type=int, default=25, help="consequential errors to list")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--e2e", action="store_true", help="through the real sandbox (bench/understanding_e2e.py)")
    parser.add_argument("--vocabulary", action="store_true",
                        help="list the corpus's words the speech model lacks, and exit")
    args = parser.parse_args()
    try:
        corpus = load_corpus(args.corpus)
        settings = load_settings(None)
    except CollbotError as exc:
        raise SystemExit(f"error: {exc}") from None
    if args.vocabulary:
        print_vocabulary(corpus, settings)
        return
    voices = render.parse_list(args.voices, render.VOICES, "voice")
    lines = render.parse_list(args.lines, render.LINES, "line condition")
    todo = render.jobs(corpus, voices, lines, args.limit, args.split)
    if args.e2e:
        import understanding_e2e

        asyncio.run(understanding_e2e.main(args, corpus, todo, settings))
        return
    paths = render.parse_list(args.path, {"old": None, "new": None}, "path")
    render.render(todo, args.cache, workers=args.workers, progress=render.printer("rendering"))
    started = time.monotonic()
    runs = asyncio.run(run_offline(corpus, todo, args.cache, args.today, args.concurrency, settings, paths))
    seconds = round(time.monotonic() - started, 1)
    order = {item.key: n for n, item in enumerate(corpus.items)}
    every: dict[str, object] = {}
    for path, trials in runs.items():
        trials.sort(key=lambda t: (order[t.item.key], t.voice, t.line))
        figures = report(trials, corpus, args.today)
        figures["seconds"] = seconds
        every[path] = figures
        if not args.json:
            print(f"\n=== path {path} ===")
            print_text(figures, args.examples)
    if args.json:
        print(json.dumps(every if len(paths) > 1 else every[paths[0]], ensure_ascii=False, indent=1, default=str))


if __name__ == "__main__":
    main()
