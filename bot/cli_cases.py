"""`collbot cases allocate|rules|show|assign|unassign` and `collbot agents add|list|set-cap|activate|deactivate`
(registered by bot.cli)."""

from __future__ import annotations

import datetime as dt
import getpass
import re
import sys
from collections import Counter
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from bot.agents.records import CaseFilter, CaseRecord, Move
    from bot.store.repo import Store

cases_app = typer.Typer(no_args_is_help=True, help="Cases of human collectors: allocate, daily rules, show.")
agents_app = typer.Typer(no_args_is_help=True, help="Human collectors (agents): add, list, caps.")
out = Console(width=None if sys.stdout.isatty() else 140)

DryRun = Annotated[bool, typer.Option("--dry-run", help="Show what would move and why; store nothing.")]
Actor = Annotated[str | None, typer.Option("--actor", help="Who is recorded as doing it (default: cli:$USER).")]


def register(app: typer.Typer) -> None:
    app.add_typer(cases_app, name="cases")
    app.add_typer(agents_app, name="agents")


def _settings():
    from bot.cli import settings

    return settings()


def _store() -> Store:
    from bot.store.repo import open_store

    return open_store(_settings().database.url)


def _actor(actor: str | None) -> str:
    if actor:
        return actor[:64]
    try:
        return f"cli:{getpass.getuser()}"[:64]
    except (KeyError, OSError):
        return "cli"


# --- cases -------------------------------------------------------------------------------------


@cases_app.command("allocate")
def allocate_cmd(
    strategy: Annotated[str, typer.Option("--strategy", help="even-count, even-amount, score or manual.")],
    dpd: Annotated[str | None, typer.Option("--dpd", help="Days past due: 30-60, 90- , -29 or unknown.")] = None,
    amount: Annotated[str | None, typer.Option("--amount", help="Amount range, e.g. 100000-500000.")] = None,
    score: Annotated[str | None, typer.Option("--score", help="Score range, e.g. 600-1000.")] = None,
    agents: Annotated[str | None, typer.Option("--agents", help="Comma-separated agent ids (default: all active).")]
    = None,
    partial: Annotated[bool, typer.Option("--partial", help="Allocate what fits under the caps; leave the rest.")]
    = False,
    reason: Annotated[str, typer.Option("--reason", help="Note added to every stored reason.")] = "",
    dry_run: DryRun = False,
    actor: Actor = None,
) -> None:
    """Allocate the unassigned cases that match the filters to agents, evenly or by score."""
    from bot.agents.allocation import Strategy
    from bot.agents.service import plan_allocation, refuse_leftovers
    from bot.errors import InputError

    try:
        chosen = Strategy(strategy)
    except ValueError:
        raise InputError(f"--strategy {strategy!r} is not one of {', '.join(s.value for s in Strategy)}") from None
    where = case_filter(dpd=dpd, amount=amount, score=score)
    agent_ids = [a.strip() for a in agents.split(",") if a.strip()] if agents else None
    if agents is not None and not agent_ids:
        raise InputError("--agents names no agent")
    note = reason.strip()
    with _store() as store:
        plan = plan_allocation(store, _settings().allocation, chosen, where, agent_ids=agent_ids, note=note)
        if not partial:
            refuse_leftovers(plan)
        moves = plan.allocation.moves
        _allocation_table(plan.cases, moves, [a.id for a in plan.agents])
        if plan.allocation.left:
            out.print(f"{len(plan.allocation.left)} cases stay unassigned: every chosen agent is at their cap")
        if dry_run:
            out.print(f"dry run: {len(moves)} cases would be allocated ({chosen.value}); nothing was stored")
            return
        stored = store.apply_moves(moves, actor=_actor(actor))
    out.print(f"allocated {stored} cases ({chosen.value})")


