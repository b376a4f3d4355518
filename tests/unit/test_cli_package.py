"""The bot/cli package: a command module is one `add_typer` line, and reads the settings the root
callback loaded (from typer's context, or without it for modules written for the old bot/cli.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer

from bot.logutil import reset_logging


def test_a_module_registered_with_one_line_reads_the_settings(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from bot.cli import app as root
    from bot.cli import entry, settings

    area = typer.Typer(no_args_is_help=True, help="An area.")

    @area.command("show")
    def show(ctx: typer.Context) -> None:
        print("ctx", settings(ctx).agi.port, "legacy", settings().agi.port)

    fresh = typer.Typer(no_args_is_help=True)
    fresh.registered_callback = root.app.registered_callback
    fresh.add_typer(area, name="area")
    (tmp_path / "collbot.yaml").write_text("agi:\n  port: 4999\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLLBOT__LOG__FILE", str(tmp_path / "log"))
    monkeypatch.delenv("COLLBOT__AGI__PORT", raising=False)
    monkeypatch.setattr(entry, "app", fresh)
    monkeypatch.setattr("sys.argv", ["collbot", "area", "show"])
    try:
        with pytest.raises(SystemExit) as done:
            entry.main()
    finally:
        reset_logging()
    assert done.value.code == 0
    assert capsys.readouterr().out == "ctx 4999 legacy 4999\n"
