"""The AudioSocket server and channel against fake Asterisk peers on real sockets: framing,
malformed and hostile peers, and the bad input a call must survive (each ends the call with
an outcome, and leaves no task or socket behind)."""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import socket
import uuid
from array import array
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import pytest

from bot.config import Settings
from bot.dialogue.compiler import compile_script
from bot.dialogue.schema import Script
from bot.dialogue.session import CallOutcome, ScriptRun
from bot.domain import Debtor, DialogueEvent, EventKind, Outcome
from bot.speech.turns import TurnConfig
from bot.speech.wav import write_pcm
from bot.telephony import audiosocket_protocol as wire
from bot.telephony.audiosocket import AudioSocketConnection, AudioSocketServer
from bot.telephony.audiosocket_channel import AudioSocketChannel
from bot.telephony.audiosocket_protocol import AudioSocketError, FrameParser, Kind, call_uuid

CALL = uuid.UUID("12345678-1234-5678-1234-567812345678")


def tone(ms: int, level: int = 8000) -> bytes:
    return array("h", (int(level * math.sin(2 * math.pi * 440 * i / 8000)) for i in range(ms * 8))).tobytes()


# --- the wire format ----------------------------------------------------------------------

def test_frames_round_trip_through_the_parser_in_any_chunking() -> None:
    data = (wire.encode(Kind.UUID, CALL.bytes) + wire.audio(tone(20)) + wire.encode(Kind.DTMF, b"5")
            + wire.audio(b"") + wire.HANGUP)
    for size in (1, 2, 3, 7, len(data)):
        parser = FrameParser()
        frames = [f for i in range(0, len(data), size) for f in parser.feed(data[i:i + size])]
        assert [f.kind for f in frames] == [Kind.UUID, Kind.AUDIO, Kind.DTMF, Kind.AUDIO, Kind.HANGUP]
        assert frames[1].payload == tone(20) and frames[2].digit == "5"


@pytest.mark.parametrize(("raw", "why"), [
    (b"\x42\x00\x00", "unknown"),
    (b"\x10\x10\x00", "at most"),  # 4 KB of "audio"
    (b"\x10\x00\x03", "odd"),
    (b"\x01\x00\x05", "at most"),  # a UUID of 5 bytes
    (b"\x03\x00\x01x", "not one key"),
])
def test_malformed_messages_are_refused(raw: bytes, why: str) -> None:
    with pytest.raises(AudioSocketError, match=why):
        FrameParser().feed(raw)


def test_call_uuid_is_stable_and_well_formed() -> None:
    assert call_uuid("abc") == call_uuid("abc") != call_uuid("abd")
    assert str(call_uuid("0" * 32)).count("-") == 4


# --- the server, on real sockets ----------------------------------------------------------

@pytest.fixture
async def collected() -> AsyncIterator[tuple[AudioSocketServer, list[object]]]:
    got: list[object] = []

    async def handler(conn: AudioSocketConnection) -> None:
        got.append(conn.uuid)
        while (frame := await conn.read()) is not None:
            got.append(frame)
        got.append(conn.ended_by)

    server = AudioSocketServer(handler, port=0, uuid_timeout_s=0.5)
    await server.start()
    yield server, got
    await server.close()
    assert server.live == 0


async def _client(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port)


async def _settled(server: AudioSocketServer) -> None:
    for _ in range(200):
        if server.live == 0:
            return
        await asyncio.sleep(0.01)


async def test_server_reads_a_call_sent_byte_by_byte(collected: tuple[AudioSocketServer, list[object]]) -> None:
    server, got = collected
    _, writer = await _client(server.port)
    for byte in wire.encode(Kind.UUID, CALL.bytes) + wire.audio(tone(20)) + wire.encode(Kind.DTMF, b"#") + wire.HANGUP:
        writer.write(bytes([byte]))
        await writer.drain()
    await _settled(server)
    assert got[0] == CALL
    assert [f.kind for f in got[1:3]] == [Kind.AUDIO, Kind.DTMF]  # type: ignore[attr-defined]
    assert got[-1] == "hangup"
    writer.close()


@pytest.mark.parametrize("send", [
    b"",  # connect and close
    wire.audio(tone(20)),  # audio before the UUID
    b"\x01\x00",  # half a header, then silence
    b"\xff" * 10_000,  # garbage
])
async def test_hostile_peers_are_closed_without_a_call(collected: tuple[AudioSocketServer, list[object]],
                                                       send: bytes) -> None:
    server, got = collected
    reader, writer = await _client(server.port)
    writer.write(send)
    await writer.drain()
    if not send:
        writer.close()
    assert await asyncio.wait_for(reader.read(), 2.0) == b""  # the server hung up on it
    await _settled(server)
    assert got == [] and server.live == 0
    writer.close()


