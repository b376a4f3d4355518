"""Allocation strategies and daily rules: properties checked with hypothesis, plus worked examples."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.agents.allocation import DEFAULT_BUCKETS, Strategy, allocate, bucket_of, check_buckets
from bot.agents.records import AgentRecord, CaseRecord, Why
from bot.agents.rules import Activity, RuleSettings, apply_moves, run_rules

NOW = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)


def case(i: int, *, amount: int = 100, dpd: int | None = 10, score: float | None = None,
         owner: str | None = None, since: dt.datetime | None = None, why: Why | None = None,
         version: int = 0) -> CaseRecord:
    return CaseRecord(id=f"C{i:05d}", name="", amount=Decimal(amount), currency="KRW", dpd=dpd, score=score,
                      owner=owner, since=since, why=why, reason="", version=version)


def agent(name: str, cap: int = 1000, open_cases: int = 0, active: bool = True) -> AgentRecord:
    return AgentRecord(id=name, display_name=name, active=active, cap=cap, open_cases=open_cases)


cases_st = st.lists(
    st.builds(lambda amount, dpd, score, owned: (amount, dpd, score, owned),
              st.integers(1, 10_000), st.one_of(st.none(), st.integers(0, 400)),
              st.one_of(st.none(), st.floats(0, 1000)), st.booleans()),
    max_size=60)
agents_st = st.lists(st.tuples(st.integers(0, 25), st.integers(0, 10), st.booleans()), min_size=1, max_size=6)


def build(raw_cases: list, raw_agents: list) -> tuple[list[CaseRecord], list[AgentRecord]]:
    agents = [agent(f"a{i}", cap=cap, open_cases=min(open_, cap), active=active)
              for i, (cap, open_, active) in enumerate(raw_agents)]
    cases = [case(i, amount=a, dpd=d, score=s, owner="a0" if owned else None, since=NOW - dt.timedelta(days=3),
                  why=Why.MANUAL if owned else None, version=1 if owned else 0)
             for i, (a, d, s, owned) in enumerate(raw_cases)]
    return cases, agents


@settings(max_examples=200, deadline=None)
@given(cases_st, agents_st, st.sampled_from(list(Strategy)))
def test_caps_are_never_exceeded_and_each_case_gets_one_owner(raw_cases: list, raw_agents: list,
                                                             strategy: Strategy) -> None:
    cases, agents = build(raw_cases, raw_agents)
    result = allocate(cases, agents, strategy)
    given_to = Counter(m.to_agent for m in result.moves)
    for a in agents:
        assert a.open_cases + given_to[a.id] <= a.cap
        if not a.active:
            assert given_to[a.id] == 0
    moved = [m.case_id for m in result.moves]
    assert len(moved) == len(set(moved))  # exactly one owner, never two
    unassigned = {c.id for c in cases if c.owner is None}
    assert set(moved) | {c.id for c in result.left} == unassigned
    assert not set(moved) & {c.id for c in result.left}
    # nobody is left out while someone active still has room
    room = sum(max(0, a.cap - a.open_cases) for a in agents if a.active)
    assert len(result.left) == max(0, len(unassigned) - room)


def _full(agents: list[AgentRecord], given: Counter) -> set[str]:
    return {a.id for a in agents if a.open_cases + given[a.id] >= a.cap}


@settings(max_examples=200, deadline=None)
@given(cases_st, agents_st)
def test_even_count_differs_by_at_most_one_case_overall_and_per_bucket(raw_cases: list, raw_agents: list) -> None:
    cases, agents = build(raw_cases, raw_agents)
    result = allocate(cases, agents, Strategy.EVEN_COUNT)
    given = Counter(m.to_agent for m in result.moves)
    full = _full(agents, given)
    active = [a.id for a in agents if a.active]
    for x in active:
        for y in active:
            if y not in full:  # only a full agent may be more than one behind
                assert given[x] - given[y] <= 1
    if active and not full:
        dpd = {c.id: c.dpd for c in cases}
        for bucket in (*DEFAULT_BUCKETS, None):
            in_bucket = Counter(m.to_agent for m in result.moves
                                if bucket_of(dpd[m.case_id], DEFAULT_BUCKETS) == bucket)
            counts = [in_bucket[a] for a in active]
            assert max(counts) - min(counts) <= 1


@settings(max_examples=200, deadline=None)
@given(cases_st, agents_st)
def test_even_amount_differs_by_at_most_the_largest_amount(raw_cases: list, raw_agents: list) -> None:
    cases, agents = build(raw_cases, raw_agents)
    result = allocate(cases, agents, Strategy.EVEN_AMOUNT)
    amount = {c.id: c.amount for c in cases}
    given = Counter(m.to_agent for m in result.moves)
    total = {a.id: sum((amount[m.case_id] for m in result.moves if m.to_agent == a.id), Decimal(0)) for a in agents}
    largest = max((amount[m.case_id] for m in result.moves), default=Decimal(0))
    full = _full(agents, given)
    active = [a.id for a in agents if a.active]
    for x in active:
        for y in active:
            if y not in full:
                assert total[x] - total[y] <= largest


def test_score_deals_the_best_cases_in_turn_and_unknown_scores_last() -> None:
    cases = [case(1, score=0.9), case(2, score=None, amount=999), case(3, score=0.5), case(4, score=0.7)]
    moves = allocate(cases, [agent("a"), agent("b")], Strategy.SCORE).moves
    assert [(m.case_id, m.to_agent) for m in moves] == [("C00001", "a"), ("C00004", "b"), ("C00003", "a"),
                                                       ("C00002", "b")]
    assert moves[0].reason == "score: rank 1 of 4 (score 0.9), dealt in turn"
    assert moves[3].why is Why.STRATEGY


def test_even_count_keeps_buckets_even_and_names_them() -> None:
    cases = [case(i, dpd=d) for i, d in enumerate([5, 5, 5, 40, 40, 40, None])]
    moves = allocate(cases, [agent("a"), agent("b")], Strategy.EVEN_COUNT).moves
    assert [m.to_agent for m in moves] == ["a", "b", "a", "b", "a", "b", "a"]
    assert moves[3].reason == "even-count in dpd 30-59"
    assert moves[6].reason == "even-count in dpd unknown"


def test_a_full_agent_is_skipped_and_the_rest_is_left() -> None:
    result = allocate([case(i) for i in range(5)], [agent("a", cap=1), agent("b", cap=3, open_cases=1)],
                      Strategy.MANUAL, note="by boss")
    assert [m.to_agent for m in result.moves] == ["a", "b", "b"]
    assert [c.id for c in result.left] == ["C00003", "C00004"]
    assert result.moves[0].why is Why.MANUAL and result.moves[0].reason.endswith("; by boss")


def test_bad_buckets_are_refused() -> None:
    with pytest.raises(ValueError, match="overlaps"):
        check_buckets([(0, 30), (30, 60)])
    with pytest.raises(ValueError, match="empty"):
        check_buckets([(10, 5)])


# --- daily rules -----------------------------------------------------------------------------

SETTINGS = RuleSettings(unbind_days=30, handover_days=14, replenish_below=2, replenish_to=3)


def test_each_rule_with_its_reason() -> None:
    agents = [agent("kim", cap=5), agent("lee", cap=5), agent("old", active=False)]
    cases = [
        case(1, owner="kim", since=NOW - dt.timedelta(days=40)),  # promise pending: retain
        case(2, owner="kim", since=NOW - dt.timedelta(days=40)),  # last contact 35 days ago: unbind
        case(3, owner="kim", since=NOW - dt.timedelta(days=20)),  # contact, no promise: hand-over
        case(4, owner="old", since=NOW - dt.timedelta(days=1)),  # inactive agent: unbind
        case(5, owner="kim", since=NOW - dt.timedelta(days=2)),  # keep
        case(6, score=0.9), case(7, score=0.1), case(8),  # the pool
    ]
    activity = {
        "C00001": Activity(pending_promise="500,000 by 2026-12-10", last_promise=NOW - dt.timedelta(days=1)),
        "C00002": Activity(last_contact=NOW - dt.timedelta(days=35)),
        "C00003": Activity(last_contact=NOW - dt.timedelta(days=3)),
    }
    decisions = {d.case_id: d for d in run_rules(cases, activity, agents, SETTINGS, now=NOW)}
    assert decisions["C00001"].rule == "retain" and decisions["C00001"].move is None
    assert decisions["C00001"].reason == "retain: promise pending (500,000 by 2026-12-10)"
    assert decisions["C00002"].rule == "unbind" and decisions["C00002"].move.to_agent is None
    assert decisions["C00002"].reason == "unbind: no contact in 35 days (last contact 2026-11-02; limit 30)"
    assert decisions["C00003"].move.to_agent == "lee"
    assert decisions["C00003"].reason == "hand-over: 14+ days with 'kim' without a promise: to 'lee' (most room)"
    assert decisions["C00004"].reason == "unbind: agent 'old' is inactive"
    assert decisions["C00005"].rule == "keep"
    # kim keeps C1 and C5 (2 cases, not under 2); lee has C3 (1 < 2): topped up to 3, best score first
    assert [(d.case_id, d.move.to_agent) for d in decisions.values() if d.rule == "replenish"] == [
        ("C00006", "lee"), ("C00007", "lee")]


def test_a_case_unbound_today_rests_until_tomorrow() -> None:
    cases = [case(1, since=NOW - dt.timedelta(hours=2), why=Why.RULE, version=2)]
    assert run_rules(cases, {}, [agent("kim")], SETTINGS, now=NOW) == []
    tomorrow = run_rules(cases, {}, [agent("kim")], SETTINGS, now=NOW + dt.timedelta(days=1))
    assert [(d.rule, d.move.to_agent, d.move.version) for d in tomorrow] == [("replenish", "kim", 2)]


activity_st = st.dictionaries(
    st.integers(0, 40).map(lambda i: f"C{i:05d}"),
    st.builds(Activity, last_contact=st.one_of(st.none(), st.integers(0, 60).map(lambda d: NOW - dt.timedelta(days=d))),
              last_promise=st.one_of(st.none(), st.integers(0, 60).map(lambda d: NOW - dt.timedelta(days=d))),
              pending_promise=st.one_of(st.none(), st.just("100 by 2026-12-09"))))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.one_of(st.none(), st.integers(0, 4)), st.integers(0, 60), st.booleans()), max_size=40),
       st.lists(st.tuples(st.integers(0, 8), st.booleans()), min_size=1, max_size=5), activity_st,
       st.builds(RuleSettings, unbind_days=st.integers(0, 40), handover_days=st.integers(0, 20),
                 replenish_below=st.integers(0, 6), replenish_to=st.integers(0, 8)),
       st.integers(0, 20))
def test_rules_keep_caps_one_owner_and_are_idempotent_the_same_day(raw: list, raw_agents: list, activity: dict,
                                                                    rules: RuleSettings, later_hours: int) -> None:
    agents = [agent(f"a{i}", cap=cap, active=active) for i, (cap, active) in enumerate(raw_agents)]
    names = [a.id for a in agents]
    cases = []
    for i, (owner, days, by_rule) in enumerate(raw):
        who = names[owner % len(names)] if owner is not None else None
        cases.append(case(i, owner=who, since=NOW - dt.timedelta(days=days), version=1,
                          why=Why.RULE if by_rule else Why.MANUAL, score=float(i % 7)))
    before = Counter(c.owner for c in cases)
    decisions = run_rules(cases, activity, agents, rules, now=NOW)
    moves = [d.move for d in decisions if d.move is not None]
    assert len({m.case_id for m in moves}) == len(moves)
    after = apply_moves(cases, moves, now=NOW)
    owners = Counter(c.owner for c in after)
    for a in agents:
        received = sum(1 for m in moves if m.to_agent == a.id)
        if received:  # an agent over their cap (cap lowered) may keep cases, never gain them
            assert owners[a.id] <= a.cap and a.active
        else:
            assert owners[a.id] <= before[a.id]
    for m in moves:
        assert m.version == next(c.version for c in cases if c.id == m.case_id)
    second = run_rules(after, activity, agents, rules, now=NOW.replace(hour=0) + dt.timedelta(hours=later_hours))
    assert [d for d in second if d.move is not None] == []
