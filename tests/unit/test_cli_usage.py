"""Usage errors and unexpected errors through the real `collbot` entry point: one line, the right exit
code, never a traceback on the terminal."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import typer

from tests.cli import collbot


def one_line(done: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in done.stderr + done.stdout
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    return lines[0]


@pytest.mark.parametrize(("args", "expected"), [
    (["import"], "Missing argument 'file'"),
    (["nosuch"], "No such command 'nosuch'"),
    (["--bogus"], "No such option: --bogus"),
    (["script", "check", "--bogus", "x.yaml"], "No such option: --bogus"),
    (["call", "--concurrency", "0", "p.yaml"], "--concurrency"),
    (["script", "graph", "s.yaml", "--format", "png"], "--format is mermaid or dot"),
    (["campaign", "pause"], "Missing argument 'name'"),
])
def test_usage_error_is_one_line_and_exit_2(tmp_path: Path, args: list[str], expected: str) -> None:
    done = collbot(*args, cwd=tmp_path)
    assert done.returncode == 2
    line = one_line(done)
    assert line.startswith("collbot: usage error: ")
    assert expected in line
    assert not (tmp_path / "var").exists()  # nothing was created on the way


@pytest.mark.parametrize("args", [[], ["script"], ["campaign"]])
def test_a_group_alone_shows_its_help_and_exits_2(tmp_path: Path, args: list[str]) -> None:
    done = collbot(*args, cwd=tmp_path)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr + done.stdout
    assert "Usage:" in done.stdout + done.stderr


def test_help_exits_0(tmp_path: Path) -> None:
    done = collbot("--help", cwd=tmp_path)
    assert done.returncode == 0
    assert "import" in done.stdout and not done.stderr


def test_collbot_error_stays_one_line_exit_1(tmp_path: Path) -> None:
    done = collbot("import", "missing.csv", cwd=tmp_path)
    assert done.returncode == 1
    assert one_line(done).startswith("collbot: error: missing.csv")


def test_unexpected_error_is_one_line_with_the_traceback_in_the_log_only(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from bot.cli import entry
    from bot.logutil import reset_logging

    broken = typer.Typer()

    @broken.callback(invoke_without_command=True)
    def explode() -> None:
        raise RuntimeError("disk on fire\nsecond line +821055550001")

    log = tmp_path / "collbot.log"
    monkeypatch.setenv("COLLBOT__LOG__FILE", str(log))
    monkeypatch.setattr(entry, "app", broken)
    monkeypatch.setattr("sys.argv", ["collbot"])
    try:
        with pytest.raises(SystemExit) as done:
            entry.main()
    finally:
        reset_logging()
    assert done.value.code == 1
    out = capsys.readouterr()
    assert out.err.count("\n") == 1 and "Traceback" not in out.err
    assert out.err.startswith("collbot: internal error: RuntimeError: disk on fire second line +")
    assert "821055550001" not in out.err and "(traceback in " in out.err
    assert "Traceback" in log.read_text() and "disk on fire" in log.read_text()
