"""One duration syntax for every file: what the file check accepts, the run accepts, and the
reverse (issue 10: `delay: 1.5m` passed the check and failed at run time; `after: 99999999999d`
raised OverflowError)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.campaign import retry
from bot.campaign.spec import read_campaign
from bot.durations import MAX, parse_duration
from bot.errors import ConfigError
from tests.cli import collbot

ROOT = Path(__file__).parents[2]
CAMPAIGN = f"""campaign: m1
script: {ROOT}/scripts/reminder-ko.yaml
rounds:
  - {{name: first}}
  - {{name: second, retries: [no_answer], after: AFTER}}
retry:
  no_answer: {{delay: DELAY, max_attempts: 2}}
"""


@pytest.mark.parametrize(("text", "expected"), [
    ("90s", dt.timedelta(seconds=90)), ("30m", dt.timedelta(minutes=30)), ("2h", dt.timedelta(hours=2)),
    ("7d", dt.timedelta(days=7)), (" 15 m ", dt.timedelta(minutes=15)), ("600", dt.timedelta(minutes=10)),
    (600, dt.timedelta(minutes=10)), (1.5, dt.timedelta(seconds=1.5)), ("366d", MAX),
])
def test_accepted(text: object, expected: dt.timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(("text", "needle"), [
    ("1.5m", "write a whole number of a smaller unit"), (".5h", "whole number"),
    ("99999999999d", "at most 366 days"), ("367d", "at most 366 days"), (1e300, "at most 366 days"),
    ("9" * 40, "not a duration"), (float("inf"), "more than 0"), (float("nan"), "more than 0"),
    ("-5m", "not a duration"), (0, "more than 0"), ("0s", "more than 0"), (True, "not a duration"),
    ("5x", "not a duration"), ("", "not a duration"), (None, "not a duration"), ("1w", "not a duration"),
])
def test_refused(text: object, needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        parse_duration(text)


def test_zero_only_where_allowed() -> None:
    assert parse_duration("0s", allow_zero=True) == dt.timedelta(0)


@given(st.one_of(st.text(max_size=12), st.integers(), st.floats()))
def test_never_anything_but_a_bounded_timedelta_or_value_error(value: object) -> None:
    try:
        got = parse_duration(value)
    except ValueError:
        return
    assert dt.timedelta(0) < got <= MAX


@given(st.one_of(st.text(alphabet="0123456789.smhd -", max_size=8), st.floats(allow_nan=False)))
def test_the_file_check_and_the_retry_policy_agree(value: object) -> None:
    try:
        parse_duration(value)
        checked = True
    except ValueError:
        checked = False
    try:
        retry.parse_duration(value)
        policy = True
    except ConfigError:
        policy = False
    assert checked == policy


@pytest.mark.parametrize(("after", "delay", "where"), [
    ("99999999999d", "30m", "c.yaml:5: rounds[1].after: '99999999999d': a duration can be at most 366 days"),
    ("1.5m", "30m", "c.yaml:5: rounds[1].after: '1.5m': write a whole number"),
    ("2h", "1.5m", "c.yaml:7: retry.no_answer.delay: '1.5m': write a whole number"),
    ("2h", "0s", "c.yaml:7: retry.no_answer.delay: '0s': a duration must be more than 0"),
    ("2h", "99999999999d", "c.yaml:7: retry.no_answer.delay"),
])
def test_campaign_durations_fail_at_file_check_with_file_and_line(
        tmp_path: Path, after: str, delay: str, where: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(CAMPAIGN.replace("AFTER", after).replace("DELAY", delay))
    with pytest.raises(ConfigError) as caught:
        read_campaign(path)
    assert where in str(caught.value)


def test_an_overflowing_after_is_one_line_through_the_cli(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text(CAMPAIGN.replace("AFTER", "99999999999d").replace("DELAY", "30m"))
    done = collbot("run", "--dry-run", "c.yaml", cwd=tmp_path, database=True)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith("collbot: error: ") and "c.yaml:5:" in done.stderr
