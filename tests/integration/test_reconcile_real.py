"""Reconciliation on the real sandbox: the controller is killed with SIGKILL while calls ring
and talk; the restarted one finds the ringing channels with CoreShowChannels, hangs them up, closes
every attempt with what the ledger knows, and dials none of them again."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from bot.campaign.reconcile import LIVE_CHANNEL_HUNG_UP, NO_LIVE_CHANNEL
from bot.commands import load_personas
from bot.config import Settings
from bot.domain import CallResult, EventKind
from bot.store.repo import open_store
from bot.telephony.sandbox import Sandbox
from bot.telephony.sim import call_counts
from tests.integration.test_campaign import ROOT, campaign_env, mid_morning_zone, seed  # noqa: F401

pytestmark = pytest.mark.integration
NAME = "it-reconcile"


def test_sigkill_with_live_calls_then_restart_reconciles_them_through_asterisk(
        sandbox: Sandbox, campaign_env: tuple[Settings, Path]) -> None:  # noqa: F811
    settings, tmp = campaign_env
    zone = mid_morning_zone()
    slow = [(f"R-{n:03d}", f"+8210555{n:05d}") for n in range(301, 304)]  # still ringing at the kill
    quick = [(f"R-{n:03d}", f"+8210555{n:05d}") for n in range(304, 307)]  # talking at the kill
    personas = ([{"number": n, "answer_after_s": 40, "replies": [{"dtmf": "1"}, {"dtmf": "1"}]} for _, n in slow]
                + [{"number": n, "answer_after_s": 0.5, "replies": [{"silence": True}] * 3} for _, n in quick])
    (tmp / "personas.yaml").write_text(yaml.safe_dump({"personas": personas}))
    path = tmp / "campaign.yaml"
    path.write_text(yaml.safe_dump({
        "campaign": NAME, "script": str(ROOT / "scripts/reminder-ko.yaml"),
        "debtors": {"ids": [d for d, _ in slow + quick]},
        "schedule": {"timezone": zone, "start": "00:00", "end": "23:59:59"},
        "rounds": [{"name": "first", "retries": ["new"], "ring_timeout_s": 60}],
        "limits": {"max_concurrent": 6, "originates_per_second": 10},
    }))
    asyncio.run(load_personas(settings, tmp / "personas.yaml"))
    seed(settings, [(d, n, {}) for d, n in slow + quick], zone)
    env = dict(os.environ, COLLBOT__DATABASE__URL=settings.database.url, COLLBOT__LOG__FILE=str(tmp / "run.log"))
    cmd = [sys.executable, "-m", "bot", "run", str(path)]
    slow_ids, quick_ids = {d for d, _ in slow}, {d for d, _ in quick}

    with open_store(settings.database.url) as store:
        first = subprocess.Popen(cmd, env=env, cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while True:  # kill it once the quick ones talk and the slow ones ring
            attempts = store.campaign_attempts(NAME)
            talking = {a.debtor_id for a in attempts if a.state.value == "answered"}
            ringing = {a.debtor_id for a in attempts if a.state.value == "dialing"}
            if talking == quick_ids and ringing == slow_ids:
                break
            assert first.poll() is None and time.monotonic() < deadline, (talking, ringing)
            time.sleep(0.2)
        first.send_signal(signal.SIGKILL)
        first.wait()
        again = subprocess.run(cmd, env=env, cwd=tmp, capture_output=True, text=True, timeout=120, check=False)
        assert again.returncode == 0, again.stderr

        attempts = {a.debtor_id: a for a in store.campaign_attempts(NAME)}
        assert len(store.campaign_attempts(NAME)) == 6  # none dialled again
        for debtor_id, attempt in attempts.items():
            how = LIVE_CHANNEL_HUNG_UP if debtor_id in slow_ids else NO_LIVE_CHANNEL
            result = CallResult.UNKNOWN if debtor_id in slow_ids else CallResult.ANSWERED
            assert (attempt.state.value, attempt.result, attempt.outcome) == ("unknown", result, None), debtor_id
            assert attempt.outcome_detail == {"interrupted": how}, debtor_id
            events = store.events_for(attempt.id)
            assert events[-1].kind is EventKind.RECONCILED and events[-1].data["how"] == how
        assert store.campaign_status(NAME) == "finished"
    # Asterisk's side: the ringing calls are gone, each number was called exactly once
    time.sleep(1)
    channels = sandbox.cli("core show channels concise")
    assert not [n for _, n in slow + quick if n[1:] in channels], channels
    counts = call_counts(sandbox)
    assert {n: counts.get(n, 0) for _, n in slow + quick} == {n: 1 for _, n in slow + quick}
    log = (tmp / "run.log").read_text()
    assert log.count("its channel outlived the previous controller; hung up") == 3
