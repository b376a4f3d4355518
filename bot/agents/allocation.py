"""Case allocation strategies: pure functions of cases and agents, each move with its reason.

Only unassigned cases are handed out, and an agent receives at most ``cap - open_cases``
(their room). Strategies (see docs/cases.md):

even-count   within each dpd bucket, cases in turn to the agent with the fewest new cases so
             far (the turn carries over from bucket to bucket): any two agents' new cases
             differ by at most one, overall and within each bucket, unless one is full.
even-amount  within each dpd bucket, largest amount first, each to the agent with the least
             new amount so far: any two agents' new amounts differ by at most the largest
             single amount, unless one is full.
score        highest score first (no score last, then larger amount, then id), dealt in turn:
             every agent gets an even share of the promising and of the hard cases.
manual       the chosen cases split by count among the chosen agents, in id order.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from bot.agents.records import AgentRecord, CaseRecord, Move, Why

Bucket = tuple[int, int | None]  # inclusive dpd range; None: no upper bound
DEFAULT_BUCKETS: tuple[Bucket, ...] = ((0, 29), (30, 59), (60, 89), (90, 179), (180, None))


class Strategy(StrEnum):
    EVEN_COUNT = "even-count"
    EVEN_AMOUNT = "even-amount"
    SCORE = "score"
    MANUAL = "manual"


@dataclass(frozen=True, slots=True)
class Allocation:
    """The moves decided and the cases left unassigned because every agent was full."""

    moves: list[Move]
    left: list[CaseRecord] = field(default_factory=list)


def bucket_name(bucket: Bucket | None) -> str:
    if bucket is None:
        return "dpd unknown"
    low, high = bucket
    return f"dpd {low}+" if high is None else f"dpd {low}-{high}"


def bucket_of(dpd: int | None, buckets: Sequence[Bucket]) -> Bucket | None:
    """The bucket a dpd falls in; None for an unknown dpd (or one no bucket covers)."""
    if dpd is None:
        return None
    for low, high in buckets:
        if dpd >= low and (high is None or dpd <= high):
            return low, high
    return None


def check_buckets(buckets: Sequence[Bucket]) -> None:
    """ValueError unless the buckets are ordered, do not overlap and have low <= high."""
    previous: int | None = -1
    for low, high in buckets:
        if low < 0 or (high is not None and high < low):
            raise ValueError(f"dpd bucket {low}-{high} is empty or negative")
        if previous is None or low <= previous:
            raise ValueError(f"dpd bucket {bucket_name((low, high))} overlaps the one before it")
        previous = high


def allocate(cases: Sequence[CaseRecord], agents: Sequence[AgentRecord], strategy: Strategy, *,
             buckets: Sequence[Bucket] = DEFAULT_BUCKETS, note: str = "") -> Allocation:
    """Hand the unassigned ``cases`` to the active ``agents`` by ``strategy``; ``note`` ends each reason."""
    strategy = Strategy(strategy)
    check_buckets(buckets)
    pool = sorted((c for c in cases if c.owner is None), key=lambda c: c.id)
    room = {a.id: max(0, a.cap - a.open_cases) for a in sorted(agents, key=lambda a: a.id) if a.active}
    suffix = f"; {note}" if note else ""
    if strategy is Strategy.SCORE:
        ranked = sorted(pool, key=lambda c: (c.score is None, -(c.score or 0.0), -c.amount, c.id))
        return _deal(ranked, room, lambda c, i: f"score: rank {i + 1} of {len(ranked)}"
                     f" (score {_score(c)}), dealt in turn{suffix}", Why.STRATEGY)
    if strategy is Strategy.MANUAL:
        return _deal(pool, room, lambda c, _: f"manual: chosen set split evenly{suffix}", Why.MANUAL)
    groups: dict[Bucket | None, list[CaseRecord]] = {}
    for case in pool:
        groups.setdefault(bucket_of(case.dpd, buckets), []).append(case)
    order = [b for b in (*buckets, None) if b in groups]
    if strategy is Strategy.EVEN_COUNT:
        ranked = [c for b in order for c in groups[b]]
        return _deal(ranked, room, lambda c, _: f"even-count in {bucket_name(bucket_of(c.dpd, buckets))}"
                     f"{suffix}", Why.STRATEGY)
    return _even_amount(order, groups, room, buckets, suffix)


def _deal(ranked: Sequence[CaseRecord], room: dict[str, int], reason: object, why: Why) -> Allocation:
    """Cases in order, each to the next agent in turn who has room (a ring of agents)."""
    ring = [a for a in room if room[a] > 0]
    left = dict(room)
    moves: list[Move] = []
    unplaced: list[CaseRecord] = []
    turn = 0
    for index, case in enumerate(ranked):
        while ring and left[ring[turn % len(ring)]] == 0:
            ring.pop(turn % len(ring))
        if not ring:
            unplaced.append(case)
            continue
        turn %= len(ring)
        agent = ring[turn]
        left[agent] -= 1
        moves.append(Move(case.id, None, agent, why, reason(case, index), case.version))  # type: ignore[operator]
        turn += 1
    return Allocation(moves, unplaced)


def _even_amount(order: Sequence[Bucket | None], groups: dict[Bucket | None, list[CaseRecord]],
                 room: dict[str, int], buckets: Sequence[Bucket], suffix: str) -> Allocation:
    left = dict(room)
    # heap of (amount given so far, cases given so far, agent id): the least-loaded agent on top
    heap = [(Decimal(0), 0, a) for a in room if room[a] > 0]
    heapq.heapify(heap)
    moves: list[Move] = []
    unplaced: list[CaseRecord] = []
    for bucket in order:
        for case in sorted(groups[bucket], key=lambda c: (-c.amount, c.id)):
            if not heap:
                unplaced.append(case)
                continue
            total, count, agent = heapq.heappop(heap)
            left[agent] -= 1
            moves.append(Move(case.id, None, agent, Why.STRATEGY,
                              f"even-amount in {bucket_name(bucket)}: largest first, each to the agent "
                              f"with the least new amount so far ({total:,}){suffix}", case.version))
            if left[agent] > 0:
                heapq.heappush(heap, (total + case.amount, count + 1, agent))
    return Allocation(moves, unplaced)


def _score(case: CaseRecord) -> str:
    return "none" if case.score is None else f"{case.score:g}"


def buckets_from_starts(starts: Sequence[int]) -> tuple[Bucket, ...]:
    """(0, 30, 60) -> 0-29, 30-59, 60+ (the form the settings use)."""
    ends: list[int | None] = [s - 1 for s in starts[1:]]
    return tuple(zip(starts, [*ends, None], strict=True))
