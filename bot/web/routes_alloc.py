"""The allocation page: filter cases, pick agents, allocate in one click.

Each case checkbox carries the version of the case as the page showed it, so the store refuses
a move decided on a stale view (two supervisors on the same case: the first wins, the second
is told who owns it now). Caps are checked by the store in the same transaction; nothing of a
refused batch is stored.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, ImmutableMultiDict
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bot.agents.allocation import Strategy
from bot.agents.records import CaseFilter, Why
from bot.agents.service import plan_allocation, refuse_leftovers
from bot.errors import InputError
from bot.store.cases import CaseConflict
from bot.web.auth import BadForm, requires
from bot.web.context import WebContext

PAGE = 200
FILTER_FIELDS = ("dpd_min", "dpd_max", "amount_min", "amount_max", "score_min", "score_max", "owner")


@requires("supervisor", "admin")
def page(request: Request) -> Response:
    ctx: WebContext = request.app.state.ctx
    ctx.store.audit(request.state.user.name, "view", "allocate")
    try:
        values = _values(ctx, request.query_params)
    except InputError as exc:
        values = _values(ctx, ImmutableMultiDict())
        values["error"] = str(exc)
        return ctx.render(request, "allocate.html", status=400, **values)
    moved = request.query_params.get("moved", "")
    values["done"] = f"{moved} cases allocated" if moved.isdigit() else ""
    return ctx.render(request, "allocate.html", **values)


def _values(ctx: WebContext, query: Any, chosen: set[str] | None = None,
            agents_chosen: set[str] | None = None) -> dict[str, Any]:
    where = case_filter(query)
    today = ctx.clock().astimezone(ctx.zone).date()
    cases = ctx.store.list_cases(where, today=today)
    return {"cases": cases, "agents": ctx.store.list_agents(active_only=True), "q": {k: query.get(k, "") for k in
            FILTER_FIELDS}, "limit": PAGE, "chosen": chosen or set(), "agents_chosen": agents_chosen or set(),
            "done": ""}


def case_filter(query: Any) -> CaseFilter:
    """The filter the form asks for, or InputError naming the bad field."""
    def number(name: str, kind: type) -> Any:
        raw = str(query.get(name) or "").strip().replace(",", "")
        if not raw:
            return None
        try:
            value = kind(raw)
        except (ValueError, InvalidOperation):
            raise InputError(f"{name.replace('_', ' ')}: not a number") from None
        if value < 0:
            raise InputError(f"{name.replace('_', ' ')}: must not be negative")
        return value

    owner = str(query.get("owner") or "").strip()
    return CaseFilter(dpd_min=number("dpd_min", int), dpd_max=number("dpd_max", int),
                      amount_min=number("amount_min", Decimal), amount_max=number("amount_max", Decimal),
                      score_min=number("score_min", float), score_max=number("score_max", float),
                      owner=owner if owner and owner != "-" else None, unassigned=owner == "-", limit=PAGE)


@requires("supervisor", "admin")
async def submit(request: Request) -> Response:
    return await run_in_threadpool(_submit, request, await request.form())


def _submit(request: Request, form: FormData) -> Response:
    ctx: WebContext = request.app.state.ctx
    actor = request.state.user.name
    picked = [str(v) for v in form.getlist("case")]
    agents = sorted({str(v) for v in form.getlist("agent")})
    status = 400
    try:
        ctx.tokens.check(request, form.get("csrf"))
        versions = _versions(picked)
        if not versions:
            raise InputError("choose at least one case")
        if not agents:
            raise InputError("choose at least one agent")
        reason = f"web: chosen by {actor}"
        if len(agents) == 1:
            # one agent: hand the chosen cases over, owned ones included
            moved = ctx.store.assign(sorted(versions), agents[0], versions=versions, why=Why.MANUAL, reason=reason,
                                     actor=actor)
        else:
            moved = _split(ctx, versions, agents, reason, actor)
    except CaseConflict as exc:
        status, message = 409, str(exc)
    except (BadForm, InputError) as exc:  # AllocationRefused (caps, unknown agents) is an InputError
        message = str(exc)
    else:
        ctx.store.audit(actor, "allocate", f"cases:{len(versions)}", {"agents": agents, "moved": moved,
                                                                      "cases": sorted(versions)[:50]})
        back = str(form.get("back") or "")
        sep = "&" if "?" in back else "?"
        return RedirectResponse(f"{back if back.startswith('/allocate') else '/allocate'}{sep}moved={moved}",
                                status_code=303)
    ctx.store.audit(actor, "allocate_refused", f"cases:{len(picked)}", {"agents": agents, "why": message[:200]})
    try:
        values = _values(ctx, form, chosen=set(picked), agents_chosen=set(agents))
    except InputError:
        values = _values(ctx, ImmutableMultiDict(), chosen=set(picked), agents_chosen=set(agents))
    return ctx.render(request, "allocate.html", status=status, error=message, **values)


def _versions(picked: list[str]) -> dict[str, int]:
    versions: dict[str, int] = {}
    for value in picked:
        case_id, _, version = value.rpartition(":")
        if not case_id or not version.isdigit():
            raise InputError("the form names a case badly: reload the page")
        versions[case_id] = int(version)
    return versions


def _split(ctx: WebContext, versions: dict[str, int], agents: list[str], reason: str, actor: str) -> int:
    """Several agents: the chosen cases split evenly among them (the manual strategy), as seen
    on the page: a case someone moved since is refused (CaseConflict), as are leftovers over a cap."""
    plan = plan_allocation(ctx.store, ctx.allocation, Strategy.MANUAL, CaseFilter(), agent_ids=agents,
                           note=reason, seen=versions, today=ctx.clock().astimezone(ctx.zone).date())
    refuse_leftovers(plan)
    return ctx.store.apply_moves(plan.allocation.moves, actor=actor)


routes = [
    Route("/allocate", page, methods=["GET"]),
    Route("/allocate", submit, methods=["POST"]),
]
