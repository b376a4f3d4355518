"""Who is asking: sessions, the role guard every page carries, and one-time CSRF tokens.

The session cookie is signed (Starlette's SessionMiddleware, itsdangerous) and only names a
server-side session row, so logout, expiry and disabling a user take effect at once. Every form
carries a token signed with the site key, bound to this browser's session and used once: a
forged post has no valid token, a replayed one finds its nonce spent.
"""

from __future__ import annotations

import datetime as dt
import functools
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

if TYPE_CHECKING:
    from bot.store.desk import WebUser

ROLES = ("agent", "supervisor", "admin")
PUBLIC = "__public__"


@dataclass(frozen=True, slots=True)
class User:
    name: str
    role: str


class Denied(Exception):
    """The user may not see or do this; the app answers 403 (or 404 to hide what exists)."""

    def __init__(self, what: str, status: int = 403):
        super().__init__(what)
        self.status = status


class BadForm(Exception):
    """A form post without a valid, unused CSRF token, or with unusable fields."""


def requires(*roles: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Guard a page: only a logged-in, enabled user with one of ``roles`` gets through.

    Works for sync and async endpoints; the user is put in ``request.state.user``.
    """
    unknown = set(roles) - set(ROLES)
    if unknown or not roles:
        raise ValueError(f"unknown roles {sorted(unknown)}")

    def wrap(endpoint: Callable[..., Any]) -> Callable[..., Any]:
        import inspect

        if inspect.iscoroutinefunction(endpoint):
            @functools.wraps(endpoint)
            async def guarded_async(request: Request) -> Response:
                refused = await run_in_threadpool(_admit, request, roles)
                return refused if refused is not None else await endpoint(request)
            guarded: Callable[..., Any] = guarded_async
        else:
            @functools.wraps(endpoint)
            def guarded_sync(request: Request) -> Response:
                refused = _admit(request, roles)
                return refused if refused is not None else endpoint(request)
            guarded = guarded_sync
        guarded.__roles__ = roles  # type: ignore[attr-defined]
        return guarded

    return wrap


def public(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a page that needs no login (login itself, health): the route check looks for it."""
    endpoint.__roles__ = PUBLIC  # type: ignore[attr-defined]
    return endpoint


def _admit(request: Request, roles: tuple[str, ...]) -> Response | None:
    ctx = request.app.state.ctx
    user = current_user(request)
    if user is None:
        if request.method == "GET" and "text/event-stream" not in request.headers.get("accept", ""):
            return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
        return Response("login required", status_code=401)
    request.state.user = user
    if user.role not in roles:
        ctx.store.audit(user.name, "denied", request.url.path[:128], {"method": request.method, "role": user.role})
        raise Denied(f"this page needs the role {' or '.join(roles)}")
    return None


def current_user(request: Request) -> User | None:
    """The session's user if the session row is live and the user enabled (checked every request)."""
    sid = request.session.get("sid")
    if not isinstance(sid, str):
        return None
    found: WebUser | None = request.app.state.ctx.store.web_session_user(sid)
    return User(found.name, found.role) if found is not None else None


def browser_key(request: Request) -> str:
    """A random key for this browser's session, created on first use, that form tokens bind to."""
    key = request.session.get("k")
    if not isinstance(key, str):
        key = secrets.token_urlsafe(16)
        request.session["k"] = key
    return key


@dataclass
class Tokens:
    """Signs and checks one-time form tokens."""

    secret: bytes
    max_age_s: int

    def __post_init__(self) -> None:
        self._signer = URLSafeTimedSerializer(self.secret, salt="collbot-csrf")

    def issue(self, request: Request) -> str:
        return self._signer.dumps({"k": browser_key(request), "n": secrets.token_hex(16)})

    def check(self, request: Request, token: object) -> None:
        """Raise BadForm unless ``token`` was issued to this browser and is used for the first time."""
        if not isinstance(token, str) or not token:
            raise BadForm("the form has no security token: reload the page and try again")
        try:
            data = self._signer.loads(token, max_age=self.max_age_s)
        except BadSignature as exc:
            raise BadForm("the form's security token is invalid or expired: reload the page") from exc
        if not isinstance(data, dict) or data.get("k") != request.session.get("k"):
            raise BadForm("the form's security token belongs to another session: reload the page")
        store = request.app.state.ctx.store
        if not store.use_nonce(str(data.get("n")), keep=dt.timedelta(seconds=self.max_age_s)):
            raise BadForm("this form was already sent once: reload the page")


@dataclass
class LoginLimiter:
    """At most ``per_minute`` failed logins per client address (a whole office behind one
    address can still log in at nine); the per-account lockout is in the store."""

    per_minute: int = 10
    clock: Callable[[], float] = time.monotonic
    _failed: dict[str, deque[float]] = field(default_factory=dict)

    def allow(self, address: str) -> bool:
        now = self.clock()
        seen = self._failed.get(address)
        while seen and seen[0] <= now - 60:
            seen.popleft()
        return not seen or len(seen) < self.per_minute

    def failed(self, address: str) -> None:
        now = self.clock()
        self._failed.setdefault(address, deque()).append(now)
        if len(self._failed) > 10_000:  # bounded memory under a spray of addresses
            self._failed = {a: q for a, q in self._failed.items() if q and q[-1] > now - 60}
