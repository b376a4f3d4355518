"""Case list and case page (a debtor's whole history), each checked against who is asking."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.web.auth import ROLES, requires
from bot.web.cases import case_history, days_past_due, open_case
from bot.web.context import WebContext

LIST_LIMIT = 500


@requires(*ROLES)
def case_list(request: Request) -> Response:
    ctx: WebContext = request.app.state.ctx
    user = request.state.user
    if user.role == "agent":
        ids = list(dict.fromkeys([*ctx.cases.cases_of(ctx.store, user.name),
                                  *sorted(ctx.store.popped_debtors(user.name))]))
        debtors = [ctx.store.get_debtor(i) for i in ids[:LIST_LIMIT]]
    else:
        debtors = ctx.store.debtors_page(limit=LIST_LIMIT)
    owners = {d.id: ctx.cases.owner(ctx.store, d.id) for d in debtors}
    ctx.store.audit(user.name, "view", "cases", {"count": len(debtors)})
    today = ctx.clock().astimezone(ctx.zone).date()
    return ctx.render(request, "cases.html", debtors=debtors, owners=owners, limit=LIST_LIMIT,
                      dpd={d.id: days_past_due(d, today) for d in debtors})


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
