"""Login, logout and the health check."""

from __future__ import annotations

import datetime as dt

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from bot.errors import StoreError
from bot.web.auth import ROLES, BadForm, browser_key, current_user, public, requires
from bot.web.context import WebContext
from bot.web.passwords import verify_password

HOME = {"agent": "/desk", "supervisor": "/team", "admin": "/team"}


@public
def healthz(request: Request) -> Response:
    ctx: WebContext = request.app.state.ctx
    try:
        ctx.store.web_user("")
    except StoreError:
        return JSONResponse({"ok": False, "database": "unreachable"}, status_code=503)
    return JSONResponse({"ok": True})


@public
def login_page(request: Request) -> Response:
    ctx: WebContext = request.app.state.ctx
    user = current_user(request)
    if user is not None:
        return RedirectResponse(HOME[user.role], status_code=303)
    browser_key(request)
    return ctx.render(request, "login.html", next=_safe_next(request.query_params.get("next")))


@public
async def login(request: Request) -> Response:
    form = await request.form()
    # scrypt and the database are blocking: keep them off the event loop
    return await run_in_threadpool(_login, request, form)


def _login(request: Request, form: FormData) -> Response:
    ctx: WebContext = request.app.state.ctx
    name, password = str(form.get("name") or "").strip(), str(form.get("password") or "")
    nxt = _safe_next(str(form.get("next") or ""))
    address = request.client.host if request.client else "?"

    def refuse(message: str, status: int = 400) -> Response:
        return ctx.render(request, "login.html", status=status, error=message, next=nxt, name=name)

    try:
        ctx.tokens.check(request, form.get("csrf"))
    except BadForm as exc:
        return refuse(str(exc))
    if not ctx.limiter.allow(address):
        ctx.store.audit(name or None, "login_limited", f"ip:{address}")
        return refuse("too many failed logins from here: wait a minute", 429)
    user = ctx.store.web_user(name) if name else None
    now = ctx.clock()
    if user is not None and user.locked_until is not None and user.locked_until > now:
        verify_password(password, None)  # same time as a real check
        ctx.store.audit(name, "login_locked", f"user:{name}")
        return refuse("this account is locked after too many failed logins: try again later", 429)
    ok = verify_password(password, user.password_hash if user else None)
    if not ok or user is None or user.disabled or user.role not in ROLES:
        ctx.limiter.failed(address)
        if user is not None:
            ctx.store.note_login(name, False, max_failures=ctx.settings.max_failed_logins,
                                 lockout=dt.timedelta(minutes=ctx.settings.lockout_minutes))
        ctx.store.audit(name[:64] or None, "login_failed", f"user:{name[:100]}", {"ip": address})
        return refuse("wrong name or password", 401)
    ctx.store.note_login(name, True, max_failures=ctx.settings.max_failed_logins,
                         lockout=dt.timedelta(minutes=ctx.settings.lockout_minutes))
    sid = ctx.store.open_web_session(name, dt.timedelta(hours=ctx.settings.session_hours))
    request.session.clear()  # a new session id and a new form key: no fixation
    request.session["sid"] = sid
    browser_key(request)
    ctx.store.audit(name, "login", f"user:{name}", {"ip": address})
    if user.role == "agent" and ctx.store.agent_state(name).state == "logged_out":
        ctx.store.set_agent_state(name, "paused", "just logged in")
    return RedirectResponse(nxt or HOME[user.role], status_code=303)


@requires(*ROLES)
async def logout(request: Request) -> Response:
    return await run_in_threadpool(_logout, request, await request.form())


def _logout(request: Request, form: FormData) -> Response:
    ctx: WebContext = request.app.state.ctx
    try:
        ctx.tokens.check(request, form.get("csrf"))
    except BadForm as exc:
        return ctx.render(request, "error.html", status=400, title="Not sent", error=str(exc))
    user = request.state.user
    sid = request.session.get("sid")
    if isinstance(sid, str):
        ctx.store.revoke_web_session(sid)
    if user.role == "agent":
        ctx.store.set_agent_state(user.name, "logged_out", "", only_from=("ready", "paused"))
    ctx.store.audit(user.name, "logout", f"user:{user.name}")
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


@requires(*ROLES)
def home(request: Request) -> Response:
    return RedirectResponse(HOME[request.state.user.role], status_code=303)


def _safe_next(value: str | None) -> str:
    """Only a path on this site (no scheme, no //host): no open redirect."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return ""


routes = [
    Route("/healthz", healthz),
    Route("/login", login_page, methods=["GET"]),
    Route("/login", login, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/", home),
]
