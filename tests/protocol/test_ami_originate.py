"""Ami.originate against a fake AMI on a real socket: what Asterisk says becomes a CallResult."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable

import pytest

from bot.domain import CallResult
from bot.errors import AmiError
from bot.telephony.ami import Ami, OriginateRequest, OriginateResult
from tests.protocol.ami_fake_peer import (
    CHANNEL,
    NUMBER,
    FakeAmi,
    Headers,
    hangup,
    originate_response,
)

Script = Callable[[Headers], list[Headers]]


@pytest.fixture
async def ami(peer: FakeAmi) -> AsyncIterator[Ami]:
    async with Ami(peer.settings(), reconnect_delay_s=0.01, hangup_grace_s=0.05) as client:
        yield client


def request(attempt_id: str = "att-1", **update: object) -> OriginateRequest:
    fields: dict[str, object] = {
        "attempt_id": attempt_id, "channel": CHANNEL, "context": "collbot-robot", "exten": "s",
        "ring_timeout_s": 25.0, "caller_id": '"Lender" <+82212345678>', **update,
    }
    return OriginateRequest(**fields)  # type: ignore[arg-type]


def failure(reason: int, cause: int | None = None, text: str = "", *,
            hangup_first: bool = True) -> Script:
    def script(action: Headers) -> list[Headers]:
        reply = [originate_response(action, "Failure", reason)]
        if cause is None:
            return reply
        ended = [hangup(action["ChannelId"], cause, text)]
        return ended + reply if hangup_first else reply + ended
    return script


def answered(action: Headers) -> list[Headers]:
    return [originate_response(action, "Success", 4)]


@pytest.mark.parametrize(
    ("script", "expected", "reason", "cause"),
    [
        (answered, CallResult.ANSWERED, 4, None),
        (failure(3), CallResult.NO_ANSWER, 3, None),
        (failure(5), CallResult.BUSY, 5, None),
        (failure(8), CallResult.CONGESTION, 8, None),
        (failure(0), CallResult.FAILED, 0, None),
        (failure(1), CallResult.FAILED, 1, None),
        (failure(1, 17, "User busy"), CallResult.BUSY, 1, 17),
        (failure(1, 19, "No answer"), CallResult.NO_ANSWER, 1, 19),
        (failure(0, 18, "No user responding"), CallResult.NO_ANSWER, 0, 18),
        (failure(0, 34, "Circuit/channel congestion"), CallResult.CONGESTION, 0, 34),
        (failure(1, 38, "Network out of order"), CallResult.CONGESTION, 1, 38),
        (failure(0, 42, "Switching equipment congestion"), CallResult.CONGESTION, 0, 42),
        (failure(3, 1, "Unallocated (unassigned) number"), CallResult.FAILED, 3, 1),
        (failure(3, 16, "Normal Clearing"), CallResult.NO_ANSWER, 3, 16),
        (failure(1, 58, "Bearer capability not available"), CallResult.REJECTED, 1, 58),  # SIP 488
        (failure(0, 88, "Incompatible destination"), CallResult.REJECTED, 0, 88),
        # the Hangup may trail the OriginateResponse: still used, within the grace period
        (failure(1, 17, "User busy", hangup_first=False), CallResult.BUSY, 1, 17),
    ],
)
async def test_result_mapping(peer: FakeAmi, ami: Ami, script: Script, expected: CallResult,
                              reason: int, cause: int | None) -> None:
    peer.script = script
    result = await ami.originate(request())
    assert result.attempt_id == "att-1"
    assert result.result is expected
    assert result.reason == reason
    assert result.cause == cause


async def test_originate_sends_the_expected_action(peer: FakeAmi, ami: Ami) -> None:
    peer.script = answered
    await ami.originate(request(ring_timeout_s=12.5, priority=2))
    (sent,) = peer.originates
    assert sent["Async"] == "true"
    assert sent["ChannelId"] == "att-1"
    assert sent["Channel"] == CHANNEL
    assert (sent["Context"], sent["Exten"], sent["Priority"]) == ("collbot-robot", "s", "2")
    assert sent["Timeout"] == "12500"
    assert sent["CallerID"] == '"Lender" <+82212345678>'


async def test_cause_text_is_reported(peer: FakeAmi, ami: Ami) -> None:
    peer.script = failure(1, 17, "User busy")
    result = await ami.originate(request())
    assert result == OriginateResult("att-1", CallResult.BUSY, 1, 17, "User busy")


async def test_originate_response_without_action_id_matched_by_uniqueid(
    peer: FakeAmi, ami: Ami
) -> None:
    peer.script = lambda a: [originate_response(a, "Failure", 5, with_action_id=False)]
    result = await ami.originate(request())
    assert result.result is CallResult.BUSY


async def test_no_caller_id_header_when_empty(peer: FakeAmi, ami: Ami) -> None:
    peer.script = answered
    await ami.originate(request(caller_id=""))
    assert "CallerID" not in peer.originates[0]


async def test_refused_action_is_an_error(peer: FakeAmi, ami: Ami) -> None:
    peer.queue_originates = False
    peer.script = lambda a: [{"Response": "Error", "ActionID": a["ActionID"],
                              "Message": "Permission denied"}]
    with pytest.raises(AmiError, match="refused the originate of attempt att-1: Permission denied"):
        await ami.originate(request())


async def test_an_attempt_is_never_originated_twice(peer: FakeAmi, ami: Ami) -> None:
    peer.script = failure(3)
    await ami.originate(request("att-7"))
    with pytest.raises(AmiError, match="never dialled twice"):
        await ami.originate(request("att-7"))
    assert len(peer.originates) == 1


async def test_originate_while_disconnected_sends_nothing(peer: FakeAmi) -> None:
    ami = Ami(peer.settings())
    with pytest.raises(AmiError, match="not dialled"):
        await ami.originate(request())
    assert peer.actions == []


async def test_wait_hangup_reports_the_end_of_an_answered_call(peer: FakeAmi, ami: Ami) -> None:
    peer.script = answered
    result = await ami.originate(request("att-2"))
    assert result.result is CallResult.ANSWERED
    assert await ami.wait_hangup("att-2", 0.05) is None  # still talking
    await peer.emit(hangup("att-2", 16, "Normal Clearing"))
    assert await ami.wait_hangup("att-2", 2.0) == (16, "Normal Clearing")


async def test_hangup_seen_before_wait_hangup_is_kept(peer: FakeAmi, ami: Ami) -> None:
    peer.script = lambda a: [*answered(a), hangup(a["ChannelId"], 16, "Normal Clearing")]
    await ami.originate(request("att-3"))
    assert await ami.wait_hangup("att-3", 2.0) == (16, "Normal Clearing")


async def test_logs_hold_neither_the_number_nor_the_secret(
    peer: FakeAmi, ami: Ami, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    peer.script = failure(1, 17, "User busy")
    await ami.originate(request())
    await ami.close()
    text = caplog.text
    assert "att-1" in text  # the attempt is logged...
    assert NUMBER[-2:] in text
    assert NUMBER not in text  # ...the number is not
    assert peer.secret not in text


async def test_a_rejected_call_is_one_warning(peer: FakeAmi, ami: Ami, caplog: pytest.LogCaptureFixture) -> None:
    peer.script = failure(1, 58, "Bearer capability not available")
    with caplog.at_level("INFO", logger="bot.telephony.ami"):
        result = await ami.originate(request())
    assert result.result is CallResult.REJECTED
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "488" in warnings[0].getMessage() and "codec" in warnings[0].getMessage()
    assert "\n" not in warnings[0].getMessage()
