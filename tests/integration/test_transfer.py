"""Warm transfer on the real sandbox: the robot hands a live customer to the collectors' queue;
a simulated agent (a Local channel queue member driven through the desk) answers and its desk
gets the robot's summary; with nobody free, the customer gets the callback offer."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest

from bot.agents.sim_agents import run_sim_agents
from bot.config import Settings
from bot.controller import Controller
from bot.domain import Debtor, Outcome
from bot.store.repo import Store
from bot.telephony.sandbox import Sandbox

ASKS_FOR_PERSON = "+821055550112"
PRESSES_ONE = "+821055550141"


@contextlib.asynccontextmanager
async def sim_agents(settings: Settings, tmp_path: Path, yaml_text: str) -> AsyncIterator[None]:
    path = tmp_path / "agents.yaml"
    path.write_text(yaml_text)
    ready = asyncio.Event()
    task = asyncio.create_task(run_sim_agents(settings, path, ready=lambda _: ready.set()))
    done, _ = await asyncio.wait({task, asyncio.ensure_future(ready.wait())}, timeout=20,
                                 return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        task.result()  # raises what went wrong
    assert ready.is_set(), "simulated agents not ready in 20 s"
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def members(sandbox: Sandbox, settings: Settings) -> str:
    return sandbox.cli(f"queue show {settings.queue.name}")


async def test_transfer_reaches_a_simulated_agent_whose_desk_gets_the_summary(
        controller: Controller, debtors: dict[str, Debtor], store: Store, sandbox: Sandbox,
        sandbox_settings: Settings, tmp_path: Path) -> None:
    agents = "agents:\n  - id: sim-kim\n    answer_after_s: 1\n    talk_s: 3\n    disposition: callback\n"
    async with sim_agents(sandbox_settings, tmp_path, agents):
        assert "sim-kim" in members(sandbox, sandbox_settings)
        report = await controller.call(debtors[ASKS_FOR_PERSON])
        assert report.outcome is Outcome.TRANSFER_REQUESTED, report.detail
        assert report.detail["transfer"] == "connected" and report.detail["agent"] == "sim-kim"
        pops = [e for e in store.desk_events_after("sim-kim", 0) if e.kind == "screen_pop"]
        assert [p.attempt_id for p in pops] == [report.attempt_id]
        summary = pops[0].data
        assert summary["debtor_id"] == "T-0112" and Decimal(summary["amount"]) == 65000
        assert summary["outcome"] == "transfer_requested"
        assert "상담원 연결" in [t["text"] for t in summary["turns"] if t["who"] == "customer"]
        assert "상담원" in summary["reason"]
        # the simulated agent wraps up through the desk: the disposition is stored as an attempt
        for _ in range(60):
            if not store.open_pops("sim-kim"):
                break
            await asyncio.sleep(0.25)
        assert not store.open_pops("sim-kim")
        wrapped = [a for a in store.attempts_for("T-0112")
                   if a.outcome_detail.get("transferred_from") == report.attempt_id]
        assert len(wrapped) == 1 and wrapped[0].outcome is Outcome.CALLBACK
        assert wrapped[0].outcome_detail["agent"] == "sim-kim"
    assert "sim-kim" not in members(sandbox, sandbox_settings)  # logged out: removed from the queue


@pytest.mark.parametrize("state", ["paused", "logged_out"])
async def test_nobody_free_gives_the_callback_path_and_records_it(
        controller: Controller, debtors: dict[str, Debtor], store: Store, sandbox_settings: Settings,
        tmp_path: Path, state: str) -> None:
    agents = f"agents:\n  - id: sim-lee\n    state: {state}\n"
    async with sim_agents(sandbox_settings, tmp_path, agents):
        report = await controller.call(debtors[PRESSES_ONE])
    assert report.outcome is Outcome.CALLBACK, report.detail
    assert report.detail["transfer"] == "no_agent" and report.detail["callback"] == "requested"
    assert report.detail["callback_at"]
    stored = store.find_attempt(report.attempt_id)
    assert stored is not None and stored.outcome is Outcome.CALLBACK
    assert stored.outcome_detail["callback"] == "requested"
    assert not [e for e in store.desk_events_after("sim-lee", 0) if e.kind == "screen_pop"]


async def test_an_agent_who_lets_it_ring_past_the_max_wait_gives_the_callback_path(
        controller: Controller, debtors: dict[str, Debtor], store: Store, sandbox: Sandbox,
        sandbox_settings: Settings, tmp_path: Path) -> None:
    try:
        agents = "agents:\n  - id: sim-park\n    answers: false\n"
        async with sim_agents(sandbox_settings, tmp_path, agents):
            # after the agents' dialplan reload, which sets the globals back to the settings' 60 s
            sandbox.cli("dialplan set global COLLBOT_QUEUE_MAX_WAIT 8")
            report = await controller.call(debtors[PRESSES_ONE])
    finally:
        sandbox.cli(f"dialplan set global COLLBOT_QUEUE_MAX_WAIT {sandbox_settings.queue.max_wait_s}")
    assert report.outcome is Outcome.CALLBACK, report.detail
    assert report.detail["transfer"] == "no_agent"
    assert not [e for e in store.desk_events_after("sim-park", 0) if e.kind == "screen_pop"]


async def test_an_agent_whose_browser_closed_is_paused_in_the_queue_and_the_customer_gets_the_callback(
        controller: Controller, debtors: dict[str, Debtor], store: Store, sandbox: Sandbox,
        sandbox_settings: Settings, tmp_path: Path) -> None:
    def member_line() -> str:
        return next((line for line in members(sandbox, sandbox_settings).splitlines() if "sim-oh" in line), "")

    async with sim_agents(sandbox_settings, tmp_path, "agents:\n  - id: sim-oh\n"):
        assert member_line() and "paused" not in member_line()
        # what the desk does once the agent's event stream has been gone for the grace period
        store.set_agent_state("sim-oh", "paused", "disconnected")
        for _ in range(40):
            if "paused" in member_line():
                break
            await asyncio.sleep(0.25)
        assert "paused" in member_line()
        report = await controller.call(debtors[PRESSES_ONE])
    assert report.outcome is Outcome.CALLBACK, report.detail
    assert report.detail["transfer"] == "no_agent"
