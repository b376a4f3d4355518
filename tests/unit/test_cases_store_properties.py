"""Case ownership in a real store under random moves (hypothesis): caps hold, one owner or none,
the history replays to the owner, and a refused batch changes nothing."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, text

from bot.agents.records import CaseFilter, Move, Why
from bot.domain import Debtor
from bot.store.cases import AllocationRefused, CaseConflict
from bot.store.repo import open_store

CASES = [f"D{i}" for i in range(8)]
CAPS = {"a0": 3, "a1": 2, "a2": 4}

move_st = st.tuples(st.sampled_from(CASES), st.one_of(st.none(), st.sampled_from([*CAPS, "ghost"])),
                    st.sampled_from([0, 0, 0, -1, 1]))
batches_st = st.lists(st.lists(move_st, min_size=1, max_size=5), max_size=12)


def test_random_batches_keep_every_invariant(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    now = dt.datetime(2026, 12, 7, tzinfo=dt.UTC)
    store = open_store(url, clock=lambda: now)
    store.upsert_debtors([Debtor(id=c, name="N", phone=f"+8210000000{i:02d}", amount=Decimal(10))
                          for i, c in enumerate(CASES)])
    for agent, cap in CAPS.items():
        store.add_agent(agent, cap=cap)
    raw = create_engine(url)

    def snapshot() -> dict[str, tuple[str | None, int]]:
        return {c.id: (c.owner, c.version) for c in store.list_cases(CaseFilter())}

    @settings(max_examples=60, deadline=None)
    @given(batches_st)
    def run(batches: list) -> None:
        with raw.begin() as conn:
            conn.execute(text("DELETE FROM case_history"))
            conn.execute(text("DELETE FROM case_owners"))
        for batch in batches:
            before = snapshot()
            moves = [Move(case, before[case][0], to, Why.MANUAL, "test", before[case][1] + stale)
                     for case, to, stale in batch]
            try:
                store.apply_moves(moves, actor="prop")
            except (AllocationRefused, CaseConflict):
                assert snapshot() == before  # nothing of a refused batch is stored
                continue
            after = snapshot()
            for m in moves:
                assert after[m.case_id] == (m.to_agent, before[m.case_id][1] + 1)
        owned = snapshot()
        for agent, cap in CAPS.items():
            assert sum(1 for owner, _ in owned.values() if owner == agent) <= cap
        for case, (owner, version) in owned.items():
            history = store.case_history(case)
            assert len(history) == version
            assert (history[-1].to_agent if history else None) == owner
            for earlier, later in itertools.pairwise(history):
                assert later.from_agent == earlier.to_agent

    try:
        run()
    finally:
        raw.dispose()
        store.close()
