"""The daily rules: a pure function of the cases, their activity, the agents and the clock.

Each owned case gets one decision, checked in this order (the first that applies wins):

retain     a promise to pay is pending: the case stays with its agent, whatever else holds.
unbind     its agent is inactive, or nobody reached the debtor in ``unbind_days`` days (counted
           from the last conversation, or from when the agent got the case if that is later):
           the case goes back to the unassigned pool.
hand-over  ``handover_days`` days without a promise (since the agent got the case or since the
           last promise, whichever is later; a kept or broken promise counts): it goes to the
           active agent with the most room (then the fewest cases, then id), never back to them.
keep       none of these.

Days are counted as UTC calendar dates.

Then **replenish**: every active agent left with fewer than ``replenish_below`` cases is topped
up to ``replenish_to`` (never past their cap) from the unassigned pool, highest score first.
A case a rule unbound rests a day before replenish hands it out again.

Moved cases start a new ownership (``since`` = now), so a second run the same day moves nothing.
"""

from __future__ import annotations

import datetime as dt
import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from bot.agents.records import AgentRecord, CaseRecord, Move, Why


@dataclass(frozen=True, slots=True)
class RuleSettings:
    """Thresholds of the daily rules; 0 turns a rule off."""

    unbind_days: int = 30
    handover_days: int = 14
    replenish_below: int = 0
    replenish_to: int = 0  # 0: up to replenish_below


@dataclass(frozen=True, slots=True)
class Activity:
    """What the ledger says about a case (built by ``bot.agents.activity``)."""

    last_contact: dt.datetime | None = None  # the last conversation with the debtor
    last_promise: dt.datetime | None = None  # when the last promise to pay was made
    pending_promise: str | None = None  # a pending promise, described ("500,000 by 2026-12-10"); None: none


@dataclass(frozen=True, slots=True)
class Decision:
    """What a rule decided for one case, and why; ``move`` is None when the case stays."""

    case_id: str
    rule: str  # retain | unbind | hand-over | replenish | keep
    reason: str
    move: Move | None = None


NO_ACTIVITY = Activity()


def _days(since: dt.datetime, now: dt.datetime) -> int:
    """Whole days between two times, as UTC calendar dates (so every run of one day agrees)."""
    return (now.astimezone(dt.UTC).date() - since.astimezone(dt.UTC).date()).days


def run_rules(cases: Sequence[CaseRecord], activity: Mapping[str, Activity], agents: Sequence[AgentRecord],
              settings: RuleSettings, *, now: dt.datetime) -> list[Decision]:
    """One decision per case that was owned or is replenished, by case id; ``now`` is aware.

    The rules are run again on their own result until nothing moves (a hand-over can make room
    for one refused earlier), so running them twice the same day moves nothing the second time.
    A moved case starts a new ownership today and no rule moves it again the same day.
    """
    final: dict[str, Decision] = {}
    current = list(cases)
    for _ in range(len(cases) + 1):
        moved = []
        decisions = _run_once(current, activity, agents, settings, now)
        for decision in decisions:
            before = final.get(decision.case_id)
            if before is not None and (before.move is not None or decision.move is None):
                continue
            final[decision.case_id] = decision
            if decision.move is not None:
                moved.append(decision.move)
        # Only a hand-over refused for want of room can change on another pass (the moves of this
        # pass may have made room); without one, another pass would move nothing.
        if not moved or not any(d.rule == "keep" and d.reason.startswith("hand-over") for d in decisions):
            break
        current = apply_moves(current, moved, now=now)
    return [final[i] for i in sorted(final)]


def _run_once(cases: Sequence[CaseRecord], activity: Mapping[str, Activity], agents: Sequence[AgentRecord],
              settings: RuleSettings, now: dt.datetime) -> list[Decision]:
    by_id = {a.id: a for a in agents}
    count = {a.id: 0 for a in agents}
    for case in cases:
        if case.owner is not None:
            count[case.owner] = count.get(case.owner, 0) + 1
    decisions: list[Decision] = []
    handovers: list[CaseRecord] = []
    unbound: set[str] = set()
    for case in (c for c in cases if c.owner is not None):
        seen = activity.get(case.id, NO_ACTIVITY)
        decision = _owned(case, seen, by_id.get(case.owner or ""), settings, now)
        if decision.rule == "hand-over":
            handovers.append(case)
            continue
        if decision.rule == "unbind":
            count[case.owner or ""] -= 1
            unbound.add(case.id)
        decisions.append(decision)
    rooms = _Rooms(agents, count)
    for case in handovers:
        decisions.append(_hand_over(case, rooms, settings))
    # A case a rule unbound rests until the next day before it is handed out again.
    pool = [c for c in cases if c.owner is None and not (c.why is Why.RULE and c.since and _days(c.since, now) < 1)
            and c.id not in unbound]
    decisions.extend(_replenish(pool, agents, count, settings))
    return decisions


