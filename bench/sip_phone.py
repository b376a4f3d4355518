"""Calls to a real SIP phone (baresip over PJSIP, G.711 µ-law over RTP) and what came of them.

    source /work/wt/<you>.env   # your sandbox and ports
    .venv/bin/python bench/sip_phone.py [--rounds 3] [--transport agi audiosocket]

Per round and transport, one call each: a keyed promise (keys 1, 1), a spoken promise ("네",
"모레 낼게요", "네" if asked to confirm), a spoken refusal ("네", "못 내요", "네" if asked to
confirm), and one call to the A-law-only leg (488). The phone answers each prompt 0.8 s after the robot falls silent.
Prints one row per call (result, cause, outcome, what the robot recognized with its
confidence, what the phone sent, seconds of robot audio the phone heard) and the tally.
Asserts nothing. Uses the sandbox of the current settings (sandbox.sip_port).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import sys
import tempfile
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.commands import compiled_script
from bot.config import load_settings
from bot.controller import Controller
from bot.domain import Debtor, EventKind
from bot.speech.asr import Recognizer
from bot.speech.speaker import Speaker, speak
from bot.speech.tts import Synthesizer
from bot.store.repo import open_store
from bot.telephony.sandbox import Sandbox
from bot.telephony.sip_phone import RATE, SipPhone

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "reminder-ko.yaml"
PHONE, REJECTING = "+821055590001", "+821055590488"


async def main(rounds: int, transports: list[str]) -> None:
    base = load_settings(None)
    work = Path(tempfile.mkdtemp(prefix="collbot-sip-bench-"))
    Sandbox(base).up()
    voice = Speaker("ko", rate=170)
    wav = {text: speak(text, voice, work / f"{i}.wav", lead_ms=100, tail_ms=500)
           for i, text in enumerate(["네", "모레 낼게요", "못 내요"])}
    kinds: list[tuple[str, str, list[str | Path]]] = [
        ("keyed promise", PHONE, ["1", "1"]),
        ("spoken promise", PHONE, [wav["네"], wav["모레 낼게요"], wav["네"]]),
        ("spoken refusal", PHONE, [wav["네"], wav["못 내요"], wav["네"]]),
        ("no common codec", REJECTING, []),
    ]
    tally: collections.Counter[tuple[str, str, str]] = collections.Counter()
    for transport in transports:
        s = base.model_copy(update={
            "database": base.database.model_copy(update={"url": f"sqlite:///{work / transport}.db"}),
            "call": base.call.model_copy(update={"transport": transport})})
        store = open_store(s.database.url)
        script = compiled_script(s, SCRIPT)
        async with Synthesizer(s.tts_cache_dir(), rate=s.tts.rate, shape=s.prompt_shape()) as synth, \
                Recognizer(s.speech.model_dir, workers=s.speech.workers) as recognizer, \
                Controller(s, store, script=script, recognizer=recognizer, synth=synth) as ctl:
            for r in range(rounds):
                for n, (kind, number, replies) in enumerate(kinds):
                    debtor = Debtor(f"B-{transport}-{r}-{n}", "최유진", number, Decimal(120000))
                    store.upsert_debtor(debtor)
                    async with SipPhone(work / f"phone-{transport}-{r}-{n}",
                                        registrar_port=s.sandbox.sip_port) as phone:
                        customer = asyncio.create_task(phone.answer(replies))
                        report = await asyncio.wait_for(ctl.call(debtor), 180)
                        customer.cancel()
                        heard_s = len(phone.heard()) / RATE
                    events = store.events_for(report.attempt_id)
                    said = [f"{e.data['text']}({float(e.data['confidence']):.2f})"  # type: ignore[arg-type]
                            for e in events if e.kind is EventKind.RECOGNITION]
                    keys = [str(e.data["digit"]) for e in events if e.kind is EventKind.DTMF]
                    outcome = report.outcome.value if report.outcome else "-"
                    print(f"{transport:11} {kind:16} result={report.result.value:9} cause={report.cause} "
                          f"outcome={outcome:15} detail={report.detail.get('promise_date', '')} "
                          f"robot heard={said} keys={keys} phone sent={[a for a, _ in phone.answered]} "
                          f"phone heard={heard_s:.1f}s", flush=True)
                    tally[(transport, kind, outcome if report.outcome else report.result.value)] += 1
        store.close()
    print("\ntally:")
    for (transport, kind, end), count in sorted(tally.items()):
        print(f"  {transport:11} {kind:16} {end:15} {count}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--transport", nargs="+", default=["agi", "audiosocket"], choices=["agi", "audiosocket"])
    args = parser.parse_args()
    asyncio.run(main(args.rounds, args.transport))
