"""Build the web application: routes, middleware, error pages, and the desk's lifespan."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import secrets
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.config import AllocationSettings, WebSettings
from bot.errors import ConfigError
from bot.store.repo import Store
from bot.web import routes_alloc, routes_auth, routes_cases, routes_desk, routes_preview, routes_team
from bot.web.auth import Denied, LoginLimiter, Tokens
from bot.web.context import HERE, CaseSource, StoreCases, WebContext
from bot.web.live import Desk

SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
                                 b"form-action 'self'; base-uri 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
]
# Later features (allocation, the dashboard, QA) add their routes and menu entries here.
EXTRA_ROUTES: list[Callable[[], list[object]]] = [routes_preview.routes]
EXTRA_NAV: list[tuple[str, str, tuple[str, ...]]] = [  # (path, label, roles that see it)
    ("/allocate", "Allocate", ("supervisor", "admin")),
    ("/preview", "Next case", ("agent",)),
]


def create_app(settings: WebSettings, store: Store, *, cases: CaseSource | None = None,
               allocation: AllocationSettings | None = None,
               clock: Callable[[], dt.datetime] | None = None) -> Starlette:
    secret = load_secret(settings.secret_key_file)
    lifetime = int(settings.session_hours * 3600)
    desk = Desk(store, grace_s=settings.disconnect_grace_s)
    ctx = WebContext(settings=settings, store=store, desk=desk, tokens=Tokens(secret, lifetime),
                     cases=cases or StoreCases(), limiter=LoginLimiter(settings.failed_logins_per_minute),
                     allocation=allocation or AllocationSettings())
    if clock is not None:
        ctx.clock = clock
    ctx.templates.env.globals["NAV_EXTRA"] = list(EXTRA_NAV)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        desk.start()
        try:
            yield
        finally:
            desk.stop()

    routes = [*routes_auth.routes, *routes_desk.routes, *routes_cases.routes, *routes_team.routes, *routes_alloc.routes]
    for extra in EXTRA_ROUTES:
        routes += extra()  # type: ignore[arg-type]
    routes.append(Mount("/static", app=StaticFiles(directory=str(HERE / "static")), name="static"))
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(SecurityHeaders),
            Middleware(SessionMiddleware, secret_key=secret.hex(), session_cookie="collbot_session",
                       max_age=lifetime, same_site="lax", https_only=settings.secure_cookies),
        ],
        exception_handlers={Denied: _denied, HTTPException: _http_error},
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    return app


def load_secret(path: Path) -> bytes:
    """The site key from ``path``, created (owner-only) on first start."""
    try:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_hex(32) + "\n")
        text = path.read_text(encoding="ascii").strip()
        key = bytes.fromhex(text)
    except FileExistsError:
        return load_secret(path)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"web.secret_key_file: cannot use {path}: {getattr(exc, 'strerror', None) or exc}") from exc
    if len(key) < 16:
        raise ConfigError(f"web.secret_key_file: {path} holds a key shorter than 16 bytes")
    return key


async def _denied(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Denied)
    ctx: WebContext = request.app.state.ctx
    title = "Not found" if exc.status == 404 else "Not allowed"
    return ctx.render(request, "error.html", status=exc.status, title=title, error=str(exc))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    ctx: WebContext = request.app.state.ctx
    return ctx.render(request, "error.html", status=exc.status_code, title=str(exc.status_code), error=exc.detail)


class SecurityHeaders:
    """CSP, no framing, no sniffing; pages with personal data are not cached."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith("/static/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += SECURITY_HEADERS
                if not static:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)
