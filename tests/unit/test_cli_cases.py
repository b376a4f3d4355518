"""`collbot agents` and `collbot cases` through the real entry point: stored with reasons, bad input refused."""

from __future__ import annotations

import csv
from pathlib import Path

from bot.store.repo import open_store
from tests.cli import collbot


def ok(*args: str, cwd: Path) -> str:
    done = collbot(*args, cwd=cwd, database=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def refused(*args: str, cwd: Path) -> str:
    done = collbot(*args, cwd=cwd, database=True)
    assert done.returncode == 1, done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("collbot: error: "), done.stderr
    return lines[0].removeprefix("collbot: error: ")


def test_allocate_show_and_refusals(tmp_path: Path) -> None:
    with (tmp_path / "d.csv").open("w", newline="", encoding="utf-8") as f:
        rows = [[f"C{i}", "Kim", f"010-5550-{i:04d}", str(1000 * (i + 1)), "KRW", "2026-01-01", str(10 * i),
                 str(i * 100)] for i in range(8)]
        csv.writer(f).writerows([["id", "name", "phone", "amount", "currency", "due_date", "dpd", "score"], *rows])
    ok("import", "d.csv", cwd=tmp_path)
    ok("agents", "add", "kim", "--cap", "3", "--name", "Kim", cwd=tmp_path)
    ok("agents", "add", "lee", "--cap", "2", cwd=tmp_path)
    assert refused("agents", "add", "kim", cwd=tmp_path) == "agent 'kim' already exists"
    assert refused("agents", "set-cap", "park", "3", cwd=tmp_path) == "no agent 'park'"

    # 8 cases, room for 5: refused as a whole, nothing stored
    message = refused("cases", "allocate", "--strategy", "even-count", cwd=tmp_path)
    assert message.startswith("3 of 8 cases do not fit: the chosen agents have room for 5 more")
    assert refused("cases", "allocate", "--strategy", "score", "--agents", "kim,park", cwd=tmp_path) == \
        "no agent 'park'"
    assert refused("cases", "allocate", "--strategy", "best", cwd=tmp_path).startswith("--strategy 'best' is not")
    assert refused("cases", "allocate", "--strategy", "score", "--dpd", "60-30", cwd=tmp_path) == \
        "--dpd '60-30': the lower bound is above the upper one"

    out = ok("cases", "allocate", "--strategy", "even-count", "--dpd", "0-30", "--dry-run", cwd=tmp_path)
    assert "dry run: 4 cases would be allocated (even-count); nothing was stored" in out
    with open_store(f"sqlite:///{tmp_path / 'c.db'}") as store:
        assert all(c.owner is None for c in store.list_cases())

    out = ok("cases", "allocate", "--strategy", "score", "--dpd", "0-30", "--reason", "monday batch", cwd=tmp_path)
    assert "allocated 4 cases (score)" in out
    assert refused("cases", "assign", "C5", "C6", "--to", "lee", cwd=tmp_path).startswith(
        "agent 'lee' would own 4 cases, over their cap of 2 (owns 2 now); nothing was stored")
    assert refused("cases", "assign", "C99", "--to", "lee", cwd=tmp_path) == "no case 'C99'"
    assert refused("cases", "show", "--case", "C99", cwd=tmp_path) == "no case 'C99'"
    ok("cases", "unassign", "C3", "--reason", "debtor asked for another collector", cwd=tmp_path)
    out = ok("cases", "show", "--case", "C3", cwd=tmp_path)
    assert "debtor asked for another collector" in out and "monday batch" in out

    with open_store(f"sqlite:///{tmp_path / 'c.db'}") as store:
        owners = {c.id: c.owner for c in store.list_cases()}
        # best score first, dealt in turn: C3 (300) kim, C2 lee, C1 kim, C0 lee; then C3 unassigned
        assert owners == {"C0": "lee", "C1": "kim", "C2": "lee", "C3": None, "C4": None, "C5": None,
                          "C6": None, "C7": None}
        assert store.get_case("C1").reason == "score: rank 3 of 4 (score 100), dealt in turn; monday batch"
    out = ok("cases", "show", cwd=tmp_path)
    assert "5 unassigned cases" in out
    assert "C1" in ok("cases", "show", "--agent", "kim", cwd=tmp_path)
    out = ok("cases", "rules", "--dry-run", cwd=tmp_path)
    assert "nothing was stored" in out

    usage = collbot("cases", "allocate", cwd=tmp_path, database=True)  # a usage error: no traceback
    assert usage.returncode == 2 and "Missing option '--strategy'" in usage.stderr
    assert "Traceback" not in usage.stderr


def test_rules_store_their_moves_and_a_second_run_moves_nothing(tmp_path: Path) -> None:
    with (tmp_path / "d.csv").open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([["id", "name", "phone", "amount", "currency", "due_date"],
                                 ["R1", "Kim", "010-5550-0001", "1000", "KRW", "2026-01-01"],
                                 ["R2", "Lee", "010-5550-0002", "2000", "KRW", "2026-01-01"]])
    ok("import", "d.csv", cwd=tmp_path)
    ok("agents", "add", "kim", "--cap", "5", cwd=tmp_path)
    ok("cases", "allocate", "--strategy", "even-amount", cwd=tmp_path)
    ok("agents", "deactivate", "kim", cwd=tmp_path)
    out = ok("cases", "rules", "--dry-run", cwd=tmp_path)
    assert "unbind: agent 'kim' is inactive" in out and "dry run: 2 cases would move (unbind 2)" in out
    assert "moved 2 cases (unbind 2)" in ok("cases", "rules", cwd=tmp_path)
    assert "moved 0 cases" in ok("cases", "rules", cwd=tmp_path)
    with open_store(f"sqlite:///{tmp_path / 'c.db'}") as store:
        assert [(h.to_agent, h.actor, h.reason) for h in store.case_history("R1")] == [
            ("kim", "cli:" + __import__("getpass").getuser(), "even-amount in dpd 180+: largest first, each to "
             "the agent with the least new amount so far (2,000.00)"),
            (None, "rules", "unbind: agent 'kim' is inactive")]
