"""The sandbox commands on the real sandbox. Runs last: it stops and restarts Asterisk."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from bot.config import Settings
from bot.telephony.sandbox import Sandbox

pytestmark = pytest.mark.integration


def collbot(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", *args], capture_output=True, text=True,
                          timeout=120, check=False, env=dict(os.environ))


def test_up_is_idempotent_and_status_tells_version_and_ports(sandbox: Sandbox, sandbox_settings: Settings) -> None:
    pid = sandbox.pid()
    up = collbot("sandbox", "up")
    assert up.returncode == 0, up.stderr
    assert sandbox.pid() == pid  # already running: reloaded, not restarted
    status = collbot("sandbox", "status")
    assert status.returncode == 0
    assert "Asterisk 22." in status.stdout
    assert f"AMI: 127.0.0.1:{sandbox_settings.ami.port}" in status.stdout
    assert f"FastAGI: 127.0.0.1:{sandbox_settings.agi.port}" in status.stdout


def test_down_stops_only_our_asterisk_and_unmounts(sandbox: Sandbox) -> None:
    pid = sandbox.pid()
    assert pid is not None
    try:
        down = collbot("sandbox", "down")
        assert down.returncode == 0 and "stopped" in down.stdout
        assert not os.path.exists(f"/proc/{pid}")
        assert not os.path.ismount(sandbox.root / "proc")
        status = collbot("sandbox", "status")
        assert status.returncode == 3 and "stopped" in status.stdout
        again = collbot("sandbox", "down")
        assert again.returncode == 0 and "was not running" in again.stdout
    finally:
        sandbox.up()
    assert sandbox.pid() is not None
