"""The pure mapping from OriginateResponse and Hangup to CallResult."""

from __future__ import annotations

import pytest

from bot.domain import CallResult
from bot.telephony.ami_events import (
    OriginateResult,
    call_result,
    hangup_cause,
    originate_result,
    parse_int,
    unknown_result,
)


@pytest.mark.parametrize(
    ("response", "reason", "cause", "expected"),
    [
        ("Success", 4, None, CallResult.ANSWERED),
        ("success", None, None, CallResult.ANSWERED),
        ("Success", 4, 17, CallResult.ANSWERED),  # a later hangup does not undo an answer
        ("Failure", 3, None, CallResult.NO_ANSWER),
        ("Failure", 5, None, CallResult.BUSY),
        ("Failure", 8, None, CallResult.CONGESTION),
        ("Failure", 0, None, CallResult.FAILED),
        ("Failure", 1, None, CallResult.FAILED),
        ("Failure", 4, None, CallResult.FAILED),  # answered, but the dialplan failed
        ("Failure", None, None, CallResult.FAILED),
        ("Failure", 1, 17, CallResult.BUSY),
        ("Failure", 0, 18, CallResult.NO_ANSWER),
        ("Failure", 1, 19, CallResult.NO_ANSWER),
        ("Failure", 0, 34, CallResult.CONGESTION),
        ("Failure", 0, 38, CallResult.CONGESTION),
        ("Failure", 0, 42, CallResult.CONGESTION),
        ("Failure", 3, 1, CallResult.FAILED),  # unallocated number beats "it rang"
        ("Failure", 5, 16, CallResult.BUSY),  # a cause we do not map keeps the reason
        ("", 5, None, CallResult.BUSY),
    ],
)
def test_call_result(response: str, reason: int | None, cause: int | None,
                     expected: CallResult) -> None:
    assert call_result(response, reason, cause) is expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("17", 17), (" 3 ", 3), ("-1", -1), ("", None), (None, None), ("x", None), ("٣", None)],
)
def test_parse_int(raw: object, expected: int | None) -> None:
    assert parse_int(raw) == expected


def test_hangup_cause() -> None:
    assert hangup_cause({"Cause": "17", "Cause-txt": "User busy"}) == (17, "User busy")
    assert hangup_cause({}) == (None, "")


def test_originate_result_uses_the_hangup() -> None:
    event = {"Event": "OriginateResponse", "Response": "Failure", "Reason": "1"}
    assert originate_result("a", event, (17, "User busy")) == OriginateResult(
        "a", CallResult.BUSY, 1, 17, "User busy"
    )
    assert originate_result("a", event, None) == OriginateResult("a", CallResult.FAILED, 1)


def test_unknown_result_keeps_a_seen_hangup() -> None:
    assert unknown_result("a", None) == OriginateResult("a", CallResult.UNKNOWN)
    assert unknown_result("a", (16, "Normal Clearing")).cause == 16
