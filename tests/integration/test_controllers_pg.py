"""Three controllers run one campaign on one PostgreSQL database and the real sandbox Asterisk;
one is SIGKILLed mid-run and never comes back. The two others close its calls once its lease
expires, follow them up, and finish the campaign: no debtor claimed twice at once, the policy
held for every number (Asterisk's counters against the ledger and a replay of the policy), and
every debtor accounted for.

The personas do not answer (busy, no answer): every controller shares the sandbox's one FastAGI
route, so answered calls would reach only one of them.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest
import yaml

from bot.commands import load_personas
from bot.config import Settings
from bot.store.repo import open_store
from bot.telephony.sandbox import Sandbox
from bot.telephony.sim import call_counts
from tests.conftest import _free_port
from tests.integration.test_campaign import DEFAULT_PERSONAS, ROOT, mid_morning_zone, seed
from tests.integration.test_faults import _cut, replay

pytestmark = pytest.mark.integration
NAME = "it-three-controllers"
POLICY = {"no_answer": 3, "busy": 3}  # first round: 1 + 1 retry (max 2); second round: 1
MIX = ["no_answer"] * 10 + ["busy"] * 6


@pytest.fixture(autouse=True)
def _default_personas_after(sandbox: Sandbox, sandbox_settings: Settings):
    yield
    asyncio.run(load_personas(sandbox_settings, DEFAULT_PERSONAS))  # leave the sandbox as the others expect


def test_three_controllers_one_killed_hold_the_policy_and_account_for_every_debtor(
        sandbox: Sandbox, sandbox_settings: Settings, postgres_url: str, tmp_path: Path) -> None:
    settings = sandbox_settings.model_copy(update={
        "database": sandbox_settings.database.model_copy(update={"url": postgres_url})})
    zone = mid_morning_zone()
    people = [(f"P-{i:02d}", f"+82105557{i:04d}", kind) for i, kind in enumerate(MIX)]
    behavior = {"no_answer": "no_answer", "busy": "busy"}
    (tmp_path / "personas.yaml").write_text(yaml.safe_dump(
        {"personas": [{"number": n, "behavior": behavior[k]} for _, n, k in people]}))
    asyncio.run(load_personas(settings, tmp_path / "personas.yaml"))
    seed(settings, [(d, n, {}) for d, n, _ in people], zone)
    spec = {
        "campaign": NAME, "script": str(ROOT / "scripts/reminder-ko.yaml"),
        "debtors": {"ids": [d for d, _, _ in people]},
        "schedule": {"timezone": zone, "start": "00:00", "end": "23:59:59"},
        "rounds": [{"name": "first", "retries": ["new"], "ring_timeout_s": 2},
                   {"name": "second", "retries": ["no_answer", "busy"], "after": "1s", "ring_timeout_s": 2}],
        "retry": {"no_answer": {"delay": "2s", "max_attempts": 2}, "busy": {"delay": "2s", "max_attempts": 2},
                  "congestion": {"delay": "1s", "max_attempts": 1}, "failed": {"delay": "1s", "max_attempts": 2}},
        "limits": {"max_concurrent": 2, "originates_per_second": 10},
        "interrupted": {"follow_up": "2s", "max_follow_ups": 10},
        # the retry policy is what is measured here; the default pack's frequency caps (tested in
        # test_claim_caps and test_kr_pack) would stop a kill loop's many follow-ups first
        "compliance": {"max_per_7_days": 100, "max_unanswered_per_day": 100},
    }
    path = tmp_path / "campaign.yaml"
    path.write_text(yaml.safe_dump(spec))

    def start(name: str) -> subprocess.Popen[bytes]:
        env = dict(os.environ, COLLBOT__DATABASE__URL=postgres_url, COLLBOT__CONTROLLER__ID=name,
                   COLLBOT__CONTROLLER__LEASE_S="4", COLLBOT__AGI__PORT=str(_free_port()),
                   COLLBOT__LOG__FILE=str(tmp_path / f"{name}.log"))
        return subprocess.Popen([sys.executable, "-m", "bot", "run", str(path)], env=env, cwd=tmp_path,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    with open_store(postgres_url) as store:
        procs = {"c1": start("c1")}
        deadline = time.monotonic() + 90
        while not store.campaign_attempts(NAME):  # c1 registered the campaign and dials
            assert procs["c1"].poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
        procs["c2"], procs["c3"] = start("c2"), start("c3")

        ringing = {n for _, n, k in people if k == "no_answer"}  # a busy call ends within milliseconds

        def c2_in_flight() -> list[str]:
            return [a.id for a in store.in_flight(NAME, keep=["c1", "c3"]) if a.phone in ringing]

        while not c2_in_flight():  # kill c2 while it has calls in flight
            assert procs["c2"].poll() is None and time.monotonic() < deadline, "c2 never dialled"
            time.sleep(0.1)
        procs["c2"].send_signal(signal.SIGKILL)
        procs["c2"].communicate()
        left = c2_in_flight()
        outputs = {}
        for name in ("c1", "c3"):
            out, _ = procs[name].communicate(timeout=300)
            outputs[name] = out.decode(errors="replace")
            assert procs[name].returncode == 0, outputs[name][-3000:]

        time.sleep(0.5)
        counts = call_counts(sandbox)
        attempts = store.campaign_attempts(NAME)
        rounds = store.campaign_rounds_of(NAME)
        given_up = {f.origin_attempt_id for f in store.follow_ups(NAME, states=("none",))}
        every = store.follow_ups(NAME, states=("pending", "taken", "none", "dropped", "void"))
        assert store.campaign_status(NAME) == "finished"
    assert not [a for a in attempts if a.state.value in ("queued", "dialing", "answered")]
    closed = {a.id: a for a in attempts if a.id in left}
    assert left and all(closed[i].state.value == "unknown" for i in left)  # closed by c1 or c3 after the lease
    # never two calls at once to one number (no double claim)
    by_number = defaultdict(list)
    for a in attempts:
        if a.dialed_at is not None:
            by_number[a.phone].append((a.dialed_at, a.ended_at))
    for number, spans in by_number.items():
        spans.sort()
        for (_, end), (start_next, _) in itertools.pairwise(spans):
            assert end is not None and end <= start_next, f"{number}: two calls overlapped"
    dialled = defaultdict(int)
    cut = defaultdict(int)
    for a in attempts:
        dialled[a.phone] += a.dialed_at is not None
        cut[a.phone] += _cut(a)
    for _, number, kind in people:
        assert counts.get(number, 0) <= dialled[number], number
        assert dialled[number] - cut[number] <= counts.get(number, 0), number
        natural = sum(1 for a in attempts if a.phone == number and not _cut(a) and a.result is not None
                      and a.result.value == kind)
        assert natural == POLICY[kind], (number, natural, [  # every debtor exactly at the policy
            (a.id[:6], rounds[a.id], a.state.value, a.result, str(a.dialed_at)[11:23]) for a in attempts
            if a.phone == number], [(f.reason, f.origin_attempt_id[:6], f.state, (f.attempt_id or "")[:6], f.note)
                                    for f in every if f.phone == number])
    assert replay(spec, attempts, rounds, given_up, finished=True) == []
