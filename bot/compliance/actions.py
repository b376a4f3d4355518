"""What `collbot debtor restrict|suspend|adjust|contact|lift` do, as functions the tests call too."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from bot.campaign.compliance import PACKS
from bot.campaign.zones import zones_for
from bot.compliance import requests as req
from bot.domain import Debtor
from bot.errors import InputError
from bot.store.repo import Store

FALLBACK_ZONE = "Asia/Seoul"


@dataclass(frozen=True)
class Stored:
    id: int
    notes: tuple[str, ...]  # what some packs honour less than asked


def debtor_zone(debtor: Debtor) -> ZoneInfo:
    """The zone the debtor's request dates are read in: theirs, else their number's first, else Seoul."""
    zones = zones_for(debtor.phone, debtor.timezone) if debtor.phone.startswith("+") else ()
    return ZoneInfo(zones[0] if zones else FALLBACK_ZONE)


def restrict(store: Store, debtor_id: str, hours: Sequence[str], means: Sequence[str], *, by: str) -> Stored:
    slots = tuple(req.parse_slot(h) for h in hours)
    chosen = req.parse_means(means)
    if not slots and not chosen:
        raise InputError("a restriction needs --hours, --means or both")
    store.get_debtor(debtor_id)
    rid = store.add_contact_request(debtor_id, "restrict", {"slots": [s.text() for s in slots],
                                                            "means": list(chosen)}, by=by)
    notes = []
    in_force = store.contact_requests(debtor_id).restrictions
    blocked = []
    for name, rules in PACKS.items():
        honoured = req.honoured_intervals(in_force, req.ROBOT_MEANS, rules.restriction_hours_per_week)
        if req.means_refused(in_force, req.ROBOT_MEANS) or (honoured and req.covers_window(honoured, rules.window)):
            blocked.append(name)
    if blocked:
        notes.append(f"under pack{'s' if len(blocked) > 1 else ''} {', '.join(blocked)} no hour is left to call "
                     "this debtor: the gate refuses every call until a restriction is lifted (`collbot debtor lift`)")
    if slots:
        asked = sum(s.minutes() for s in slots) / 60
        for name, rules in PACKS.items():
            limit = rules.restriction_hours_per_week
            if limit is not None and asked > limit:
                notes.append(f"pack {name} honours {limit} of the {asked:g} hours a week asked (the law's limit); "
                             "the rest is stored and shown but not enforced under that pack")
    return Stored(rid, tuple(notes))


def suspend(store: Store, debtor_id: str, until: dt.date, reason: str, *, by: str, now: dt.datetime,
            extend: bool = False) -> Stored:
    if reason not in req.REASONS:
        raise InputError(f"--reason {reason!r}: expected one of {', '.join(req.REASONS)}")
    debtor = store.get_debtor(debtor_id)
    today = now.astimezone(debtor_zone(debtor)).date()
    if until < today:
        raise InputError(f"--until {until} is in the past (today is {today} in the debtor's zone)")
    rid = store.add_contact_request(debtor_id, "suspend", {"since": today.isoformat(), "until": until.isoformat(),
                                                           "reason": reason, "extensions": 0}, by=by, extend=extend)
    requests = store.contact_request_list(debtor_id)
    stored = next(r for r in requests if r.id == rid)
    for asked in requests:  # what the debtor asked for in a call is now reviewed and decided
        if asked.kind == req.SUSPENSION_ASKED and asked.lifted_at is None:
            store.lift_contact_request(asked.id, by=by)
    since = dt.date.fromisoformat(stored.data["since"])
    suspension = req.Suspension(rid, since, until, reason, int(stored.data.get("extensions", 0)))
    notes = []
    for name, rules in PACKS.items():
        honoured = req.suspension_end(suspension, rules.suspension_max_days, rules.suspension_extensions)
        if honoured <= until:
            notes.append(f"pack {name} honours this suspension through {honoured - dt.timedelta(days=1)} "
                         f"({rules.suspension_max_days} days, {rules.suspension_extensions} extension(s))")
    return Stored(rid, tuple(notes))


def adjust(store: Store, debtor_id: str, *, by: str, now: dt.datetime) -> Stored:
    debtor = store.get_debtor(debtor_id)
    today = now.astimezone(debtor_zone(debtor)).date()
    rid = store.add_contact_request(debtor_id, "adjust", {"since": today.isoformat()}, by=by)
    notes = []
    for name, rules in PACKS.items():
        end = req.adjustment_end(req.Adjustment(rid, today), rules.adjustment_business_days, rules.holiday_country)
        notes.append(f"pack {name}: no collection through {end - dt.timedelta(days=1)}")
    return Stored(rid, tuple(notes))


def describe(kind: str, data: dict[str, object]) -> str:
    if kind == "restrict":
        hours = ", ".join(data.get("slots", [])) or "every hour"  # type: ignore[arg-type]
        means = ", ".join(data.get("means", [])) or "every means"  # type: ignore[arg-type]
        return f"no contact {hours} by {means}"
    if kind == "suspend":
        extended = f", extended {data.get('extensions')}x" if data.get("extensions") else ""
        return f"suspended {data['since']} through {data['until']} ({data['reason']}{extended})"
    if kind == req.SUSPENSION_ASKED:
        return (f"asked in a call for a suspension ({data['reason']}); needs a person to check the evidence, "
                "then `collbot debtor suspend`; not in force")
    return f"debt adjustment requested {data['since']}"


def status(kind: str, lifted_at: dt.datetime | None) -> str:
    """How `collbot debtor requests` shows whether a request holds."""
    if kind == req.SUSPENSION_ASKED:
        return f"reviewed {lifted_at:%Y-%m-%d %H:%M}" if lifted_at else "pending review"
    return f"lifted {lifted_at:%Y-%m-%d %H:%M}" if lifted_at else "in force"
