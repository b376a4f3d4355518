"""The shipped systemd units pass `systemd-analyze verify` once installed paths are filled in."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNITS = ROOT / "deploy" / "systemd"
BIN = ROOT / ".venv" / "bin"


def render(name: str, out: Path, bin_dir: Path) -> Path:
    text = (UNITS / name).read_text(encoding="utf-8")
    text = text.replace("@BIN@", str(bin_dir)).replace("@ETC@", str(out)).replace("@STATE@", str(out))
    text = text.replace("@USER@", "root")
    target = out / name
    target.write_text(text, encoding="utf-8")
    return target


def verify(*units: Path) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.fail("systemd-analyze is missing: apt-get install systemd (this check is not skipped)")
    return subprocess.run([tool, "verify", "--man=no", *map(str, units)], capture_output=True, text=True,
                          timeout=60, check=False)


def test_units_verify(tmp_path: Path) -> None:
    units = [render(n, tmp_path, BIN) for n in ("collbot-serve.service", "collbot-web.service")]
    done = verify(*units)
    assert done.returncode == 0, done.stderr
    serve = units[0].read_text(encoding="utf-8")
    assert "Restart=on-failure" in serve and f"ExecStart={BIN}/collbot --config" in serve and " serve" in serve
    assert "UMask=0077" in serve


def test_verify_catches_a_unit_whose_program_is_missing(tmp_path: Path) -> None:
    unit = render("collbot-serve.service", tmp_path, tmp_path / "nowhere")
    assert verify(unit).returncode != 0


def test_the_installer_writes_safe_directories_and_units_that_verify(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.fail("the installer test needs root (it sets owners); run the suite as root as make test does")
    env = dict(os.environ, BIN=str(BIN), ETC=str(tmp_path / "etc"), STATE=str(tmp_path / "state"),
               UNITS=str(tmp_path / "units"), SERVICE_USER="root", SYSTEMCTL="0")
    done = subprocess.run([str(UNITS / "install.sh")], env=env, capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE((tmp_path / "etc").stat().st_mode) == 0o750
    assert stat.S_IMODE((tmp_path / "state").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "etc" / "collbot.yaml").stat().st_mode) == 0o640
    installed = [tmp_path / "units" / n for n in ("collbot-serve.service", "collbot-web.service")]
    assert "@" not in installed[0].read_text(encoding="utf-8")
    assert verify(*installed).returncode == 0
    assert "install-service:" in (ROOT / "Makefile").read_text(encoding="utf-8")


def test_the_installer_refuses_without_a_venv(tmp_path: Path) -> None:
    env = dict(os.environ, BIN=str(tmp_path / "none"), ETC=str(tmp_path / "etc"), STATE=str(tmp_path / "s"),
               UNITS=str(tmp_path / "u"), SERVICE_USER="root", SYSTEMCTL="0")
    done = subprocess.run([str(UNITS / "install.sh")], env=env, capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 1 and "run make setup first" in done.stderr
    assert not (tmp_path / "etc").exists()
