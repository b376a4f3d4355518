"""How the AGI channel listens: few RECORD FILE commands, keys from AMI, silence where no frames came.

A fake Asterisk answers each RECORD FILE by writing the audio a scripted line would have
sent, after the time it would have taken; the recognizer is a fake that reports what it was
fed. The real Asterisk side is covered by tests/integration.
"""

from __future__ import annotations

import asyncio
import math
import time
from array import array
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bot.config import Settings
from bot.speech.wav import write_pcm
from bot.telephony.agi_channel import RECOGNIZER_LEAD, AgiChannel
from bot.telephony.agi_protocol import AgiReply, parse_reply
from bot.telephony.channel import ListenSpec
from bot.telephony.keys import KeyWatch

MS = 16  # bytes per ms at 8 kHz, 16-bit


def tone(ms: int, level: int = 3000) -> bytes:
    return array("h", (int(level * math.sin(i / 3)) for i in range(ms * 8))).tobytes()


def quiet(ms: int) -> bytes:
    return bytes(ms * MS)


@dataclass
class Take:
    """What one RECORD FILE brings: the audio written, how long it takes, the reply."""

    pcm: bytes = b""
    seconds: float = 0.0
    reply: str = "200 result=0 (timeout) endpos=0"


@dataclass
class FakeAsterisk:
    root: Path
    takes: list[Take]
    commands: list[tuple[str, ...]] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=lambda: {"agi_channel": "Local/robot;1"})
    hung_up: bool = False
    interrupt: asyncio.Event = field(default_factory=asyncio.Event)

    async def command(self, verb: str, *args: str) -> AgiReply:
        self.commands.append((verb, *args))
        if verb != "RECORD FILE":
            return parse_reply("200 result=0 endpos=100")
        take = self.takes.pop(0)
        try:
            await asyncio.wait_for(self.interrupt.wait(), take.seconds)
            self.interrupt.clear()
            return parse_reply(f"200 result={ord('1')} (dtmf) endpos=0")
        except TimeoutError:
            pass
        if take.pcm:
            path = self.root / (args[0].lstrip("/") + ".wav")
            path.parent.mkdir(parents=True, exist_ok=True)
            write_pcm(path, take.pcm)
        return parse_reply(take.reply)


class FakeStream:
    def __init__(self, owner: FakeRecognizer):
        self.owner = owner

    async def feed(self, pcm: bytes) -> None:
        self.owner.fed.append(pcm)

    async def result(self) -> tuple[str, float]:
        return self.owner.answer

    def close(self) -> None:
        pass


@dataclass
class FakeRecognizer:
    answer: tuple[str, float] = ("네", 0.9)
    fed: list[bytes] = field(default_factory=list)

    def stream(self, phrases: list[str]) -> FakeStream:
        return FakeStream(self)


def make(tmp_path: Path, takes: list[Take], **kw: object) -> tuple[AgiChannel, FakeAsterisk, FakeRecognizer]:
    settings = Settings()
    settings = settings.model_copy(update={"asterisk": settings.asterisk.model_copy(update={"root": tmp_path})})
    ast = FakeAsterisk(tmp_path, takes)
    rec = FakeRecognizer()
    chan = AgiChannel(ast, settings=settings, synth=None, recognizer=rec,  # type: ignore[arg-type]
                      call_id="a1", **kw)  # type: ignore[arg-type]
    return chan, ast, rec


SPEC = ListenSpec(["네"], dtmf="12", no_input_s=1.0, max_speech_s=5.0)


async def test_one_recording_holds_the_whole_answer(tmp_path: Path) -> None:
    chan, ast, rec = make(tmp_path, [Take(quiet(300) + tone(600) + quiet(1000), 0.05)])
    heard = await chan.listen(SPEC)
    assert heard.text == "네"
    records = [c for c in ast.commands if c[0] == "RECORD FILE"]
    assert len(records) == 1
    _, _, fmt, keys, limit_ms, silence = records[0]
    assert (fmt, keys, silence) == ("wav", "12", "s=1")  # Asterisk ends it after 1 s of silence
    assert 950 <= int(limit_ms) <= 1000  # or when the no-input time is up
    assert rec.fed[0].startswith(RECOGNIZER_LEAD)
    assert heard.timing["eos_ms"] >= 1000  # the silence Asterisk waited for before it stopped


async def test_silence_only_recordings_go_on_until_speech(tmp_path: Path) -> None:
    # A line that sends silence frames: Asterisk stops after 1 s of them; the robot records again.
    spec = ListenSpec(["네"], dtmf="12", no_input_s=3.0, max_speech_s=5.0)
    chan, ast, _ = make(tmp_path, [Take(quiet(1000), 0.02), Take(tone(500) + quiet(1000), 0.02)])
    assert (await chan.listen(spec)).text == "네"
    assert len(ast.commands) == 2


async def test_no_frames_until_the_time_is_up_is_no_input(tmp_path: Path) -> None:
    chan, ast, rec = make(tmp_path, [Take(b"", 1.0)])
    heard = await chan.listen(SPEC)
    assert heard.silent and heard.audio_ms == 0
    assert len(ast.commands) == 1 and rec.fed == []


async def test_speech_cut_by_the_time_limit_is_recorded_on(tmp_path: Path) -> None:
    chan, ast, rec = make(tmp_path, [Take(tone(400), 0.4), Take(tone(300) + quiet(1000), 0.02)])
    heard = await chan.listen(SPEC)
    assert heard.text == "네"
    assert len(ast.commands) == 2
    assert len(rec.fed[0]) >= len(RECOGNIZER_LEAD) + 700 * MS  # both parts reached the recognizer


