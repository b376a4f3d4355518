"""How fast case allocation is: 100,000 cases among 200 agents, the pure policy and with the store.

    .venv/bin/python bench/allocation.py [--cases 100000] [--agents 200] [--repeat 3] [--no-postgres]

Pure: each strategy (even-count, even-amount, score) on synthetic cases (amounts 10,000-5,000,000,
dpd 0-400 or unknown for 2%, a score 0-1000 or none for 10%) for agents with room for all of
them; and the daily rules over the same cases all owned. Best of ``--repeat`` runs.

Stored: a fresh database (a temporary SQLite file; a throwaway PostgreSQL cluster when its
server binaries are installed) with the debtors and agents inserted (not timed); then, timed,
what `collbot cases allocate --strategy even-count` does: read the unassigned cases, decide, and
store every move with its history in one transaction. Prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import random
import sys
import tempfile
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bot.agents.allocation import Strategy, allocate  # noqa: E402
from bot.agents.records import AgentRecord, CaseFilter, CaseRecord, Why  # noqa: E402
from bot.agents.rules import Activity, RuleSettings, run_rules  # noqa: E402

NOW = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)


def synthetic(n: int, seed: int = 7) -> list[tuple[str, Decimal, int | None, float | None]]:
    rng = random.Random(seed)
    return [(f"B{i:07d}", Decimal(rng.randrange(10, 5000) * 1000), None if rng.random() < 0.02 else rng.randrange(401),
             None if rng.random() < 0.1 else round(rng.uniform(0, 1000), 1)) for i in range(n)]


def records(rows: list[tuple[str, Decimal, int | None, float | None]]) -> list[CaseRecord]:
    return [CaseRecord(id=i, name="", amount=a, currency="KRW", dpd=d, score=s, owner=None, since=None, why=None,
                       reason="", version=0) for i, a, d, s in rows]


def agents_for(count: int, cases: int) -> list[AgentRecord]:
    cap = -(-cases // count) + 10
    return [AgentRecord(id=f"agent{i:03d}", display_name=f"Agent {i}", active=True, cap=cap) for i in range(count)]


def best(repeat: int, work: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def pure(cases: list[CaseRecord], agents: list[AgentRecord], repeat: int) -> None:
    print(f"pure policy, {len(cases):,} cases among {len(agents)} agents (best of {repeat}):")
    for strategy in (Strategy.EVEN_COUNT, Strategy.EVEN_AMOUNT, Strategy.SCORE):
        seconds = best(repeat, lambda s=strategy: allocate(cases, agents, s))
        print(f"  allocate {strategy.value:<12} {seconds:6.3f} s")
    moves = allocate(cases, agents, Strategy.EVEN_COUNT).moves
    owner = {m.case_id: m.to_agent for m in moves}
    owned = [CaseRecord(id=c.id, name="", amount=c.amount, currency="KRW", dpd=c.dpd, score=c.score,
                        owner=owner[c.id], since=NOW - dt.timedelta(days=i % 40), why=Why.STRATEGY, reason="",
                        version=1) for i, c in enumerate(cases)]
    activity = {c.id: Activity(last_contact=NOW - dt.timedelta(days=i % 50)) for i, c in enumerate(cases) if i % 3}
    rules = RuleSettings(unbind_days=30, handover_days=14, replenish_below=400, replenish_to=500)
    seconds = best(repeat, lambda: run_rules(owned, activity, agents, rules, now=NOW))
    decisions = run_rules(owned, activity, agents, rules, now=NOW)
    print(f"  daily rules, all owned   {seconds:6.3f} s ({sum(d.move is not None for d in decisions):,} moves)")


def stored(url: str, label: str, rows: list[tuple[str, Decimal, int | None, float | None]], agents: int) -> None:
    from bot.domain import Debtor
    from bot.store.repo import open_store

    with open_store(url) as store:
        today = NOW.date()
        for start in range(0, len(rows), 5000):
            store.upsert_debtors([Debtor(id=i, name="Kim", phone=f"+8210{5000 + n // 10_000:04d}{n % 10_000:04d}",
                                         amount=a, due_date=today, overdue_since=today - dt.timedelta(days=d)
                                         if d is not None else None, score=s)
                                  for n, (i, a, d, s) in enumerate(rows[start:start + 5000], start)])
        for agent in agents_for(agents, len(rows)):
            store.add_agent(agent.id, display_name=agent.display_name, cap=agent.cap)
        started = time.perf_counter()
        cases = store.list_cases(CaseFilter(unassigned=True))
        people = store.list_agents(active_only=True)
        read = time.perf_counter()
        plan = allocate(cases, people, Strategy.EVEN_COUNT)
        decided = time.perf_counter()
        store.apply_moves(plan.moves, actor="bench")
        done = time.perf_counter()
        owned = sum(a.open_cases for a in store.list_agents())
    print(f"{label}: read {read - started:.2f} s, allocate {decided - read:.2f} s, store {done - decided:.2f} s, "
          f"total {done - started:.2f} s ({owned:,} cases owned)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    args = parser.parse_args()
    rows = synthetic(args.cases)
    pure(records(rows), agents_for(args.agents, args.cases), args.repeat)
    print(f"stored, even-count, {args.cases:,} cases among {args.agents} agents (one run each):")
    with tempfile.TemporaryDirectory() as tmp:
        stored(f"sqlite:///{tmp}/bench.db", "  SQLite    ", rows, args.agents)
    if args.no_postgres:
        return
    from import_export import fresh_database, postgres

    with contextlib.ExitStack() as stack:
        server = stack.enter_context(postgres())
        if server is None:
            print("  PostgreSQL: not installed, skipped")
            return
        stored(fresh_database(server, "allocation"), "  PostgreSQL", rows, args.agents)


if __name__ == "__main__":
    main()
