"""A three-round campaign of 40 simulated customers on the real sandbox Asterisk: outcomes,
retries exactly as the policy says, suppression, export, and a SIGKILL in the middle.

The debtors get an explicit time zone in which it is now mid-morning, so the real default
compliance window (08:00-21:00 local) applies whatever the hour of the test run.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from bot.campaign.commands import dry_run, run_campaign
from bot.campaign.export import export
from bot.commands import load_personas
from bot.config import Settings
from bot.domain import Debtor
from bot.store.repo import open_store
from bot.telephony.sandbox import Sandbox
from bot.telephony.sim import call_counts

pytestmark = pytest.mark.integration
ROOT = Path(__file__).parents[2]
DEFAULT_PERSONAS = Path(__file__).with_name("personas.yaml")

# kind -> (how many, persona fields, expected final outcome or result, expected calls)
# Retry policy: no_answer 2 per round-1 (delay 2s), busy 2 (1s), congestion 1; round two
# re-calls no_answer and busy, round three no_answer and congestion.
KINDS = {
    "promise": (10, {"replies": [{"dtmf": "1"}, {"dtmf": "1"}]}, "promise_to_pay", 1),
    "refuse": (5, {"replies": [{"dtmf": "1"}, {"dtmf": "2"}]}, "refused", 1),
    "opt_out": (4, {"replies": [{"dtmf": "9"}]}, "opt_out", 1),
    "wrong": (3, {"replies": [{"dtmf": "2"}]}, "wrong_number", 1),
    "no_answer": (6, {"behavior": "no_answer"}, "no_answer", 4),
    "busy": (6, {"behavior": "busy"}, "busy", 3),
    "congestion": (3, {"behavior": "congestion"}, "congestion", 2),
    "hangup": (3, {"replies": [{"hangup": True}]}, "hung_up", 1),
    # an unclear opt-out cue ("하지 마세요"), then silence when the robot asks whether they want no
    # more calls: not stored as an opt-out, but the number is held for review (opt_out_review)
    "unclear_opt_out": (1, {"replies": ["네", "하지 마세요"]}, "no_response", 1),
}


def mid_morning_zone() -> str:
    """An Etc/GMT zone where the local time is now between 10:00 and 11:00."""
    hour = dt.datetime.now(dt.UTC).hour
    offset = (10 - hour + 12) % 24 - 12  # local = UTC + offset, in -12..+11
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"


def population(prefix: str, first: int) -> list[tuple[str, str, dict[str, object]]]:
    people = []
    n = first
    for kind, (count, fields, _, _) in KINDS.items():
        for _ in range(count):
            people.append((f"{prefix}-{n:03d}", f"+8210555{n:05d}", {"kind": kind, **fields}))
            n += 1
    return people


def write_files(tmp: Path, people: list[tuple[str, str, dict[str, object]]], name: str, zone: str) -> Path:
    personas = [{"number": number, "answer_after_s": 0.5, "language": "ko",
                 **{k: v for k, v in fields.items() if k != "kind"}} for _, number, fields in people]
    (tmp / "personas.yaml").write_text(yaml.safe_dump({"personas": personas}, allow_unicode=True))
    campaign = {
        "campaign": name, "script": str(ROOT / "scripts/reminder-ko.yaml"),
        "debtors": {"ids": [debtor_id for debtor_id, _, _ in people]},
        "schedule": {"timezone": zone, "start": "00:00", "end": "23:59:59"},
        "rounds": [
            {"name": "first", "retries": ["new"], "ring_timeout_s": 3},
            {"name": "second", "retries": ["no_answer", "busy"], "after": "1s", "ring_timeout_s": 3},
            {"name": "third", "retries": ["no_answer", "congestion"], "after": "1s", "ring_timeout_s": 3},
        ],
        "retry": {"no_answer": {"delay": "2s", "max_attempts": 2}, "busy": {"delay": "1s", "max_attempts": 2},
                  "congestion": {"delay": "1s", "max_attempts": 1}, "failed": {"delay": "1s", "max_attempts": 1}},
        "limits": {"max_concurrent": 40, "originates_per_second": 20},
        "compliance": {"pack": "default"},
    }
    path = tmp / "campaign.yaml"
    path.write_text(yaml.safe_dump(campaign, allow_unicode=True))
    return path


@pytest.fixture
def campaign_env(sandbox: Sandbox, sandbox_settings: Settings, tmp_path: Path):
    settings = sandbox_settings.model_copy(update={
        "database": sandbox_settings.database.model_copy(update={"url": f"sqlite:///{tmp_path}/campaign.db"})})
    yield settings, tmp_path
    asyncio.run(load_personas(sandbox_settings, DEFAULT_PERSONAS))  # leave the sandbox as the others expect


def seed(settings: Settings, people: list[tuple[str, str, dict[str, object]]], zone: str) -> None:
    with open_store(settings.database.url) as store:
        for debtor_id, number, _ in people:
            store.upsert_debtor(Debtor(debtor_id, f"고객{debtor_id[-3:]}", number, Decimal(50000), timezone=zone))


def live_calls(sandbox: Sandbox, people: list[tuple[str, str, dict[str, object]]]) -> list[str]:
    """The people's numbers that have a channel in Asterisk now."""
    channels = sandbox.cli("core show channels concise")
    return [number for _, number, _ in people if number[1:] in channels]


def expected(people: list[tuple[str, str, dict[str, object]]]) -> tuple[dict[str, str], dict[str, int]]:
    finals = {number: KINDS[str(f["kind"])][2] for _, number, f in people}
    calls = {number: KINDS[str(f["kind"])][3] for _, number, f in people}
    return finals, calls