async def test_a_quiet_line_after_speech_ends_the_turn(tmp_path: Path) -> None:
    # Speech, then no frames at all (DTX): the wall time the audio does not cover is silence.
    chan, ast, _ = make(tmp_path, [Take(tone(400), 1.5)])
    assert (await chan.listen(SPEC)).text == "네"
    assert len(ast.commands) == 1


async def test_a_lost_key_waiting_in_the_inbox_answers_at_once(tmp_path: Path) -> None:
    watch = KeyWatch()
    keys = watch.watch("a1")
    watch.on_event({"Event": "DTMFEnd", "Uniqueid": "a1", "Direction": "Received", "Digit": "2"})
    chan, ast, _ = make(tmp_path, [], keys=keys)
    heard = await chan.listen(SPEC)
    assert heard.digit == "2" and heard.timing["lost_key"] == 1
    assert ast.commands == []


async def test_a_key_reported_during_the_recording_is_replayed_into_it(tmp_path: Path) -> None:
    watch = KeyWatch()
    keys = watch.watch("a1")
    replays: list[tuple[str, str]] = []
    chan, ast, _ = make(tmp_path, [Take(b"", 5.0)], keys=keys)

    async def replay(channel: str, digit: str) -> None:
        replays.append((channel, digit))
        ast.interrupt.set()  # Asterisk: the replayed key ends the running RECORD FILE

    chan._replay_key = replay
    spec = ListenSpec(["네"], dtmf="12", no_input_s=5.0, max_speech_s=5.0)
    listening = asyncio.create_task(chan.listen(spec))
    await asyncio.sleep(0.05)  # the recording runs; now AMI reports a key from before it began
    watch.on_event({"Event": "DTMFEnd", "Uniqueid": "a1", "Direction": "Received", "Digit": "1"})
    heard = await asyncio.wait_for(listening, 2.0)
    assert heard.digit == "1"
    assert replays == [("Local/robot;1", "1")]


async def test_keys_of_an_earlier_prompt_are_dropped_when_a_prompt_starts(tmp_path: Path) -> None:
    watch = KeyWatch()
    keys = watch.watch("a1")
    watch.on_event({"Event": "DTMFEnd", "Uniqueid": "a1", "Direction": "Received", "Digit": "1"})
    chan, _, _ = make(tmp_path, [Take(b"", 1.0)], keys=keys)
    chan.synth = _Synth(tmp_path)  # type: ignore[assignment]
    await chan.say("다음 질문", language="ko", dtmf="12")
    assert (await chan.listen(SPEC)).silent


class _Synth:
    def __init__(self, root: Path):
        self.root = root

    async def prompt(self, text: str, voice: str) -> Path:
        return self.root / "p.wav"


@pytest.mark.parametrize(("events", "kept"), [
    ([("AGIExecStart", ""), ("DTMFEnd", "1"), ("AGIExecEnd", "")], ""),  # the command saw it
    ([("AGIExecStart", ""), ("AGIExecEnd", ""), ("DTMFEnd", "1")], "1"),  # between two commands
    ([("DTMFEnd", "x")], ""),  # not a key
])
def test_only_keys_between_commands_are_kept(events: list[tuple[str, str]], kept: str) -> None:
    watch = KeyWatch()
    keys = watch.watch("a1")
    for name, digit in events:
        watch.on_event({"Event": name, "Uniqueid": "a1", "Direction": "Received", "Digit": digit})
    assert keys.take("0123456789") == kept


def test_keys_sent_to_the_customer_and_other_calls_are_ignored() -> None:
    watch = KeyWatch()
    keys = watch.watch("a1")
    watch.on_event({"Event": "DTMFEnd", "Uniqueid": "a1", "Direction": "Sent", "Digit": "1"})
    watch.on_event({"Event": "DTMFEnd", "Uniqueid": "b2", "Direction": "Received", "Digit": "2"})
    assert keys.take("12") == ""
    watch.forget("a1")
    watch.on_event({"Event": "DTMFEnd", "Uniqueid": "a1", "Direction": "Received", "Digit": "1"})
    assert keys.take("12") == ""


@pytest.mark.parametrize(("ago_s", "expected_ago_s"), [
    (0.5, 0.5),  # Asterisk started the command half a second before its event arrived
    (-3.0, 0.0),  # a clock ahead of ours: never later than the event's arrival
])
async def test_a_command_start_is_timed_by_the_event_timestamp(ago_s: float, expected_ago_s: float) -> None:
    watch = KeyWatch()
    keys = watch.watch("a1")
    started = keys.when_started(1)
    watch.on_event({"Event": "AGIExecStart", "Uniqueid": "a1", "Timestamp": f"{time.time() - ago_s:.6f}"})
    at = await started
    assert at is not None
    assert time.monotonic() - at == pytest.approx(expected_ago_s, abs=0.05)


@pytest.mark.parametrize("stamp", [None, "", "soon"])
async def test_without_a_usable_timestamp_the_start_time_is_unknown(stamp: str | None) -> None:
    watch = KeyWatch()
    keys = watch.watch("a1")
    event = {"Event": "AGIExecStart", "Uniqueid": "a1"}
    if stamp is not None:
        event["Timestamp"] = stamp
    watch.on_event(event)
    assert await keys.when_started(1) is None  # the robot then counts from when it sent the command
    assert keys.busy == 1
