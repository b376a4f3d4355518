"""Preview dialing: a collector opens their next case, then calls it or skips it with a reason.

A Call goes through the robot's own gate (``campaign.compliance.decide``: calling window,
frequency caps, suppressions, the debtor's contact requests), decided once before the claim and
again inside it, and every decision is stored (campaign ``preview``, round = the agent id). An
allowed call is an attempt in the ledger marked ``via: agent`` with the agent id; Asterisk rings
the agent's phone first and then dials the customer (Originate with application Dial).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from bot.campaign import compliance
from bot.campaign.zones import zones_for
from bot.config import Settings
from bot.domain import CallResult, Debtor
from bot.errors import NotDialled, StoreError
from bot.phone import dial_string, mask
from bot.store.ledger import ClaimRefused
from bot.store.repo import Store
from bot.telephony.ami import Ami
from bot.telephony.ami_actions import BridgeRequest, member_interface
from bot.web.live import pop_screen, push_event
from bot.web.summary import CallSummary

log = logging.getLogger(__name__)

CAMPAIGN = "preview"  # the decisions' campaign column; not a campaign of the runner
MAX_CALL_S = 3600.0


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the gate said about one preview dial; ``attempt_id`` set when a call was placed."""

    allow: bool
    reason: str
    detail: str
    attempt_id: str | None = None


def rules_for(settings: Settings) -> compliance.Rules:
    pack = settings.preview.pack
    return compliance.PACKS[pack] if pack in compliance.PACKS else compliance.rules_from_mapping({"base": pack})


def gate_for(store: Store, settings: Settings, debtor: Debtor, now: dt.datetime
             ) -> Callable[[list[compliance.Attempt]], compliance.Decision]:
    """The robot's gate for this debtor at ``now``: what it needs is read here, so the claim can
    decide inside its own transaction."""
    zones = zones_for(debtor.phone, debtor.timezone) or (
        (settings.preview.default_timezone,) if settings.preview.default_timezone else ())
    suppressed = store.suppression(debtor.phone)
    requests = store.contact_requests(debtor.id)
    rules = rules_for(settings)
    return lambda history: compliance.decide(zones=zones, history=history, now=now, rules=rules,
                                             suppressed=suppressed, requests=requests)


def claim(store: Store, settings: Settings, agent: str, debtor_id: str, now: dt.datetime) -> Verdict:
    """Decide and claim one preview call (no I/O but the store): a refusal is stored and returned."""
    debtor = store.get_debtor(debtor_id)
    gate = gate_for(store, settings, debtor, now)
    first = gate(store.history(debtor.id))
    store.record_decision(CAMPAIGN, agent, debtor.id, first.allow, first.reason, first.detail, None)
    if not first.allow:
        return Verdict(False, first.reason, first.detail)
    try:
        attempt_id = store.create_attempt(debtor.id, debtor.phone, gate=gate, controller=f"agent:{agent}"[:64])
    except ClaimRefused as refused:
        d = refused.decision
        store.record_decision(CAMPAIGN, agent, debtor.id, False, d.reason, f"at the claim: {d.detail}", None)
        return Verdict(False, d.reason, d.detail)
    except StoreError as exc:  # the robot (or another desk) is calling this debtor right now
        store.record_decision(CAMPAIGN, agent, debtor.id, False, "claimed_elsewhere", str(exc), None)
        return Verdict(False, "claimed_elsewhere", str(exc))
    store.record_decision(CAMPAIGN, agent, debtor.id, True, first.reason, "claimed", attempt_id)
    return Verdict(True, first.reason, first.detail, attempt_id)


def skip(store: Store, agent: str, debtor_id: str, reason: str) -> None:
    """The collector passes over a case: stored with the reason, as a decision and in the audit."""
    reason = " ".join(reason.split())[:200]
    if not reason:
        raise StoreError("a skip needs a reason")
    store.record_decision(CAMPAIGN, agent, debtor_id, False, "skipped_by_agent", reason, None)
    store.audit(agent, "preview_skip", f"case:{debtor_id}", {"reason": reason})


async def place(ami: Ami, store: Store, settings: Settings, agent: str, debtor_id: str, attempt_id: str,
                *, interface_template: str | None = None,
                db: Callable[..., object] | None = None) -> CallResult:
    """Dial a claimed preview attempt: the agent's phone, then the customer; pops the agent's desk
    when they answer, and closes the attempt (``via: agent``) when the call ends."""
    run = db or _thread
    debtor: Debtor = await run(store.get_debtor, debtor_id)  # type: ignore[misc]
    agent_channel = member_interface(interface_template or settings.queue.member_interface, agent)
    request = BridgeRequest(attempt_id=attempt_id, agent_channel=agent_channel,
                            customer_channel=dial_string(settings.dial.template, debtor.phone),
                            agent_ring_s=settings.preview.agent_ring_s,
                            customer_ring_s=settings.preview.customer_ring_s, caller_id=settings.dial.caller_id)
    await run(store.mark_dialing, attempt_id)
    log.info("preview call %s by agent %s to %s", attempt_id, agent, mask(debtor.phone))
    try:
        result = await ami.originate(request)
    except NotDialled:
        await run(store.undo_dialing, attempt_id)
        await run(push_event, store, agent, "notice", {"text": "The call could not be placed (Asterisk refused it)"})
        raise
    await run(store.record_result, attempt_id, result.result, result.cause)
    detail: dict[str, object] = {"via": "agent", "agent": agent, "preview": True}
    cause = result.cause
    if result.result is CallResult.ANSWERED:  # the agent picked up; Asterisk now rings the customer
        await run(store.mark_answered, attempt_id)
        summary = CallSummary(debtor_id=debtor.id, debtor_name=debtor.name, amount=str(debtor.amount),
                              currency=debtor.currency, phone_masked=mask(debtor.phone), attempt_id=attempt_id,
                              outcome="", reason="you called this case (preview dialing)")
        await run(pop_screen, store, agent, summary)
        ended = await ami.wait_hangup(attempt_id, MAX_CALL_S)
        cause = ended[0] if ended else cause
    else:
        detail["agent_leg"] = result.result.value
    await run(store.finish_attempt, attempt_id, None, detail, cause)
    return result.result


async def _thread(fn: Callable[..., object], *args: object) -> object:
    return await asyncio.to_thread(fn, *args)
