"""Preview dialing on the real sandbox: the collector's Call places exactly one call through
Asterisk (agent's phone first, then the customer), the disposition is stored with it; a call the
robot's gate refuses (suppressed, outside the calling window) places none, and the refusal is stored."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

from bot.agents import preview
from bot.agents.sim_agents import SIM_AGENT_INTERFACE
from bot.config import Settings
from bot.domain import CallResult, Debtor, Outcome
from bot.store.repo import Store
from bot.telephony.ami import Ami
from bot.telephony.sandbox import Sandbox
from bot.telephony.sim import call_counts
from tests.integration.test_transfer import sim_agents

CALLED = "+821055550142"
REFUSED = "+821055550143"
KST = dt.timezone(dt.timedelta(hours=9))


async def test_preview_call_places_one_call_and_stores_the_disposition(
        sandbox: Sandbox, sandbox_settings: Settings, store: Store, debtors: dict[str, Debtor],
        tmp_path: Path) -> None:
    debtor = debtors[CALLED]
    before = call_counts(sandbox).get(CALLED, 0)
    agents = "agents:\n  - id: sim-choi\n    answer_after_s: 0.5\n    talk_s: 3\n    disposition: refused\n"
    async with sim_agents(sandbox_settings, tmp_path, agents):
        now = dt.datetime.now(dt.UTC).replace(hour=3)  # 12:00 in Seoul: inside the window
        verdict = preview.claim(store, sandbox_settings, "sim-choi", debtor.id, now)
        assert verdict.allow and verdict.attempt_id, verdict
        async with Ami(sandbox_settings.ami) as ami:
            result = await preview.place(ami, store, sandbox_settings, "sim-choi", debtor.id, verdict.attempt_id,
                                         interface_template=SIM_AGENT_INTERFACE)
        assert result is CallResult.ANSWERED
        for _ in range(60):
            if not store.open_pops("sim-choi"):
                break
            await asyncio.sleep(0.25)
    assert call_counts(sandbox).get(CALLED, 0) == before + 1  # Asterisk's own count: exactly one call
    attempts = {a.id: a for a in store.attempts_for(debtor.id)}
    placed = attempts[verdict.attempt_id]
    assert placed.outcome_detail["via"] == "agent" and placed.outcome_detail["agent"] == "sim-choi"
    assert placed.dialed_at is not None
    wrapped = [a for a in attempts.values() if a.outcome_detail.get("transferred_from") == verdict.attempt_id]
    assert len(wrapped) == 1 and wrapped[0].outcome is Outcome.REFUSED
    decisions = [d for d in store.decisions(preview.CAMPAIGN) if d["debtor_id"] == debtor.id]
    assert [d["allow"] for d in decisions] == [True, True] and decisions[-1]["attempt_id"] == verdict.attempt_id


async def test_refused_preview_dials_place_no_call(
        sandbox: Sandbox, sandbox_settings: Settings, store: Store, debtors: dict[str, Debtor]) -> None:
    debtor = debtors[REFUSED]
    before = call_counts(sandbox).get(REFUSED, 0)
    night = dt.datetime(2026, 12, 7, 3, 0, tzinfo=KST)  # 03:00 in Seoul: outside every pack's window
    verdict = preview.claim(store, sandbox_settings, "sim-choi", debtor.id, night)
    assert not verdict.allow and verdict.reason == "outside_window" and verdict.attempt_id is None
    store.suppress(debtor.phone, "opt_out", debtor.id)
    verdict = preview.claim(store, sandbox_settings, "sim-choi", debtor.id, night.replace(hour=12))
    assert not verdict.allow and verdict.reason.startswith("suppressed")
    await asyncio.sleep(1)
    assert call_counts(sandbox).get(REFUSED, 0) == before  # nothing reached Asterisk
    assert not store.attempts_for(debtor.id)
    reasons = [d["reason"] for d in store.decisions(preview.CAMPAIGN) if d["debtor_id"] == debtor.id]
    assert reasons == ["outside_window", "suppressed:opt_out"]