@cases_app.command("rules")
def rules_cmd(dry_run: DryRun = False, actor: Actor = None,
              show_kept: Annotated[bool, typer.Option("--all", help="Also list the cases that stay.")] = False,
              limit: Annotated[int, typer.Option("--limit", min=0, help="Most decisions listed.")] = 500) -> None:
    """Run the daily rules (retain, unbind, hand-over, replenish): each decision with its reason."""
    from bot.agents.service import plan_rules

    now = dt.datetime.now(dt.UTC)
    with _store() as store:
        decisions = plan_rules(store, _settings().allocation, now=now)
        table = Table(title=f"daily rules {now:%Y-%m-%d %H:%M} UTC" + (" (dry run)" if dry_run else ""))
        for column in ("case", "rule", "from", "to", "reason"):
            table.add_column(column)
        listed = [d for d in decisions if d.move is not None or show_kept]
        for d in listed[:limit]:
            table.add_row(d.case_id, d.rule, (d.move.from_agent or "-") if d.move else "", (d.move.to_agent or "-")
                          if d.move else "", d.reason)
        out.print(table)
        if len(listed) > limit:
            out.print(f"... and {len(listed) - limit} more decisions not listed (raise --limit)")
        counts = Counter(d.rule for d in decisions)
        moves = [d.move for d in decisions if d.move is not None]
        summary = ", ".join(f"{rule} {counts[rule]}" for rule in ("retain", "unbind", "hand-over", "replenish", "keep")
                            if counts[rule])
        if dry_run:
            out.print(f"dry run: {len(moves)} cases would move ({summary or 'nothing owned'}); nothing was stored")
            return
        stored = store.apply_moves(moves, actor=_actor(actor or "rules"))
    out.print(f"moved {stored} cases ({summary or 'nothing owned'})")


@cases_app.command("show")
def show_cmd(agent: Annotated[str | None, typer.Option("--agent", help="List this agent's cases.")] = None,
             case: Annotated[str | None, typer.Option("--case", help="Show one case and its history.")] = None,
             dpd: Annotated[str | None, typer.Option("--dpd", help="Filter: days past due range.")] = None,
             unassigned: Annotated[bool, typer.Option("--unassigned", help="List the unassigned cases.")] = False,
             limit: Annotated[int, typer.Option("--limit", min=1, help="Most cases listed.")] = 100) -> None:
    """Agents and their caseloads, one agent's cases, the unassigned cases, or one case's history."""
    from bot.errors import InputError

    if sum(x is not None and x is not False for x in (agent, case, unassigned or None)) > 1:
        raise InputError("give at most one of --agent, --case and --unassigned")
    with _store() as store:
        if case is not None:
            _show_case(store, case)
            return
        if agent is not None or unassigned or dpd is not None:
            from dataclasses import replace

            if agent is not None:
                store.get_agent(agent)
            where = replace(case_filter(dpd=dpd), owner=agent, unassigned=unassigned, limit=limit)
            _cases_table(store.list_cases(where))
            return
        _overview(store)


@cases_app.command("assign")
def assign_cmd(case_ids: Annotated[list[str], typer.Argument(help="Case (debtor) ids.")],
               to: Annotated[str, typer.Option("--to", help="The agent who gets them.")],
               reason: Annotated[str, typer.Option("--reason", help="Why (stored).")] = "assigned by hand",
               dry_run: DryRun = False, actor: Actor = None) -> None:
    """Give chosen cases to one agent (a hand-over when they are owned), with a reason."""
    _manual(case_ids, to, reason, dry_run, actor)


@cases_app.command("unassign")
def unassign_cmd(case_ids: Annotated[list[str], typer.Argument(help="Case (debtor) ids.")],
                 reason: Annotated[str, typer.Option("--reason", help="Why (stored).")] = "unbound by hand",
                 dry_run: DryRun = False, actor: Actor = None) -> None:
    """Take chosen cases away from their agents, with a reason."""
    _manual(case_ids, None, reason, dry_run, actor)


