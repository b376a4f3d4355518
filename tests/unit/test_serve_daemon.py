"""`collbot serve`'s decisions on a frozen clock: which registered campaign runs when, and what
pause, resume, cancel, a new definition, a broken one, a failed run and SIGTERM do."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.campaign.daemon import RETRY_AFTER, Daemon
from bot.campaign.runner import Progress
from bot.campaign.spec import Campaign, campaign_from_text
from bot.errors import ConfigError
from bot.store.definitions import Registered
from bot.store.repo import Store, open_store

UTC = dt.UTC
# Asia/Seoul is UTC+9 all year: 09:00-20:00 there is 00:00-11:00 UTC. 2026-12-01 is a Tuesday.
OPEN = dt.datetime(2026, 12, 1, 1, 0, tzinfo=UTC)  # 10:00 in Seoul
CLOSED = dt.datetime(2026, 12, 1, 12, 0, tzinfo=UTC)  # 21:00 in Seoul
NEXT_MORNING = dt.datetime(2026, 12, 2, 0, 30, tzinfo=UTC)


def definition(name: str, *, end: str = "20:00", extra: str = "") -> str:
    return (f"campaign: {name}\nscript: s.yaml\nschedule:\n  timezone: Asia/Seoul\n  start: '09:00'\n"
            f"  end: '{end}'\nrounds:\n  - name: first\n{extra}")


class Clock:
    def __init__(self, now: dt.datetime):
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


class FakeRunner:
    """Runs until told to finish (``done`` calls) or stopped; records what happened."""

    def __init__(self, campaign: Campaign, store: Store, *, fail: bool = False):
        self.campaign = campaign
        self.store = store
        self.fail = fail
        self.started = False
        self.finish = asyncio.Event()
        self._stop = asyncio.Event()
        self.calls = 0

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> Progress:
        self.started = True
        await asyncio.wait({asyncio.ensure_future(self.finish.wait()), asyncio.ensure_future(self._stop.wait())},
                           return_when=asyncio.FIRST_COMPLETED)
        if self.fail:
            raise ConfigError("boom")
        return Progress(done=self.calls, results={"refused": self.calls} if self.calls else {})


class Harness:
    def __init__(self, store: Store, clock: Clock):
        self.store = store
        self.clock = clock
        self.runners: list[FakeRunner] = []
        self.loads: list[str] = []
        self.broken: set[str] = set()
        self.failing: set[str] = set()
        self.daemon = Daemon(store, load=self.load, start=self.start, clock=clock, poll_s=0.01)

    def add(self, name: str, text: str | None = None) -> None:
        text = text or definition(name)
        self.store.save_definition(name, source_path=f"/srv/{name}.yaml", text=text,
                                   sha256=hashlib.sha256(text.encode()).hexdigest())

    async def load(self, registered: Registered) -> Campaign:
        self.loads.append(registered.name)
        if registered.name in self.broken:
            raise ConfigError("script does not pass the check", path="/srv/s.yaml", line=3)
        return campaign_from_text(registered.definition, Path(registered.source_path))

    async def start(self, campaign: Campaign) -> FakeRunner:
        runner = FakeRunner(campaign, self.store, fail=campaign.campaign in self.failing)
        self.runners.append(runner)
        return runner  # type: ignore[return-value]

    def of(self, name: str) -> list[FakeRunner]:
        return [r for r in self.runners if r.campaign.campaign == name]

    async def poll(self) -> None:
        await self.daemon.poll()
        await asyncio.sleep(0)  # let started runners reach their first await
        await asyncio.sleep(0)

    async def end(self, runner: FakeRunner, calls: int = 0) -> None:
        runner.calls = calls
        runner.finish.set()
        for _ in range(5):
            await asyncio.sleep(0)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(f"sqlite:///{tmp_path}/serve.db") as opened:
        yield opened


@pytest.fixture
def h(store: Store) -> Harness:
    return Harness(store, Clock(OPEN))


async def test_an_active_campaign_runs_in_its_window_only(h: Harness) -> None:
    h.clock.now = CLOSED
    h.add("evening")
    await h.poll()
    assert h.runners == []
    h.clock.now = NEXT_MORNING
    await h.poll()
    assert [r.campaign.campaign for r in h.runners] == ["evening"] and h.runners[0].started
    await h.poll()
    assert len(h.runners) == 1  # one runner per campaign at a time


async def test_a_run_that_did_its_work_is_not_repeated_in_the_same_window(h: Harness) -> None:
    h.add("daily")
    await h.poll()
    await h.end(h.runners[0], calls=3)
    h.clock.now = OPEN + dt.timedelta(hours=2)
    await h.poll()
    assert len(h.runners) == 1
    h.clock.now = NEXT_MORNING
    await h.poll()
    assert len(h.runners) == 2  # the next day's window
    assert h.daemon.summary.runs == 1 and h.daemon.summary.calls == 3


async def test_a_finished_campaign_never_runs_again(h: Harness) -> None:
    h.add("done")
    await h.poll()
    h.store.set_campaign_status("done", "finished")
    await h.end(h.runners[0])
    h.clock.now = NEXT_MORNING
    await h.poll()
    assert len(h.runners) == 1


async def test_pause_stops_the_runner_and_resume_starts_a_new_one_in_the_same_window(h: Harness) -> None:
    h.add("p")
    await h.poll()
    first = h.runners[0]
    h.store.set_campaign_status("p", "paused")
    await h.poll()
    assert first.stopping  # its calls in flight finish; no new ones
    await h.poll()
    assert len(h.runners) == 1  # not replaced while paused
    h.store.set_campaign_status("p", "active")
    await h.poll()
    assert len(h.runners) == 2 and h.runners[1].started
    assert h.loads == ["p"]  # the same definition is not loaded (and its scripts checked) again


async def test_a_new_runner_waits_until_the_stopped_one_has_ended(h: Harness) -> None:
    # Two runners of one campaign at once would reconcile (and hang up) each other's live calls.
    h.add("slow")
    await h.poll()
    h.store.set_campaign_status("slow", "paused")
    first = h.runners[0]
    first.run = _never_ending  # type: ignore[method-assign]
    await h.poll()
    h.store.set_campaign_status("slow", "active")
    await h.poll()
    assert h.of("slow") == [first]


async def _never_ending() -> Progress:
    await asyncio.Event().wait()
    return Progress()


async def test_cancel_stops_the_runner_for_good(h: Harness) -> None:
    h.add("c")
    await h.poll()
    h.store.set_campaign_status("c", "cancelled")
    await h.poll()
    assert h.runners[0].stopping
    h.clock.now = NEXT_MORNING
    await h.poll()
    assert len(h.runners) == 1


async def test_a_campaign_added_while_serving_is_picked_up(h: Harness) -> None:
    h.add("first")
    await h.poll()
    h.add("second")
    await h.poll()
    assert sorted(r.campaign.campaign for r in h.runners) == ["first", "second"]  # both at once
    assert h.daemon.running == ["first", "second"]


async def test_a_new_definition_replaces_the_running_one(h: Harness) -> None:
    h.add("v")
    await h.poll()
    old = h.runners[0]
    h.add("v", definition("v", end="19:00"))
    await h.poll()
    assert old.stopping and len(h.runners) == 1
    await h.end(old)
    await h.poll()
    assert len(h.runners) == 2 and h.runners[1].campaign.schedule.end == dt.time(19)
    assert h.loads == ["v", "v"]


async def test_a_broken_definition_is_reported_once_and_does_not_stop_the_others(
        h: Harness, caplog: pytest.LogCaptureFixture) -> None:
    h.broken.add("bad")
    h.add("bad")
    h.add("good")
    with caplog.at_level(logging.ERROR, logger="bot.campaign.daemon"):
        await h.poll()
        await h.poll()
    assert [r.campaign.campaign for r in h.runners] == ["good"]
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "campaign bad" in errors[0] and "/srv/s.yaml:3" in errors[0]
    assert h.loads.count("bad") == 1  # not re-checked on every poll ...
    h.clock.now += RETRY_AFTER
    h.broken.clear()
    await h.poll()
    assert sorted(r.campaign.campaign for r in h.runners) == ["bad", "good"]  # ... but tried again


async def test_a_failed_run_is_counted_and_retried_later(h: Harness) -> None:
    h.failing.add("f")
    h.add("f")
    await h.poll()
    await h.end(h.runners[0])
    await h.poll()
    assert len(h.runners) == 1 and h.daemon.summary.failed_runs == 1
    h.clock.now += RETRY_AFTER
    await h.poll()
    assert len(h.runners) == 2


async def test_stop_lets_the_runners_finish_and_returns_a_summary(h: Harness) -> None:
    h.add("a")
    h.add("b")
    task = asyncio.create_task(h.daemon.run())
    for _ in range(50):
        if len(h.runners) == 2:
            break
        await asyncio.sleep(0.01)
    assert len(h.runners) == 2
    h.runners[0].calls = 2
    h.daemon.stop()
    summary = await asyncio.wait_for(task, 2)
    assert all(r.stopping for r in h.runners)
    assert summary.runs == 2 and summary.calls == 2
    assert summary.line() == "2 campaign run(s), 2 call(s): refused 2"
    h.clock.now = NEXT_MORNING
    await h.daemon.poll()
    assert len(h.runners) == 2  # a stopped daemon starts nothing


async def test_resumed_before_the_paused_run_ended_runs_again_in_the_same_window(h: Harness) -> None:
    h.add("quick")
    await h.poll()
    first = h.runners[0]
    first.stop()  # the runner noticed the pause itself, and its last call is still in flight
    h.store.set_campaign_status("quick", "paused")
    h.store.set_campaign_status("quick", "active")  # resumed meanwhile
    await h.end(first)
    await h.poll()
    assert len(h.runners) == 2
