"""How well the robot understands Korean borrowers: the corpus through its real listening path.

    .venv/bin/python bench/understanding.py [--voices ko,ko+m3] [--lines g711,g711-10db] [--limit 40]
        [--split dev|test] [--today 2026-12-07] [--concurrency 4] [--json] [--e2e]

Every (utterance, voice, line condition) of bench/corpus/ko.yaml, rendered by
bench/corpus_render.py (cached; missing audio is rendered first), goes through ``understand``:
the one adapter between this bench and the robot. It reports intent accuracy on in-scope
utterances, the confusion matrix, the consequential-error rate (a promise, refusal,
already-paid, wrong-number or opt-out stored that the customer did not give, or a wrong
promise date or amount), opt-out recall and how no_match answers were handled, overall and by
voice, line condition, step and split. Figures only; it asserts nothing. ``--vocabulary`` lists
the corpus's words the speech model lacks.

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
from bot.dialogue.compiler import CompiledScript, load_compiled
from bot.dialogue.session import ScriptRun
from bot.domain import Debtor, Heard
from bot.errors import CollbotError
from bot.speech.asr import Recognizer
from bot.speech.endpoint import Endpointer, EndpointState
from bot.speech.wav import read_pcm
from bot.telephony.agi_channel import PRE_ROLL_MS, RECOGNIZER_LEAD
from bot.telephony.channel import ListenSpec

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


async def understand(listener: Listener, step: str, pcm: bytes, today: dt.date) -> Understood:
    """What the robot makes of ``pcm`` (8 kHz 16-bit mono, the whole reply) at ``step``.

    Today's path: the energy endpointer and the recognizer fed as ``AgiChannel.listen`` does,
    Vosk against the step's phrase grammar, then ``ScriptRun._match``. Re-point this function
    (and ``Listener``) to a new understanding API; nothing else in the bench knows about it.
    """
    run = listener.run_for(today)
    listen = listener.compiled.script.steps[step].listen
    assert listen is not None
    run.state = step
    spec = listener.specs.get(step) or listener.specs.setdefault(step, run._spec(listen))
    cfg = listener.settings.listen
    endpointer = Endpointer(listener.settings.speech.sample_rate, no_input_s=cfg.no_input_s,
                            end_silence_ms=cfg.end_silence_ms, max_speech_s=spec.max_speech_s,
                            energy_threshold=cfg.energy_threshold)
    audio = pcm + bytes(TAIL_MS * 16)
    endpointer.push(audio)
    if endpointer.state in (EndpointState.WAITING, EndpointState.DONE_NO_INPUT):
        heard = Heard(audio_ms=0)
    else:
        used = endpointer.elapsed_ms * 16
        utterance = audio[endpointer.trim_offset(PRE_ROLL_MS):used]
        stream = listener.recognizer.stream(list(spec.phrases))
        try:
            await stream.feed(RECOGNIZER_LEAD + utterance)
            text, confidence = await stream.result()
        finally:
            stream.close()
        heard = Heard(text=text, confidence=confidence, audio_ms=len(utterance) // 16)
    matched = run._match(heard, run.script.intents_of(listen))
    if matched is None:
        kind = NO_INPUT if heard.silent and heard.audio_ms == 0 else NO_MATCH
        return Understood(kind, heard=heard.text, confidence=heard.confidence)
    name, _, filled = matched
    date = filled.get("promise_date")
    amount = filled.get("promise_amount")
    return Understood(intent_name(name), date if isinstance(date, dt.date) else None,
                      Decimal(str(amount)) if amount is not None else None, heard.text, heard.confidence)


# --- the run ------------------------------------------------------------------------------

async def run_offline(corpus: Corpus, todo: list[render.Job], cache: Path, today: dt.date,
                      concurrency: int, settings: Settings) -> list[Trial]:
    listener = await Listener.start(settings, corpus)
    gate = asyncio.Semaphore(concurrency)
    progress = render.printer("understanding")
    done = 0
    trials: list[Trial] = []

    async def one(job: render.Job) -> None:
        nonlocal done
        async with gate:
            pcm = await asyncio.to_thread(read_pcm, render.audio_path(cache, job))
            got = await understand(listener, job.item.step, pcm, today)
        trials.append(Trial(job.item, job.voice, job.line, got))
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
           ("consequential_error_pct", "conseq err %"), ("opt_out_recall_pct", "opt-out recall %"),
           ("promise_date_accuracy_pct", "date acc %"), ("no_match_handled_pct", "no_match ok %"),
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
            print(f"  [{e['step']}] {e['text']!r} ({e['voice']}, {e['line']}): expected {e['expected']}, "
                  f"stored {e['stored']}; heard {e['heard']!r} ({e['confidence']})")


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
    render.render(todo, args.cache, workers=args.workers, progress=render.printer("rendering"))
    started = time.monotonic()
    trials = asyncio.run(run_offline(corpus, todo, args.cache, args.today, args.concurrency, settings))
    order = {item.key: n for n, item in enumerate(corpus.items)}
    trials.sort(key=lambda t: (order[t.item.key], t.voice, t.line))
    figures = report(trials, corpus, args.today)
    figures["seconds"] = round(time.monotonic() - started, 1)
    if args.json:
        print(json.dumps(figures, ensure_ascii=False, indent=1, default=str))
    else:
        print_text(figures, args.examples)


if __name__ == "__main__":
    main()
