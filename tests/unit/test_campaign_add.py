"""`collbot campaign add|list` through the real entry point: a file is checked like `run` checks
it, bad input is one clear line and stores nothing, re-adding updates by name."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bot.store.repo import open_store
from tests.cli import collbot

ROOT = Path(__file__).parents[2]
GOOD = f"""campaign: m1
script: {ROOT / 'scripts/reminder-ko.yaml'}
schedule: {{timezone: Asia/Seoul, start: "09:00", end: "20:00"}}
rounds:
  - name: first
"""


def failed(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("collbot: error: ")
    return done.stderr


@pytest.mark.parametrize(("text", "where"), [
    (GOOD.replace("rounds:", "roundz:"), "campaign.yaml:4:"),
    (GOOD.replace('end: "20:00"', 'end: "25:00"'), "campaign.yaml:3:"),
    (GOOD + "    retries: [answered]\n", "campaign.yaml:6:"),
    ("campaign: m1\nscript: !!python/object:os.system {}\n", "campaign.yaml:2:"),
])
def test_a_bad_file_is_one_line_with_its_place_and_stores_nothing(tmp_path: Path, text: str, where: str) -> None:
    (tmp_path / "campaign.yaml").write_text(text)
    message = failed(collbot("campaign", "add", "campaign.yaml", cwd=tmp_path, database=True))
    assert where in message
    # one line per problem, each naming file:line (as `collbot run` reports the same file)
    assert all(line.removeprefix("collbot: error: ").startswith("campaign.yaml:")
               for line in message.strip().splitlines())
    assert not (tmp_path / "c.db").exists()


def test_a_campaign_whose_script_fails_the_check_is_not_stored(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text("name: broken\nlanguage: ko\nsteps: {}\n")
    (tmp_path / "campaign.yaml").write_text(GOOD.replace(str(ROOT / "scripts/reminder-ko.yaml"), "broken.yaml"))
    message = failed(collbot("campaign", "add", "campaign.yaml", cwd=tmp_path, database=True))
    assert "campaign 'm1' cannot start: its script does not pass the check" in message
    assert "broken.yaml" in message
    assert not (tmp_path / "c.db").exists()


def test_add_stores_the_definition_and_re_adding_updates_it(tmp_path: Path) -> None:
    path = tmp_path / "campaign.yaml"
    path.write_text(GOOD)
    first = collbot("campaign", "add", "campaign.yaml", cwd=tmp_path, database=True)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("campaign m1: added, active; definition ")
    again = collbot("campaign", "add", "campaign.yaml", cwd=tmp_path, database=True)
    assert "campaign m1: unchanged, active" in again.stdout
    with open_store(f"sqlite:///{tmp_path / 'c.db'}") as store:
        (stored,) = store.registered_campaigns()
        assert (stored.definition, stored.source_path) == (GOOD, str(path.resolve()))
        store.set_campaign_status("m1", "finished")
    path.write_text(GOOD.replace("name: first", "name: first\n  - name: second\n    retries: [no_answer]"))
    updated = collbot("campaign", "add", "campaign.yaml", cwd=tmp_path, database=True)
    assert "campaign m1: updated, active" in updated.stdout  # new rounds: a finished campaign runs again
    listing = collbot("campaign", "list", cwd=tmp_path, database=True)
    assert listing.returncode == 0 and "m1" in listing.stdout and "active" in listing.stdout
    with open_store(f"sqlite:///{tmp_path / 'c.db'}") as store:
        (stored,) = store.registered_campaigns()
        assert "second" in stored.definition


def test_a_second_runner_on_the_same_sqlite_database_is_refused(tmp_path: Path) -> None:
    from bot.campaign.commands import SingleWriter

    with SingleWriter(f"sqlite:///{tmp_path / 'c.db'}"):  # a `serve` or `run` holds the database
        done = collbot("serve", cwd=tmp_path, database=True)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    # serve's stderr is its log (INFO and up); the error is still one line of its own
    assert done.stderr.splitlines()[-1] == ("collbot: error: another collbot run or serve uses this SQLite "
                                            "database; SQLite allows one runner (use PostgreSQL for several)")
