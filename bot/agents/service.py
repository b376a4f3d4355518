"""Allocation and the daily rules against the store: read, decide (pure), then store all or nothing.

Shared by `collbot cases` and the web application. A plan is computed from one read of the
store; storing it re-checks every case's version, so a plan made on a view that someone has
changed since is refused as a whole (``CaseConflict``) instead of undoing their work.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from bot.agents.activity import activity_of
from bot.agents.allocation import Allocation, Strategy, allocate, buckets_from_starts
from bot.agents.records import AgentRecord, CaseFilter, CaseRecord
from bot.agents.rules import Decision, RuleSettings, run_rules
from bot.store.cases import AllocationRefused

if TYPE_CHECKING:
    from bot.config import AllocationSettings
    from bot.store.repo import Store


@dataclass(frozen=True, slots=True)
class Plan:
    """An allocation decided on ``cases`` for ``agents``; nothing is stored yet."""

    strategy: Strategy
    cases: list[CaseRecord]
    agents: list[AgentRecord]
    allocation: Allocation


def plan_allocation(store: Store, settings: AllocationSettings, strategy: Strategy, where: CaseFilter, *,
                    agent_ids: Sequence[str] | None = None, note: str = "", today: dt.date | None = None,
                    seen: Mapping[str, int] | None = None) -> Plan:
    """Allocate the unassigned cases matching ``where`` to the chosen agents (default: every active one).

    ``seen``: the cases a person chose on a page, with the versions they saw there (the one-click
    allocation of a selection). They are allocated as seen, so if anyone moved one of them in
    the meantime, storing the plan raises CaseConflict instead of silently leaving it out.
    """
    if where.owner is not None:
        raise AllocationRefused("only unassigned cases are allocated; unassign them first")
    agents = store.list_agents()
    if agent_ids:
        known = {a.id: a for a in agents}
        for agent_id in agent_ids:
            if agent_id not in known:
                raise AllocationRefused(f"no agent {agent_id!r}")
            if not known[agent_id].active:
                raise AllocationRefused(f"agent {agent_id!r} is inactive and cannot receive cases")
        agents = [known[a] for a in dict.fromkeys(agent_ids)]
    else:
        agents = [a for a in agents if a.active]
        if not agents:
            raise AllocationRefused("there is no active agent to allocate to (add one with `collbot agents add`)")
    if seen is not None:
        found = {c.id: c for c in store.list_cases(CaseFilter(ids=tuple(seen)), today=today)}
        for case_id in seen:
            if case_id not in found:
                raise AllocationRefused(f"no case {case_id!r}")
        cases = [replace(found[i], owner=None, version=v) for i, v in sorted(seen.items())]
    else:
        cases = store.list_cases(replace(where, unassigned=True), today=today)
    allocation = allocate(cases, agents, strategy, buckets=buckets_from_starts(settings.dpd_buckets), note=note)
    return Plan(strategy, cases, agents, allocation)


def refuse_leftovers(plan: Plan) -> None:
    """AllocationRefused when some cases would stay unassigned because every chosen agent is full."""
    left = plan.allocation.left
    if left:
        room = len(plan.allocation.moves)
        raise AllocationRefused(
            f"{len(left)} of {len(plan.cases)} cases do not fit: the chosen agents have room for {room} "
            f"more under their caps; nothing was stored (allocate fewer, raise a cap, or allow a partial "
            f"allocation)")


def plan_rules(store: Store, settings: AllocationSettings, *, now: dt.datetime) -> list[Decision]:
    """Today's decisions of the daily rules for every owned case, and the top-ups."""
    rules = RuleSettings(unbind_days=settings.unbind_days, handover_days=settings.handover_days,
                         replenish_below=settings.replenish_below, replenish_to=settings.replenish_to)
    cases = store.list_cases(today=now.date())
    activity = activity_of(store.owned_case_contacts(), now=now)
    return run_rules(cases, activity, store.list_agents(), rules, now=now)