def _manual(case_ids: Sequence[str], to: str | None, reason: str, dry_run: bool, actor: str | None) -> None:
    from bot.agents.records import CaseFilter, Move, Why
    from bot.store.cases import AllocationRefused

    with _store() as store:
        if to is not None:
            store.get_agent(to)
        found = {c.id: c for c in store.list_cases(CaseFilter(ids=tuple(case_ids)))}
        for case_id in case_ids:
            if case_id not in found:
                raise AllocationRefused(f"no case {case_id!r}")
        moves = [Move(c, found[c].owner, to, Why.MANUAL, f"manual: {reason}", found[c].version)
                 for c in dict.fromkeys(case_ids)]
        for m in moves:
            out.print(f"{m.case_id}: {m.from_agent or '-'} -> {m.to_agent or '-'} ({m.reason})")
        if dry_run:
            out.print(f"dry run: {len(moves)} cases would move; nothing was stored")
            return
        stored = store.apply_moves(moves, actor=_actor(actor))
    out.print(f"moved {stored} cases")


# --- agents ------------------------------------------------------------------------------------


@agents_app.command("add")
def agents_add_cmd(agent_id: Annotated[str, typer.Argument(help="Login name in the web application.")],
                   name: Annotated[str, typer.Option("--name", help="Display name.")] = "",
                   cap: Annotated[int | None, typer.Option("--cap", help="Most cases at once (default: setting).")]
                   = None,
                   team: Annotated[str | None, typer.Option("--team", help="Team (optional).")] = None) -> None:
    """Add an active agent."""
    with _store() as store:
        added = store.add_agent(agent_id, display_name=name, cap=cap if cap is not None
                                else _settings().allocation.default_cap, team=team)
    out.print(f"added agent {added.id!r} (cap {added.cap})")


@agents_app.command("list")
def agents_list_cmd() -> None:
    """Every agent with their caseload and cap."""
    with _store() as store:
        _agents_table(store)


@agents_app.command("set-cap")
def agents_set_cap_cmd(agent_id: Annotated[str, typer.Argument(help="Agent id.")],
                       cap: Annotated[int, typer.Argument(help="Most cases at once.")]) -> None:
    """Change an agent's cap (a lower cap takes nothing away: they get no new cases until under it)."""
    with _store() as store:
        agent = store.update_agent(agent_id, cap=cap)
    over = f"; they own {agent.open_cases}, over the cap" if agent.open_cases > agent.cap else ""
    out.print(f"agent {agent.id!r}: cap {agent.cap}{over}")


@agents_app.command("deactivate")
def agents_deactivate_cmd(agent_id: Annotated[str, typer.Argument(help="Agent id.")]) -> None:
    """An inactive agent gets no cases; the daily rules unbind the ones they own."""
    with _store() as store:
        store.update_agent(agent_id, active=False)
    out.print(f"agent {agent_id!r} is inactive")


@agents_app.command("activate")
def agents_activate_cmd(agent_id: Annotated[str, typer.Argument(help="Agent id.")]) -> None:
    """Make an agent active again."""
    with _store() as store:
        store.update_agent(agent_id, active=True)
    out.print(f"agent {agent_id!r} is active")


# --- parsing and tables ----------------------------------------------------------------------

_RANGE = re.compile(r"\s*([0-9][0-9,.]*)?\s*-\s*([0-9][0-9,.]*)?\s*|\s*([0-9][0-9,.]*)\s*")


def parse_range(option: str, text: str) -> tuple[Decimal | None, Decimal | None]:
    """'30-60' -> (30, 60); '90-' and '-29' are open; '45' is 45-45."""
    from bot.errors import InputError

    match = _RANGE.fullmatch(text)
    if match is None or not any(match.groups()):
        raise InputError(f"{option} {text!r} is not a range such as 30-60, 90- or -29")
    low, high, single = match.groups()
    try:
        bounds = (Decimal((single or low).replace(",", "")) if (single or low) else None,
                  Decimal((single or high).replace(",", "")) if (single or high) else None)
    except InvalidOperation:
        raise InputError(f"{option} {text!r} is not a range such as 30-60, 90- or -29") from None
    if bounds[0] is not None and bounds[1] is not None and bounds[0] > bounds[1]:
        raise InputError(f"{option} {text!r}: the lower bound is above the upper one")
    return bounds


