"""A real warm transfer seen in real headless Chromium: the robot calls a customer on the sandbox
Asterisk, the customer asks for a person, and the desk of the agent whose queue member answers
shows the robot's summary live, over the event stream."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from bot.agents.sim_agents import with_sim_agents
from bot.commands import compiled_script, load_personas, persona_debtor
from bot.config import load_settings
from bot.controller import CallReport, Controller
from bot.speech.asr import Recognizer
from bot.speech.tts import Synthesizer
from bot.store.repo import open_store
from bot.telephony.sandbox import Sandbox
from bot.telephony.sim import read_personas
from tests.sandboxes import prepare_sandbox
from tests.web.conftest import DeskServer
from tests.web.test_desk_browser import log_in

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
PERSONAS = ROOT / "tests" / "integration" / "personas.yaml"
ASKS_FOR_PERSON = "+821055550112"


def test_a_real_transfer_pops_the_agents_desk(browser: Browser, desk_server: DeskServer, tmp_path: Path,
                                              shots: Path) -> None:
    base = load_settings(None)  # the sandbox's ports from the environment, the desk's database
    settings = base.model_copy(update={"database": base.database.model_copy(update={"url": desk_server.database})})
    prepare_sandbox(settings)
    Sandbox(settings).up()
    persona = next(p for p in read_personas(PERSONAS).personas if p.number == ASKS_FOR_PERSON)
    debtor = persona_debtor(persona, settings)
    assert debtor is not None
    with open_store(settings.database.url) as store:
        store.upsert_debtor(debtor)
    agents = tmp_path / "agents.yaml"
    # ann's phone answers after 1 s; the simulated desk leaves the wrap-up to the browser for a minute
    agents.write_text("agents:\n  - id: ann\n    answer_after_s: 1\n    talk_s: 4\n    wrap_up_after_s: 60\n")

    page = log_in(browser, desk_server, "ann")
    expect(page.locator("#live")).to_have_attribute("data-state", "on")

    reports: list[CallReport] = []
    failures: list[BaseException] = []

    async def call() -> None:
        await load_personas(settings, PERSONAS)
        script = compiled_script(settings, ROOT / "scripts" / "reminder-ko.yaml")
        s = settings
        with open_store(s.database.url) as store:
            async with Synthesizer(s.tts_cache_dir(), rate=s.tts.rate, shape=s.prompt_shape()) as synth, \
                    Recognizer(s.speech.model_dir, workers=s.speech.workers) as recognizer, \
                    Controller(s, store, script=script, recognizer=recognizer, synth=synth) as ctl:
                reports.append(await with_sim_agents(s, agents, ctl.call(debtor)))

    def in_thread() -> None:  # Playwright's sync API owns this thread's event loop
        try:
            asyncio.run(call())
        except BaseException as exc:
            failures.append(exc)

    worker = threading.Thread(target=in_thread)
    worker.start()
    pop = page.locator(".pop")
    expect(pop).to_be_visible(timeout=120_000)  # no reload: it came over the event stream
    expect(pop.locator("h2")).to_contain_text(debtor.name)
    expect(pop.locator(".turn.customer").last).to_contain_text("상담원 연결")
    expect(pop).to_contain_text("transfer requested")
    page.screenshot(path=str(shots / "30-transfer-pop.png"), full_page=True)
    worker.join(timeout=120)
    assert not worker.is_alive() and not failures, failures
    assert reports[0].detail["transfer"] == "connected" and reports[0].detail["agent"] == "ann"
    page.context.close()
