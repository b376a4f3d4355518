"""The ledger's facts about owned cases turned into the plain ``Activity`` the daily rules read.

Last contact: the latest call whose outcome means the right party was spoken to (the same set
that starts Regulation F's cool-down). Pending promise: the latest promise to pay, judged by
``bot.campaign.promises`` in the debtor's local time (their imported zone, else their number's).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from bot.agents.rules import Activity
from bot.campaign.promises import PromiseState, promise_from, promise_state
from bot.campaign.zones import zones_for
from bot.errors import InputError
from bot.store.cases import CaseContacts


def activity_of(contacts: list[CaseContacts], *, now: dt.datetime) -> dict[str, Activity]:
    """case id -> Activity, as of ``now``."""
    return {c.case_id: _one(c, now) for c in contacts}


def _one(c: CaseContacts, now: dt.datetime) -> Activity:
    if c.promise is None:
        return Activity(last_contact=c.last_contact)
    made_at, detail = c.promise
    zone = _zone(c)
    promise = promise_from(c.case_id, made_at, detail, c.amount, zone)
    state = promise_state(promise, c.payments, today=now.astimezone(zone).date(), zone=zone)
    pending = f"{promise.amount:,} by {promise.date}" if state is PromiseState.PENDING else None
    return Activity(last_contact=c.last_contact, last_promise=made_at, pending_promise=pending)


def _zone(c: CaseContacts) -> ZoneInfo:
    try:
        zones = zones_for(c.phone, c.timezone)
    except InputError:
        zones = ()
    return ZoneInfo(zones[0]) if zones else ZoneInfo("UTC")
