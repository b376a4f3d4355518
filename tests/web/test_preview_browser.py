"""Preview dialing in real headless Chromium: the next case with its history, Skip with a reason,
and a Call the robot's gate refuses (a suppressed number): the reason is on the page, nothing dialled."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from bot.agents.preview import CAMPAIGN
from tests.web.conftest import DeskServer
from tests.web.test_desk_browser import log_in
from tests.webutil import add_debtor, robot_call

pytestmark = pytest.mark.browser


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
    page.screenshot(path=str(shots / "20-preview-next-case.png"))
    page.get_by_label("Reason to skip").fill("customer in hospital, per note")
    page.locator("#preview-skip").click()

    expect(page.locator("#preview")).to_have_attribute("data-case", "P-2")  # the next one
    page.locator("#preview-call").click()
    expect(page.get_by_role("alert")).to_contain_text("Not called: suppressed:opt_out")
    page.screenshot(path=str(shots / "21-preview-refused.png"))
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
