"""Preview dialing on the desk: the agent's next case with its history, then Call or Skip.

Call goes through the robot's gate (``bot.agents.preview``): a refusal is shown with its reason
and nothing is dialled; an allowed call rings the agent's phone, then the customer's, and the
screen pop arrives on the desk when the agent answers. Skip needs a reason; both are stored.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bot.agents import preview
from bot.config import Settings
from bot.errors import CollbotError, InputError, StoreError
from bot.telephony.ami import Ami
from bot.web.auth import BadForm, requires
from bot.web.cases import case_history, open_case
from bot.web.context import WebContext

log = logging.getLogger(__name__)


class PreviewDialer:
    """What the web process needs to place collectors' calls: the whole settings and one AMI link."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._ami: Ami | None = None
        self._lock = asyncio.Lock()
        self._calls: set[asyncio.Task[Any]] = set()

    async def ami(self) -> Ami:
        async with self._lock:
            if self._ami is None:
                ami = Ami(self.settings.ami)
                await ami.connect()
                self._ami = ami
            return self._ami

    def start(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._calls.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._calls.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("preview call failed: %s", task.exception())


@dataclass(frozen=True, slots=True)
class Queue:
    """The agent's preview work today: what the page shows above the Call and Skip buttons."""

    left: list[str]  # allocated cases not yet called or skipped by them today, in order
    total: int  # allocated cases
    last: dict[str, Any] | None  # their latest decision today (called, refused or skipped)


def queue(ctx: WebContext, agent: str) -> Queue:
    today = ctx.clock().astimezone(ctx.zone).date()
    mine = [d for d in ctx.store.decisions(preview.CAMPAIGN)
            if d["round"] == agent and d["at"].astimezone(ctx.zone).date() == today]
    done = {d["debtor_id"] for d in mine}
    cases = ctx.cases.cases_of(ctx.store, agent, today)
    return Queue([c.id for c in cases if c.id not in done], len(cases), mine[-1] if mine else None)


def next_case(ctx: WebContext, agent: str) -> str | None:
    """The agent's first allocated case not yet called or skipped by them today."""
    left = queue(ctx, agent).left
    return left[0] if left else None


@requires("agent")
def show(request: Request) -> Response:
    ctx: WebContext = request.app.state.ctx
    agent = request.state.user.name
    debtor_id = request.query_params.get("case") or next_case(ctx, agent)
    return _page(request, ctx, debtor_id)


def _page(request: Request, ctx: WebContext, debtor_id: str | None, error: str = "", status: int = 200,
          notice: str = "") -> Response:
    work = queue(ctx, request.state.user.name)
    if debtor_id is None:
        return ctx.render(request, "preview.html", status=status, h=None, error=error, notice=notice, queue=work)
    debtor = open_case(ctx.store, request.state.user, debtor_id, ctx.cases.owner)
    history = case_history(ctx.store, debtor, now=ctx.clock(), zone=ctx.zone)
    return ctx.render(request, "preview.html", status=status, h=history, error=error, notice=notice, queue=work)


@requires("agent")
async def call(request: Request) -> Response:
    form = await request.form()
    verdict, response = await run_in_threadpool(_claim, request, form)
    if response is not None:
        return response
    assert verdict is not None and verdict.attempt_id is not None
    ctx: WebContext = request.app.state.ctx
    dialer: PreviewDialer = request.app.state.preview
    agent, debtor_id = request.state.user.name, str(form.get("case"))
    try:
        ami = await dialer.ami()
    except CollbotError as exc:
        await run_in_threadpool(ctx.store.release_attempt, verdict.attempt_id)
        return await run_in_threadpool(_page, request, ctx, debtor_id, f"Asterisk cannot be reached: {exc}", 503)
    dialer.start(preview.place(ami, ctx.store, dialer.settings, agent, debtor_id, verdict.attempt_id))
    return RedirectResponse("/desk", status_code=303)


def _claim(request: Request, form: FormData) -> tuple[preview.Verdict | None, Response | None]:
    ctx: WebContext = request.app.state.ctx
    agent = request.state.user.name
    debtor_id = str(form.get("case") or "")
    try:
        ctx.tokens.check(request, form.get("csrf"))
    except BadForm as exc:
        return None, _page(request, ctx, debtor_id or None, str(exc), 400)
    open_case(ctx.store, request.state.user, debtor_id, ctx.cases.owner)  # 404 for another's case
    dialer: PreviewDialer | None = getattr(request.app.state, "preview", None)
    if dialer is None:
        return None, _page(request, ctx, debtor_id, "preview dialing is not set up in this desk process", 503)
    if ctx.store.open_pops(agent):
        return None, _page(request, ctx, debtor_id, "wrap up your open call first", 409)
    verdict = preview.claim(ctx.store, dialer.settings, agent, debtor_id, ctx.clock())
    ctx.store.audit(agent, "preview_call", f"case:{debtor_id}", {"allow": verdict.allow, "reason": verdict.reason})
    if not verdict.allow:
        return None, _page(request, ctx, debtor_id, f"Not called: {verdict.detail}.", 409)
    return verdict, None


@requires("agent")
async def skip(request: Request) -> Response:
    return await run_in_threadpool(_skip, request, await request.form())


def _skip(request: Request, form: FormData) -> Response:
    ctx: WebContext = request.app.state.ctx
    agent = request.state.user.name
    debtor_id = str(form.get("case") or "")
    try:
        ctx.tokens.check(request, form.get("csrf"))
        open_case(ctx.store, request.state.user, debtor_id, ctx.cases.owner)
        preview.skip(ctx.store, agent, debtor_id, str(form.get("reason") or ""))
    except (BadForm, InputError, StoreError) as exc:
        return _page(request, ctx, debtor_id or None, str(exc), 400)
    return RedirectResponse("/preview", status_code=303)


def routes() -> list[Route]:
    return [
        Route("/preview", show, methods=["GET"]),
        Route("/preview/call", call, methods=["POST"]),
        Route("/preview/skip", skip, methods=["POST"]),
    ]
