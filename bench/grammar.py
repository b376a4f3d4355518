"""How well each listen step of a script is understood: every expected phrase is spoken with
espeak-ng (as the sandbox's customers speak) and recognized against that step's grammar.

    .venv/bin/python bench/grammar.py scripts/reminder-ko.yaml [--model DIR] [--rate 170]

Prints, per step, the phrases heard as something else or not at all. Synthetic voices are
harder to recognize than people; a phrase that fails here may still work on real calls, but
a phrase heard as ANOTHER phrase (a promise heard as a refusal) should be reworded.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from bot.dialogue.checker import load_script
from bot.dialogue.slots import slot_phrases
from bot.speech.asr import Recognizer
from bot.speech.tts import Synthesizer
from bot.speech.wav import read_pcm
from bot.telephony.sim import REPLY_SHAPE


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("script", type=Path)
    parser.add_argument("--model", type=Path)
    parser.add_argument("--rate", type=int, default=170)
    args = parser.parse_args()
    script, _ = load_script(args.script)
    voice = script.voice or script.language
    total = wrong = missed = 0
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        async with Synthesizer(Path(tmp), rate=args.rate, shape=REPLY_SHAPE) as synth, \
                Recognizer(args.model) as recognizer:
            for name, step in script.steps.items():
                if step.listen is None:
                    continue
                intents = [intent for _, intent in script.intents_of(step.listen)]
                phrases = list(dict.fromkeys(
                    [p for i in intents for p in i.phrases]
                    + [p for i in intents for kind in i.capture.values() for p in slot_phrases(kind, script.language)]))
                problems = []
                for phrase in phrases:
                    stream = recognizer.stream(phrases)
                    await stream.feed(read_pcm(await synth.prompt(phrase, voice)))
                    heard, _ = await stream.result()
                    stream.close()
                    total += 1
                    if heard != phrase:
                        wrong += bool(heard)
                        missed += not heard
                        problems.append(f"{phrase!r} -> {heard!r}" if heard else f"{phrase!r} -> (nothing)")
                print(f"{name}: {len(phrases) - len(problems)}/{len(phrases)} phrases understood")
                for problem in problems:
                    print(f"    {problem}")
    print(f"\n{total} phrases: {total - wrong - missed} understood, {wrong} heard as another phrase, "
          f"{missed} not understood ({time.monotonic() - started:.1f}s)")


if __name__ == "__main__":
    asyncio.run(main())
