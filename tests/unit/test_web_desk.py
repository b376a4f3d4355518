"""The agent desk on a real SQLite store: state switching, screen pops, wrap-up, disconnects,
and the allocation page."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from bot.config import WebSettings
from bot.domain import Outcome
from bot.errors import InputError
from bot.store.repo import Store, open_store
from bot.web.agent_state import switch
from bot.web.app import create_app
from bot.web.dispositions import wrap_up_detail
from bot.web.live import Desk, push_event
from bot.web.summary import summary_of
from tests.webutil import PASSWORD, add_debtor, add_users, csrf, robot_call

TODAY = dt.date(2026, 12, 7)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(f"sqlite:///{tmp_path / 'desk.db'}") as opened:
        add_users(opened, ann="agent", bob="agent", sue="supervisor", tom="supervisor")
        add_debtor(opened, "D1")
        yield opened


@pytest.fixture
def client(store: Store, tmp_path: Path) -> Iterator[TestClient]:
    settings = WebSettings(secret_key_file=tmp_path / "key", disconnect_grace_s=0.2)
    with TestClient(create_app(settings, store), follow_redirects=False) as c:
        yield c


def login(client: TestClient, name: str) -> None:
    token = csrf(client.get("/login").text)
    assert client.post("/login", data={"name": name, "password": PASSWORD, "csrf": token}).status_code == 303


def post(client: TestClient, path: str, page: str, **data: str) -> object:
    return client.post(path, data={"csrf": csrf(client.get(page).text), **data})


def test_state_switches() -> None:
    assert switch("paused", "ready", "", open_call=False) == ("ready", "")
    assert switch("ready", "paused", "lunch", open_call=False) == ("paused", "lunch")
    assert switch("on_call", "wrap_up", "", open_call=True) == ("wrap_up", "")
    for current, wanted, reason, open_call in [("ready", "paused", "nap", False), ("on_call", "ready", "", True),
                                               ("paused", "ready", "", True), ("ready", "wrap_up", "", False),
                                               ("ready", "on_call", "", False)]:
        with pytest.raises(InputError):
            switch(current, wanted, reason, open_call=open_call)


def test_wrap_up_detail_matches_the_robots_keys() -> None:
    outcome, detail = wrap_up_detail("ptp", "2026-12-10", "100,000", " will pay ", today=TODAY, debt=Decimal(350000))
    assert outcome is Outcome.PROMISE_TO_PAY
    assert detail == {"disposition": "ptp", "via": "agent", "promise_date": "2026-12-10",
                      "promise_amount": "100000", "note": "will pay"}
    assert wrap_up_detail("ptp", "2026-12-07", "", "", today=TODAY, debt=Decimal(5))[1]["promise_amount"] == "5"
    for args, message in [(("ptp", "2026-12-06", "1"), "in the past"), (("ptp", "12/10", "1"), "YYYY-MM-DD"),
                          (("ptp", "2026-12-10", "400000"), "more than the debt"), (("ptp", "2026-12-10", "-1"),
                          "positive"), (("refused", "2026-12-10", ""), "only goes with"), (("nope", "", ""),
                          "choose a disposition")]:
        with pytest.raises(InputError, match=message):
            wrap_up_detail(*args, "", today=TODAY, debt=Decimal(350000))


def test_summary_holds_the_turns_heard_and_why(store: Store) -> None:
    summary = summary_of(store, robot_call(store, "D1"))
    assert (summary.debtor_name, summary.amount, summary.outcome) == ("김민수", "350000.00", "transfer_requested")
    assert summary.phone_masked != "+821012345678" and summary.phone_masked.endswith("78")
    assert [t.who for t in summary.turns] == ["robot", "customer", "robot", "customer"]
    assert summary.reason == "상담원 연결 (agent)"


def test_a_screen_pop_is_wrapped_up_into_an_attempt_like_the_robots(client: TestClient, store: Store) -> None:
    robot = robot_call(store, "D1")
    login(client, "ann")
    desk = Desk(store, grace_s=1)
    pop_id = desk.screen_pop("ann", summary_of(store, robot))
    assert store.agent_state("ann").state == "on_call"
    page = client.get("/desk").text
    assert "상담원 연결" in page and "Call ended" in page and "+821012345678" not in page
    # becoming ready with an open call is refused
    refused = post(client, "/desk/state", "/desk", state="ready")
    assert refused.status_code == 400 and "wrap-up" in refused.text
    assert post(client, "/desk/state", "/desk", state="wrap_up").status_code == 303
    bad = post(client, "/desk/wrapup", "/desk", event=str(pop_id), disposition="ptp", promise_date="2020-01-01")
    assert bad.status_code == 400 and "in the past" in bad.text and 'value="ptp" checked' in bad.text
    date = (dt.date.today() + dt.timedelta(days=3)).isoformat()
    done = post(client, "/desk/wrapup", "/desk", event=str(pop_id), disposition="ptp", promise_date=date,
                promise_amount="120000", note="salary on Friday", then="ready")
    assert done.status_code == 303
    attempts = store.attempts_for("D1")
    assert [a.outcome for a in attempts] == [Outcome.TRANSFER_REQUESTED, Outcome.PROMISE_TO_PAY]
    human = attempts[1]
    assert human.outcome_detail == {"disposition": "ptp", "via": "agent", "promise_date": date,
                                    "promise_amount": "120000", "note": "salary on Friday", "agent": "ann",
                                    "transferred_from": robot}
    assert human.dialed_at is None and human.answered_at is not None  # caps count the robot's dial only
    assert store.agent_state("ann").state == "ready" and not store.open_pops("ann")
    again = post(client, "/desk/wrapup", "/desk", event=str(pop_id), disposition="refused")
    assert again.status_code == 400 and "already wrapped up" in again.text
    assert len(store.attempts_for("D1")) == 2
    case = client.get("/cases/D1").text
    assert "salary on Friday" in case and "120,000 KRW" in case and "pending" in case


def test_an_agent_cannot_wrap_up_another_agents_call(client: TestClient, store: Store) -> None:
    pop_id = Desk(store, grace_s=1).screen_pop("bob", summary_of(store, robot_call(store, "D1")))
    login(client, "ann")
    refused = post(client, "/desk/wrapup", "/desk", event=str(pop_id), disposition="refused")
    assert refused.status_code == 400 and "no such call" in refused.text
    assert store.open_pops("bob") and len(store.attempts_for("D1")) == 1


def test_opt_out_at_wrap_up_suppresses_the_number(client: TestClient, store: Store) -> None:
    pop_id = Desk(store, grace_s=1).screen_pop("ann", summary_of(store, robot_call(store, "D1")))
    login(client, "ann")
    assert post(client, "/desk/wrapup", "/desk", event=str(pop_id), disposition="opt_out").status_code == 303
    assert store.suppression("+821012345678") == "opt_out"


def test_the_event_stream_replays_what_was_pushed_while_away(client: TestClient, store: Store) -> None:
    login(client, "ann")
    first = Desk(store, grace_s=1).push("ann", "notice", {"text": "hello"})
    Desk(store, grace_s=1).screen_pop("ann", summary_of(store, robot_call(store, "D1")))
    with client.stream("GET", "/desk/events", headers={"Last-Event-ID": str(first - 1)}) as stream:
        lines = []
        for line in stream.iter_lines():
            lines.append(line)
            if sum(x.startswith("data:") for x in lines) == 2:
                break
    events = [json.loads(x[5:]) for x in lines if x.startswith("data:")]
    assert [e["kind"] for e in events] == ["notice", "screen_pop"]
    assert "상담원 연결" in events[1]["html"] and 'name="csrf"' in events[1]["html"]
    assert [x for x in lines if x.startswith("id:")] == [f"id: {first}", f"id: {first + 1}"]


async def test_a_dropped_desk_pauses_the_agent_after_the_grace_period(store: Store) -> None:
    store.set_agent_state("ann", "on_call")
    desk = Desk(store, grace_s=0.2, poll_s=0.05, tick_s=0.05)
    desk.start()
    left = asyncio.Event()

    async def gone() -> bool:
        return left.is_set()

    async def read() -> None:
        async for _ in desk.events("ann", 0, gone):
            pass

    task = asyncio.create_task(read())
    await asyncio.sleep(0.1)
    assert desk.connected("ann")
    left.set()
    await task
    assert store.agent_state("ann").state == "on_call"  # within the grace period nothing changes
    for _ in range(100):
        await asyncio.sleep(0.05)
        # the pause and its audit entry are two writes from a worker thread: wait for both
        if store.agent_state("ann").state == "paused" and any(
                e.action == "disconnected" for e in store.audit_entries(user="ann")):
            break
    state = store.agent_state("ann")
    assert (state.state, state.reason) == ("paused", "disconnected")
    assert any(e.action == "disconnected" for e in store.audit_entries(user="ann"))
    desk.stop()


async def test_a_desk_that_comes_back_in_time_stays_as_it_was(store: Store) -> None:
    store.set_agent_state("ann", "ready")
    desk = Desk(store, grace_s=0.3, poll_s=0.05, tick_s=0.05)
    desk.start()
    flags = [asyncio.Event(), asyncio.Event()]

    async def read(flag: asyncio.Event) -> None:
        async def gone() -> bool:
            return flag.is_set()
        async for _ in desk.events("ann", 0, gone):
            pass

    first = asyncio.create_task(read(flags[0]))
    await asyncio.sleep(0.1)
    flags[0].set()
    await first
    second = asyncio.create_task(read(flags[1]))  # the browser reconnects
    await asyncio.sleep(0.6)
    assert store.agent_state("ann").state == "ready"
    flags[1].set()
    await second
    desk.stop()


async def test_agents_left_ready_by_a_previous_server_are_paused_unless_they_reconnect(store: Store) -> None:
    store.set_agent_state("ann", "ready")
    store.set_agent_state("bob", "on_call")
    store.set_agent_state("sue", "paused", "lunch")
    desk = Desk(store, grace_s=0.3, poll_s=0.05, tick_s=0.05)
    desk.start()
    left = asyncio.Event()

    async def gone() -> bool:
        return left.is_set()

    async def read() -> None:
        async for _ in desk.events("bob", 0, gone):
            pass

    task = asyncio.create_task(read())  # bob's desk comes back in time
    for _ in range(100):
        await asyncio.sleep(0.05)
        # the pause and its audit entry are two writes from a worker thread: wait for both
        if store.agent_state("ann").state == "paused" and any(
                e.action == "disconnected" for e in store.audit_entries(user="ann")):
            break
    assert (store.agent_state("ann").state, store.agent_state("ann").reason) == ("paused", "disconnected")
    assert store.agent_state("bob").state == "on_call"
    assert (store.agent_state("sue").state, store.agent_state("sue").reason) == ("paused", "lunch")
    left.set()
    await task
    desk.stop()


def test_an_unknown_display_zone_is_one_clear_error(store: Store, tmp_path: Path) -> None:
    from bot.errors import ConfigError

    with pytest.raises(ConfigError, match=r"web\.timezone"):
        create_app(WebSettings(secret_key_file=tmp_path / "k", timezone="Mars/Olympus"), store)


async def test_a_push_from_another_process_wakes_the_desk(store: Store) -> None:
    desk = Desk(store, grace_s=5, poll_s=0.05, tick_s=30)  # only the poller can wake it soon
    desk.start()

    async def gone() -> bool:
        return False

    async def first_event() -> object:
        async for event in desk.events("ann", store.last_desk_event_id("ann"), gone):
            if event is not None:
                return event
        return None

    task = asyncio.create_task(first_event())
    await asyncio.sleep(0.2)
    pushed = push_event(store, "ann", "notice", {"text": "from the controller"})  # not through this Desk
    event = await asyncio.wait_for(task, 5)
    assert event is not None and event.id == pushed  # type: ignore[attr-defined]
    desk.stop()


def allocation_setup(store: Store) -> None:
    for i in range(2, 7):
        add_debtor(store, f"D{i}", phone=f"+8210123456{i:02d}")
    store.add_agent("ann", cap=2)
    store.add_agent("bob", cap=10)


def test_allocation_page_one_click_and_caps(client: TestClient, store: Store) -> None:
    allocation_setup(store)
    login(client, "ann")
    assert client.get("/allocate").status_code == 403
    client.cookies.clear()
    login(client, "sue")
    page = client.get("/allocate").text
    assert "D6" in page and "0 / 2" in page
    versions = {c.id: c.version for c in store.list_cases()}
    over = client.post("/allocate", data={"csrf": csrf(page), "agent": "ann",
                                          "case": [f"D{i}:{versions[f'D{i}']}" for i in (1, 2, 3)]})
    assert over.status_code == 400 and "over their cap of 2" in over.text
    assert all(c.owner is None for c in store.list_cases())
    page = client.get("/allocate").text
    done = client.post("/allocate", data={"csrf": csrf(page), "agent": ["ann", "bob"],
                                          "case": [f"D{i}:{versions[f'D{i}']}" for i in (1, 2, 3, 4)]})
    assert done.status_code == 303 and "moved=4" in done.headers["location"]
    owners = {c.id: c.owner for c in store.list_cases()}
    assert Counter(owners.values()) == {"ann": 2, "bob": 2, None: 2}
    assert any(e.action == "allocate" for e in store.audit_entries(user="sue"))
    # the agent now sees exactly their own cases
    client.cookies.clear()
    login(client, "ann")
    mine = client.get("/cases").text
    for case, owner in owners.items():
        assert (f'href="/cases/{case}"' in mine) == (owner == "ann")


def test_two_supervisors_allocating_the_same_case_one_wins(client: TestClient, store: Store) -> None:
    allocation_setup(store)
    other = TestClient(client.app, follow_redirects=False)
    login(client, "sue")
    login(other, "tom")
    sue_page, tom_page = client.get("/allocate").text, other.get("/allocate").text
    version = store.get_case("D5").version
    won = client.post("/allocate", data={"csrf": csrf(sue_page), "agent": "ann", "case": f"D5:{version}"})
    lost = other.post("/allocate", data={"csrf": csrf(tom_page), "agent": "bob", "case": f"D5:{version}"})
    assert won.status_code == 303
    assert lost.status_code == 409
    assert "changed by someone else" in lost.text and "ann" in lost.text
    assert store.get_case("D5").owner == "ann"


def test_a_split_among_agents_is_refused_whole_on_a_stale_view_or_over_the_caps(client: TestClient,
                                                                               store: Store) -> None:
    allocation_setup(store)
    store.update_agent("bob", cap=1)
    other = TestClient(client.app, follow_redirects=False)
    login(client, "sue")
    login(other, "tom")
    stale = other.get("/allocate").text
    picked = [f"D{i}:0" for i in (1, 2, 3, 4)]
    over = client.post("/allocate", data={"csrf": csrf(client.get("/allocate").text), "agent": ["ann", "bob"],
                                          "case": picked})
    assert over.status_code == 400 and "do not fit" in over.text
    assert all(c.owner is None for c in store.list_cases())
    store.update_agent("bob", cap=10)
    assert client.post("/allocate", data={"csrf": csrf(client.get("/allocate").text), "agent": ["ann", "bob"],
                                          "case": ["D1:0", "D2:0"]}).status_code == 303
    lost = other.post("/allocate", data={"csrf": csrf(stale), "agent": ["ann", "bob"], "case": ["D2:0", "D3:0"]})
    assert lost.status_code == 409
    assert "changed by someone else" in lost.text
    assert store.get_case("D3").owner is None
