"""Agents and case ownership in the store: versions, caps, history, filters (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from bot.agents.records import CaseFilter, Move, Why
from bot.domain import Debtor
from bot.store.cases import AllocationRefused, CaseConflict
from bot.store.repo import Store, open_store

NOW = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)
TODAY = NOW.date()


@pytest.fixture
def store(database_url: str) -> Store:
    with open_store(database_url, clock=lambda: NOW) as s:
        s.upsert_debtors([
            Debtor(id=f"D{i}", name=f"Name {i}", phone=f"+8210000000{i:02d}", amount=Decimal(100 * (i + 1)),
                   due_date=TODAY - dt.timedelta(days=10 * i) if i != 3 else None,
                   overdue_since=TODAY - dt.timedelta(days=10 * i) if i != 3 else None,
                   score=float(i * 100) if i % 2 == 0 else None)
            for i in range(6)
        ])
        s.add_agent("kim", display_name="Kim", cap=3)
        s.add_agent("lee", cap=2)
        yield s


def versions(store: Store, *ids: str) -> dict[str, int]:
    return {c.id: c.version for c in store.list_cases(CaseFilter(ids=ids))}


def test_assign_stores_owner_reason_and_history(store: Store) -> None:
    assert store.assign(["D1", "D2"], "kim", versions=versions(store, "D1", "D2"), reason="picked by hand",
                        actor="boss") == 2
    case = store.get_case("D1")
    assert (case.owner, case.why, case.reason, case.version, case.since) == (
        "kim", Why.MANUAL, "picked by hand", 1, NOW)
    assert [c.id for c in store.cases_of("kim")] == ["D1", "D2"]
    store.unassign(["D1"], versions={"D1": 1}, why=Why.RULE, reason="unbind: no contact in 30 days", actor="rules")
    history = store.case_history("D1")
    assert [(h.from_agent, h.to_agent, h.why, h.actor) for h in history] == [
        (None, "kim", Why.MANUAL, "boss"), ("kim", None, Why.RULE, "rules")]
    assert store.get_case("D1").owner is None
    assert store.get_agent("kim").open_cases == 1


def test_a_stale_version_loses_and_nothing_of_its_batch_is_stored(store: Store, database_url: str) -> None:
    seen = versions(store, "D1", "D2")
    with open_store(database_url, clock=lambda: NOW) as other:
        other.assign(["D1"], "lee", versions=seen, reason="first supervisor", actor="sup1")
    with pytest.raises(CaseConflict, match=r"case 'D1' was changed by someone else \(now owned by 'lee'"):
        store.assign(["D2", "D1"], "kim", versions=seen, reason="second supervisor", actor="sup2")
    assert store.get_case("D2").owner is None
    assert store.get_case("D1").owner == "lee"
    assert len(store.case_history("D1")) == 1


def test_a_cap_is_never_exceeded(store: Store) -> None:
    ids = ["D0", "D1", "D2"]
    with pytest.raises(AllocationRefused, match="'lee' would own 3 cases, over their cap of 2"):
        store.assign(ids, "lee", versions=versions(store, *ids), reason="too many", actor="boss")
    assert store.get_agent("lee").open_cases == 0
    store.assign(ids[:2], "lee", versions=versions(store, *ids), reason="fits", actor="boss")
    # handing one over to kim frees a place at lee, and moving within the cap is fine
    v = versions(store, "D0", "D2")
    store.apply_moves([Move("D0", "lee", "kim", Why.RULE, "hand-over", v["D0"]),
                       Move("D2", None, "lee", Why.RULE, "replenish", v["D2"])], actor="rules")
    assert (store.get_agent("lee").open_cases, store.get_agent("kim").open_cases) == (2, 1)


def test_unknown_agents_and_cases_and_inactive_agents_are_refused(store: Store) -> None:
    with pytest.raises(AllocationRefused, match="no agent 'park'"):
        store.assign(["D1"], "park", versions={"D1": 0}, reason="x", actor="boss")
    with pytest.raises(AllocationRefused, match="no case 'D99'"):
        store.assign(["D99"], "kim", versions={"D99": 0}, reason="x", actor="boss")
    store.update_agent("kim", active=False)
    with pytest.raises(AllocationRefused, match="'kim' is inactive"):
        store.assign(["D1"], "kim", versions={"D1": 0}, reason="x", actor="boss")
    with pytest.raises(AllocationRefused, match="already exists"):
        store.add_agent("lee", cap=1)
    with pytest.raises(AllocationRefused, match="moved twice"):
        store.assign(["D1", "D1"], "lee", versions={"D1": 0}, reason="x", actor="boss")
    assert store.case_history("D1") == []


def test_filters(store: Store) -> None:
    def ids(**kw: object) -> list[str]:
        return [c.id for c in store.list_cases(CaseFilter(**kw))]  # type: ignore[arg-type]

    assert ids(dpd_min=10, dpd_max=30) == ["D1", "D2"]  # D3 has no known dpd
    assert ids(dpd_min=10, dpd_max=30, unknown_dpd=True) == ["D1", "D2", "D3"]
    assert ids(unknown_dpd=True) == ["D3"]
    assert ids(dpd_max=0) == ["D0"]
    assert ids(amount_min=Decimal(200), amount_max=Decimal(300)) == ["D1", "D2"]
    assert ids(score_min=150) == ["D2", "D4"]
    store.assign(["D4"], "kim", versions={"D4": 0}, reason="x", actor="boss")
    assert ids(owner="kim") == ["D4"]
    assert ids(unassigned=True) == ["D0", "D1", "D2", "D3", "D5"]
    assert ids(limit=2, offset=1) == ["D1", "D2"]
    assert store.count_cases(CaseFilter(unassigned=True, limit=1)) == 5
    assert store.get_case("D4").dpd == 40
    assert store.get_case("D3").dpd is None


def test_agents_list_with_their_case_counts(store: Store) -> None:
    store.assign(["D0"], "lee", versions={"D0": 0}, reason="x", actor="boss")
    store.update_agent("kim", cap=10, team="late", display_name="Kim S.")
    assert [(a.id, a.display_name, a.cap, a.team, a.open_cases) for a in store.list_agents()] == [
        ("kim", "Kim S.", 10, "late", 0), ("lee", "lee", 2, None, 1)]
    with pytest.raises(AllocationRefused, match="cap -1"):
        store.update_agent("kim", cap=-1)


def test_two_supervisors_at_the_same_moment_one_wins(store: Store, database_url: str) -> None:
    import threading

    seen = versions(store, "D1", "D2")
    barrier = threading.Barrier(2)
    results: dict[str, str] = {}

    def supervisor(name: str, agent: str) -> None:
        with open_store(database_url, clock=lambda: NOW) as mine:
            barrier.wait()
            try:
                mine.assign(["D1", "D2"], agent, versions=seen, reason=f"by {name}", actor=name)
                results[name] = "won"
            except CaseConflict as exc:
                results[name] = str(exc)

    threads = [threading.Thread(target=supervisor, args=("sup1", "kim")),
               threading.Thread(target=supervisor, args=("sup2", "lee"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(results.values())[-1] == "won"
    loser = next(r for r in results.values() if r != "won")
    assert "was changed by someone else" in loser
    winner = next(n for n, r in results.items() if r == "won")
    assert {store.get_case(c).reason for c in ("D1", "D2")} == {f"by {winner}"}
    assert len(store.case_history("D1")) == 1


def test_a_selection_allocated_on_a_stale_page_is_refused(store: Store) -> None:
    from bot.agents.allocation import Strategy
    from bot.agents.service import plan_allocation
    from bot.config import AllocationSettings

    page = versions(store, "D1", "D2")  # what both supervisors' pages show
    first = plan_allocation(store, AllocationSettings(), Strategy.MANUAL, CaseFilter(), agent_ids=["kim"], seen=page)
    store.apply_moves(first.allocation.moves, actor="sup1")
    second = plan_allocation(store, AllocationSettings(), Strategy.MANUAL, CaseFilter(), agent_ids=["lee"], seen=page)
    with pytest.raises(CaseConflict, match="case 'D1' was changed by someone else"):
        store.apply_moves(second.allocation.moves, actor="sup2")
    assert {store.get_case(c).owner for c in ("D1", "D2")} == {"kim"}
    with pytest.raises(AllocationRefused, match="no case 'D77'"):
        plan_allocation(store, AllocationSettings(), Strategy.MANUAL, CaseFilter(), seen={"D77": 0})


def test_debtors_from_before_0007_get_their_dpd_from_the_due_date(database_url: str) -> None:
    from alembic import command
    from alembic.config import Config

    from bot.store.engine import MIGRATIONS, create_store_engine

    engine = create_store_engine(database_url)
    try:
        with engine.begin() as connection:
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS))
            config.set_main_option("path_separator", "os")
            config.attributes["connection"] = connection
            command.upgrade(config, "0005")
            connection.exec_driver_sql(
                "INSERT INTO debtors (id, name, phone, amount, currency, due_date, language, extra, created_at, "
                "updated_at) VALUES ('OLD', 'Kim', '+821055500012', '10.00', 'KRW', '2026-11-27', 'ko', '{}', "
                "'2025-01-01 00:00:00', '2025-01-01 00:00:00')")
    finally:
        engine.dispose()
    with open_store(database_url, clock=lambda: NOW) as store:
        case = store.get_case("OLD")
        assert (case.dpd, case.score, case.owner, case.version) == (10, None, None, 0)
        store.add_agent("kim", cap=1)
        store.assign(["OLD"], "kim", versions={"OLD": 0}, reason="after the upgrade", actor="boss")
        assert store.get_case("OLD").owner == "kim"
