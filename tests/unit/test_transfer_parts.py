"""Warm transfer's pure parts: queue member actions refuse unsafe values, desk states map to
membership, the simulated agents file is strict, and the dialogue hands over instead of hanging up."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from bot.agents.queue_sync import QueueMembers, wanted
from bot.agents.sim_agents import dialplan, read_agents
from bot.config import QueueSettings
from bot.errors import AmiError, ConfigError
from bot.telephony.ami_actions import member_interface, queue_member_headers, queue_next_headers
from bot.telephony.channel import TextChannel


def test_queue_add_headers() -> None:
    assert queue_member_headers("QueueAdd", queue="collbot-collectors", interface="PJSIP/kim",
                                member="kim", paused=False) == {
        "Action": "QueueAdd", "Queue": "collbot-collectors", "Interface": "PJSIP/kim",
        "MemberName": "kim", "Paused": "false"}


@pytest.mark.parametrize("kwargs", [
    {"queue": "q\r\nAction: Originate", "interface": "PJSIP/kim"},
    {"queue": "q", "interface": "PJSIP/kim\nVariable: X=1"},
    {"queue": "q", "interface": "Console/dsp"},
    {"queue": "q", "interface": "PJSIP/kim&PJSIP/lee"},
])
def test_queue_actions_refuse_unsafe_values(kwargs: dict[str, Any]) -> None:
    with pytest.raises(AmiError, match="nothing sent"):
        queue_member_headers("QueueRemove", **kwargs)


def test_only_queue_member_actions_and_safe_reasons() -> None:
    with pytest.raises(AmiError):
        queue_member_headers("Originate", queue="q", interface="PJSIP/kim")
    with pytest.raises(AmiError):
        queue_member_headers("QueuePause", queue="q", interface="PJSIP/kim", paused=True, reason="x\r\ny")
    with pytest.raises(AmiError):
        queue_member_headers("QueueAdd", queue="q", interface="PJSIP/kim", member="kim lee")


def test_queue_next_headers_are_fixed_but_for_the_checked_attempt_id() -> None:
    assert queue_next_headers("a-1.x_2") == {
        "Action": "Setvar", "Channel": "a-1.x_2", "Variable": "COLLBOT_NEXT", "Value": "queue"}
    for bad in ("a\r\nAction: Originate", "Local/x@ctx", "", "*"):
        with pytest.raises(AmiError):
            queue_next_headers(bad)


def test_member_interface_from_template() -> None:
    assert member_interface("Local/{agent}@collbot-sim-agents/n", "kim") == "Local/kim@collbot-sim-agents/n"
    with pytest.raises(AmiError):
        member_interface("PJSIP/{agent}", "kim/../x")


@pytest.mark.parametrize(("state", "want"), [("ready", "ready"), ("on_call", "ready"), ("paused", "paused"),
                                             ("wrap_up", "paused"), ("logged_out", "absent")])
def test_desk_state_to_membership(state: str, want: str) -> None:
    assert wanted(state) == want


class FakeAmi:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    async def queue_member(self, action: str, **kw: Any) -> tuple[bool, str]:
        self.sent.append((action, kw))
        return True, ""


async def test_state_changes_send_one_action_each() -> None:
    ami = FakeAmi()
    members = QueueMembers(ami, QueueSettings(), interface_template="PJSIP/{agent}")  # type: ignore[arg-type]
    await members.apply([("kim", "ready")])
    await members.apply([("kim", "on_call")])  # no change of membership: nothing sent
    await members.apply([("kim", "paused")])  # e.g. paused as "disconnected" when the browser closed
    await members.apply([("kim", "logged_out")])
    assert [a for a, _ in ami.sent] == ["QueueAdd", "QueuePause", "QueueRemove"]
    assert ami.sent[1][1]["paused"] is True


def test_agents_file_errors_name_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "agents.yaml"
    path.write_text("agents:\n  - id: kim\n    talk_s: 3\n  - id: lee\n    answer_after_s: -1\n")
    with pytest.raises(ConfigError, match=r"agents\.yaml:5"):
        read_agents(path)
    path.write_text("agents:\n  - id: kim\n    disposition: maybe\n")
    with pytest.raises(ConfigError, match="disposition"):
        read_agents(path)
    path.write_text("agents:\n  - id: kim\n  - id: kim\n")
    with pytest.raises(ConfigError, match="twice"):
        read_agents(path)
    path.write_text("agents:\n  - id: 'kim,1,System(rm)'\n")
    with pytest.raises(ConfigError):
        read_agents(path)


def test_agents_dialplan(tmp_path: Path) -> None:
    path = tmp_path / "agents.yaml"
    path.write_text("agents:\n  - id: kim\n    answer_after_s: 2\n    talk_s: 30\n  - id: lee\n    answers: false\n")
    text = dialplan(read_agents(path))
    assert "exten => kim,1,Gosub(collbot-sim-agent-talk,s,1(2,30))" in text
    assert "exten => lee,1,Goto(collbot-sim-agent-no-answer,s,1)" in text


async def test_transfer_action_hands_over_instead_of_hanging_up() -> None:
    from bot.commands import compiled_script
    from bot.config import Settings
    from bot.dialogue.session import ScriptRun
    from bot.domain import Debtor, Outcome

    script = compiled_script(Settings(), Path(__file__).parents[2] / "scripts" / "reminder-ko.yaml")
    debtor = Debtor(id="D1", name="홍길동", phone="+821012345678", amount=1000, currency="KRW",
                    due_date=dt.date(2026, 1, 1), language="ko")

    async def record(_: object) -> None:
        return None

    channel = TextChannel(["네", "상담원 연결"])
    outcome = await ScriptRun(script, debtor, today=dt.date(2026, 1, 2), record=record).run(channel)
    assert outcome.outcome is Outcome.TRANSFER_REQUESTED
    assert channel.transferred and not channel.hung_up


async def _direct(fn: Any, *args: Any) -> Any:
    return fn(*args)


def _event(kind: str, member: str = "", hold: float | None = None) -> Any:
    from bot.telephony.queue_events import QueueEvent

    return QueueEvent(kind=kind, caller="A1", queue="collbot-collectors", member=member, hold_s=hold, at=1.0)


async def _follow(tmp_path: Path, events: list[Any], *, hung_up: bool = False,
                  callback: dict[str, object] | None = None) -> tuple[Any, Any, str]:
    import asyncio

    from bot.agents.transfer import follow_transfer
    from bot.store.repo import open_store
    from tests.webutil import add_debtor, add_users, robot_call

    store = open_store(f"sqlite:///{tmp_path / 't.db'}")
    add_users(store, kim="agent")
    add_debtor(store, "D1")
    attempt = robot_call(store, "D1")
    queue: asyncio.Queue[Any] = asyncio.Queue()
    for event in events:
        queue.put_nowait(event)
    loop = asyncio.get_running_loop()
    hangup, chosen = loop.create_future(), loop.create_future()
    if hung_up:
        hangup.set_result((16, "Normal Clearing"))
    if callback is not None:
        chosen.set_result(callback)
    result = await follow_transfer(attempt_id=attempt, store=store, db=_direct, events=queue, hangup=hangup,
                                   callback=chosen, reason="", max_s=5)
    return result, store, attempt


async def test_follow_transfer_pops_the_agent_who_answers(tmp_path: Path) -> None:
    from bot.domain import Outcome

    result, store, attempt = await _follow(tmp_path, [_event("QueueCallerJoin"), _event("AgentCalled", "kim"),
                                                      _event("AgentConnect", "kim", 3.0)])
    assert result.outcome is Outcome.TRANSFER_REQUESTED and result.agent == "kim" and result.ringing_at == 1.0
    assert result.detail == {"action": "transfer", "transfer": "connected", "agent": "kim", "hold_s": 3.0}
    pops = store.open_pops("kim")
    assert [p.attempt_id for p in pops] == [attempt]
    assert pops[0].data["outcome"] == "transfer_requested" and "상담원 연결" in pops[0].data["reason"]
    assert [e.kind for e in store.desk_events_after("kim", 0)] == ["notice", "screen_pop"]
    store.close()


async def test_follow_transfer_records_the_callback_or_the_abandon(tmp_path: Path) -> None:
    from bot.domain import Outcome

    asked = {"callback": "requested", "callback_at": "2026-12-07T12:00+00:00"}
    result, store, _ = await _follow(tmp_path, [], callback=asked, hung_up=True)  # the choice wins over the hang-up
    assert result.outcome is Outcome.CALLBACK and result.detail["transfer"] == "no_agent"
    assert not store.open_pops("kim")
    store.close()
    result, store, _ = await _follow(tmp_path / "x", [_event("AgentCalled", "kim")], hung_up=True)
    assert result.outcome is Outcome.TRANSFER_REQUESTED and result.detail["transfer"] == "abandoned"
    store.close()
