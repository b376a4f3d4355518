"""The overload governor on the real sandbox: with Asterisk's call limit set artificially low, the
three-round campaign is held again and again (its reason logged, read through AMI CoreStatus)
and still completes with every outcome and every call count right."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from bot import metrics
from bot.campaign.commands import run_campaign
from bot.commands import load_personas
from bot.config import Settings
from bot.telephony.sandbox import Sandbox
from tests.integration.test_campaign import (
    DEFAULT_PERSONAS,
    check_campaign,
    mid_morning_zone,
    population,
    seed,
    write_files,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def campaign_env(sandbox: Sandbox, sandbox_settings: Settings, tmp_path: Path):
    settings = sandbox_settings.model_copy(update={
        "database": sandbox_settings.database.model_copy(update={"url": f"sqlite:///{tmp_path}/campaign.db"})})
    yield settings, tmp_path
    asyncio.run(load_personas(sandbox_settings, DEFAULT_PERSONAS))  # leave the sandbox as the others expect


def holds(check: str) -> float:
    return metrics.REGISTRY.get_sample_value("collbot_governor_holds_total", {"check": check}) or 0.0


async def test_a_low_asterisk_limit_holds_new_calls_and_costs_no_outcome(
        sandbox: Sandbox, campaign_env: tuple[Settings, Path], caplog: pytest.LogCaptureFixture) -> None:
    settings, tmp = campaign_env
    settings = settings.model_copy(update={"governor": settings.governor.model_copy(update={
        "max_asterisk_calls": 3, "asterisk_poll_s": 0.2, "resume": 0.5, "min_hold_s": 0.5})})
    zone = mid_morning_zone()
    # two of each kind keep every path (answered, retried, failed) while the low limit holds often;
    # the whole population would make this the slowest test of the tier for no more coverage
    taken: dict[object, int] = {}
    people = []
    for person in population("G", 301):
        kind = person[2]["kind"]
        if taken.get(kind, 0) < 2:
            taken[kind] = taken.get(kind, 0) + 1
            people.append(person)
    path = write_files(tmp, people, "it-governor", zone)
    await load_personas(settings, tmp / "personas.yaml")
    seed(settings, people, zone)
    before = holds("Asterisk calls")
    caplog.set_level(logging.INFO, "bot.campaign.load")
    progress = await run_campaign(settings, path, handle_signals=False)

    assert progress.finished and progress.governor == ""
    assert holds("Asterisk calls") > before  # it held at least once, on Asterisk's own count
    assert "overload governor: holding new calls: Asterisk calls" in caplog.text
    assert "overload governor: new calls resume after" in caplog.text
    check_campaign(sandbox, settings, "it-governor", people)
