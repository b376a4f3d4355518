"""Case list and case page (a debtor's whole history), each checked against who is asking."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.agents.records import CaseFilter
from bot.web.auth import ROLES, requires
from bot.web.cases import agent_cases, case_history, open_case
from bot.web.context import WebContext

LIST_LIMIT = 500


@requires(*ROLES)
def case_list(request: Request) -> Response:
    ctx: WebContext = request.app.state.ctx
    user = request.state.user
    today = ctx.clock().astimezone(ctx.zone).date()
    if user.role == "agent":
        cases = agent_cases(ctx.store, ctx.cases.cases_of(ctx.store, user.name, today), user.name, today)
    else:
        cases = ctx.store.list_cases(CaseFilter(limit=LIST_LIMIT), today=today)
    ctx.store.audit(user.name, "view", "cases", {"count": len(cases)})
    return ctx.render(request, "cases.html", cases=cases[:LIST_LIMIT], limit=LIST_LIMIT)


@requires(*ROLES)
def case_page(request: Request) -> Response:
    ctx: WebContext = request.app.state.ctx
    user = request.state.user
    debtor = open_case(ctx.store, user, request.path_params["debtor_id"], ctx.cases.owner)
    history = case_history(ctx.store, debtor, now=ctx.clock(), zone=ctx.zone)
    return ctx.render(request, "case.html", h=history, owner=ctx.cases.owner(ctx.store, debtor.id))


routes = [
    Route("/cases", case_list, methods=["GET"]),
    Route("/cases/{debtor_id:str}", case_page, methods=["GET"]),
]
