"""A real SIP phone as a debtor (tests and benchmarks): Debian's baresip, run with a private
config dir, registered to the sandbox as ``collbot-phone`` (asterisk_conf/sandbox/pjsip.conf).

It answers by itself, speaks WAV files (its microphone is ``aufile``), dumps what it hears to a
WAV (``sndfile``) and is driven over ``ctrl_tcp`` (events, switching the microphone, hang-up).
Keys go through the ``cons`` console instead: baresip 1.0's ctrl_tcp relays only long commands,
and DTMF is bound to single keys only (``{"command": "1"}`` answers "command not found").
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import shutil
import socket
import time
import wave
from array import array
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bot.errors import SandboxError

log = logging.getLogger(__name__)

AOR = "collbot-phone"
RATE = 8000
FRAME = 160  # samples in 20 ms
KEY_HOLD_S = 0.12  # how long a key is held
KEY_GAP_S = 0.2  # between two keys
KEY_RELEASE = b"\x04"  # baresip's KEYCODE_REL


def free_port(*, span: int = 1, taken: Sequence[int] = ()) -> int:
    """A loopback port, and the ``span - 1`` after it, free for both TCP and UDP right now and not
    in ``taken`` (baresip's cons binds both; its SIP binds UDP and TCP on the port, TLS on the next)."""
    for _ in range(100):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        ports = range(port, port + span)
        if port + span > 65535 or any(p in taken for p in ports):
            continue
        if all(_bindable(p) for p in ports):
            return port
    raise SandboxError("no free loopback port for the SIP phone")


def _bindable(port: int) -> bool:
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        with socket.socket(socket.AF_INET, kind) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def write_silence(path: Path, seconds: float) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(bytes(int(seconds * RATE) * 2))
    return path


class _PortTaken(SandboxError):
    """A port baresip was given was taken between choosing it and binding it."""


class SipPhone:
    """One baresip process; ``async with SipPhone(dir, registrar_port=...)`` starts and registers it."""

    def __init__(self, workdir: Path, *, registrar_port: int, codecs: Sequence[str] = ("PCMU",)):
        self.dir = Path(workdir)
        self.registrar_port = registrar_port
        self.codecs = tuple(codecs)
        self.events: list[dict[str, Any]] = []
        self.sent_keys: list[str] = []
        self.answered: list[tuple[str, float]] = []  # (keys or WAV name, seconds heard before it)
        self._proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()
        self._responses: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._cons_port = 0
        self._quiet: asyncio.Task[None] | None = None

    # --- lifecycle ------------------------------------------------------------------------
    async def __aenter__(self) -> SipPhone:
        try:
            await self.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self, timeout_s: float = 15.0) -> None:
        """Start and register; once more on fresh ports if another process took one meanwhile."""
        try:
            await self._start(timeout_s)
        except _PortTaken:
            await self.stop()
            await self._start(timeout_s)

    async def _start(self, timeout_s: float) -> None:
        exe = shutil.which("baresip")
        if exe is None:
            raise SandboxError("baresip is not installed (apt-get install baresip-core)")
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "heard").mkdir(exist_ok=True)
        silence = write_silence(self.dir / "silence.wav", 600)
        sip = free_port(span=2)
        ctrl = free_port(taken=(sip, sip + 1))
        self._cons_port = free_port(taken=(sip, sip + 1, ctrl))
        rtp = free_port(span=4, taken=(sip, sip + 1, ctrl, self._cons_port))  # holds an even pair
        (self.dir / "config").write_text("\n".join([
            "poll_method epoll", f"sip_listen 127.0.0.1:{sip}", "net_interface 127.0.0.1",
            "audio_player", f"audio_source aufile,{silence}", "audio_alert",
            "module_path /usr/lib/baresip/modules", "module g711.so", "module aufile.so",
            "module sndfile.so", "module cons.so", f"cons_listen 127.0.0.1:{self._cons_port}",
            "module_app account.so", "module_app menu.so", "module_app ctrl_tcp.so",
            f"ctrl_tcp_listen 127.0.0.1:{ctrl}", f"snd_path {self.dir / 'heard'}",
            f"rtp_ports {rtp}-{rtp + 3}", "",
        ]))
        (self.dir / "accounts").write_text(
            f"<sip:{AOR}@127.0.0.1:{self.registrar_port};transport=udp>;regint=600;"
            f"answermode=auto;audio_codecs={','.join(self.codecs)}\n")
        logfile = (self.dir / "baresip.log").open("wb")  # with the SIP trace (-s)
        self._proc = await asyncio.create_subprocess_exec(
            exe, "-s", "-f", str(self.dir), stdin=asyncio.subprocess.DEVNULL, stdout=logfile,
            stderr=asyncio.subprocess.STDOUT)
        logfile.close()
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                self._reader, self._writer = await asyncio.open_connection("127.0.0.1", ctrl)
                break
            except OSError:
                if time.monotonic() > deadline or self._proc.returncode is not None:
                    log_text = (self.dir / "baresip.log").read_text(errors="replace")
                    error = _PortTaken if "Address already in use" in log_text else SandboxError
                    raise error(f"baresip did not start; see {self.dir / 'baresip.log'}") from None
                await asyncio.sleep(0.1)
        self._task = asyncio.create_task(self._read())
        # The registration may be done before ctrl_tcp is connected, so its event is not relied on.
        while not re.search(r"OK\W.*Expires [1-9]", str((await self.command("reginfo")).get("data"))):
            if time.monotonic() > deadline:
                raise SandboxError(f"the SIP phone did not register with 127.0.0.1:{self.registrar_port} "
                                   f"(sandbox.sip_port); see {self.dir / 'baresip.log'}")
            await asyncio.sleep(0.1)

    async def stop(self) -> None:
        if self._quiet is not None:
            self._quiet.cancel()
            with contextlib.suppress(asyncio.CancelledError, OSError, TimeoutError, SandboxError):
                await self._quiet
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._proc is not None and self._proc.returncode is None:
            self._proc.terminate()
            try:
                await asyncio.wait_for(self._proc.wait(), 5)
            except TimeoutError:
                self._proc.kill()
                await self._proc.wait()

    # --- ctrl_tcp -------------------------------------------------------------------------
    async def _read(self) -> None:
        assert self._reader is not None
        while True:
            try:
                size = await self._reader.readuntil(b":")
                body = await self._reader.readexactly(int(size[:-1]) + 1)  # JSON and its ','
            except (asyncio.IncompleteReadError, ValueError, OSError):
                return
            message = json.loads(body[:-1])
            if message.get("event"):
                self.events.append(message)
                self._changed.set()
            elif message.get("response"):
                await self._responses.put(message)

    async def command(self, name: str, params: str | None = None, timeout_s: float = 5.0) -> dict[str, Any]:
        assert self._writer is not None
        body: dict[str, str] = {"command": name, "token": name}
        if params is not None:
            body["params"] = params
        data = json.dumps(body).encode()
        self._writer.write(b"%d:%s," % (len(data), data))
        await self._writer.drain()
        return await asyncio.wait_for(self._responses.get(), timeout_s)

    async def wait_event(self, kind: str, timeout_s: float, *, after: int = 0) -> dict[str, Any]:
        """The first event of ``kind`` at index ``after`` or later, waiting for it if need be."""
        deadline = time.monotonic() + timeout_s
        while True:
            for event in self.events[after:]:
                if event.get("type") == kind:
                    return event
            self._changed.clear()
            left = deadline - time.monotonic()
            if left <= 0:
                seen = [e.get("type") for e in self.events]
                raise TimeoutError(f"no {kind} from the SIP phone in {timeout_s:.0f}s (saw {seen})")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), left)

    # --- what the debtor does -------------------------------------------------------------
    async def speak(self, wav: Path) -> None:
        """Switch the microphone to ``wav`` (8 kHz mono), and back to silence when it ends:
        at the end of its file baresip 1.0 ends the call."""
        await self._microphone(wav)
        if self._quiet is not None:
            self._quiet.cancel()
        with wave.open(str(wav)) as audio:
            length_s = audio.getnframes() / audio.getframerate()
        self._quiet = asyncio.create_task(self._silence_after(length_s))

    async def _silence_after(self, delay_s: float) -> None:
        await asyncio.sleep(delay_s)
        await self._microphone(self.dir / "silence.wav")

    async def _microphone(self, wav: Path) -> None:
        reply = await self.command("ausrc", f"aufile,{wav}")
        if not reply.get("ok"):
            raise SandboxError(f"baresip refused the microphone {wav}: {reply.get('data')}")

    async def press(self, keys: str) -> None:
        """Press keys (RFC 4733 events) through the cons console."""
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            asyncio.DatagramProtocol, remote_addr=("127.0.0.1", self._cons_port))
        try:
            for key in keys:
                if key not in "0123456789*#":
                    raise ValueError(f"not a DTMF key: {key!r}")
                transport.sendto(key.encode())
                await asyncio.sleep(KEY_HOLD_S)
                # a key stays pressed until released (KEYCODE_REL): without it the event never
                # ends and Asterisk reports the key only when the next one starts
                transport.sendto(KEY_RELEASE)
                self.sent_keys.append(key)
                await asyncio.sleep(KEY_GAP_S)
        finally:
            transport.close()

    async def hang_up(self) -> None:
        await self.command("hangup")

    # --- what the debtor hears ------------------------------------------------------------
    def heard_file(self) -> Path | None:
        files = sorted((self.dir / "heard").glob("dump-*-dec.wav"))
        return files[-1] if files else None

    def heard(self) -> array[int]:
        """Samples heard so far in the current (latest) call; the dump is still being written."""
        path = self.heard_file()
        if path is None:
            return array("h")
        data = path.read_bytes()
        at = data.find(b"data")
        pcm = data[at + 8:] if at >= 0 else b""
        samples = array("h")
        samples.frombytes(pcm[: len(pcm) // 2 * 2])
        return samples

    async def wait_prompt_end(self, *, since: int, silence_s: float = 0.8, level: int = 300,
                              timeout_s: float = 60.0) -> int:
        """Wait until the robot has spoken after sample ``since`` and then been quiet for
        ``silence_s`` of wall time (a line may send no packets while the robot listens); returns
        the sample count heard so far."""
        deadline = time.monotonic() + timeout_s
        spoke, last_loud, checked = False, time.monotonic(), since
        while time.monotonic() < deadline:
            samples = self.heard()
            for start in range(checked, len(samples) - FRAME + 1, FRAME):
                frame = samples[start:start + FRAME]
                if sum(abs(s) for s in frame) / FRAME > level:
                    spoke, last_loud = True, time.monotonic()
                checked = start + FRAME
            if spoke and time.monotonic() - last_loud >= silence_s:
                return len(samples)
            await asyncio.sleep(0.02)
        raise TimeoutError(f"the robot did not speak and fall silent within {timeout_s:.0f}s")

    async def answer(self, replies: Sequence[str | Path], *, timeout_s: float = 30.0) -> None:
        """Answer each robot prompt in turn, once it has fallen silent: a str is keys to press,
        a Path a WAV to speak. Each reply is logged in ``self.answered``."""
        await self.wait_event("CALL_ESTABLISHED", timeout_s)
        heard = 0
        for reply in replies:
            heard = await self.wait_prompt_end(since=heard)
            if isinstance(reply, Path):
                await self.speak(reply)
            else:
                await self.press(reply)
            self.answered.append((reply if isinstance(reply, str) else reply.name, heard / RATE))
