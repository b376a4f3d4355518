"""Calls cut short (controller killed, AMI link or Asterisk lost): what follows each, stored.

Such an attempt is never re-dialled blindly: the campaign's ``interrupted`` policy decides, and
the decision is a follow-up row (pending at a due time, or ``none`` with the reason), so it is
made once, survives restarts and shows in every run's report and in ``campaign status``.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

from bot.campaign.claims import INTERRUPTED, follow_up_due
from bot.campaign.spec import Campaign
from bot.compliance.requests import UNCONFIRMED_OPT_OUT
from bot.domain import OPT_OUT_REVIEW, EventKind
from bot.store.followups import DROPPED, NONE, PENDING, TAKEN, VOID
from bot.store.records import FollowUp
from bot.store.repo import Store

ALL_STATES = (PENDING, TAKEN, NONE, DROPPED, VOID)
OPTED_OUT = "opted out before the cut (number suppressed)"
HELD = "unconfirmed opt-out cue before the cut (number held for review)"


def plan_interrupted(store: Store, campaign: Campaign, *, now: dt.datetime) -> list[FollowUp]:
    """Decide, once, for every interrupted attempt of the campaign; the newly pending follow-ups."""
    delay = campaign.interrupted.delay()
    decided = store.follow_ups(campaign.campaign, states=ALL_STATES, reason_prefix=INTERRUPTED)
    known = {f.origin_attempt_id for f in decided}
    used = Counter(f.debtor_id for f in decided if f.state in (PENDING, TAKEN))
    planned = []
    rounds = {r.name for r in campaign.rounds}
    for attempt_id, debtor_id, phone, ended, round in store.interrupted_attempts(campaign.campaign):
        if attempt_id in known:
            continue
        if opted_out_before_the_cut(store, attempt_id):
            # The debtor asked not to be called and the robot took it; the cut only stopped the
            # call's end being stored. Honoured as on a finished call, never followed up.
            store.suppress(phone, "opt_out", debtor_id)
            store.plan_follow_up(campaign.campaign, debtor_id=debtor_id, phone=phone, reason=INTERRUPTED,
                                 origin_attempt_id=attempt_id, due_at=None, note=OPTED_OUT,
                                 round=round if round in rounds else None)
            known.add(attempt_id)
            continue
        if held_before_the_cut(store, attempt_id):
            # An opt-out cue the customer neither confirmed nor denied (unclear_opt_out: review):
            # held for a person, as the call's end would have held it.
            store.add_suppression(phone, UNCONFIRMED_OPT_OUT, by=f"call:{attempt_id}"[:64],
                                  why=f"unconfirmed opt-out cue in call {attempt_id}, cut short: held until a "
                                      "person reviews it")
            store.plan_follow_up(campaign.campaign, debtor_id=debtor_id, phone=phone, reason=INTERRUPTED,
                                 origin_attempt_id=attempt_id, due_at=None, note=HELD,
                                 round=round if round in rounds else None)
            known.add(attempt_id)
            continue
        due, note = follow_up_due(ended or now, delay, used[debtor_id], campaign.interrupted.max_follow_ups)
        made = store.plan_follow_up(campaign.campaign, debtor_id=debtor_id, phone=phone, reason=INTERRUPTED,
                                    origin_attempt_id=attempt_id, due_at=due, note=note,
                                    round=round if round in rounds else None)  # made within the cut call's round
        known.add(attempt_id)
        if made.state == PENDING:
            used[debtor_id] += 1
            planned.append(made)
    return planned


def opted_out_before_the_cut(store: Store, attempt_id: str) -> bool:
    """Did the robot take an opt-out on this call before it was cut? (its stored events)"""
    return any(e.kind is EventKind.STATE and e.data.get("kind") == "opt_out" for e in store.events_for(attempt_id))


def held_before_the_cut(store: Store, attempt_id: str) -> bool:
    """Was an opt-out cue left unconfirmed on this call before it was cut, with the review policy?"""
    return any(e.kind is EventKind.NO_MATCH and e.data.get("reason") == OPT_OUT_REVIEW
               for e in store.events_for(attempt_id))


def summary_lines(store: Store, campaign: str) -> list[str]:
    """One line on the calls cut short and what follows them; empty if there were none."""
    cut = store.interrupted_attempts(campaign)
    if not cut:
        return []
    decided = {f.origin_attempt_id: f for f in
               store.follow_ups(campaign, states=ALL_STATES, reason_prefix=INTERRUPTED)}
    states = Counter(decided[a].state if a in decided else "undecided" for a, _, _, _, _ in cut)
    words = {PENDING: "follow-up planned", TAKEN: "followed up", NONE: "no follow-up",
             VOID: "follow-up moot (called since)", DROPPED: "follow-up dropped", "undecided": "not decided yet"}
    parts = [f"{words.get(state, state)} {count}" for state, count in sorted(states.items())]
    debtors = len({d for _, d, _, _, _ in cut})
    line = f"{len(cut)} call(s) cut short (controller stopped or Asterisk lost) in {debtors} debtor(s): " + \
        ", ".join(parts)
    pending = [f.due_at for f in decided.values() if f.state == PENDING and f.due_at is not None]
    if pending:
        line += f"; next follow-up due {min(pending):%Y-%m-%d %H:%M:%S} UTC"
    reasons = Counter(f.note for f in decided.values() if f.state == NONE)
    if reasons:
        line += "; no follow-up because " + ", ".join(f"{n} ({c})" for n, c in sorted(reasons.items()))
    return [line]
