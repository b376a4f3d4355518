"""Understanding on the development set (bench/dev/understanding-ko.yaml), text and speech.

    .venv/bin/python bench/nlu_dev.py                 # typed text (what the classifier alone does)
    .venv/bin/python bench/nlu_dev.py --speech open   # espeak-ng audio -> Vosk open grammar -> understand
    .venv/bin/python bench/nlu_dev.py --speech phrase # ... the step's phrase grammar, forced to a phrase
    .venv/bin/python bench/nlu_dev.py --speech free   # ... free-vocabulary Vosk

Reports intent accuracy, opt-out recall, wrong consequential answers that would be stored
without confirmation (certain) and those the robot would confirm first. The development set
was used to write the rules; the held-out corpus (bench/understanding.py) is the real test.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import re
import sys
import tempfile
from collections import Counter
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.dialogue.checker import load_script  # noqa: E402
from bot.dialogue.compiler import compile_script  # noqa: E402
from bot.dialogue.listening import OPEN  # noqa: E402
from bot.understanding import Kind, Understanding  # noqa: E402

STEPS = {"identity": "greet", "ask": "ask"}
CONSEQUENTIAL = {"promise", "refuse", "already_paid", "wrong_number", "no", "opt_out"}


def label(u: Understanding) -> str:
    if not u.matched or u.kind is None:
        return "none" if u.intent is None else (u.intent or "none")
    return u.kind.value


def expected(item: dict) -> str:
    return "none" if item["expect"] == "question" else str(item["expect"])


def variant(grammar: list[str], name: str, script_phrases: set[str]) -> list[str]:
    """Grammar variants compared in docs/understanding.md."""
    if name == "script":  # the script's phrases and date phrases only (no built-in paraphrases)
        return [p for p in grammar if p in script_phrases or p == OPEN]
    if name == "long":  # no one-word built-in entries (they soak up unclear audio)
        return [p for p in grammar if p in script_phrases or p == OPEN or len(p.split()) > 1]
    return grammar


async def heard_texts(items: list[dict], mode: str, models: dict, grammar_variant: str = "full",
                      script_phrases: set[str] | None = None) -> list[tuple[str, float]]:
    from bot.speech.asr import Recognizer
    from bot.speech.tts import Synthesizer
    from bot.speech.wav import read_pcm

    out: list[tuple[str, float]] = []
    async with Synthesizer(Path(tempfile.gettempdir()) / "collbot-nlu-dev", rate=170) as synth, \
            Recognizer(None, workers=1) as rec:
        await rec.load()
        for item in items:
            pcm = read_pcm(await synth.prompt(re.sub(r"[?.,!]", "", item["text"]), "ko"))
            grammar = variant(list(models[STEPS[item["step"]]].grammar), grammar_variant, script_phrases or set())
            phrases = None if mode == "free" else grammar if mode == "open" else [p for p in grammar if p != OPEN]
            stream = rec.stream(phrases)
            for i in range(0, len(pcm), 3200):
                await stream.feed(pcm[i : i + 3200])
            out.append(await stream.result())
            stream.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--speech", choices=["open", "phrase", "free"])
    ap.add_argument("--set", default=str(ROOT / "bench/dev/understanding-ko.yaml"))
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--grammar", choices=["full", "script", "long"], default="full")
    ap.add_argument("--entry-share", type=float, help="asr.ENTRY_SHARE for this run (1.1: never prefer a phrase)")
    args = ap.parse_args()
    dev = yaml.safe_load(Path(args.set).read_text())
    if args.entry_share is not None:
        import bot.speech.asr

        bot.speech.asr.ENTRY_SHARE = args.entry_share
    today = dt.date.fromisoformat(str(dev["today"]))
    script, _ = load_script(ROOT / "scripts/reminder-ko.yaml")
    models = compile_script(script).models
    items = dev["utterances"]
    from bot.dialogue.slots import slot_phrases

    own = {p for _, i in [*script.globals.items(), *(kv for st in script.steps.values() if st.listen
                                                     for kv in st.listen.intents.items())] for p in i.phrases}
    own |= set(slot_phrases("date", "ko"))
    if args.speech:
        heard = asyncio.run(heard_texts(items, args.speech, models, args.grammar, own))
    else:
        heard = [(i["text"], 1.0) for i in items]
    right = opt_outs = opt_caught = stored_wrong = confirmed_wrong = 0
    confusion: Counter[tuple[str, str]] = Counter()
    for item, (text, conf) in zip(items, heard, strict=True):
        u = models[STEPS[item["step"]]].understand(text, conf, today, audio_ms=1000)
        want, got = expected(item), label(u)
        if item["step"] == "identity" and {want, got} <= {"no", "wrong_number"}:
            got = want  # both lead to the wrong-number outcome there
        ok = want == got
        if ok and want == "promise":
            have = u.slots.get("promise_date")
            ok = (item.get("date") == "ask_day" and have is None) or str(have) == str(item.get("date"))
        right += ok
        confusion[(want, got)] += 1
        if want == "opt_out":
            opt_outs += 1
            opt_caught += got == "opt_out"
        if not ok and u.matched and got in CONSEQUENTIAL:
            if u.certain and not (u.kind is Kind.OPT_OUT and u.score < 0.9):
                stored_wrong += 1
            else:
                confirmed_wrong += 1
        if args.verbose or not ok:
            print(f"{'ok ' if ok else 'BAD'} {item['text']:<28} heard={text!r} conf={conf:.2f} want={want} "
                  f"got={got} {u.reason} {u.slots or ''}")
    n = len(items)
    print(f"\nmode={args.speech or 'text'} grammar={args.grammar} entry_share={args.entry_share} n={n} "
          f"accuracy={right / n:.1%} "
          f"opt-out recall={opt_caught}/{opt_outs} "
          f"wrong consequential stored without confirming={stored_wrong} wrong but confirmed first={confirmed_wrong}")


if __name__ == "__main__":
    main()
