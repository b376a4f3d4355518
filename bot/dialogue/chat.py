"""A text conversation with a script: what operators use to try a script without a phone."""

from __future__ import annotations

from collections.abc import Callable

from bot.domain import Heard
from bot.telephony.channel import Hangup, ListenSpec, heard_reply

Reply = str | dict[str, object]


def reply_from_line(line: str) -> Reply:
    """A typed line: '#12' presses keys, '' is silence, '/hangup' hangs up, anything else is speech."""
    line = line.strip()
    if line.startswith("#") and len(line) > 1:
        return {"dtmf": line[1:]}
    if line == "/hangup":
        return {"hangup": True}
    return line


class ChatChannel:
    """A Channel over text: the robot's words go to ``show``; replies come from ``next_reply``.

    Speech behaves like grammar recognition: a phrase the step does not expect is heard as
    speech without text (no match); an empty reply is silence (no input).
    """

    def __init__(self, next_reply: Callable[[ListenSpec], Reply | None], show: Callable[[str], None]):
        self.next_reply = next_reply
        self.show = show
        self.hung_up = False

    async def prepare(self, text: str, *, language: str) -> None:
        return None

    async def say(self, text: str, *, language: str, dtmf: str = "", listen: ListenSpec | None = None) -> str:
        if self.hung_up:
            raise Hangup("robot")
        self.show(f"robot: {text}")
        return ""

    async def play_file(self, name: str, *, dtmf: str = "", listen: ListenSpec | None = None) -> str:
        return await self.say(f"[plays recording {name}]", language="", dtmf=dtmf)

    async def listen(self, spec: ListenSpec) -> Heard:
        reply = self.next_reply(spec)
        if isinstance(reply, dict) and reply.get("hangup"):
            self.show("you: (hang up)")
        elif isinstance(reply, dict) and reply.get("dtmf"):
            self.show(f"you: (presses {reply['dtmf']})")
        elif isinstance(reply, dict) or not (reply or "").strip():
            self.show("you: (silence)")
        else:
            self.show(f"you: {reply}")
        return heard_reply(reply, spec)

    async def hangup(self) -> None:
        self.hung_up = True
        self.show("robot: (hangs up)")
