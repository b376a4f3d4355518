"""`collbot script test`: the operators' test bench, through the real sandbox Asterisk."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.telephony.sandbox import Sandbox

# thirteen answered calls at once use both cores: beside another file's calls (make test runs two
# files at a time with SANDBOXES=2) the recognition of both starves and calls end misheard: it runs alone
pytestmark = [pytest.mark.integration, pytest.mark.serial]
ROOT = Path(__file__).parents[2]


def test_korean_reminder_passes_its_personas(sandbox: Sandbox, tmp_path: Path) -> None:
    env = dict(os.environ, COLLBOT__DATABASE__URL=f"sqlite:///{tmp_path}/bench.db",
               COLLBOT__LOG__FILE=str(tmp_path / "bench.log"), COLLBOT__DIAL__RING_TIMEOUT_S="4")
    done = subprocess.run(
        [sys.executable, "-m", "bot", "script", "test", str(ROOT / "scripts/reminder-ko.yaml"),
         str(ROOT / "tests/integration/personas.yaml"), "--concurrency", "13"],
        capture_output=True, text=True, timeout=600, check=False, env=env, cwd=tmp_path)
    print(done.stdout)
    assert done.returncode == 0, done.stdout + done.stderr
    for outcome in ("promise_to_pay", "refused", "already_paid", "wrong_number", "opt_out",
                    "transfer_requested", "no_response", "hung_up", "no_answer", "busy", "congestion"):
        assert outcome in done.stdout
    assert "ended as their persona expects" in done.stdout
    assert " NO " not in done.stdout
