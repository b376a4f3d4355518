"""Spoken callback requests on the real sandbox: eight persona voices (bench/callback_time.py's)
each say "내일 오후 세 시에 다시 전화 주세요" to scripts/reminder-ko.yaml, then say no to anything
else the robot asks them to confirm and repeat the request (as the person who asked for three
o'clock would). Prints, per voice, what was heard, what the robot asked to confirm, and what
was stored.

    source ENV && .venv/bin/collbot sandbox up && \\
    .venv/bin/python bench/callback_sandbox.py [--transport agi|audiosocket]

It replaces the sandbox's personas (reload tests/integration/personas.yaml afterwards, as
`collbot sim load` does) and uses a throw-away SQLite database.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
import tempfile
from collections import Counter
from decimal import Decimal
from pathlib import Path

import yaml
from callback_time import VOICES

from bot.campaign.engine import CallEngine
from bot.campaign.registry import checked_scripts
from bot.campaign.spec import read_campaign
from bot.commands import load_personas
from bot.config import load_settings
from bot.domain import Debtor, EventKind
from bot.store.repo import open_store

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT))
from tests.integration.test_follow_ups_real import TUESDAY_10, Clock  # noqa: E402 (the sandbox test's clock)

ASKED = "내일 오후 세 시에 다시 전화 주세요"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transport", choices=["agi", "audiosocket"], default="agi")
    args = parser.parse_args()
    base = load_settings(None)
    with tempfile.TemporaryDirectory() as tmp:
        settings = base.model_copy(update={
            "database": base.database.model_copy(update={"url": f"sqlite:///{tmp}/bench.db"}),
            "call": base.call.model_copy(update={"transport": args.transport})})
        numbers = {name: f"+8210555902{i:02d}" for i, name in enumerate(VOICES)}
        personas = [{"number": numbers[name], "answer_after_s": 0.5, "language": "ko",
                     **{k: v for k, v in voice.model_dump().items() if v not in (None, [])},
                     "replies": ["네", ASKED, "아니요", ASKED, "아니요", ASKED, "아니요"]}
                    for name, voice in VOICES.items()]
        (Path(tmp) / "personas.yaml").write_text(yaml.safe_dump({"personas": personas}, allow_unicode=True))
        (Path(tmp) / "campaign.yaml").write_text(yaml.safe_dump({
            "campaign": "bench-callback", "script": str(ROOT / "scripts/reminder-ko.yaml"),
            "schedule": {"timezone": "Asia/Seoul", "start": "09:00", "end": "20:00"},
            "callbacks": {"default_delay": None},
            "rounds": [{"name": "first", "retries": ["new"], "ring_timeout_s": 4}],
            "limits": {"max_concurrent": 4, "originates_per_second": 10}}, allow_unicode=True))
        await load_personas(settings, Path(tmp) / "personas.yaml")
        campaign = read_campaign(Path(tmp) / "campaign.yaml")
        tally: Counter[str] = Counter()
        clock = Clock(TUESDAY_10)
        with open_store(settings.database.url, clock=clock) as store:
            for name, number in numbers.items():
                store.upsert_debtor(Debtor(f"V-{name}", "정하늘", number, Decimal(300000), timezone="Asia/Seoul"))
            async with CallEngine(settings, store) as engine:
                runner = await engine.runner(campaign, checked_scripts(settings, campaign), clock=clock)
                await asyncio.wait_for(runner.run(), 900)
            by_number = {v: k for k, v in numbers.items()}
            for attempt in store.campaign_attempts("bench-callback"):
                events = store.events_for(attempt.id)
                heard = [e.data.get("text") for e in events if e.kind is EventKind.RECOGNITION]
                asked = [(e.data.get("intent"), e.data.get("answer")) for e in events if e.kind is EventKind.CONFIRM]
                outcome = attempt.outcome.value if attempt.outcome else None
                stored = attempt.outcome_detail.get("callback_at")
                verdict = ("time right" if stored == "tomorrow 15:00" else "time WRONG" if stored else
                           f"no time, {outcome}" if outcome in ("callback", "no_response") else
                           f"other outcome: {outcome}")
                tally[verdict] += 1
                print(f"{by_number[attempt.phone]:6} {outcome:12} callback_at={stored!s:16} {verdict:24} "
                      f"confirmations={asked} heard={heard}")
    print(f"\n{args.transport}: " + ", ".join(f"{k} {v}" for k, v in sorted(tally.items())))
    print(f"at {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC")


if __name__ == "__main__":
    asyncio.run(main())
