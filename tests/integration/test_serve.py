"""`collbot serve` on the real sandbox: a registered campaign runs; SIGTERM lets the calls in
flight finish and places no new one; a restarted `serve` completes the campaign; nobody is
dialled twice (the simulated carrier's own per-number call counters say so)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from bot.commands import load_personas
from bot.config import Settings
from bot.store.repo import Store, open_store
from bot.telephony.sandbox import Sandbox
from bot.telephony.sim import call_counts
from tests.integration.test_campaign import ROOT, campaign_env, mid_morning_zone, seed  # noqa: F401

pytestmark = pytest.mark.integration
NAME = "it-serve"

# kind -> (how many, persona fields, expected final outcome or result, expected calls), called in
# this order, two at a time: the first two are talking when SIGTERM comes. Short conversations
# keep the test near a minute. Retry policy: no_answer and busy twice, 1 s apart.
KINDS = {
    "opt_out": (2, {"replies": [{"dtmf": "9"}]}, "opt_out", 1),
    "wrong": (1, {"replies": [{"dtmf": "2"}]}, "wrong_number", 1),
    "no_answer": (1, {"behavior": "no_answer"}, "no_answer", 2),
    "busy": (1, {"behavior": "busy"}, "busy", 2),
}


def population(first: int) -> list[tuple[str, str, str, dict[str, object]]]:
    people, n = [], first
    for kind, (count, fields, _, _) in KINDS.items():
        for _ in range(count):
            people.append((f"S-{n:03d}", f"+8210555{n:05d}", kind, fields))
            n += 1
    return people


def write_files(tmp: Path, people: list[tuple[str, str, str, dict[str, object]]], zone: str) -> Path:
    personas = [{"number": number, "answer_after_s": 0.5, "language": "ko", **fields}
                for _, number, _, fields in people]
    (tmp / "personas.yaml").write_text(yaml.safe_dump({"personas": personas}, allow_unicode=True))
    campaign = {
        "campaign": NAME, "script": str(ROOT / "scripts/reminder-ko.yaml"),
        "debtors": {"ids": [debtor_id for debtor_id, _, _, _ in people]},
        "schedule": {"timezone": zone, "start": "00:00", "end": "23:59:59"},
        "rounds": [{"name": "first", "retries": ["new"], "ring_timeout_s": 3}],
        "retry": {"no_answer": {"delay": "1s", "max_attempts": 2}, "busy": {"delay": "1s", "max_attempts": 2}},
        "limits": {"max_concurrent": 2, "originates_per_second": 2},
        "compliance": {"pack": "default"},
    }
    path = tmp / "campaign.yaml"
    path.write_text(yaml.safe_dump(campaign, allow_unicode=True))
    return path


def until(what: Callable[[], bool], timeout: float, proc: subprocess.Popen[str] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not what():
        assert proc is None or proc.poll() is None, "collbot serve exited early"
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def serve(env: dict[str, str], tmp: Path, log: str) -> subprocess.Popen[str]:
    with (tmp / log).open("w") as stderr:  # the child keeps its own copy of the descriptor
        return subprocess.Popen([sys.executable, "-m", "bot", "serve", "--poll", "1"], env=env, cwd=tmp,
                                text=True, stdout=subprocess.PIPE, stderr=stderr)


def stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, out
    return out


def test_serve_runs_a_registered_campaign_stops_cleanly_and_resumes(
        sandbox: Sandbox, campaign_env: tuple[Settings, Path]) -> None:  # noqa: F811
    settings, tmp = campaign_env
    zone = mid_morning_zone()
    people = population(201)
    path = write_files(tmp, people, zone)
    asyncio.run(load_personas(settings, tmp / "personas.yaml"))
    seed(settings, [(d, n, {}) for d, n, _, _ in people], zone)
    env = dict(os.environ, COLLBOT__DATABASE__URL=settings.database.url, COLLBOT__LOG__FILE=str(tmp / "collbot.log"),
               COLLBOT__METRICS__PORT="0")  # any free port: colleagues' serve processes share this machine
    added = subprocess.run([sys.executable, "-m", "bot", "campaign", "add", str(path)], env=env, cwd=tmp,
                           capture_output=True, text=True, timeout=120, check=False)
    assert added.returncode == 0 and f"campaign {NAME}: added, active" in added.stdout, added.stderr

    store = open_store(settings.database.url)
    try:
        first = serve(env, tmp, "serve-1.log")
        # SIGTERM while the robot is talking on a call
        until(lambda: any(a.state.value == "answered" for a in store.campaign_attempts(NAME)), 90, first)
        talking = {a.id for a in store.campaign_attempts(NAME) if a.state.value == "answered"}
        try:
            scrape_while_calling(tmp / "serve-1.log")
        except BaseException:
            first.kill()  # a failed check must not leave a daemon holding the FastAGI port
            first.communicate(timeout=30)
            raise
        signalled = time.time()
        out = stop(first)
        assert out.startswith("collbot serve: stopped after") and "campaign run(s)" in out, out

        attempts = store.campaign_attempts(NAME)
        by_id = {a.id: a for a in attempts}
        assert not [a for a in attempts if a.state.value != "completed"]  # none unknown, none left active
        assert all(by_id[i].outcome is not None for i in talking)  # the calls in flight ended normally
        assert all(a.dialed_at.timestamp() < signalled + 0.5 for a in attempts if a.dialed_at)  # type: ignore[union-attr]
        called = {a.debtor_id for a in attempts}
        assert len(called) < len(people), "SIGTERM came after every debtor was called: nothing left to resume"
        assert store.campaign_status(NAME) == "active"

        second = serve(env, tmp, "serve-2.log")
        until(lambda: store.campaign_status(NAME) == "finished", 150, second)
        stop(second)
        check_finished(store, sandbox, people)
    finally:
        store.close()
    for log in ("serve-1.log", "serve-2.log"):
        text = (tmp / log).read_text()
        assert f"campaign {NAME}: running until" in text  # the daemon logs to stderr ...
        assert not [n for _, n, _, _ in people if n in text or n[1:] in text]  # ... never a full number
        assert "고객" not in text  # ... nor a name


def scrape_while_calling(log: Path) -> None:
    """/health and /metrics of the running serve, on the port its log names."""
    found = re.search(r"http://127\.0\.0\.1:(\d+)/health", log.read_text())
    assert found, "serve did not log where its metrics are"
    base = f"http://127.0.0.1:{found.group(1)}"
    try:
        with urllib.request.urlopen(f"{base}/health", timeout=10) as response:
            health = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise AssertionError(f"/health: {exc.code} {exc.read()!r}") from None
    assert health["status"] == "ok" and NAME in health["campaigns_running"]
    with urllib.request.urlopen(f"{base}/metrics", timeout=10) as response:
        text = response.read().decode()
    originates = re.search(r"^collbot_originates_total (\S+)$", text, re.M)
    assert originates and float(originates.group(1)) >= 1
    in_flight = re.search(r"^collbot_calls_in_flight (\S+)$", text, re.M)
    assert in_flight and float(in_flight.group(1)) >= 1  # the robot is talking on a call right now
    assert "collbot_turn_latency_seconds_bucket" in text and "collbot_recognition_queue_depth" in text


def check_finished(store: Store, sandbox: Sandbox, people: list[tuple[str, str, str, dict[str, object]]]) -> None:
    latest = store.campaign_latest(NAME)
    counts = call_counts(sandbox)
    attempts = store.campaign_attempts(NAME)
    for debtor_id, number, kind, _ in people:
        _, _, final, calls = KINDS[kind]
        a = latest[debtor_id]
        assert (a.outcome.value if a.outcome else a.result.value) == final, (kind, a)  # type: ignore[union-attr]
        assert counts.get(number, 0) == calls, (kind, counts.get(number))  # from Asterisk's side
        assert sum(x.debtor_id == debtor_id for x in attempts) == calls
