"""AudioSocket's wire format, pure: no I/O.

Every message is a 3-byte header (kind, big-endian payload length) and the payload:
``0x01`` the call's UUID (16 bytes), ``0x10`` 16-bit 8 kHz mono PCM, ``0x03`` one ASCII
DTMF digit, ``0x00`` hangup, ``0xff`` an error code. Lengths are bounded per kind, so a
peer cannot make us buffer more than one small frame.
"""

from __future__ import annotations

import hashlib
import struct
import uuid
from dataclasses import dataclass
from enum import IntEnum

from bot.errors import TelephonyError

HEADER = struct.Struct(">BH")
FRAME_BYTES = 320  # 20 ms of 8 kHz 16-bit mono
# Asterisk forwards whatever its channel reads: 20 ms on every line we know, but a peer may
# send up to 60 ms; more than that is not a voice frame.
MAX_AUDIO_BYTES = 3 * FRAME_BYTES
DTMF_DIGITS = frozenset("0123456789*#ABCD")


class Kind(IntEnum):
    HANGUP = 0x00
    UUID = 0x01
    DTMF = 0x03
    AUDIO = 0x10
    ERROR = 0xFF


_LIMITS = {Kind.HANGUP: 0, Kind.UUID: 16, Kind.DTMF: 1, Kind.AUDIO: MAX_AUDIO_BYTES, Kind.ERROR: 1}


class AudioSocketError(TelephonyError):
    """An AudioSocket peer sent something we cannot use (the message says what, not the bytes)."""


@dataclass(frozen=True, slots=True)
class Frame:
    kind: Kind
    payload: bytes = b""

    @property
    def digit(self) -> str:
        return self.payload.decode("ascii") if self.kind is Kind.DTMF else ""


def encode(kind: Kind, payload: bytes = b"") -> bytes:
    """One message; refuses a payload its kind does not allow."""
    if len(payload) > _LIMITS[kind] or (kind is Kind.UUID and len(payload) != 16):
        raise ValueError(f"{kind.name} payload of {len(payload)} bytes")
    return HEADER.pack(kind, len(payload)) + payload


def audio(pcm: bytes) -> bytes:
    return encode(Kind.AUDIO, pcm)


HANGUP = encode(Kind.HANGUP)


def check_header(header: bytes) -> tuple[Kind, int]:
    """Kind and payload length of a 3-byte header; AudioSocketError if unusable."""
    raw_kind, length = HEADER.unpack(header)
    try:
        kind = Kind(raw_kind)
    except ValueError:
        raise AudioSocketError(f"unknown AudioSocket message kind 0x{raw_kind:02x}") from None
    limit = _LIMITS[kind]
    if length > limit or (kind is Kind.UUID and length != 16):
        raise AudioSocketError(f"AudioSocket {kind.name} message of {length} bytes (at most {limit})")
    if kind is Kind.AUDIO and length % 2:
        raise AudioSocketError(f"AudioSocket audio of an odd {length} bytes")
    return kind, length


def check_frame(kind: Kind, payload: bytes) -> Frame:
    if kind is Kind.DTMF and (len(payload) != 1 or chr(payload[0]) not in DTMF_DIGITS):
        raise AudioSocketError("AudioSocket DTMF message that is not one key")
    return Frame(kind, payload)


class FrameParser:
    """Turns a byte stream into frames; for tests and peers that read in arbitrary chunks."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[Frame]:
        self._buffer += data
        frames: list[Frame] = []
        while len(self._buffer) >= HEADER.size:
            kind, length = check_header(bytes(self._buffer[: HEADER.size]))
            end = HEADER.size + length
            if len(self._buffer) < end:
                break
            frames.append(check_frame(kind, bytes(self._buffer[HEADER.size:end])))
            del self._buffer[:end]
        return frames


def call_uuid(attempt_id: str) -> uuid.UUID:
    """The AudioSocket UUID of an attempt: the first 128 bits of SHA-1 of its id.

    The dialplan derives the same from the channel's UNIQUEID (the attempt id, our ChannelId)
    with ``SHA1()``, so any attempt id maps to a well-formed UUID and nothing else reaches
    the dialplan.
    """
    return uuid.UUID(hashlib.sha1(attempt_id.encode("ascii")).hexdigest()[:32])
