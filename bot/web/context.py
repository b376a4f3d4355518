"""What every page handler needs, built once per app and kept in ``app.state.ctx``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.templating import Jinja2Templates

from bot.agents.records import CaseRecord
from bot.config import AllocationSettings, WebSettings
from bot.errors import CollbotError, ConfigError
from bot.phone import mask
from bot.store.repo import Store
from bot.web.agent_state import LABELS, PAUSE_REASONS
from bot.web.auth import LoginLimiter, Tokens
from bot.web.live import Desk

HERE = Path(__file__).parent


class CaseSource(Protocol):
    """Case ownership as case allocation stores it."""

    def owner(self, store: Store, debtor_id: str) -> str | None: ...
    def cases_of(self, store: Store, agent: str, today: dt.date) -> list[CaseRecord]: ...


class StoreCases:
    """Case ownership from the store's case allocation tables (``bot.store.cases``)."""

    def owner(self, store: Store, debtor_id: str) -> str | None:
        try:
            return store.get_case(debtor_id).owner
        except CollbotError:  # no such case
            return None

    def cases_of(self, store: Store, agent: str, today: dt.date) -> list[CaseRecord]:
        try:
            return store.cases_of(agent, today=today)
        except CollbotError:  # a desk user who is not (yet) an allocation agent owns nothing
            return []


@dataclass
class WebContext:
    settings: WebSettings
    store: Store
    desk: Desk
    tokens: Tokens
    cases: CaseSource = field(default_factory=StoreCases)
    limiter: LoginLimiter = field(default_factory=LoginLimiter)
    allocation: AllocationSettings = field(default_factory=AllocationSettings)
    clock: Callable[[], dt.datetime] = field(default=lambda: dt.datetime.now(dt.UTC))

    def __post_init__(self) -> None:
        try:
            self.zone = ZoneInfo(self.settings.timezone)
        except (ValueError, OSError, ZoneInfoNotFoundError):
            raise ConfigError(f"web.timezone: unknown time zone {self.settings.timezone!r}") from None
        self.templates = Jinja2Templates(directory=str(HERE / "templates"))
        env = self.templates.env
        env.filters["local"] = self.local_time
        env.filters["mask"] = mask
        env.filters["money"] = money
        env.globals.update(STATE_LABELS=LABELS, PAUSE_REASONS=PAUSE_REASONS)

    def local_time(self, value: dt.datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
        return value.astimezone(self.zone).strftime(fmt) if value is not None else ""

    def render(self, request: Request, template: str, status: int = 200, **values: Any) -> HTMLResponse:
        user = getattr(request.state, "user", None)
        values.setdefault("error", None)
        return self.templates.TemplateResponse(
            request, template, {"user": user, "csrf": lambda: self.tokens.issue(request), **values}, status_code=status)

    def fragment(self, request: Request, name: str, **values: Any) -> str:
        template = self.templates.env.get_template(name)
        return template.render(request=request, user=getattr(request.state, "user", None),
                               csrf=lambda: self.tokens.issue(request), **values)


def money(value: object, currency: str = "KRW") -> str:
    """1234567.00 → '1,234,567 KRW'; cents shown only when there are some."""
    try:
        from decimal import Decimal

        amount = Decimal(str(value))
    except ArithmeticError:
        return str(value)
    text = f"{amount:,.0f}" if amount == amount.to_integral_value() else f"{amount:,.2f}"
    return f"{text} {currency}".strip()
