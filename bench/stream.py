"""Turn latency and barge-in on the streaming transport, measured from the customer's side.

    source /work/wt/<you>.env   # your sandbox and ports
    .venv/bin/python bench/stream.py [--calls 20] [--concurrency 1 10]

Streamed customers (bot/telephony/sim_stream.py) on the real sandbox call the robot with
call.transport: audiosocket and scripts/reminder-ko.yaml. Half answer each prompt 50-300 ms
after its last word ("네", "모레 낼게요", and "네" to the robot's confirmation of the promise);
half speak over each prompt 1.5 s into it.
Per turn, from the customer's clock:

* latency: the customer's last speech frame -> the robot's first audio after it;
* barge-in stop: the customer's first speech frame -> the robot's audio going silent
  (through Asterisk both ways);

and from the robot's events: its end-of-speech wait (eos_ms), recognition (asr_ms), and its
own barge-in stop time (barge_in_stop_ms: voice onset seen -> playback stopped). Prints
p50/p95 per concurrency; asserts nothing. Uses the sandbox of the current settings.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from latency import percentile

from bot.commands import compiled_script, load_personas, persona_debtor
from bot.config import load_settings
from bot.controller import Controller
from bot.domain import EventKind
from bot.speech.asr import Recognizer
from bot.speech.tts import Synthesizer
from bot.store.repo import open_store
from bot.telephony.sandbox import Sandbox
from bot.telephony.sim import read_personas
from bot.telephony.sim_stream import start_customers

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "reminder-ko.yaml"


def personas(n: int, seed: int = 11) -> dict[str, object]:
    rng = random.Random(seed)
    people = []
    for i in range(n):
        p: dict[str, object] = {"number": f"+82105557{i:04d}", "answer_after_s": 0.3,
                                "replies": ["네", "모레 낼게요", "네"],  # the last confirms the promise
                                "debtor": {"id": f"S-{i:04d}", "name": "김민수", "amount": 300000}}
        if i % 2:
            p["barge_in_after_s"] = 1.5
        else:
            p["answer_gap_ms"] = rng.randrange(50, 301)
        people.append(p)
    return {"personas": people}


def show(label: str, values: list[float]) -> str:
    if not values:
        return f"{label}: n/a"
    return (f"{label}: p50 {percentile(values, 50):.0f} ms, p95 {percentile(values, 95):.0f} ms "
            f"(n={len(values)}, mean {statistics.fmean(values):.0f})")


async def level(concurrency: int, calls: int, folder: Path) -> None:
    base = load_settings(None)
    settings = base.model_copy(update={
        "database": base.database.model_copy(update={"url": f"sqlite:///{folder / f'c{concurrency}.db'}"}),
        "call": base.call.model_copy(update={"transport": "audiosocket"}),
        "audiosocket": base.audiosocket.model_copy(update={"port": 0}),
        "log": base.log.model_copy(update={"level": "WARNING", "file": folder / "bench.log"}),
    })
    path = folder / "personas.yaml"
    path.write_text(yaml.safe_dump(personas(calls), allow_unicode=True), encoding="utf-8")
    sandbox = Sandbox(settings)
    await load_personas(settings, path)
    people = read_personas(path)
    served = await start_customers(settings, people, sandbox)
    script = compiled_script(settings, SCRIPT)
    with open_store(settings.database.url) as store:
        debtors = [d for p in people.personas if (d := persona_debtor(p, settings)) is not None]
        for d in debtors:
            store.upsert_debtor(d)
        shape = settings.prompt_shape()
        async with Synthesizer(settings.tts_cache_dir(), rate=settings.tts.rate, shape=shape) as synth, \
                Recognizer(settings.speech.model_dir, workers=settings.speech.workers) as recognizer, \
                Controller(settings, store, script=script, recognizer=recognizer, synth=synth) as ctl:
            assert ctl.audiosocket is not None
            address = f"127.0.0.1:{ctl.audiosocket.port}"
            await asyncio.to_thread(sandbox.cli, f"dialplan set global COLLBOT_AUDIOSOCKET {address}")
            reports = await ctl.call_many(debtors, concurrency=concurrency)
        await served.close()
        outcomes: dict[str, int] = {}
        for r in reports:
            key = r.outcome.value if r.outcome else r.result.value
            outcomes[key] = outcomes.get(key, 0) + 1
        robot: dict[str, list[float]] = {"eos_ms": [], "asr_ms": [], "barge_in_stop_ms": []}
        for r in reports:
            for e in store.events_for(r.attempt_id):
                timing = e.data.get("timing") if e.kind is EventKind.RECOGNITION else None
                if isinstance(timing, dict):
                    for k in robot:
                        if k in timing:
                            robot[k].append(float(timing[k]))
    gap = {p.number for p in people.personas if p.answer_gap_ms is not None}
    latency = [(log.robot_next - log.spoke_end) * 1000 for log in served.logs
               if log.robot_next is not None and log.spoke_end is not None]
    answered = [(log.robot_next - log.spoke_end) * 1000 for log in served.logs
                if log.number in gap and log.robot_next is not None and log.spoke_end is not None]
    stops = [(log.robot_stopped - log.spoke) * 1000 for log in served.logs
             if log.number not in gap and log.robot_stopped is not None and log.spoke is not None]
    print(f"\nC={concurrency}, {calls} calls: outcomes {outcomes}")
    print(show("  turn latency, all turns (customer's last frame -> robot's first audio)", latency))
    print(show("  turn latency, answers after the prompt", answered))
    print(show("  barge-in stop (customer's first frame -> robot silent, customer's view)", stops))
    for k, values in robot.items():
        print(show(f"  robot {k}", values))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for c in args.concurrency:
            asyncio.run(level(c, args.calls, Path(tmp)))


if __name__ == "__main__":
    main()