def check_campaign(sandbox: Sandbox, settings: Settings, name: str,
                   people: list[tuple[str, str, dict[str, object]]]) -> None:
    """The end state every completed campaign of ``people`` must reach: each number called exactly
    as the policy says (counted by Asterisk), each debtor's latest attempt ending as its persona
    should, the campaign finished and no attempt left in flight."""
    finals, calls = expected(people)
    counts = call_counts(sandbox)
    assert {n: counts.get(n, 0) for n in calls} == calls  # nobody dropped, nobody called beyond the policy
    with open_store(settings.database.url) as store:
        latest = store.campaign_latest(name)
        got = {}
        for debtor_id, number, _ in people:
            a = latest[debtor_id]
            got[number] = a.outcome.value if a.outcome else a.result.value  # type: ignore[union-attr]
        assert got == finals
        assert store.campaign_status(name) == "finished"
        assert not [a for a in store.campaign_attempts(name) if a.state.value in ("queued", "dialing", "answered")]


async def test_three_round_campaign_with_retries_suppression_and_export(
        sandbox: Sandbox, campaign_env: tuple[Settings, Path]) -> None:
    settings, tmp = campaign_env
    zone = mid_morning_zone()
    people = population("C", 1)
    path = write_files(tmp, people, "it-three-rounds", zone)
    await load_personas(settings, tmp / "personas.yaml")
    seed(settings, people, zone)
    await run_campaign(settings, path, handle_signals=False)

    check_campaign(sandbox, settings, "it-three-rounds", people)
    finals, calls = expected(people)
    with open_store(settings.database.url) as store:
        opted_out = [n for _, n, f in people if f["kind"] == "opt_out"]
        assert all(store.suppression(n) == "opt_out" for n in opted_out)
        held = [n for _, n, f in people if f["kind"] == "unclear_opt_out"]
        assert [store.suppression(n) for n in held] == ["opt_out_review"]
        others = [n for _, n, f in people if f["kind"] not in ("opt_out", "unclear_opt_out", "wrong")]
        assert {store.suppression(n) for n in others} == {None}  # no hold without a cue
        out = tmp / "export.csv"
        assert export(store, "it-three-rounds", out, attempts=False, full_phone=False,
                      script="reminder-ko") == len(people)
    with out.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    by_id = {r["debtor_id"]: r for r in rows}
    for debtor_id, number, _ in people:
        row = by_id[debtor_id]
        assert int(row["attempts"]) == calls[number]
        assert (row["outcome"] or row["last_result"]) == finals[number]
        assert number not in row["phone"]  # masked
    # a later campaign on the same debtors never calls the opted-out ones
    second = write_files(tmp, people, "it-follow-up", zone)
    plan = {r.debtor_id: r for r in dry_run(settings, second)}
    for debtor_id, _, fields in people:
        if fields["kind"] in ("opt_out", "unclear_opt_out"):
            why = "opt_out" if fields["kind"] == "opt_out" else "opt_out_review"
            assert not plan[debtor_id].allow and plan[debtor_id].reason == f"suppressed:{why}"
        elif fields["kind"] == "promise":
            assert plan[debtor_id].allow


def test_sigkill_mid_campaign_loses_nothing_and_dials_nobody_twice(
        sandbox: Sandbox, campaign_env: tuple[Settings, Path]) -> None:
    settings, tmp = campaign_env
    zone = mid_morning_zone()
    people = population("K", 101)
    path = write_files(tmp, people, "it-sigkill", zone)
    asyncio.run(load_personas(settings, tmp / "personas.yaml"))
    seed(settings, people, zone)
    env = dict(os.environ, COLLBOT__DATABASE__URL=settings.database.url,
               COLLBOT__LOG__FILE=str(tmp / "run.log"))
    cmd = [sys.executable, "-m", "bot", "run", str(path)]
    first = subprocess.Popen(cmd, env=env, cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    with open_store(settings.database.url) as store:
        while time.monotonic() < deadline and len(store.campaign_attempts("it-sigkill")) < 30:
            time.sleep(0.5)  # kill it while calls ring and talk
    first.send_signal(signal.SIGKILL)
    first.wait()
    deadline = time.monotonic() + 60  # calls the dead controller left go on in Asterisk until their FastAGI fails
    while live := live_calls(sandbox, people):
        assert time.monotonic() < deadline, f"{len(live)} call(s) of the killed controller still up after a minute"
        time.sleep(0.3)
    again = subprocess.run(cmd, env=env, cwd=tmp, capture_output=True, text=True, timeout=600, check=False)
    assert again.returncode == 0, again.stderr

    finals, calls = expected(people)
    counts = call_counts(sandbox)
    with open_store(settings.database.url) as store:
        attempts = store.campaign_attempts("it-sigkill")
        dialled = Counter(a.phone for a in attempts if a.dialed_at is not None)
        unknown = {a.phone for a in attempts if a.state.value == "unknown"}
        assert unknown, "the kill happened while calls were in flight"
        for number, expect_calls in calls.items():
            # Asterisk saw no call the ledger does not know about
            assert counts.get(number, 0) <= dialled[number], number
            # an attempt cut off by the kill is never re-dialled; the others follow the policy
            assert counts.get(number, 0) <= expect_calls, number
        latest = store.campaign_latest("it-sigkill")
        for debtor_id, number, _ in people:
            a = latest[debtor_id]
            final = a.outcome.value if a.outcome else (a.result.value if a.result else a.state.value)
            assert final in (finals[number], "unknown"), (number, final)
            if number not in unknown:
                assert final == finals[number]
        assert store.campaign_status("it-sigkill") == "finished"
        assert not [a for a in attempts if a.state.value in ("queued", "dialing", "answered")]