def case_filter(*, dpd: str | None = None, amount: str | None = None, score: str | None = None) -> CaseFilter:
    from bot.agents.records import CaseFilter
    from bot.errors import InputError

    where = CaseFilter()
    if dpd is not None:
        if dpd.strip().lower() == "unknown":
            where = CaseFilter(unknown_dpd=True)
        else:
            low, high = parse_range("--dpd", dpd)
            if any(b is not None and b != int(b) for b in (low, high)):
                raise InputError(f"--dpd {dpd!r}: days are whole numbers")
            where = CaseFilter(dpd_min=int(low) if low is not None else None,
                               dpd_max=int(high) if high is not None else None)
    from dataclasses import replace

    if amount is not None:
        low, high = parse_range("--amount", amount)
        where = replace(where, amount_min=low, amount_max=high)
    if score is not None:
        low, high = parse_range("--score", score)
        where = replace(where, score_min=float(low) if low is not None else None,
                        score_max=float(high) if high is not None else None)
    return where


def _allocation_table(cases: Sequence[CaseRecord], moves: Sequence[Move], agent_ids: Sequence[str]) -> None:
    amount = {c.id: c.amount for c in cases}
    count: Counter[str] = Counter()
    total: dict[str, Decimal] = {a: Decimal(0) for a in agent_ids}
    for m in moves:
        count[m.to_agent or ""] += 1
        total[m.to_agent or ""] = total.get(m.to_agent or "", Decimal(0)) + amount[m.case_id]
    table = Table(title=f"{len(moves)} of {len(cases)} unassigned cases")
    for column in ("agent", "new cases", "new amount"):
        table.add_column(column, justify="left" if column == "agent" else "right")
    for agent_id in agent_ids:
        table.add_row(agent_id, str(count[agent_id]), f"{total[agent_id]:,}")
    out.print(table)


def _agents_table(store: Store) -> None:
    table = Table(title="agents")
    for column in ("agent", "name", "active", "cases", "cap", "team"):
        table.add_column(column)
    for a in store.list_agents():
        table.add_row(a.id, a.display_name, "yes" if a.active else "no", str(a.open_cases), str(a.cap), a.team or "")
    out.print(table)


def _overview(store: Store) -> None:
    from bot.agents.allocation import bucket_name, bucket_of, buckets_from_starts
    from bot.agents.records import CaseFilter

    _agents_table(store)
    buckets = buckets_from_starts(_settings().allocation.dpd_buckets)
    free = store.list_cases(CaseFilter(unassigned=True))
    by_bucket = Counter(bucket_name(bucket_of(c.dpd, buckets)) for c in free)
    out.print(f"{len(free)} unassigned cases" + (": " + ", ".join(f"{k} {v}" for k, v in sorted(by_bucket.items()))
                                                 if free else ""))


def _cases_table(cases: Sequence[CaseRecord]) -> None:
    table = Table(title=f"{len(cases)} cases")
    for column in ("case", "amount", "dpd", "score", "owner", "since", "why", "reason"):
        table.add_column(column)
    for c in cases:
        table.add_row(c.id, f"{c.amount:,} {c.currency}", "?" if c.dpd is None else str(c.dpd),
                      "" if c.score is None else f"{c.score:g}", c.owner or "-", _when(c.since),
                      c.why.value if c.why else "", c.reason)
    out.print(table)


def _show_case(store: Store, case_id: str) -> None:
    c = store.get_case(case_id)
    out.print(f"case {c.id}: {c.amount:,} {c.currency}, dpd {'unknown' if c.dpd is None else c.dpd}, "
              f"score {'none' if c.score is None else f'{c.score:g}'}, owner {c.owner or 'none'} "
              f"(version {c.version})")
    table = Table(title="history")
    for column in ("at", "from", "to", "why", "by", "reason"):
        table.add_column(column)
    for h in store.case_history(case_id):
        table.add_row(_when(h.at), h.from_agent or "-", h.to_agent or "-", h.why.value, h.actor, h.reason)
    out.print(table)


def _when(at: dt.datetime | None) -> str:
    return "" if at is None else f"{at:%Y-%m-%d %H:%M}"
