"""Files the CLI reads: regular files only, never a hang, never past a cap, never a traceback
(issue 10: `dnc: /dev/zero` grew to 4.2 GB, a FIFO blocked forever, a binary DNC file crashed)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from bot.campaign.dnc import read_dnc
from bot.errors import ConfigError, InputError
from bot.inputfile import open_regular, read_regular
from tests.cli import collbot

ROOT = Path(__file__).parents[2]
HEADER = "id,name,phone,amount,currency,due_date\n"


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "pipe.csv"
    os.mkfifo(path)
    return path


def one_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("collbot: error: ")
    return lines[0]


@pytest.mark.parametrize(("name", "kind"), [("/dev/zero", "a device"), ("/dev/null", "a device"),
                                            (".", "a directory")])
def test_what_is_not_a_regular_file_is_refused_before_reading(name: str, kind: str) -> None:
    with pytest.raises(ConfigError, match=f"^{name}: cannot read: it is {kind}, not a regular file$"):
        read_regular(Path(name), max_bytes=10)


def test_a_fifo_is_refused_without_waiting_for_a_writer(fifo: Path) -> None:
    with pytest.raises(ConfigError, match="it is a FIFO"):
        read_regular(fifo, max_bytes=10)


def test_a_file_over_the_cap_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big"
    path.write_bytes(b"x" * 101)
    with pytest.raises(ConfigError, match="larger than 100 bytes"):
        read_regular(path, max_bytes=100)
    assert read_regular(path, max_bytes=101) == b"x" * 101


def test_a_file_that_grows_while_read_is_cut_at_the_cap(tmp_path: Path) -> None:
    path = tmp_path / "growing"
    path.write_bytes(b"x" * 50)
    with open_regular(path, max_bytes=100) as handle:
        with path.open("ab") as writer:
            writer.write(b"y" * 10_000)
        with pytest.raises(ConfigError, match="larger than 100 bytes"):
            while handle.read(16):
                pass
    path.write_bytes(b"x" * 50)
    with open_regular(path, max_bytes=100) as handle:
        with path.open("ab") as writer:
            writer.write(b"y" * 10_000)
        with pytest.raises(ConfigError, match="larger than 100 bytes"):
            handle.read()  # all at once


# --- through the real entry point: one line, exit 1, and never a hang (the subprocess has a timeout)

@pytest.mark.parametrize("args", [["import", "{fifo}"], ["payments", "import", "{fifo}"],
                                  ["script", "check", "{fifo}"], ["sim", "load", "{fifo}"],
                                  ["campaign", "add", "{fifo}"], ["-c", "{fifo}", "sandbox", "status"],
                                  ["script", "chat", f"{ROOT}/scripts/reminder-ko.yaml", "--replies", "{fifo}"]])
def test_a_fifo_named_anywhere_is_one_line(tmp_path: Path, fifo: Path, args: list[str]) -> None:
    argv = [a.replace("{fifo}", fifo.name) for a in args]
    if argv[-1] == fifo.name and argv[0] == "script" and argv[1] == "chat":
        fifo = fifo.rename(fifo.with_suffix(".yaml"))
        argv[-1] = fifo.name
    message = one_line(collbot(*argv, cwd=tmp_path, database=True, timeout=30))
    assert f"{fifo.name}: cannot read: it is a FIFO (named pipe), not a regular file" in message


@pytest.mark.parametrize("args", [["import", "/dev/zero"], ["payments", "import", "/dev/zero"],
                                  ["script", "check", "/dev/zero"], ["-c", "/dev/zero", "sandbox", "status"]])
def test_dev_zero_is_one_line(tmp_path: Path, args: list[str]) -> None:
    message = one_line(collbot(*args, cwd=tmp_path, database=True, timeout=30))
    assert "/dev/zero: cannot read: it is a device, not a regular file" in message


def test_the_csv_cap_is_a_setting(tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text(HEADER + "D1,Kim,+821055550001,1000,KRW,2026-01-01\n" * 30_000)
    done = collbot("import", "d.csv", cwd=tmp_path, database=True,
                   env={"COLLBOT__INPUT__MAX_CSV_MB": "1"})
    assert one_line(done) == "collbot: error: d.csv: larger than 1 MB (input.max_csv_mb)"
    assert not (tmp_path / "c.db").exists()


@pytest.mark.parametrize("command", [["import"], ["payments", "import"]])
def test_a_binary_csv_is_one_line(tmp_path: Path, command: list[str]) -> None:
    (tmp_path / "b.csv").write_bytes(bytes(range(256)) * 64)
    message = one_line(collbot(*command, "b.csv", cwd=tmp_path, database=True, timeout=30))
    assert "b.csv:1: " in message


# --- DNC lists

def fail_normalize(text: str) -> str:
    if not text.startswith("+82"):
        raise InputError("not a number in an allowed country")
    return text


@pytest.mark.parametrize(("content", "expected"), [
    (b"+821055550001\n\xff\xfe\x00binary\n", r"dnc.txt:2: not UTF-8 text \(a binary file\?\)"),
    (b"+821055550001\n+8210\x0055\n", "dnc.txt:2: contains a NUL byte"),
    (b"# list\n+821055550001\n\n12ab  # typo\n", "dnc.txt:4: not a usable phone number: not a number in an allowed"),
])
def test_a_bad_dnc_list_names_file_and_line(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "dnc.txt"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=expected):
        read_dnc(path, fail_normalize)


def test_a_dnc_list_reads_numbers_and_skips_comments(tmp_path: Path) -> None:
    path = tmp_path / "dnc.txt"
    path.write_bytes(b"\xef\xbb\xbf+821055550001\r\n# comment\r\n +821055550002 # trailing\n")
    assert read_dnc(path, fail_normalize) == {"+821055550001", "+821055550002"}


@pytest.mark.parametrize("dnc", ["/dev/zero", "{fifo}"])
def test_run_refuses_a_dnc_that_is_no_regular_file(tmp_path: Path, fifo: Path, dnc: str) -> None:
    dnc = dnc.replace("{fifo}", str(fifo))
    (tmp_path / "c.yaml").write_text(f"campaign: m1\nscript: {ROOT}/scripts/reminder-ko.yaml\n"
                                     f"rounds:\n  - {{name: first}}\ndnc: {dnc}\n")
    message = one_line(collbot("run", "--dry-run", "c.yaml", cwd=tmp_path, database=True, timeout=60))
    assert f"{dnc}: cannot read: it is a" in message and "not a regular file" in message


def test_the_log_file_cannot_be_a_fifo(tmp_path: Path, fifo: Path) -> None:
    done = collbot("sandbox", "status", cwd=tmp_path, env={"COLLBOT__LOG__FILE": str(fifo)}, timeout=30)
    assert "cannot write: it is a FIFO" in one_line(done)
