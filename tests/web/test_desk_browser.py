"""The desk in real headless Chromium against the real `collbot web` server."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from bot.domain import Outcome
from tests.web.conftest import DeskServer
from tests.webutil import PASSWORD, add_debtor, robot_call

pytestmark = pytest.mark.browser


def log_in(browser: Browser, server: DeskServer, name: str, password: str = PASSWORD) -> Page:
    page = browser.new_context(viewport={"width": 1360, "height": 900}, locale="en-US").new_page()
    page.goto(f"{server.url}/login")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    return page


def test_login(browser: Browser, desk_server: DeskServer, shots: Path) -> None:
    page = log_in(browser, desk_server, "ann", "not the password")
    expect(page.get_by_role("alert")).to_have_text("wrong name or password")
    page.screenshot(path=str(shots / "01-login-refused.png"))
    page.get_by_label("Name").fill("ann")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{desk_server.url}/desk")
    expect(page.locator("#state-badge")).to_contain_text("Paused")
    expect(page.locator("#live")).to_have_attribute("data-state", "on")
    page.context.close()


def test_screen_pop_arrives_live_and_the_wrap_up_is_stored(browser: Browser, desk_server: DeskServer,
                                                          shots: Path) -> None:
    with desk_server.store() as store:
        add_debtor(store, "D1")
        attempt = robot_call(store, "D1")
    page = log_in(browser, desk_server, "ann")
    page.get_by_role("button", name="Ready").click()
    expect(page.locator("#state-badge")).to_have_text("Ready")
    expect(page.locator("#live")).to_have_attribute("data-state", "on")
    page.screenshot(path=str(shots / "02-desk-ready.png"))
    # the transfer's push, from another process (the test hook)
    pushed = desk_server.collbot("web", "pop", "ann", attempt, "--reason", "wants to talk about instalments")
    assert pushed.returncode == 0, pushed.stderr
    pop = page.locator(".pop")
    expect(pop).to_be_visible(timeout=10_000)  # no reload: it came over the event stream
    expect(pop.locator("h2")).to_contain_text("김민수")
    expect(pop.locator(".amount")).to_have_text("350,000 KRW")
    expect(pop.locator(".reason")).to_have_text("wants to talk about instalments")
    expect(pop.locator(".facts")).to_contain_text("Why a person")
    expect(pop.locator(".turn.customer").last).to_have_text(re.compile("상담원 연결"))
    expect(page.locator("#state-badge")).to_have_text("On call")
    assert "+821012345678" not in page.content()
    page.screenshot(path=str(shots / "03-screen-pop.png"), full_page=True)

    page.get_by_role("button", name="Call ended → wrap-up").click()
    expect(page.locator("#state-badge")).to_have_text("Wrap-up")
    pop = page.locator(".pop")
    pop.get_by_label("Promise to pay").check()
    pop.get_by_label("Promise date").fill("2020-01-01")
    pop.get_by_role("button", name="Store wrap-up").click()
    expect(page.get_by_role("alert")).to_contain_text("in the past")
    page.screenshot(path=str(shots / "04-wrap-up-error.png"), full_page=True)
    pop = page.locator(".pop")
    pop.get_by_label("Promise date").fill(time.strftime("%Y-%m-%d", time.localtime(time.time() + 3 * 86400)))
    pop.get_by_label("Promise amount").fill("150,000")
    pop.get_by_label("Note").fill("pays on Friday")
    pop.get_by_role("button", name="Store wrap-up").click()
    expect(page.locator("#state-badge")).to_have_text("Ready")
    expect(page.locator(".pop")).to_have_count(0)
    with desk_server.store() as store:
        human = store.attempts_for("D1")[-1]
    assert human.outcome is Outcome.PROMISE_TO_PAY
    assert human.outcome_detail["promise_amount"] == "150000" and human.outcome_detail["agent"] == "ann"
    page.get_by_role("link", name="D1").click()
    expect(page.locator("table.calls tbody tr").first).to_contain_text("promise to pay")
    page.locator("details summary").first.click()
    page.screenshot(path=str(shots / "05-case-history.png"), full_page=True)
    page.context.close()


def test_an_agent_is_refused_another_agents_case(browser: Browser, desk_server: DeskServer, shots: Path) -> None:
    with desk_server.store() as store:
        add_debtor(store, "D2", name="박지영", phone="+821055556666")
        store.add_agent("bob", cap=5)
        store.assign(["D2"], "bob", versions={"D2": 0}, reason="test", actor="test")
    page = log_in(browser, desk_server, "ann")
    response = page.goto(f"{desk_server.url}/cases/D2")
    assert response is not None and response.status == 404
    expect(page.locator("h1")).to_have_text("Not found")
    assert "박지영" not in page.content()
    page.screenshot(path=str(shots / "06-case-refused.png"))
    with desk_server.store() as store:
        assert any(e.action == "denied" and e.target == "case:D2" for e in store.audit_entries(user="ann"))
    page.context.close()
    bob = log_in(browser, desk_server, "bob")
    expect(bob.locator("aside table.cases")).to_contain_text("박지영")
    bob.context.close()


def test_allocation_page(browser: Browser, desk_server: DeskServer, shots: Path) -> None:
    with desk_server.store() as store:
        for i in range(1, 9):
            add_debtor(store, f"C{i}", name=f"고객{i}", phone=f"+8210987654{i:02d}", amount=str(100000 * i))
        store.add_agent("ann", cap=3)
        store.add_agent("bob", cap=20)
    page = log_in(browser, desk_server, "sue")
    page.get_by_role("link", name="Allocate").click()
    page.locator('form.filters input[name="amount_min"]').fill("300000")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("table.cases tbody tr")).to_have_count(6)
    page.get_by_label("choose all shown").check()  # the filtered set in one click
    for case in ("C7", "C8"):
        page.get_by_label(f"choose {case}").uncheck()
    page.locator('input[name="agent"][value="ann"]').check()
    page.get_by_role("button", name="Allocate chosen cases").click()
    expect(page.get_by_role("alert")).to_contain_text("over their cap of 3")
    page.screenshot(path=str(shots / "07-allocation-cap.png"), full_page=True)
    page.locator('input[name="agent"][value="bob"]').check()
    page.get_by_role("button", name="Allocate chosen cases").click()
    expect(page.get_by_role("status")).to_have_text("4 cases allocated")
    expect(page.locator("table.cases")).to_contain_text("bob")
    page.screenshot(path=str(shots / "08-allocation-done.png"), full_page=True)
    with desk_server.store() as store:
        owners = {c.id: c.owner for c in store.list_cases()}
    assert sorted(o for o in owners.values() if o) == ["ann", "ann", "bob", "bob"]
    page.get_by_role("link", name="Audit").click()
    expect(page.locator("table")).to_contain_text("allocate_refused")
    page.screenshot(path=str(shots / "10-audit.png"), full_page=True)
    page.context.close()


def test_closing_the_browser_mid_call_pauses_the_agent_and_keeps_the_call(browser: Browser,
                                                                          desk_server: DeskServer,
                                                                          shots: Path) -> None:
    with desk_server.store() as store:
        add_debtor(store, "D3", phone="+821077778888")
        attempt = robot_call(store, "D3", "+821077778888")
    page = log_in(browser, desk_server, "ann")
    page.get_by_role("button", name="Ready").click()
    expect(page.locator("#live")).to_have_attribute("data-state", "on")
    assert desk_server.collbot("web", "pop", "ann", attempt).returncode == 0
    expect(page.locator(".pop")).to_be_visible(timeout=10_000)
    page.context.close()  # mid-call
    deadline = time.monotonic() + 20
    with desk_server.store() as store:
        while store.agent_state("ann").state != "paused" and time.monotonic() < deadline:
            time.sleep(0.3)
        state = store.agent_state("ann")
        assert (state.state, state.reason) == ("paused", "disconnected")
        assert [p.attempt_id for p in store.open_pops("ann")] == [attempt]
    bob = log_in(browser, desk_server, "bob")  # another agent, connected and ready
    bob.get_by_role("button", name="Ready").click()
    expect(bob.locator("#live")).to_have_attribute("data-state", "on")
    sue = log_in(browser, desk_server, "sue")
    rows = sue.locator("table tbody tr")
    expect(rows.filter(has_text="ann")).to_contain_text("Paused · disconnected")
    expect(rows.filter(has_text="bob")).to_contain_text("connected")
    sue.screenshot(path=str(shots / "09-team.png"))
    back = log_in(browser, desk_server, "ann")
    expect(back.locator("#state-badge")).to_contain_text("disconnected")
    expect(back.locator(".pop")).to_contain_text("김민수")  # the call waits for its wrap-up
    for page in (back, bob, sue):
        page.context.close()
