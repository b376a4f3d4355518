"""What an agent may switch to from the desk: pure, checked on the server.

    ready ⇄ paused(reason)        by the agent, when no call is open
    on_call → wrap_up             by the agent ("call ended")
    wrap_up → ready | paused      only by storing the wrap-up
    anything → on_call            by a screen pop (a call put through)
    ready/on_call/wrap_up → paused("disconnected")   by the desk after the grace period
"""

from __future__ import annotations

from bot.errors import InputError

PAUSE_REASONS = ("break", "lunch", "training", "meeting", "paperwork")
LABELS = {"ready": "Ready", "paused": "Paused", "on_call": "On call", "wrap_up": "Wrap-up", "logged_out": "Logged out"}


def switch(current: str, wanted: str, reason: str, *, open_call: bool) -> tuple[str, str]:
    """The (state, reason) the agent's request leads to, or InputError saying why not."""
    if wanted == "wrap_up":
        if current != "on_call":
            raise InputError("there is no call to end")
        return "wrap_up", ""
    if wanted not in ("ready", "paused"):
        raise InputError(f"cannot switch to {wanted!r} from the desk")
    if open_call or current in ("on_call", "wrap_up"):
        raise InputError("finish the wrap-up of your call first")
    if wanted == "paused":
        if reason not in PAUSE_REASONS:
            raise InputError(f"choose a pause reason: {', '.join(PAUSE_REASONS)}")
        return "paused", reason
    return "ready", ""
