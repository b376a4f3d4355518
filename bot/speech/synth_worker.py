"""A synthesis worker process and the parent's handle on it: one JSON line per request and reply.

The child (``python -m bot.speech.synth_worker``) owns its own espeak-ng engine. Requests on
stdin: ``{"text", "voice", "rate", "dest", "shape"}``; one reply line each on stdout: ``{"ok": true}``
or ``{"error": "..."}``. Its stderr is the parent's, so a crash leaves a trace in the log.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
from pathlib import Path
from typing import IO

import bot
from bot.errors import SpeechError
from bot.speech.render import PLAIN, Shape, synthesize_to


class WorkerDied(Exception):  # internal: restart the worker; never leaves this package
    """The worker exited before answering; the request may be retried on a fresh one."""


class WorkerProcess:
    """One running worker; used by one thread at a time."""

    def __init__(self, *, timeout_s: float = 60.0):
        self._timeout_s = timeout_s
        env = dict(os.environ)
        # The child must import this same bot package even when it is not installed.
        root = str(Path(bot.__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "bot.speech.synth_worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )

    @property
    def alive(self) -> bool:
        return self._proc.poll() is None

    def render(self, text: str, voice: str, rate: int, dest: Path, shape: Shape = PLAIN) -> None:
        """Have the worker write ``dest``; SpeechError if it cannot, WorkerDied if it is gone."""
        stdin, stdout = self._pipes()
        request = {
            "text": text,
            "voice": voice,
            "rate": rate,
            "dest": str(dest),
            "shape": [shape.lead_ms, shape.tail_ms, shape.max_pause_ms],
        }
        try:
            stdin.write(json.dumps(request).encode("ascii") + b"\n")
            stdin.flush()
        except OSError as exc:
            raise WorkerDied(f"cannot send to the synthesis worker: {exc}") from exc
        # One reply line per request, so nothing is left buffered and select() sees the pipe.
        ready, _, _ = select.select([stdout], [], [], self._timeout_s)
        if not ready:
            self.close(timeout_s=0)
            raise SpeechError(f"speech synthesis took more than {self._timeout_s:g} s; worker stopped")
        line = stdout.readline()
        if not line:
            raise WorkerDied(f"the synthesis worker exited (code {self._proc.wait()})")
        reply = json.loads(line)
        if "error" in reply:
            raise SpeechError(reply["error"])

    def _pipes(self) -> tuple[IO[bytes], IO[bytes]]:
        stdin, stdout = self._proc.stdin, self._proc.stdout
        assert stdin is not None and stdout is not None
        return stdin, stdout

    def close(self, *, timeout_s: float = 5.0) -> None:
        """Let the worker finish and exit (end of its input); kill it after ``timeout_s``."""
        stdin, stdout = self._pipes()
        with contextlib.suppress(OSError):
            stdin.close()
        try:
            self._proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        stdout.close()


def main() -> None:
    """Serve requests until stdin closes."""
    # The protocol gets the real stdout to itself; fd 1 goes to /dev/null so the driver's
    # prints (and anything a C library writes) cannot corrupt it.
    replies = os.fdopen(os.dup(1), "w", encoding="ascii", buffering=1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)
    # Ctrl-C belongs to the parent, which closes our stdin; we must not print a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with replies:
        for line in sys.stdin.buffer:
            request = json.loads(line)
            try:
                shape = Shape(*request.get("shape", (0, 0, 0)))
                synthesize_to(request["text"], request["voice"], request["rate"], Path(request["dest"]), shape)
                reply: dict[str, object] = {"ok": True}
            except SpeechError as exc:
                reply = {"error": str(exc)}
            except Exception as exc:
                reply = {"error": f"speech synthesis failed: {type(exc).__name__}: {exc}"}
            replies.write(json.dumps(reply) + "\n")


if __name__ == "__main__":
    main()
