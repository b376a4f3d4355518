"""One sandbox Asterisk per pytest-xdist worker, so the real-call tiers can run two files at once.

The tier waits on real-time audio, not on the CPU, but every test of a run shares the sandbox's
Asterisk, its FastAGI and AudioSocket addresses and its persona dialplan. So worker ``gwN`` (N >= 1)
gets its own copy of the sandbox root (``<sandbox.cache_dir>-gwN``) and its own ports, set in this
process's ``COLLBOT__`` environment, which the settings, the CLI subprocesses and the desk inherit.
``gw0`` and a run without xdist keep the configured sandbox and ports. The RTP range is split
between the workers.

Ports of worker N >= 1: the configured AMI, FastAGI, AudioSocket and SIP ports + 10000 + 1000*(N-1).
Engineers' configured ports (46xx-51xx, defaults 4573-5160) thus stay apart from every worker's, and
below the RTP ranges (20000+).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from pathlib import Path

from bot.config import Settings, load_settings
from bot.telephony.sandbox import Sandbox

WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
BASE_CACHE = "COLLBOT_TEST_BASE_SANDBOX"  # the configured sandbox.cache_dir, before isolation
PORTS = {"COLLBOT__AMI__PORT": ("ami", "port"), "COLLBOT__AGI__PORT": ("agi", "port"),
         "COLLBOT__AUDIOSOCKET__PORT": ("audiosocket", "port"),
         "COLLBOT__SANDBOX__SIP_PORT": ("sandbox", "sip_port")}


def worker_index() -> int:
    return int(WORKER[2:]) if WORKER.startswith("gw") and WORKER[2:].isdigit() else 0


def isolate_worker() -> None:
    """Point this worker's settings at its own sandbox and ports (idempotent; no-op without xdist)."""
    if not WORKER or BASE_CACHE in os.environ:
        return
    base = load_settings(None)
    index, count = worker_index(), max(1, int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))
    box = base.sandbox
    span = (box.rtp_port_end - box.rtp_port_start + 1) // count
    if span < 20:
        raise RuntimeError(f"sandbox RTP range {box.rtp_port_start}-{box.rtp_port_end} is too small "
                           f"to split between {count} workers")
    env = {BASE_CACHE: str(box.cache_dir),
           "COLLBOT__SANDBOX__RTP_PORT_START": str(box.rtp_port_start + index * span),
           "COLLBOT__SANDBOX__RTP_PORT_END": str(box.rtp_port_start + (index + 1) * span - 1)}
    if index:
        offset = 10000 + 1000 * (index - 1)
        for name, (section, key) in PORTS.items():
            env[name] = str(getattr(getattr(base, section), key) + offset)
        env["COLLBOT__SANDBOX__CACHE_DIR"] = f"{box.cache_dir}-{WORKER}"
    os.environ.update(env)


def prepare_sandbox(settings: Settings) -> None:
    """Before ``Sandbox(settings).up()`` under xdist: build the configured sandbox root once (the
    workers start together, so under a lock), and give worker N >= 1 its own copy of it."""
    base_cache = os.environ.get(BASE_CACHE)
    if base_cache is None:
        return
    base_dir = Path(base_cache)
    mine = Sandbox(settings)
    if mine.built:
        return
    base_dir.parent.mkdir(parents=True, exist_ok=True)
    with open(base_dir.parent / f".{base_dir.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        base = Sandbox(settings.model_copy(update={
            "sandbox": settings.sandbox.model_copy(update={"cache_dir": base_dir})}))
        base.build()
        if not mine.built:
            _copy_root(base.root, mine.cache, settings)


def _copy_root(src: Path, cache: Path, settings: Settings) -> None:
    """Copy a built root, without the running Asterisk's state (pid, logs, recordings, astdb) or
    a prompt being written; into a partial directory first, so a broken copy is never used."""
    partial = cache / "root.partial"
    if partial.exists():
        shutil.rmtree(partial)
    partial.mkdir(parents=True)
    volatile = ["./proc/*", "./run/asterisk/*", "./var/log/asterisk/*", f".{settings.asterisk.spool_dir}/*",
                "./var/lib/asterisk/astdb.sqlite3*", "*.tmp.wav"]
    pack = subprocess.Popen(["tar", "-C", str(src), "--one-file-system", "--ignore-failed-read",
                             "--warning=no-file-changed", "--warning=no-file-removed",
                             *(f"--exclude={pattern}" for pattern in volatile), "-cf", "-", "."],
                            stdout=subprocess.PIPE)
    assert pack.stdout is not None
    unpack = subprocess.run(["tar", "-C", str(partial), "-xpf", "-"], stdin=pack.stdout, check=False)
    pack.stdout.close()
    # tar's 1: a file changed while it was read (a log line, a prompt cached meanwhile); not an error here
    if pack.wait() not in (0, 1) or unpack.returncode != 0:
        raise RuntimeError(f"copying the sandbox root {src} to {partial} failed")
    (partial / "proc").mkdir(exist_ok=True)
    partial.rename(cache / "root")
