"""No value sent over AMI can add a header, a variable or an action (reliability catalogue #11).

For arbitrary strings in every field, either ``originate`` raises AmiError before writing a byte,
or the bytes that reach the peer's socket are exactly the expected Originate header lines.
"""

from __future__ import annotations

import asyncio
import re
import unicodedata

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.domain import CallResult
from bot.errors import AmiError
from bot.telephony.ami import Ami, OriginateRequest
from tests.protocol.ami_fake_peer import FakeAmi, originate_response

PIECES = ["\r", "\n", "\r\n", "\r\n\r\n", "\0", "\x85", "\u2028", "\t", ": ", "Variable: X=1",
          "Action: Originate", "ActionID: evil", ",", "&", "|", "@", "/", " ", "a", "Z", "0",
          "9", ".", "-", "_", "가", "é"]
nasty = st.lists(st.sampled_from(PIECES), max_size=8).map("".join)
value = st.one_of(st.text(max_size=24), nasty)
attempt = st.one_of(st.from_regex(r"[A-Za-z0-9._-]{1,64}", fullmatch=True), value)


def fields(req: OriginateRequest) -> tuple[str, ...]:
    return (req.attempt_id, req.channel, req.context, req.exten, req.caller_id)


def must_refuse(req: OriginateRequest, sent_ids: set[str]) -> bool:
    """Our reading of the rules: controls anywhere, a malformed or reused id, an empty field."""
    controls = any(unicodedata.category(c) in {"Cc", "Zl", "Zp"} for v in fields(req) for c in v)
    bad_id = not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", req.attempt_id)
    empty = not all(v.strip() for v in (req.channel, req.context, req.exten))
    return controls or bad_id or empty or req.attempt_id in sent_ids


def expected_lines(req: OriginateRequest) -> list[str]:
    lines = [
        "Action: Originate", "Async: true", f"Channel: {req.channel}",
        f"ChannelId: {req.attempt_id}", f"Context: {req.context}", f"Exten: {req.exten}",
        f"Priority: {req.priority}", f"Timeout: {round(req.ring_timeout_s * 1000)}",
    ]
    if req.caller_id:
        lines.append(f"CallerID: {req.caller_id}")
    return sorted(lines)


def check_written(raw: bytes, req: OriginateRequest) -> None:
    # One frame: CRLF-terminated lines, one blank line at the end, no bare CR or LF, no NUL.
    assert raw.endswith(b"\r\n\r\n")
    assert raw.count(b"\r\n\r\n") == 1
    assert raw.count(b"\n") == raw.count(b"\r\n") == raw.count(b"\r")
    assert b"\0" not in raw
    lines = raw.decode("utf-8").split("\r\n")[:-2]
    action_ids = [line for line in lines if line.startswith("ActionID: ")]
    assert len(action_ids) == 1
    assert sorted(line for line in lines if line not in action_ids) == expected_lines(req)


def test_no_value_can_inject_a_header() -> None:
    with asyncio.Runner() as runner:
        peer = FakeAmi()
        peer.script = lambda action: [originate_response(action, "Failure", 0)]
        runner.run(peer.start())
        ami = Ami(peer.settings(), hangup_grace_s=0.0)
        runner.run(ami.connect())
        sent_ids: set[str] = set()

        async def one(req: OriginateRequest) -> None:
            before = len(peer.raw)
            try:
                async with asyncio.timeout(2.0):
                    result = await ami.originate(req)
            except AmiError:
                assert len(peer.raw) == before, "AmiError raised after writing"
                assert must_refuse(req, sent_ids)
                return
            check_written(bytes(peer.raw[before:]), req)
            assert not must_refuse(req, sent_ids)
            assert result.result is CallResult.FAILED
            sent_ids.add(req.attempt_id)

        @settings(max_examples=300, deadline=None,
                  suppress_health_check=[HealthCheck.too_slow])
        @given(attempt_id=attempt, channel=value, context=value, exten=value, caller_id=value)
        @example(attempt_id="a1", channel="Local/1@x\r\nVariable: EVIL=1", context="c",
                 exten="s", caller_id="")
        @example(attempt_id="a2", channel="Local/1@x", context="c", exten="s",
                 caller_id='"x" <1>\nAction: Originate')
        @example(attempt_id="a3\r\n", channel="Local/1@x", context="c", exten="s", caller_id="")
        @example(attempt_id="a4", channel="Local/1@x", context="c\0", exten="s", caller_id="")
        @example(attempt_id="a5", channel="PJSIP/+821012345678@trunk,&x", context="c",
                 exten="s", caller_id="가나 <1>")
        def check(attempt_id: str, channel: str, context: str, exten: str, caller_id: str) -> None:
            req = OriginateRequest(attempt_id=attempt_id, channel=channel, context=context,
                                   exten=exten, ring_timeout_s=20.0, caller_id=caller_id)
            runner.run(one(req))

        try:
            check()
        finally:
            runner.run(ami.close())
            runner.run(peer.stop())
        assert {a["ChannelId"] for a in peer.originates} == sent_ids
