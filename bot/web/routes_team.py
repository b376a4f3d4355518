"""Supervisor pages: the team's states and the audit trail (the seed of the supervisor dashboard)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.web.auth import requires
from bot.web.context import WebContext


@requires("supervisor", "admin")
def team(request: Request) -> Response:
    ctx: WebContext = request.app.state.ctx
    users = [u for u in ctx.store.web_users() if u.role == "agent"]
    states = {s.agent: s for s in ctx.store.agent_states()}
    ctx.store.audit(request.state.user.name, "view", "team")
    return ctx.render(request, "team.html", agents=users, states=states,
                      connected={u.name: ctx.desk.connected(u.name) for u in users})


@requires("supervisor", "admin")
def audit(request: Request) -> Response:
    ctx: WebContext = request.app.state.ctx
    who = request.query_params.get("user") or None
    entries = ctx.store.audit_entries(limit=300, user=who)
    ctx.store.audit(request.state.user.name, "view", "audit", {"user": who} if who else {})
    return ctx.render(request, "audit.html", entries=entries, who=who or "")


routes = [
    Route("/team", team, methods=["GET"]),
    Route("/audit", audit, methods=["GET"]),
]
