"""Campaign files: strict, with file:line errors; a campaign whose script fails never starts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.campaign.spec import parse_duration, read_campaign
from bot.errors import ConfigError

ROOT = Path(__file__).parents[2]
GOOD = f"""campaign: m1
script: {ROOT}/scripts/reminder-ko.yaml
rounds:
  - {{name: first, retries: [new]}}
  - {{name: second, retries: [no_answer, busy], after: 2h}}
retry:
  no_answer: {{delay: 30m, max_attempts: 2}}
"""


def test_a_good_campaign(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(GOOD)
    campaign = read_campaign(path)
    assert [r.name for r in campaign.rounds] == ["first", "second"]
    assert campaign.limits.max_concurrent == 20
    assert parse_duration("2h").total_seconds() == 7200


@pytest.mark.parametrize(("change", "expected"), [
    (("rounds:", "rounds:\n  - {name: zero, retries: [busy]}"), "the first round must call new debtors"),
    (("  - {name: second,", "  - {name: first,"), "round names must be unique"),
    (("after: 2h", "after: soon"), "c.yaml:5: rounds[1].after: 'soon' is not a duration"),
    (("retry:", "retrys:"), "unknown key 'retrys'; did you mean 'retry'?"),
    (("campaign: m1", "campaign: m1\nschedule: {start: '20:00', end: '09:00'}"),
     "schedule end must be after its start"),
    (("campaign: m1", "campaign: m1\nschedule: {timezone: Mars/Olympus}"), "unknown time zone 'Mars/Olympus'"),
    (("campaign: m1", "campaign: m1\nlimits: {max_concurrent: 0}"), "c.yaml:2: limits.max_concurrent"),
    (("retries: [new]", "retries: [maybe]"), "c.yaml:4: rounds[0].retries[0]"),
])
def test_bad_campaign_files(tmp_path: Path, change: tuple[str, str], expected: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(GOOD.replace(*change, 1))
    with pytest.raises(ConfigError) as err:
        read_campaign(path)
    assert expected in str(err.value)


def test_run_refuses_a_campaign_whose_script_fails_the_check(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text((ROOT / "scripts/reminder-ko.yaml").read_text().replace("goto: verify", "goto: verfy", 1))
    path = tmp_path / "c.yaml"
    path.write_text(GOOD.replace(f"{ROOT}/scripts/reminder-ko.yaml", str(broken)))
    env = {k: v for k, v in os.environ.items() if not k.startswith("COLLBOT__")}
    env["COLLBOT__LOG__FILE"] = str(tmp_path / "log")
    env["COLLBOT__DATABASE__URL"] = f"sqlite:///{tmp_path}/c.db"
    done = subprocess.run([sys.executable, "-m", "bot", "run", str(path)], capture_output=True, text=True,
                          timeout=120, check=False, env=env, cwd=tmp_path)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "campaign 'm1' cannot start" in done.stderr and "unknown step 'verfy'" in done.stderr
    assert not (tmp_path / "c.db").exists()  # nothing was claimed or dialled
