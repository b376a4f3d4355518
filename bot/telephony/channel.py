"""The seam between a dialogue and a call: what a conversation can ask of a phone line.

FastAGI is one implementation (``bot.telephony.agi_channel``), a streaming one comes later,
and ``TextChannel`` serves tests and the text simulator.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from bot.domain import Heard


class Hangup(Exception):
    """The call is gone. Raised by any channel operation; caught only at the session boundary."""

    def __init__(self, by: str = "customer"):
        self.by = by
        super().__init__(by)


@dataclass(frozen=True, slots=True)
class ListenSpec:
    """What a listen step expects: phrases for the recognizer, DTMF keys, and its timeouts.

    With ``[unk]`` among the phrases the grammar is open: the recognizer answers with the
    words it heard rather than the nearest phrase, and the dialogue understands them.
    """

    phrases: Sequence[str]
    dtmf: str = ""
    no_input_s: float = 5.0
    max_speech_s: float = 10.0
    interruptible: bool = True  # speech (and keys) may stop the prompt before this listen


class Channel(Protocol):
    """A live call as the dialogue sees it."""

    async def prepare(self, text: str, *, language: str) -> None:
        """Make the prompt ``text`` ready to play (synthesize it) without playing it."""
        ...

    async def say(self, text: str, *, language: str, dtmf: str = "", listen: ListenSpec | None = None) -> str:
        """Speak ``text``; return a DTMF key that interrupted it ('' if none). ``listen`` is the
        listening that follows, which a channel may start before the prompt's silent tail ends."""
        ...

    async def play_file(self, name: str, *, dtmf: str = "", listen: ListenSpec | None = None) -> str:
        """Play a recorded prompt (a path inside the sounds directory); return an interrupting key."""
        ...

    async def listen(self, spec: ListenSpec) -> Heard:
        """Wait for the customer's answer: speech recognized against ``spec.phrases`` or a key."""
        ...

    async def hangup(self) -> None:
        """End the call from our side."""
        ...


class Transferable(Protocol):
    """A channel that can hand its live call to the collectors' queue instead of hanging up.

    Optional: a channel without ``transfer`` hangs up as before (the outcome still says who asked).
    """

    async def transfer(self) -> None:
        """Leave the call to the dialplan's queue when this session ends; never hang up."""
        ...


def heard_reply(reply: str | Mapping[str, object] | None, spec: ListenSpec) -> Heard:
    """What a grammar recognizer makes of a typed or scripted reply, for the text channels:
    a phrase the step does not expect is speech without text (no match); nothing, blank or
    ``{"silence": True}`` is no input; ``{"dtmf": "1"}`` is its first key if the step takes it
    (a real channel ignores other keys); ``{"hangup": True}`` raises Hangup."""
    if isinstance(reply, Mapping):
        if reply.get("hangup"):
            raise Hangup("customer")
        key = str(reply.get("dtmf", ""))[:1]
        return Heard(digit=key) if key and key in spec.dtmf else Heard()
    if reply is None or not reply.strip():
        return Heard()
    if reply in spec.phrases or "[unk]" in spec.phrases:  # an open grammar hears what was said
        return Heard(text=reply, confidence=1.0, audio_ms=100 * len(reply))
    return Heard(audio_ms=100 * len(reply))


class TextChannel:
    """An in-memory channel: replies come from a list; what the robot says is kept in ``said``."""

    def __init__(self, replies: Sequence[str | dict[str, str]] = ()):
        self._replies = list(replies)
        self.said: list[str] = []
        self.hung_up = False
        self.transferred = False

    async def prepare(self, text: str, *, language: str) -> None:
        return None

    async def say(self, text: str, *, language: str, dtmf: str = "", listen: ListenSpec | None = None) -> str:
        if self.hung_up:
            raise Hangup("robot")
        self.said.append(text)
        return ""

    async def play_file(self, name: str, *, dtmf: str = "", listen: ListenSpec | None = None) -> str:
        return await self.say(f"[recording {name}]", language="", dtmf=dtmf)

    async def listen(self, spec: ListenSpec) -> Heard:
        """Like grammar recognition: a reply outside the phrases is heard as speech with no text."""
        if self.hung_up:
            raise Hangup("robot")
        return heard_reply(self._replies.pop(0) if self._replies else None, spec)

    async def hangup(self) -> None:
        self.hung_up = True

    async def transfer(self) -> None:
        if self.hung_up:
            raise Hangup("robot")
        self.transferred = True
