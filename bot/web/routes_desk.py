"""The agent's desk: state, screen pop, wrap-up, and the live event stream."""

from __future__ import annotations

import json
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from bot.errors import InputError, StoreError
from bot.store.desk import DeskEvent
from bot.web.agent_state import switch
from bot.web.auth import BadForm, requires
from bot.web.cases import agent_cases
from bot.web.context import WebContext
from bot.web.dispositions import BY_CODE, DISPOSITIONS, SUPPRESSING, wrap_up_detail
from bot.web.summary import CallSummary

KEEPALIVE_S = 15.0


def desk_values(ctx: WebContext, request: Request, error: str | None = None,
                form: dict[str, str] | None = None) -> dict[str, Any]:
    agent = request.state.user.name
    pops = ctx.store.open_pops(agent)
    cases = _my_cases(ctx, agent)
    return {"state": ctx.store.agent_state(agent), "pops": [_pop_view(p) for p in pops], "cases": cases,
            "dispositions": DISPOSITIONS, "last_event": ctx.store.last_desk_event_id(agent),
            "error": error, "form": form or {}}


def _my_cases(ctx: WebContext, agent: str) -> list[Any]:
    today = ctx.clock().astimezone(ctx.zone).date()
    return agent_cases(ctx.store, ctx.cases.cases_of(ctx.store, agent, today), agent, today)


def _pop_view(event: DeskEvent) -> dict[str, Any]:
    return {"id": event.id, "at": event.at, "summary": CallSummary.from_dict(event.data)}


@requires("agent")
def desk(request: Request) -> Response:
    ctx: WebContext = request.app.state.ctx
    ctx.store.audit(request.state.user.name, "view", "desk")
    return ctx.render(request, "desk.html", **desk_values(ctx, request))


@requires("agent")
async def set_state(request: Request) -> Response:
    return await run_in_threadpool(_set_state, request, await request.form())


def _set_state(request: Request, form: FormData) -> Response:
    ctx: WebContext = request.app.state.ctx
    agent = request.state.user.name
    try:
        ctx.tokens.check(request, form.get("csrf"))
        current = ctx.store.agent_state(agent)
        state, reason = switch(current.state, str(form.get("state") or ""), str(form.get("reason") or ""),
                               open_call=bool(ctx.store.open_pops(agent)))
    except (BadForm, InputError) as exc:
        return ctx.render(request, "desk.html", status=400, **desk_values(ctx, request, str(exc)))
    if ctx.store.set_agent_state(agent, state, reason, only_from=(current.state,)) is None:
        return ctx.render(request, "desk.html", status=409,
                          **desk_values(ctx, request, "your state changed meanwhile: look again and retry"))
    ctx.store.audit(agent, "state", f"agent:{agent}", {"from": current.state, "to": state, "reason": reason})
    return RedirectResponse("/desk", status_code=303)


@requires("agent")
async def wrapup(request: Request) -> Response:
    return await run_in_threadpool(_wrapup, request, await request.form())


def _wrapup(request: Request, form: FormData) -> Response:
    ctx: WebContext = request.app.state.ctx
    agent = request.state.user.name
    fields = {k: str(form.get(k) or "") for k in ("event", "disposition", "promise_date", "promise_amount",
                                                    "note", "then")}
    try:
        ctx.tokens.check(request, form.get("csrf"))
        pop = ctx.store.desk_event(int(fields["event"])) if fields["event"].isdigit() else None
        if pop is None or pop.agent != agent or pop.kind != "screen_pop" or pop.debtor_id is None:
            ctx.store.audit(agent, "denied", f"wrapup:{fields['event'][:32]}")
            raise InputError("no such call on your desk")
        debtor = ctx.store.get_debtor(pop.debtor_id)
        outcome, detail = wrap_up_detail(fields["disposition"], fields["promise_date"], fields["promise_amount"],
                                         fields["note"], today=ctx.clock().astimezone(ctx.zone).date(),
                                         debt=debtor.amount)
        then = fields["then"] if fields["then"] in ("ready", "paused") else "ready"
        attempt_id = ctx.store.wrap_up(pop.id, agent, outcome, detail)
    except (BadForm, InputError, StoreError) as exc:
        return ctx.render(request, "desk.html", status=400, **desk_values(ctx, request, str(exc), fields))
    if outcome in SUPPRESSING:
        ctx.store.suppress(debtor.phone, SUPPRESSING[outcome], debtor.id)
    if not ctx.store.open_pops(agent):
        ctx.store.set_agent_state(agent, then, "" if then == "ready" else "paperwork")
    ctx.store.audit(agent, "wrapup", f"case:{debtor.id}",
                    {"attempt": attempt_id, "disposition": BY_CODE[fields["disposition"].strip()].code})
    return RedirectResponse("/desk", status_code=303)


@requires("agent")
async def events(request: Request) -> Response:
    """Server-sent events: screen pops and state changes, rendered on the server."""
    ctx: WebContext = request.app.state.ctx
    agent = request.state.user.name
    after = _after(request)

    async def stream() -> Any:
        idle = 0.0
        yield "retry: 2000\n\n"
        async for event in ctx.desk.events(agent, after, request.is_disconnected):
            if event is None:
                idle += ctx.desk.tick_s
                if idle >= KEEPALIVE_S:
                    idle = 0.0
                    yield ": keep-alive\n\n"
                continue
            idle = 0.0
            yield await run_in_threadpool(_sse, ctx, request, event)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


def _after(request: Request) -> int:
    for raw in (request.headers.get("last-event-id"), request.query_params.get("after")):
        if raw and raw.isdigit():
            return int(raw)
    return request.app.state.ctx.store.last_desk_event_id(request.state.user.name)


def _sse(ctx: WebContext, request: Request, event: DeskEvent) -> str:
    data: dict[str, Any] = {"kind": event.kind}
    if event.kind == "screen_pop":
        data["html"] = ctx.fragment(request, "_pop.html", pop=_pop_view(event), dispositions=DISPOSITIONS, form={})
        data["state"] = _state_html(ctx, request)
    elif event.kind == "state":
        data["state"] = _state_html(ctx, request)
    else:
        data["text"] = str(event.data.get("text", ""))
    body = json.dumps(data, ensure_ascii=False)
    return f"id: {event.id}\nevent: {event.kind}\ndata: {body}\n\n"


def _state_html(ctx: WebContext, request: Request) -> str:
    agent = request.state.user.name
    return ctx.fragment(request, "_state.html", state=ctx.store.agent_state(agent),
                        pops=ctx.store.open_pops(agent))


routes = [
    Route("/desk", desk, methods=["GET"]),
    Route("/desk/state", set_state, methods=["POST"]),
    Route("/desk/wrapup", wrapup, methods=["POST"]),
    Route("/desk/events", events, methods=["GET"]),
]