async def test_malformed_frame_mid_call_ends_it(collected: tuple[AudioSocketServer, list[object]]) -> None:
    server, got = collected
    reader, writer = await _client(server.port)
    writer.write(wire.encode(Kind.UUID, CALL.bytes) + wire.audio(tone(20)) + b"\x10\xff\xff" + bytes(100))
    await writer.drain()
    await _settled(server)
    assert str(got[-1]).startswith("malformed")
    assert await asyncio.wait_for(reader.read(), 2.0) == b""
    writer.close()


# --- a call on the channel against misbehaving peers ---------------------------------------

class _Synth:
    """Prompts as tones written once: the channel plays them like cached TTS."""

    def __init__(self, folder: Path, ms: int = 1500):
        self.folder = folder
        self.ms = ms

    async def prompt(self, text: str, voice: str) -> Path:
        path = self.folder / f"{abs(hash(text))}-{self.ms}.wav"
        if not path.exists():
            write_pcm(path, tone(self.ms))
        return path


class _Stream:
    async def feed(self, pcm: bytes) -> None:
        return None

    async def result(self) -> tuple[str, float]:
        return "", 0.0

    def close(self) -> None:
        return None


class _Recognizer:
    def stream(self, phrases: object) -> _Stream:
        return _Stream()


class _LoudVad:
    def speech(self, frame: bytes) -> float:
        return 1.0


SCRIPT = Script.model_validate({
    "script": "t", "language": "ko", "start": "greet",
    "steps": {
        "greet": {"say": "안녕하세요", "listen": {
            "intents": {"yes": {"phrases": ["네"], "dtmf": "1", "goto": "bye"}},
            "timeout_s": 0.5, "max_speech_s": 1,
            "no_input": {"retries": 1, "goto": "bye_none"}, "no_match": {"retries": 1, "goto": "bye_none"}}},
        "bye": {"say": "감사합니다", "end": True, "outcome": "promise_to_pay"},
        "bye_none": {"say": "다시 연락 드리겠습니다", "end": True, "outcome": "no_response"},
    },
})

Peer = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


Result = tuple[CallOutcome, list[DialogueEvent], AudioSocketServer]


async def _call(tmp_path: Path, peer: Peer, prompt_ms: int = 1500, *, script: Script = SCRIPT,
                hand_over: Callable[[], Awaitable[None]] | None = None) -> Result:
    """One scripted call over the real server and channel, the far end played by ``peer``."""
    outcome: asyncio.Future[CallOutcome] = asyncio.get_running_loop().create_future()
    events: list[DialogueEvent] = []
    pool = ThreadPoolExecutor(1)
    settings = Settings.model_validate({"asterisk": {"root": str(tmp_path)}})

    async def record(event: DialogueEvent) -> None:
        events.append(event)

    async def handler(conn: AudioSocketConnection) -> None:
        channel = AudioSocketChannel(
            conn, settings=settings, synth=_Synth(tmp_path, prompt_ms), recognizer=_Recognizer(),  # type: ignore[arg-type]
            vad=_LoudVad(), pool=pool, call_id="t", turn_config=TurnConfig(noise_floor_rms=500),
            hand_over=hand_over)
        channel.start()
        try:
            debtor = Debtor("d", "김", "+821055550000", Decimal(1))
            outcome.set_result(await ScriptRun(compile_script(script), debtor, today=dt.date(2026, 1, 1),
                                               record=record).run(channel))
        finally:
            await channel.close()

    server = AudioSocketServer(handler, port=0, write_timeout_s=0.5)
    await server.start()
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: a small window, as a stalled peer's
    raw.setblocking(False)
    await asyncio.get_running_loop().sock_connect(raw, ("127.0.0.1", server.port))
    reader, writer = await asyncio.open_connection(sock=raw)
    writer.write(wire.encode(Kind.UUID, CALL.bytes))
    peer_task = asyncio.ensure_future(peer(reader, writer))
    try:
        result = await asyncio.wait_for(outcome, 60)
    finally:
        peer_task.cancel()
        await asyncio.gather(peer_task, return_exceptions=True)
        writer.close()
        await server.close()
        pool.shutdown()
    return result, events, server


async def _drain(reader: asyncio.StreamReader) -> None:
    while await reader.read(65536):
        pass


