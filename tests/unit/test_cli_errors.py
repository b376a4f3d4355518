"""Bad input through the real `collbot` entry point: one line, file:line, non-zero, no traceback."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.cli import collbot


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines and lines[0].startswith("collbot: error: ")
    return "\n".join(lines)


@pytest.mark.parametrize(("text", "expected"), [
    ('personas:\n  - number: "+821055550001"\n    behaviour: answer\n',
     "personas.yaml:3: personas[0].behaviour: unknown key 'behaviour'; did you mean 'behavior'?"),
    ('personas:\n  - number: "+821055550001"\n    answer_after_s: soon\n', "personas.yaml:3:"),
    ('personas:\n  - number: "010-5555"\n', "personas.yaml:2:"),
    ('personas:\n  - number: "+821055550001"\n    replies: [no]\n', "personas.yaml:3:"),
    ('personas:\n  - number: "+821055550001"\n  - number: "+821055550001"\n', "appears twice"),
    ('personas: !!python/object:os.system {}\n', "personas.yaml:1:"),
    ('personas:\n  - {number: "+821055550001", behavior: sing}\n', "personas.yaml:2:"),
])
def test_bad_personas_file_is_one_clear_line(tmp_path: Path, text: str, expected: str) -> None:
    (tmp_path / "personas.yaml").write_text(text)
    message = one_error_line(collbot("sim", "load", "personas.yaml", cwd=tmp_path))
    assert expected in message


def test_bad_settings_file_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "collbot.yaml").write_text("ami:\n  host: 127.0.0.1\n  port: many\n")
    message = one_error_line(collbot("sandbox", "status", cwd=tmp_path))
    assert "collbot.yaml:3: ami.port" in message


def test_invalid_debtor_number_is_rejected_before_any_dial_string(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(
        'personas:\n  - number: "+10000000000"\n'
        '    debtor: {id: D-1, name: Kim, amount: 10}\n')
    message = one_error_line(collbot("call", "p.yaml", cwd=tmp_path))
    assert "+10000000000" not in message  # the full number never appears in output
    assert not (tmp_path / "var").exists()  # nothing was written: no database, nothing dialled


def test_missing_personas_file(tmp_path: Path) -> None:
    message = one_error_line(collbot("sim", "load", "nope.yaml", cwd=tmp_path))
    assert "nope.yaml" in message