def _owned(case: CaseRecord, seen: Activity, agent: AgentRecord | None, settings: RuleSettings,
           now: dt.datetime) -> Decision:
    owner = case.owner or ""
    if seen.pending_promise is not None:
        return Decision(case.id, "retain", f"retain: promise pending ({seen.pending_promise})")
    if agent is None or not agent.active:
        return _unbind(case, f"unbind: agent {owner!r} is inactive")
    since = case.since or now
    if settings.unbind_days > 0:
        reference = max(seen.last_contact or since, since)
        quiet = _days(reference, now)
        if quiet >= settings.unbind_days:
            what = "last contact" if seen.last_contact and seen.last_contact > since else "assigned"
            return _unbind(case, f"unbind: no contact in {quiet} days ({what} {reference.date()}; "
                                 f"limit {settings.unbind_days})")
    if settings.handover_days > 0:
        # days without a promise: since the last one made while the agent had the case, else since they got it
        held = _days(max(seen.last_promise or since, since), now)
        if held >= settings.handover_days:
            return Decision(case.id, "hand-over", f"hand-over: {held} days with {owner!r} without a promise "
                                                  f"(limit {settings.handover_days})")
    return Decision(case.id, "keep", "keep: no rule applies")


def _unbind(case: CaseRecord, reason: str) -> Decision:
    return Decision(case.id, "unbind", reason, Move(case.id, case.owner, None, Why.RULE, reason, case.version))


class _Rooms:
    """Active agents by most room, then fewest cases, then id: a heap whose stale entries are skipped."""

    def __init__(self, agents: Sequence[AgentRecord], count: dict[str, int]):
        self._cap = {a.id: a.cap for a in agents if a.active}
        self._count = count
        self._heap = [self._entry(a) for a in self._cap]
        heapq.heapify(self._heap)

    def _entry(self, agent: str) -> tuple[int, int, str]:
        have = self._count.get(agent, 0)
        return -(self._cap[agent] - have), have, agent

    def best(self, exclude: str) -> str | None:
        """The agent with the most room other than ``exclude``; None when nobody else has room."""
        aside = None
        found = None
        while self._heap:
            entry = heapq.heappop(self._heap)
            if entry != self._entry(entry[2]):
                continue  # stale: a newer entry for this agent is in the heap
            if entry[0] >= 0:
                heapq.heappush(self._heap, entry)
                break
            if entry[2] == exclude:
                aside = entry
                continue
            found = entry[2]
            heapq.heappush(self._heap, entry)
            break
        if aside is not None:
            heapq.heappush(self._heap, aside)
        return found

    def move(self, from_agent: str, to_agent: str) -> None:
        self._count[from_agent] -= 1
        self._count[to_agent] = self._count.get(to_agent, 0) + 1
        for agent in (from_agent, to_agent):
            if agent in self._cap:
                heapq.heappush(self._heap, self._entry(agent))


def _hand_over(case: CaseRecord, rooms: _Rooms, settings: RuleSettings) -> Decision:
    owner = case.owner or ""
    base = (f"hand-over: {settings.handover_days}+ days with {owner!r} without a promise")
    target = rooms.best(exclude=owner)
    if target is None:
        return Decision(case.id, "keep", f"{base}, but no other active agent has room: kept")
    rooms.move(owner, target)
    reason = f"{base}: to {target!r} (most room)"
    return Decision(case.id, "hand-over", reason, Move(case.id, owner, target, Why.RULE, reason, case.version))


def _replenish(pool: Sequence[CaseRecord], agents: Sequence[AgentRecord], count: dict[str, int],
               settings: RuleSettings) -> list[Decision]:
    if settings.replenish_below <= 0:
        return []
    target = max(settings.replenish_to, settings.replenish_below)
    ranked = sorted(pool, key=lambda c: (c.score is None, -(c.score or 0.0), -c.amount, c.id))
    next_case = 0  # every agent takes the best cases left, so the taken ones are a prefix
    decisions: list[Decision] = []
    for agent in sorted(agents, key=lambda a: a.id):
        have = count.get(agent.id, 0)
        if not agent.active or have >= settings.replenish_below:
            continue
        fill = min(target, agent.cap)
        reason = (f"replenish: {agent.id!r} had {have} cases, under {settings.replenish_below}; "
                  f"topped up to {fill} (highest score first)")
        given = ranked[next_case:next_case + max(0, fill - have)]
        next_case += len(given)
        decisions.extend(Decision(c.id, "replenish", reason, Move(c.id, None, agent.id, Why.RULE, reason, c.version))
                         for c in given)
        count[agent.id] = have + len(given)
    return decisions


def apply_moves(cases: Sequence[CaseRecord], moves: Sequence[Move], *, now: dt.datetime) -> list[CaseRecord]:
    """The cases as they are after ``moves`` (what the store would hold): for previews and tests."""
    last: dict[str, Move] = {}
    bumps: dict[str, int] = {}
    for move in moves:
        last[move.case_id] = move
        bumps[move.case_id] = bumps.get(move.case_id, 0) + 1
    return [c if c.id not in last else replace(c, owner=last[c.id].to_agent, since=now, why=last[c.id].why,
                                               reason=last[c.id].reason, version=c.version + bumps[c.id])
            for c in cases]
