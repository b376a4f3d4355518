"""Before a campaign dials again, close what a dead controller left of it.

Claims never dialled are released. Attempts left dialling or talking are looked up by their id,
which is the ChannelId (so the Uniqueid) of the robot's channel: one that Asterisk still has lost
its robot and is hung up. Each is closed with what the ledger knows (``answered`` if it was
answered, ``unknown`` otherwise) and a call event saying how; none is ever re-dialled.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from typing import Protocol

from bot.errors import TelephonyError
from bot.store.repo import Store

log = logging.getLogger(__name__)

LIVE_CHANNEL_HUNG_UP = "live_channel_hung_up"
LIVE_CHANNEL_NOT_HUNG_UP = "live_channel_not_hung_up"  # the Hangup action failed
NO_LIVE_CHANNEL = "no_live_channel"
ASTERISK_NOT_ASKED = "asterisk_not_asked"  # no AMI link, or CoreShowChannels failed


class Channels(Protocol):
    """What reconciliation asks of Asterisk (``bot.telephony.ami.Ami`` provides it)."""

    async def live_channels(self) -> dict[str, str]: ...

    async def hangup(self, channel: str) -> bool: ...


@dataclass
class Reconciled:
    released: int = 0  # claims never dialled, forgotten
    closed: dict[str, int] | None = None  # how -> attempts closed that way


async def reconcile(store: Store, campaign: str, asterisk: Channels | None, *,
                    keep: Collection[str] = ()) -> Reconciled:
    """Release the campaign's stale claims and close its attempts left in flight, except those
    of the (live) controllers in ``keep``."""
    done = Reconciled(released=store.release_queued(campaign, keep=keep), closed={})
    left = store.in_flight(campaign, keep=keep)
    if not left:
        return done
    live: dict[str, str] | None = None
    if asterisk is not None:
        try:
            live = await asterisk.live_channels()
        except TelephonyError as exc:
            log.warning("campaign %s: cannot ask Asterisk for live channels (%s); closing %d attempt(s) "
                        "from the ledger alone", campaign, exc, len(left))
    assert done.closed is not None
    for attempt in left:
        how = ASTERISK_NOT_ASKED if live is None else NO_LIVE_CHANNEL
        channel = live.get(attempt.id) if live is not None else None
        if channel is not None and asterisk is not None:
            how = await _hang_up(asterisk, attempt.id, channel)
        if store.close_interrupted(attempt.id, how):
            done.closed[how] = done.closed.get(how, 0) + 1
    log.warning("campaign %s: closed %d attempt(s) a dead controller left in flight (%s); none is re-dialled "
                "blindly (the campaign's interrupted policy decides)",
                campaign, sum(done.closed.values()), ", ".join(f"{k} {v}" for k, v in sorted(done.closed.items())))
    return done


async def _hang_up(asterisk: Channels, attempt_id: str, channel: str) -> str:
    try:
        await asterisk.hangup(channel)  # False: it ended by itself meanwhile, which is as good
    except TelephonyError as exc:
        log.warning("attempt %s: its channel is still live and could not be hung up: %s", attempt_id, exc)
        return LIVE_CHANNEL_NOT_HUNG_UP
    log.info("attempt %s: its channel outlived the previous controller; hung up", attempt_id)
    return LIVE_CHANNEL_HUNG_UP
