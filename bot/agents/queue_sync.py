"""Agent state on the desk drives queue membership: ready → member, paused/wrap-up → paused
member, logged out → removed. One AMI action per change, every value checked in ami_actions."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from bot.config import QueueSettings
from bot.errors import AmiError
from bot.store.repo import Store
from bot.telephony.ami import Ami
from bot.telephony.ami_actions import member_interface

log = logging.getLogger(__name__)

ABSENT = "absent"


def wanted(state: str) -> str:
    """The membership a desk state asks for: 'ready', 'paused' or 'absent'."""
    if state in ("ready", "on_call"):  # on a call: Asterisk sees the device in use and skips it
        return "ready"
    if state in ("paused", "wrap_up"):
        return "paused"
    return ABSENT


class QueueMembers:
    """Keeps the queue's members in step with the agents' desk states."""

    def __init__(self, ami: Ami, settings: QueueSettings, *, interface_template: str | None = None):
        self.ami = ami
        self.queue = settings.name
        self.template = interface_template or settings.member_interface
        self.interval_s = settings.sync_interval_s
        self.applied: dict[str, str] = {}

    async def apply(self, states: Iterable[tuple[str, str]]) -> None:
        for agent, state in states:
            want, have = wanted(state), self.applied.get(agent, ABSENT)
            if want == have:
                continue
            try:
                interface = member_interface(self.template, agent)
                if want == ABSENT:
                    ok, why = await self.ami.queue_member("QueueRemove", queue=self.queue, interface=interface)
                elif have == ABSENT:
                    ok, why = await self.ami.queue_member("QueueAdd", queue=self.queue, interface=interface,
                                                          member=agent, paused=want == "paused")
                else:
                    ok, why = await self.ami.queue_member("QueuePause", queue=self.queue, interface=interface,
                                                          paused=want == "paused", reason=state)
            except AmiError as exc:
                log.error("queue member %s: %s", agent, exc)
                continue
            if ok or any(s in why.lower() for s in ("already there", "not there")):  # Asterisk agrees
                self.applied[agent] = want
                log.info("queue %s: agent %s now %s", self.queue, agent, want)
            else:
                log.warning("queue %s: agent %s not made %s: %s", self.queue, agent, want, why)

    async def run(self, store: Store, agents: set[str] | None = None) -> None:
        """Apply the desk's states every ``sync_interval_s`` until cancelled."""
        while True:
            states = await asyncio.to_thread(store.agent_states)
            await self.apply((s.agent, s.state) for s in states if agents is None or s.agent in agents)
            await asyncio.sleep(self.interval_s)
