"""What AMI tells collbot about one originate, turned into a CallResult. Pure: no I/O.

``OriginateResponse`` carries ``Response`` (Success/Failure) and ``Reason``, the last control
state the outgoing channel reached (Asterisk's ``enum ast_control_frame_type``): 0 the channel
could not be created or the dial failed, 1 hung up, 3 it rang until the timeout, 4 answered,
5 busy, 8 congestion. The ``Hangup`` event of the same Uniqueid carries the Q.850 cause, which is
more precise when the far end said why (17 busy, 19 no answer, 34 circuit congestion ...).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bot.domain import CallResult

REASON_RESULTS: Mapping[int, CallResult] = {
    3: CallResult.NO_ANSWER,  # AST_CONTROL_RINGING: rang until the originate timeout
    5: CallResult.BUSY,  # AST_CONTROL_BUSY
    8: CallResult.CONGESTION,  # AST_CONTROL_CONGESTION
}
"""OriginateResponse Reason → result when Response is Failure; any other reason is FAILED."""

CAUSE_RESULTS: Mapping[int, CallResult] = {
    1: CallResult.FAILED,  # unallocated (unassigned) number
    17: CallResult.BUSY,  # user busy
    18: CallResult.NO_ANSWER,  # no user responding
    19: CallResult.NO_ANSWER,  # no answer from user (user alerted)
    34: CallResult.CONGESTION,  # no circuit/channel available
    38: CallResult.CONGESTION,  # network out of order
    42: CallResult.CONGESTION,  # switching equipment congestion
    # The far end refused the call's terms: SIP 488/606 (no common codec) arrive as 58. Dialling
    # again changes nothing until the carrier's endpoint or ours does, so it is not a failure to retry.
    58: CallResult.REJECTED,  # bearer capability not presently available
    65: CallResult.REJECTED,  # bearer capability not implemented
    88: CallResult.REJECTED,  # incompatible destination
}
"""Q.850 cause of the channel's Hangup → result; overrides the Reason of a failed originate."""


@dataclass(frozen=True, slots=True)
class OriginateResult:
    """How one originate ended, as far as the network is concerned."""

    attempt_id: str
    result: CallResult
    reason: int | None = None  # OriginateResponse Reason
    cause: int | None = None  # Q.850 cause of the channel's Hangup event, if seen
    cause_txt: str = ""


def parse_int(value: object) -> int | None:
    """An integer header value, or None when absent or not a number."""
    if isinstance(value, str):
        value = value.strip()
        if value.isascii() and (value.isdigit() or (value[:1] == "-" and value[1:].isdigit())):
            return int(value)
    return None


def succeeded(response: object) -> bool:
    return isinstance(response, str) and response.strip().lower() == "success"


def call_result(response: object, reason: int | None, cause: int | None) -> CallResult:
    """Map an OriginateResponse (and the Hangup cause, if any) to a CallResult."""
    if succeeded(response):
        return CallResult.ANSWERED
    if cause is not None and cause in CAUSE_RESULTS:
        return CAUSE_RESULTS[cause]
    if reason is not None and reason in REASON_RESULTS:
        return REASON_RESULTS[reason]
    return CallResult.FAILED


def hangup_cause(event: Mapping[str, object]) -> tuple[int | None, str]:
    """``(cause, cause_txt)`` of a Hangup event."""
    text = event.get("Cause-txt", "")
    return parse_int(event.get("Cause")), text if isinstance(text, str) else ""


def originate_result(
    attempt_id: str, event: Mapping[str, object], hangup: tuple[int | None, str] | None
) -> OriginateResult:
    """The result of ``attempt_id`` from its OriginateResponse and its Hangup, if one was seen."""
    reason = parse_int(event.get("Reason"))
    cause, cause_txt = hangup if hangup is not None else (None, "")
    result = call_result(event.get("Response"), reason, cause)
    return OriginateResult(attempt_id, result, reason, cause, cause_txt)


def unknown_result(attempt_id: str, hangup: tuple[int | None, str] | None) -> OriginateResult:
    """The link or the watchdog ended the wait: Asterisk never said what happened."""
    cause, cause_txt = hangup if hangup is not None else (None, "")
    return OriginateResult(attempt_id, CallResult.UNKNOWN, None, cause, cause_txt)
