"""What may be written to AMI, and what may be logged about it."""

from __future__ import annotations

import logging

import pytest

from bot.errors import AmiError
from bot.telephony.ami import is_loopback
from bot.telephony.ami_actions import (
    OriginateRequest,
    check_attempt_id,
    check_value,
    loggable,
    mask_channel,
    originate_headers,
)
from bot.telephony.ami_link import RedactingFilter


def request(**update: object) -> OriginateRequest:
    fields: dict[str, object] = {"attempt_id": "att-1", "channel": "PJSIP/+821012345678@trunk",
                                 "context": "collbot-robot", "exten": "s", "ring_timeout_s": 25.0,
                                 **update}
    return OriginateRequest(**fields)  # type: ignore[arg-type]


def test_headers() -> None:
    assert originate_headers(request(caller_id='"Lender" <+82212345678>')) == {
        "Action": "Originate",
        "ChannelId": "att-1",
        "Channel": "PJSIP/+821012345678@trunk",
        "Context": "collbot-robot",
        "Exten": "s",
        "Priority": "1",
        "Timeout": "25000",
        "Async": "true",
        "CallerID": '"Lender" <+82212345678>',
    }
    assert "CallerID" not in originate_headers(request())


@pytest.mark.parametrize("bad", ["a\rb", "a\nb", "a\0b", "a\tb", "a\x85b", "a\u2028b", "\x7f"])
@pytest.mark.parametrize("field", ["channel", "context", "exten", "caller_id"])
def test_control_characters_are_refused(field: str, bad: str) -> None:
    with pytest.raises(AmiError, match="control character"):
        originate_headers(request(**{field: bad}))


@pytest.mark.parametrize("field", ["channel", "context", "exten"])
def test_required_values_are_not_empty(field: str) -> None:
    with pytest.raises(AmiError, match="empty"):
        originate_headers(request(**{field: "  "}))


@pytest.mark.parametrize("attempt_id", ["", "a" * 65, "a b", "a/b", "a\n", "é", "a:b"])
def test_attempt_id_pattern(attempt_id: str) -> None:
    with pytest.raises(AmiError, match="attempt id"):
        originate_headers(request(attempt_id=attempt_id))


def test_attempt_id_accepts_the_pattern() -> None:
    assert check_attempt_id("A-z_0.9" + "x" * 57) == "A-z_0.9" + "x" * 57


@pytest.mark.parametrize(
    ("update", "match"),
    [({"ring_timeout_s": 0}, "positive"), ({"ring_timeout_s": float("nan")}, "positive"),
     ({"ring_timeout_s": True}, "number"), ({"priority": 0}, "priority"),
     ({"channel": 5}, "must be text")],
)
def test_other_bad_values(update: dict[str, object], match: str) -> None:
    with pytest.raises(AmiError, match=match):
        originate_headers(request(**update))


def test_commas_and_ampersands_in_a_channel_pass() -> None:
    # Dial strings are built elsewhere from E.164 digits; here only the framing is guarded.
    assert check_value("channel", "PJSIP/1@a,b&c") == "PJSIP/1@a,b&c"


def test_error_message_does_not_repeat_the_value() -> None:
    with pytest.raises(AmiError) as caught:
        check_value("channel", "PJSIP/+821012345678@x\n")
    assert "821012345678" not in str(caught.value)


def test_masking() -> None:
    assert mask_channel("PJSIP/+821012345678@trunk2") == "PJSIP/+**********78@trunk2"
    assert mask_channel("Local/821012345678@collbot-sim-carrier/n") == (
        "Local/**********78@collbot-sim-carrier/n"
    )
    assert loggable("cause 17\r\nX") == "cause 17\\r\\nX"


def test_redacting_filter() -> None:
    record = logging.LogRecord("x", logging.DEBUG, __file__, 1, "sent %r", (
        {"Action": "Login", "Secret": "hunter2", "Channel": "Local/821012345678@c"},), None)
    assert RedactingFilter().filter(record)
    text = record.getMessage()
    assert "hunter2" not in text
    assert "821012345678" not in text
    assert "**********78" in text


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("127.1.2.3", True), ("::1", True), ("localhost", True),
    ("LOCALHOST", True), ("10.0.0.5", False), ("asterisk.example", False), ("0.0.0.0", False),
])
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
