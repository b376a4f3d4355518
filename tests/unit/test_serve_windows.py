"""When `collbot serve` starts a campaign: its schedule windows on a frozen clock."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from bot.campaign.spec import Schedule
from bot.campaign.windows import Window, next_window, start_now, window_at

SEOUL = ZoneInfo("Asia/Seoul")
NEW_YORK = ZoneInfo("America/New_York")


def at(zone: ZoneInfo, *args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=zone).astimezone(dt.UTC)


WEEKDAYS = Schedule(timezone="Asia/Seoul", start=dt.time(9), end=dt.time(20), days=["mon", "tue", "wed", "thu", "fri"])
TUESDAY_10 = at(SEOUL, 2026, 12, 1, 10, 0)  # 2026-12-01 is a Tuesday


@pytest.mark.parametrize(("now", "expected"), [
    (TUESDAY_10, (at(SEOUL, 2026, 12, 1, 9), at(SEOUL, 2026, 12, 1, 20))),
    (at(SEOUL, 2026, 12, 1, 9, 0), (at(SEOUL, 2026, 12, 1, 9), at(SEOUL, 2026, 12, 1, 20))),  # start included
    (at(SEOUL, 2026, 12, 1, 20, 0), None),  # end excluded
    (at(SEOUL, 2026, 12, 1, 8, 59), None),
    (at(SEOUL, 2026, 12, 5, 10, 0), None),  # a Saturday
])
def test_window_at(now: dt.datetime, expected: tuple[dt.datetime, dt.datetime] | None) -> None:
    assert window_at(WEEKDAYS, now) == (Window(*expected) if expected else None)


def test_a_due_campaign_starts_once_per_window() -> None:
    window = start_now(WEEKDAYS, TUESDAY_10)
    assert window == Window(at(SEOUL, 2026, 12, 1, 9), at(SEOUL, 2026, 12, 1, 20))
    # its run finished the day's work: not again today, but tomorrow morning
    assert start_now(WEEKDAYS, TUESDAY_10 + dt.timedelta(hours=1), done_until=window.end) is None
    assert next_window(WEEKDAYS, TUESDAY_10, done_until=window.end) == Window(
        at(SEOUL, 2026, 12, 2, 9), at(SEOUL, 2026, 12, 2, 20))
    assert start_now(WEEKDAYS, at(SEOUL, 2026, 12, 2, 9, 0), done_until=window.end) is not None


def test_the_weekend_is_skipped() -> None:
    friday_night = at(SEOUL, 2026, 12, 4, 21, 0)
    assert start_now(WEEKDAYS, friday_night) is None
    assert next_window(WEEKDAYS, friday_night) == Window(at(SEOUL, 2026, 12, 7, 9), at(SEOUL, 2026, 12, 7, 20))


def test_dates_limit_the_campaign_and_end_it() -> None:
    schedule = Schedule(timezone="Asia/Seoul", dates=[dt.date(2026, 12, 3)])
    assert start_now(schedule, TUESDAY_10) is None
    assert next_window(schedule, TUESDAY_10) == Window(at(SEOUL, 2026, 12, 3, 9), at(SEOUL, 2026, 12, 3, 20))
    assert next_window(schedule, at(SEOUL, 2026, 12, 3, 20, 0)) is None  # its last date is over


def test_windows_follow_the_schedule_zone_across_daylight_saving() -> None:
    schedule = Schedule(timezone="America/New_York", start=dt.time(9), end=dt.time(17))
    # 2026-03-08: clocks go forward in New York; 09:00 local is 13:00 UTC instead of 14:00
    assert next_window(schedule, dt.datetime(2026, 3, 8, 0, 0, tzinfo=dt.UTC)).start == dt.datetime(  # type: ignore[union-attr]
        2026, 3, 8, 13, 0, tzinfo=dt.UTC)
    assert start_now(schedule, dt.datetime(2026, 3, 8, 13, 30, tzinfo=dt.UTC)) is not None
    assert start_now(schedule, dt.datetime(2026, 3, 7, 13, 30, tzinfo=dt.UTC)) is None  # 08:30 the day before
    assert window_at(schedule, at(NEW_YORK, 2026, 11, 1, 16, 59)) is not None  # the day clocks go back


def test_a_window_that_started_before_done_until_is_not_run_again() -> None:
    window = start_now(WEEKDAYS, TUESDAY_10)
    assert window is not None
    # a run stopped mid-window (paused and resumed) did not finish the window: it may start again
    assert start_now(WEEKDAYS, TUESDAY_10 + dt.timedelta(minutes=5), done_until=None) == window
