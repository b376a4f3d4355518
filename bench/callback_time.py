"""How well spoken callback times are heard: synthetic customers (espeak-ng voices, as the
sandbox's personas render them) say a callback request and short answers to "몇 시에 다시
전화드릴까요?", recognized by the real Vosk model against the grammar of the step that hears them.

    .venv/bin/python bench/callback_time.py [--script scripts/reminder-ko.yaml] [--hours 1-12]

For each answer and voice it prints what was heard and the callback time parsed from it, and
counts: right (the time said), none (no time: the robot asks again or uses the default delay),
wrong (another time: the robot must confirm before storing it).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from collections import Counter
from pathlib import Path

from bot.dialogue.checker import load_script
from bot.dialogue.listening import step_models
from bot.dialogue.times import parse_time
from bot.speech.asr import Recognizer
from bot.speech.wav import read_pcm
from bot.telephony.sim import REPLY_SHAPE
from bot.telephony.sim_voice import PersonaVoice, render_voiced

VOICES = {  # espeak-ng variants, rates and pitches (bench/corpus_render.py's six, and two more)
    "ko": PersonaVoice(), "ko+m3": PersonaVoice(voice="ko+m3", rate=150, pitch=40),
    "ko+f2": PersonaVoice(voice="ko+f2", rate=175, pitch=65), "ko+f4": PersonaVoice(voice="ko+f4", rate=160, pitch=72),
    "ko+m7": PersonaVoice(voice="ko+m7", rate=195, pitch=35), "ko+f5": PersonaVoice(voice="ko+f5", rate=140, pitch=58),
    "ko+m1": PersonaVoice(voice="ko+m1", rate=165, pitch=45), "ko+f1": PersonaVoice(voice="ko+f1", rate=170, pitch=60),
}
NATIVE = ["한", "두", "세", "네", "다섯", "여섯", "일곱", "여덟", "아홉", "열", "열한", "열두"]


HOURS = [f"{p} {w} 시" for p in ("오전", "오후") for w in NATIVE] + [f"{w} 시" for w in NATIVE]
GRAMMARS = {"hours-open": [*HOURS, "[unk]"], "hours-closed": HOURS,
            "hours-yo-open": [*HOURS, *(f"{h} 요" for h in HOURS), "[unk]"],
            "compound-open": [h.replace(" 시", "시") for h in HOURS] + ["[unk]"]}


def answers(hours: range) -> list[tuple[str, str, str]]:
    """(step, said, the callback time meant) for the first answer and the follow-ups."""
    out = [("ask", "내일 오후 세 시에 다시 전화 주세요", "tomorrow 15:00"),
           ("ask", "한 시간 뒤에 다시 전화 주세요", "in 60 min")]
    for h in hours:
        word = NATIVE[h - 1]
        pm = h + 12 if h < 12 else 12
        out.append(("callback_time", f"오후 {word} 시요", f"{pm:02d}:00"))
        out.append(("callback_time", f"오전 {word} 시요", f"{h % 12:02d}:00"))
        out.append(("callback_time", f"{word} 시요", f"{h + 12 if h <= 6 else h:02d}:00"))
    return out


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--script", type=Path, default=Path("scripts/reminder-ko.yaml"))
    parser.add_argument("--hours", default="1-12")
    parser.add_argument("--voices", default=",".join(VOICES))
    parser.add_argument("--model", type=Path)
    parser.add_argument("--grammar", choices=sorted(GRAMMARS), default="hours-open")
    args = parser.parse_args()
    lo, _, hi = args.hours.partition("-")
    script, _ = load_script(args.script)
    models = step_models(script)
    tally: dict[str, Counter[str]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        async with Recognizer(args.model) as recognizer:
            for step, said, meant in answers(range(int(lo), int(hi or lo) + 1)):
                grammar = models["ask"].grammar if step == "ask" else GRAMMARS[args.grammar]
                for name in args.voices.split(","):
                    voice = VOICES[name]
                    wav = await render_voiced(voice, "ko", said, Path(tmp), default_rate=170, shape=REPLY_SHAPE)
                    stream = recognizer.stream(grammar)
                    await stream.feed(read_pcm(wav))
                    heard, confidence = await stream.result()
                    stream.close()
                    parsed = parse_time(heard, "ko")
                    got = str(parsed) if parsed is not None else ""
                    verdict = "right" if got == meant else "none" if not got else "wrong"
                    tally.setdefault(f"{step}: {said if step == 'ask' else 'hour answers'}", Counter())[verdict] += 1
                    print(f"{step:14} {name:6} {said!r:34} -> {heard!r:40} {confidence:.2f} {got or '-':16} {verdict}")
    print()
    for key, counts in tally.items():
        print(f"{key}: right {counts['right']}, none {counts['none']}, wrong {counts['wrong']}")


if __name__ == "__main__":
    asyncio.run(main())
