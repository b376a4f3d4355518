"""Warm transfer setup time on the real sandbox: from the customer's request for a person to the
agent's phone ringing, at N concurrent transfers.

    source /work/wt/NAME.env; .venv/bin/python bench/transfer.py [--concurrency 20]

N simulated customers (personas) each answer, say "네" and then "상담원 연결"; N simulated agents
(Local channel queue members, `collbot sim agents`) answer after 1 s. The controller, Vosk,
espeak-ng and SQLite are the real ones. The request is the time the robot stored the recognition
of "상담원 연결" (its event's timestamp, when the recognizer returned); the ring is the time the AMI
AgentCalled event for that caller reached the controller. So the figure includes the robot's
"connecting you" prompt, the end of its AGI session, the dialplan and app_queue. Uses the
sandbox the environment names (it must be up or it is started). Prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
from pathlib import Path

from bot.agents.sim_agents import with_sim_agents
from bot.commands import compiled_script, load_personas, persona_debtor
from bot.config import load_settings
from bot.controller import Controller
from bot.domain import EventKind
from bot.speech.asr import Recognizer
from bot.speech.tts import Synthesizer
from bot.store.repo import open_store
from bot.telephony.sandbox import Sandbox
from bot.telephony.sim import read_personas

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "reminder-ko.yaml"


def write_files(folder: Path, n: int) -> tuple[Path, Path]:
    personas = ["personas:"]
    agents = ["agents:"]
    for i in range(n):
        personas += [f'  - number: "+8210555603{i:02d}"', "    answer_after_s: 0.5",
                     '    replies: ["네", "상담원 연결"]', "    expect: transfer_requested",
                     f"    debtor: {{id: B-{i:03d}, name: 벤치{i}, amount: 50000}}"]
        agents += [f"  - id: bench-{i:02d}", "    answer_after_s: 1", "    talk_s: 2"]
    (folder / "personas.yaml").write_text("\n".join(personas) + "\n")
    (folder / "agents.yaml").write_text("\n".join(agents) + "\n")
    return folder / "personas.yaml", folder / "agents.yaml"


async def run(n: int, folder: Path) -> list[float]:
    base = load_settings(None)
    settings = base.model_copy(update={"database": base.database.model_copy(
        update={"url": f"sqlite:///{folder / 'bench.db'}"})})
    personas_path, agents_path = write_files(folder, n)
    await asyncio.to_thread(Sandbox(settings).up)
    await load_personas(settings, personas_path)
    debtors = [persona_debtor(p, settings) for p in read_personas(personas_path).personas]
    store = open_store(settings.database.url)
    for debtor in debtors:
        assert debtor is not None
        store.upsert_debtor(debtor)
    script = compiled_script(settings, SCRIPT)
    s = settings

    async def calls() -> list[float]:
        async with Synthesizer(s.tts_cache_dir(), rate=s.tts.rate, shape=s.prompt_shape()) as synth, \
                Recognizer(s.speech.model_dir, workers=s.speech.workers) as recognizer, \
                Controller(s, store, script=script, recognizer=recognizer, synth=synth) as ctl:
            reports = await ctl.call_many([d for d in debtors if d], concurrency=n)
            connected = sum(r.detail.get("transfer") == "connected" for r in reports)
            print(f"{len(reports)} calls, {connected} put through to an agent", file=sys.stderr)
            delays = []
            for t in ctl.transfers:
                heard = [e for e in store.events_for(t.attempt_id) if e.kind is EventKind.RECOGNITION]
                if t.ringing_at is not None and heard:
                    delays.append(t.ringing_at - heard[-1].at.timestamp())
            return delays

    try:
        return await with_sim_agents(settings, agents_path, calls())
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        delays = asyncio.run(run(args.concurrency, Path(tmp)))
    if not delays:
        print("no transfer reached an agent's ring")
        sys.exit(1)
    delays.sort()
    p95 = delays[min(len(delays) - 1, round(0.95 * (len(delays) - 1)))]
    print(f"transfers: {len(delays)} at concurrency {args.concurrency}")
    print(f"request -> agent ring: p50 {statistics.median(delays):.2f} s, p95 {p95:.2f} s, "
          f"max {delays[-1]:.2f} s")


if __name__ == "__main__":
    main()
