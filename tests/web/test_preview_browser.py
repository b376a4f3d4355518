"""Preview dialing in real headless Chromium: the next case with its history, Skip with a reason,
and a Call the robot's gate refuses (a suppressed number): the reason is on the page, nothing dialled."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from bot.agents.preview import CAMPAIGN
from bot.agents.sim_agents import SIM_AGENT_INTERFACE, run_sim_agents
from bot.commands import load_personas, persona_debtor
from bot.config import load_settings
from bot.domain import Outcome
from bot.telephony.sandbox import Sandbox
from bot.telephony.sim import call_counts, read_personas
from tests.sandboxes import prepare_sandbox
from tests.web.conftest import DeskServer, serve_desk
from tests.web.test_desk_browser import log_in
from tests.webutil import add_debtor, robot_call

pytestmark = pytest.mark.browser

PERSONAS = Path(__file__).resolve().parents[2] / "tests" / "integration" / "personas.yaml"
CUSTOMER = "+821055550142"


def allocate(server: DeskServer, agent: str, *debtor_ids: str) -> None:
    with server.store() as store:
        store.add_agent(agent, cap=10)
        versions = {d: store.get_case(d).version for d in debtor_ids}
        store.assign(list(debtor_ids), agent, versions=versions, reason="test", actor="sue")


def test_preview_skip_then_refused_call(browser: Browser, desk_server: DeskServer, shots: Path) -> None:
    with desk_server.store() as store:
        add_debtor(store, "P-1", name="김하나", phone="+821011110001")
        robot_call(store, "P-1", "+821011110001")
        add_debtor(store, "P-2", name="이두리", phone="+821011110002")
        store.suppress("+821011110002", "opt_out", "P-2")
    allocate(desk_server, "ann", "P-1", "P-2")

    page = log_in(browser, desk_server, "ann")
    page.goto(f"{desk_server.url}/preview")
    expect(page.locator("#preview")).to_have_attribute("data-case", "P-1")
    expect(page.locator("table.calls")).to_contain_text("transfer requested")  # the robot's call
    expect(page.locator(".queue")).to_contain_text("2 of 2 cases left today")
    expect(page.get_by_text("상담원 연결")).to_be_visible()  # what the customer said last, unfolded
    page.screenshot(path=str(shots / "20-preview-next-case.png"))
    page.set_viewport_size({"width": 390, "height": 844})  # a phone: nothing runs off the right edge
    page.goto(f"{desk_server.url}/cases/P-1")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.goto(f"{desk_server.url}/preview")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    expect(page.get_by_text("상담원 연결")).to_be_visible()
    page.screenshot(path=str(shots / "20-preview-next-case-narrow.png"), full_page=True)
    page.set_viewport_size({"width": 1360, "height": 900})
    page.goto(f"{desk_server.url}/preview")
    page.get_by_label("Reason to skip").fill("customer in hospital, per note")
    page.locator("#preview-skip").click()

    expect(page.locator("#preview")).to_have_attribute("data-case", "P-2")  # the next one
    page.locator("#preview-call").click()
    expect(page.get_by_role("alert")).to_contain_text(
        "Not called: the debtor is suppressed (opt_out) and is never called again.")
    page.screenshot(path=str(shots / "21-preview-refused.png"))
    page.get_by_role("link", name="Go to the next case").click()
    expect(page.locator("#no-case")).to_be_visible()  # both decided today
    expect(page.locator(".empty-state")).to_contain_text("called or skipped all 2 of your cases today")
    expect(page.locator(".empty-state")).to_contain_text(
        "not called: the debtor is suppressed (opt_out) and is never called again")
    page.context.close()

    with desk_server.store() as store:
        decisions = [(d["debtor_id"], d["allow"], d["reason"]) for d in store.decisions(CAMPAIGN)]
        assert decisions == [("P-1", False, "skipped_by_agent"), ("P-2", False, "suppressed:opt_out")]
        assert [a for a in store.attempts_for("P-2")] == []  # nothing claimed, nothing dialled


def test_agent_cannot_preview_another_agents_case(browser: Browser, desk_server: DeskServer) -> None:
    with desk_server.store() as store:
        add_debtor(store, "P-9", phone="+821011110009")
    allocate(desk_server, "bob", "P-9")
    page = log_in(browser, desk_server, "ann")
    response = page.goto(f"{desk_server.url}/preview?case=P-9")
    assert response is not None and response.status == 404
    page.context.close()


def daytime_zone(now: dt.datetime) -> str:
    """A fixed-offset zone where it is about noon now, so the calling window is open whenever the
    test runs (the desk process's clock is the real one)."""
    offset = 12 - now.astimezone(dt.UTC).hour  # -11 .. +12
    return "Etc/GMT" + (f"-{offset}" if offset > 0 else f"+{-offset}" if offset < 0 else "")


def test_preview_call_rings_the_agent_then_the_customer_once(browser: Browser, tmp_path: Path, shots: Path) -> None:
    settings = load_settings(None)  # this process's sandbox (source your env file)
    prepare_sandbox(settings)
    box = Sandbox(settings)
    box.up()
    loader = threading.Thread(target=lambda: asyncio.run(load_personas(settings, PERSONAS)))  # Playwright owns
    loader.start()                                                                             # this thread's loop
    loader.join(timeout=120)
    extra = {"COLLBOT__QUEUE__MEMBER_INTERFACE": SIM_AGENT_INTERFACE}
    with serve_desk(tmp_path, keep_env=("COLLBOT__AMI__", "COLLBOT__AGI__", "COLLBOT__SANDBOX__"),
                    extra_env=extra) as server:
        ours = settings.model_copy(update={"database": settings.database.model_copy(update={"url": server.database})})
        persona = next(p for p in read_personas(PERSONAS).personas if p.number == CUSTOMER)
        debtor = persona_debtor(persona, ours)
        assert debtor is not None
        with server.store() as store:
            store.upsert_debtor(dataclasses.replace(debtor, timezone=daytime_zone(dt.datetime.now(dt.UTC))))
        allocate(server, "ann", debtor.id)
        agents = tmp_path / "agents.yaml"  # ann's phone: answers after 1 s, talks 4 s
        agents.write_text("agents:\n  - id: ann\n    answer_after_s: 1\n    talk_s: 4\n    wrap_up_after_s: 600\n")
        stop: list[Callable[[], object]] = []

        async def at_desks() -> None:  # until the call is over, 40 s at most
            task = asyncio.create_task(run_sim_agents(ours, agents, seconds=40))
            stop.append(lambda: task.get_loop().call_soon_threadsafe(task.cancel))
            [result] = await asyncio.gather(task, return_exceptions=True)
            if isinstance(result, Exception):
                raise result

        desks = threading.Thread(target=lambda: asyncio.run(at_desks()))
        desks.start()
        try:
            before = call_counts(box).get(CUSTOMER, 0)
            page = log_in(browser, server, "ann")
            page.goto(f"{server.url}/preview")
            expect(page.locator("#preview")).to_have_attribute("data-case", debtor.id)
            page.locator("#preview-call").click()
            expect(page).to_have_url(f"{server.url}/desk")
            pop = page.locator(".pop")
            expect(pop).to_be_visible(timeout=30_000)  # ann answered: the case pops live
            expect(pop.locator("h2")).to_contain_text(debtor.name)
            expect(pop.locator(".facts")).to_contain_text("Call")  # not "Why a person": nobody asked for one
            expect(pop.locator(".facts")).not_to_contain_text("Why a person")
            expect(pop.locator(".facts .reason")).to_have_text("you called this case (preview dialing)")
            page.screenshot(path=str(shots / "22-preview-call-pop.png"), full_page=True)
            pop.get_by_label("Refused to pay").check()
            pop.get_by_role("button", name="Store wrap-up").click()
            expect(page.locator(".pop")).to_have_count(0)
            page.context.close()
            deadline = time.monotonic() + 40  # the call over: a second one would have been placed by now
            while call_counts(box).get(CUSTOMER, 0) == before or CUSTOMER[1:] in box.cli("core show channels concise"):
                assert time.monotonic() < deadline, "the preview call did not end"
                time.sleep(0.3)
        finally:
            for cancel in stop:
                cancel()
            desks.join(timeout=60)
        assert call_counts(box).get(CUSTOMER, 0) == before + 1  # Asterisk's count: exactly one call
        with server.store() as store:
            attempts = store.attempts_for(debtor.id)
            placed = [a for a in attempts if a.outcome_detail.get("via") == "agent" and a.dialed_at]
            assert len(placed) == 1 and placed[0].outcome_detail["agent"] == "ann"
            wrapped = [a for a in attempts if a.outcome_detail.get("transferred_from") == placed[0].id]
            assert len(wrapped) == 1 and wrapped[0].outcome is Outcome.REFUSED
            decisions = [d for d in store.decisions(CAMPAIGN) if d["debtor_id"] == debtor.id]
            assert [d["allow"] for d in decisions] == [True, True]