async def test_peer_that_stalls_mid_prompt_ends_the_call(tmp_path: Path) -> None:
    async def stall(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(60)  # reads nothing, sends nothing

    # Kernel buffers on both ends take ~10 s of audio before a write has to wait: a 30 s prompt
    # is cut by the stall, not ended by itself.
    result, events, server = await _call(tmp_path, stall, prompt_ms=30_000)
    assert result.outcome is Outcome.HUNG_UP
    assert events[-1].kind is EventKind.HANGUP and server.live == 0


async def test_peer_that_closes_mid_prompt_ends_the_call(tmp_path: Path) -> None:
    async def close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readexactly(10 * 323)
        writer.close()

    result, _, server = await _call(tmp_path, close)
    assert result.outcome is Outcome.HUNG_UP and server.live == 0


async def test_burst_of_50_keys(tmp_path: Path) -> None:
    async def keys(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readexactly(20 * 323)  # the prompt is playing
        writer.write(b"".join(wire.encode(Kind.DTMF, b"1") for _ in range(50)))
        await _drain(reader)

    result, events, server = await _call(tmp_path, keys)
    assert result.outcome is Outcome.PROMISE_TO_PAY  # the first key answered; the rest changed nothing
    assert [e.data["digit"] for e in events if e.kind is EventKind.DTMF] == ["1"]
    assert server.live == 0
    # The prompts it played are noted for forget and the retention purge (bot.privacy.prompts).
    from bot.privacy.prompts import PROMPTS_MANIFEST, prompt_digest

    settings = Settings.model_validate({"asterisk": {"root": str(tmp_path)}})
    spool = settings.host_path(settings.asterisk.spool_dir)
    noted = (spool / "t" / PROMPTS_MANIFEST).read_text(encoding="ascii").split()
    assert noted[0::2] == [prompt_digest(str(e.data["text"])) for e in events if e.kind is EventKind.PROMPT]


async def test_continuous_speech_is_cut_and_the_call_ends(tmp_path: Path) -> None:
    async def talk(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        drain = asyncio.ensure_future(_drain(reader))
        frame = wire.audio(tone(20))
        try:
            for _ in range(30_000):  # 10 minutes of "speech", paced
                writer.write(frame)
                await writer.drain()
                await asyncio.sleep(0.02)
        finally:
            drain.cancel()

    result, events, _ = await _call(tmp_path, talk)
    assert result.outcome is Outcome.NO_RESPONSE  # heard, never understood, asked again, gave up
    # speech was heard (and cut at max_speech) but not understood: never stored as no input
    assert not [e for e in events if e.kind is EventKind.NO_INPUT]
    heard = [e for e in events if e.kind in (EventKind.NO_MATCH, EventKind.RECOGNITION) and "timing" in e.data]
    assert len(heard) == 2 and all(e.data["timing"]["max_speech"] == 1 for e in heard)  # type: ignore[index]


async def test_endless_silence_is_no_response(tmp_path: Path) -> None:
    result, events, _ = await _call(tmp_path, lambda reader, writer: _drain(reader))
    assert result.outcome is Outcome.NO_RESPONSE
    assert [e.data["audio_ms"] for e in events if e.kind is EventKind.NO_INPUT] == [0, 0]


async def test_malformed_frame_mid_call_ends_it_as_hung_up(tmp_path: Path) -> None:
    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readexactly(5 * 323)
        writer.write(b"\x10\xff\xff")
        await _drain(reader)

    result, _, server = await _call(tmp_path, garbage)
    assert result.outcome is Outcome.HUNG_UP and server.live == 0


TRANSFER_SCRIPT = Script.model_validate({
    "script": "t", "language": "ko", "start": "greet",
    "steps": {
        "greet": {"say": "안녕하세요", "listen": {
            "intents": {"human": {"phrases": ["상담원"], "dtmf": "0", "goto": "transfer"}},
            "timeout_s": 0.5, "max_speech_s": 1,
            "no_input": {"retries": 0, "goto": "bye"}, "no_match": {"retries": 0, "goto": "bye"}}},
        "transfer": {"say": "연결해 드리겠습니다", "end": True, "outcome": "transfer_requested",
                     "action": "transfer"},
        "bye": {"say": "감사합니다", "end": True, "outcome": "no_response"},
    },
})


async def test_transfer_marks_the_call_then_ends_the_audiosocket_leg(tmp_path: Path) -> None:
    seen: list[str] = []

    async def hand_over() -> None:
        seen.append("marked")

    async def asks_for_a_person(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readexactly(10 * 323)  # the greeting is playing
        writer.write(wire.encode(Kind.DTMF, b"0"))
        parser = FrameParser()
        while data := await reader.read(65536):
            for frame in parser.feed(data):
                if frame.kind is Kind.HANGUP:  # Asterisk would now run the dialplan's GotoIf
                    seen.append("hangup frame")
                    return

    result, events, server = await _call(tmp_path, asks_for_a_person, script=TRANSFER_SCRIPT, hand_over=hand_over)
    assert result.outcome is Outcome.TRANSFER_REQUESTED and result.detail["action"] == "transfer"
    assert seen == ["marked", "hangup frame"]  # marked for the queue before the leg ended
    assert {"step": "transfer", "transfer": "queue"} in [e.data for e in events if e.kind is EventKind.STATE]
    assert not [e for e in events if e.kind is EventKind.HANGUP] and server.live == 0

