"""Plain records of agents and cases, shared by the store, the allocation policy, the CLI and the web.

A leaf module like ``bot.domain``: it imports nothing of collbot, so the store may use it
without reaching up into the policy.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum


class Why(StrEnum):
    """What kind of decision moved a case; the reason text says which one and why."""

    STRATEGY = "strategy"  # an allocation strategy (even-count, even-amount, score)
    RULE = "rule"  # a daily rule (unbind, hand-over, replenish)
    MANUAL = "manual"  # a person chose the case and the agent


@dataclass(frozen=True, slots=True)
class AgentRecord:
    """A collector. ``id`` is their login name in the web application."""

    id: str
    display_name: str
    active: bool
    cap: int  # most cases they may own at once
    team: str | None = None
    skills: tuple[str, ...] = ()
    open_cases: int = 0  # cases owned now


@dataclass(frozen=True, slots=True)
class CaseRecord:
    """A debt as the allocation sees it, with its owner (None: unassigned).

    ``dpd`` is days past due today (None: unknown; 0 also for a debt not yet due).
    ``since``, ``why`` and ``reason`` tell the last change of owner (None: never owned).
    ``version`` changes with every change of owner: pass it back when moving the case, so that
    a move based on a stale view is refused instead of silently undoing someone else's.
    """

    id: str
    name: str
    amount: Decimal
    currency: str
    dpd: int | None
    score: float | None
    owner: str | None
    since: dt.datetime | None
    why: Why | None
    reason: str
    version: int


@dataclass(frozen=True, slots=True)
class Move:
    """One change of owner: case ``case_id`` to ``to_agent`` (None: nobody).

    ``from_agent`` is the owner the decision saw, for showing it; the store checks ``version``
    and records the owner it finds (the same one, or the move is refused).
    """

    case_id: str
    from_agent: str | None
    to_agent: str | None
    why: Why
    reason: str
    version: int  # the version the decision was based on (0: never owned)


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """A stored change of owner: who did it, when, and why."""

    case_id: str
    from_agent: str | None
    to_agent: str | None
    at: dt.datetime
    why: Why
    reason: str
    actor: str


@dataclass(frozen=True, slots=True)
class CaseFilter:
    """Which cases to list; every bound is inclusive and None means no bound.

    ``owner`` and ``unassigned`` are exclusive. A dpd bound leaves out cases of unknown dpd
    unless ``unknown_dpd`` is set; a score bound leaves out cases without a score.
    """

    dpd_min: int | None = None
    dpd_max: int | None = None
    unknown_dpd: bool = False
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None
    score_min: float | None = None
    score_max: float | None = None
    owner: str | None = None
    unassigned: bool = False
    ids: tuple[str, ...] | None = None
    limit: int | None = None
    offset: int = 0
