"""Campaign definitions registered by `collbot campaign add` and run by `collbot serve`.

Mixed into ``Store``. The definition is the campaign file's YAML text, kept with the path it was
read from (relative script and do-not-call paths resolve against it) and its SHA-256.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select

from bot.store.ledger import CampaignRow

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from sqlalchemy.orm import Session


@dataclass(frozen=True, slots=True)
class Registered:
    """One registered campaign as stored."""

    name: str
    status: str  # active | paused | cancelled | finished
    source_path: str
    definition: str
    sha256: str
    updated_at: dt.datetime


class DefinitionsMixin:
    """Registered campaign definitions (the Store provides ``_tx`` and ``_clock``)."""

    if TYPE_CHECKING:
        def _tx(self, action: str) -> AbstractContextManager[Session]: ...
        def _clock(self) -> dt.datetime: ...

    def save_definition(self, name: str, *, source_path: str, text: str, sha256: str) -> tuple[str, str]:
        """Register or update a campaign's definition: ``(added|updated|unchanged, status)``.

        A new campaign is active. An update keeps the status, except that a finished campaign
        whose definition changed is active again (the new definition may hold new rounds).
        """
        with self._tx(f"register campaign {name!r}") as s:
            row = s.get(CampaignRow, name)
            now = self._clock()
            if row is None:
                s.add(CampaignRow(name=name, status="active", created_at=now, updated_at=now,
                                  source_path=source_path, definition=text, definition_sha256=sha256))
                return "added", "active"
            if row.definition_sha256 == sha256 and row.source_path == source_path:
                return "unchanged", row.status
            row.source_path, row.definition, row.definition_sha256 = source_path, text, sha256
            if row.status == "finished":
                row.status = "active"
            row.updated_at = now
            return "updated", row.status

    def registered_campaigns(self) -> list[Registered]:
        """Every campaign with a stored definition, by name."""
        with self._tx("read registered campaigns") as s:
            rows = s.scalars(select(CampaignRow).where(CampaignRow.definition.is_not(None))
                             .order_by(CampaignRow.name))
            return [Registered(r.name, r.status, r.source_path or "", r.definition or "",
                               r.definition_sha256 or "", r.updated_at) for r in rows]
