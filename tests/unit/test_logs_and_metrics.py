"""Every log line of a call names its attempt (text and JSON), numbers stay masked; /metrics and /health
of `collbot serve` answer on loopback with the documented metrics."""

from __future__ import annotations

import asyncio
import json
import logging
import urllib.error
import urllib.request
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from bot.config import LogSettings, Settings
from bot.domain import Debtor
from bot.logutil import ATTEMPT, reset_logging, setup_logging
from bot.metrics import CALLS_IN_FLIGHT, ORIGINATES, OUTCOMES, RECOGNITION_QUEUE, TURN_LATENCY, MetricsServer
from bot.store.repo import open_store

NUMBER = "+821055500012"


@pytest.fixture
def restore_root() -> Iterator[None]:
    root = logging.getLogger()
    level = root.level
    yield
    reset_logging()
    root.setLevel(level)


async def a_call(log: logging.Logger, attempt: str) -> None:
    ATTEMPT.set(attempt)
    log.info("dialing %s", NUMBER)
    await asyncio.sleep(0)
    log.warning("heard\nforged line")


@pytest.mark.parametrize("json_lines", [False, True])
def test_every_line_of_a_call_names_its_attempt(tmp_path: Path, restore_root: None, json_lines: bool) -> None:
    path = tmp_path / "c.log"
    setup_logging(Settings(log=LogSettings(file=path, level="INFO", json_lines=json_lines)))
    log = logging.getLogger("collbot.test.attempts")

    async def main() -> None:
        await asyncio.gather(a_call(log, "a" * 32), a_call(log, "b" * 32))  # each task has its own context

    asyncio.run(main())
    log.info("outside any call")
    for handler in logging.getLogger().handlers:
        handler.flush()
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 5  # the CR/LF in a value did not forge a line
    for line in lines:
        assert NUMBER not in line
    if json_lines:
        entries = [json.loads(line) for line in lines]
        assert sorted(e["attempt"] for e in entries) == ["-", *["a" * 32] * 2, *["b" * 32] * 2]
        assert any(e["message"].startswith("dialing +8210") for e in entries)
    else:
        assert sum(f"attempt={'a' * 32}:" in line for line in lines) == 2
        assert sum(f"attempt={'b' * 32}:" in line for line in lines) == 2
        assert lines[-1].split(" INFO ")[1].startswith("collbot.test.attempts attempt=-:")


def fetch(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_metrics_and_health_are_scraped(tmp_path: Path) -> None:
    with open_store(f"sqlite:///{tmp_path / 'm.db'}") as store:
        store.upsert_debtor(Debtor("D-1", "Kim", NUMBER, Decimal(1)))
        for reason in ("outside_window", "outside_window", "cap_7_days"):
            store.record_decision("c", "first", "D-1", False, reason, "x", None)
        store.record_decision("c", "first", "D-1", True, "ok", "x", None)
        healthy = {"status": "ok"}
        server = MetricsServer("127.0.0.1", 0, health=lambda: dict(healthy), skips=store.compliance_skips).start()
        try:
            ORIGINATES.inc()
            OUTCOMES.labels("promise_to_pay").inc()
            CALLS_IN_FLIGHT.inc()
            RECOGNITION_QUEUE.inc()
            TURN_LATENCY.observe(0.6)
            status, text = fetch(f"http://127.0.0.1:{server.port}/metrics")
            assert status == 200
            assert 'collbot_compliance_skips_total{reason="outside_window"} 2.0' in text
            assert 'collbot_compliance_skips_total{reason="cap_7_days"} 1.0' in text
            assert 'reason="ok"' not in text
            assert 'collbot_outcomes_total{kind="promise_to_pay"}' in text
            assert "collbot_originates_total" in text and "collbot_calls_in_flight 1.0" in text
            assert 'collbot_turn_latency_seconds_bucket{le="0.75"}' in text
            assert "collbot_recognition_queue_depth 1.0" in text
            assert fetch(f"http://127.0.0.1:{server.port}/health") == (200, '{"status": "ok"}')
            healthy["status"] = "database unreachable"
            assert fetch(f"http://127.0.0.1:{server.port}/health")[0] == 503
            assert fetch(f"http://127.0.0.1:{server.port}/other")[0] == 404
        finally:
            CALLS_IN_FLIGHT.dec()
            RECOGNITION_QUEUE.dec()
            server.close()


def test_work_run_in_a_copied_context_keeps_the_attempt(tmp_path: Path, restore_root: None) -> None:
    import contextvars
    from concurrent.futures import ThreadPoolExecutor

    path = tmp_path / "c.log"
    setup_logging(Settings(log=LogSettings(file=path, level="INFO")))
    log = logging.getLogger("collbot.test.thread")

    async def main() -> None:
        ATTEMPT.set("c" * 32)
        loop = asyncio.get_running_loop()
        with ThreadPoolExecutor(1) as pool:
            await loop.run_in_executor(pool, contextvars.copy_context().run, log.info, "stored")
            await loop.run_in_executor(pool, log.info, "bare")

    asyncio.run(main())
    for handler in logging.getLogger().handlers:
        handler.flush()
    lines = path.read_text(encoding="utf-8").splitlines()
    assert f"attempt={'c' * 32}: stored" in lines[0] and "attempt=-: bare" in lines[1]
