"""Controllers sharing one database: each stamps its attempts with its id and renews a lease.

A controller reconciles only calls that are its own (left by its previous life) or whose
controller's lease has expired: a live colleague's calls are never touched. Mixed into ``Store``.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from bot.store.models import Base
from bot.store.types import UTCDateTime

if TYPE_CHECKING:
    from contextlib import AbstractContextManager


class ControllerRow(Base):
    __tablename__ = "controllers"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    heartbeat_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class ControllersMixin:
    """Controller leases (the Store provides ``_tx`` and ``_clock``)."""

    if TYPE_CHECKING:
        def _tx(self, action: str) -> AbstractContextManager[Session]: ...
        def _clock(self) -> dt.datetime: ...

    def heartbeat(self, controller: str, *, starting: bool = False) -> None:
        """Renew ``controller``'s lease (``starting``: a new life of that controller)."""
        with self._tx(f"renew the lease of controller {controller!r}") as s:
            row = s.get(ControllerRow, controller, with_for_update=True)
            now = self._clock()
            if row is None:
                s.add(ControllerRow(id=controller, started_at=now, heartbeat_at=now))
            else:
                row.heartbeat_at = now
                if starting:
                    row.started_at = now

    def live_controllers(self, lease: dt.timedelta) -> set[str]:
        """Controllers whose lease is current."""
        with self._tx("read controller leases") as s:
            return set(s.scalars(select(ControllerRow.id).where(ControllerRow.heartbeat_at >= self._clock() - lease)))
