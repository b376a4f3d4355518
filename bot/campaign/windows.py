"""When a campaign works: the windows of its schedule (working days, dates and hours in the
schedule's own time zone), and whether `collbot serve` should start a run now. Pure: the clock
comes in.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from bot.campaign.spec import WEEKDAYS, Schedule

SEARCH_DAYS = 400  # how far ahead next_window looks


@dataclass(frozen=True, slots=True)
class Window:
    """One working day's hours, as UTC instants [start, end)."""

    start: dt.datetime
    end: dt.datetime


def works_on(schedule: Schedule, day: dt.date) -> bool:
    """Is ``day`` (a local date in the schedule's zone) one of the campaign's working days?"""
    return WEEKDAYS[day.weekday()] in schedule.days and (not schedule.dates or day in schedule.dates)


def window_on(schedule: Schedule, day: dt.date) -> Window | None:
    """The window of local date ``day``, or None if the campaign does not work that day."""
    if not works_on(schedule, day):
        return None
    zone = ZoneInfo(schedule.timezone)
    return Window(dt.datetime.combine(day, schedule.start, zone).astimezone(dt.UTC),
                  dt.datetime.combine(day, schedule.end, zone).astimezone(dt.UTC))


def window_at(schedule: Schedule, now: dt.datetime) -> Window | None:
    """The window ``now`` is in, or None."""
    window = window_on(schedule, now.astimezone(ZoneInfo(schedule.timezone)).date())
    return window if window is not None and window.start <= now < window.end else None


def next_window(schedule: Schedule, now: dt.datetime, *, done_until: dt.datetime | None = None) -> Window | None:
    """The first window that is not over at ``now`` and ends after ``done_until``; None if none is left."""
    day = now.astimezone(ZoneInfo(schedule.timezone)).date()
    for offset in range(SEARCH_DAYS):
        window = window_on(schedule, day + dt.timedelta(days=offset))
        if window is not None and window.end > now and (done_until is None or window.end > done_until):
            return window
    return None


def start_now(schedule: Schedule, now: dt.datetime, *, done_until: dt.datetime | None = None) -> Window | None:
    """The window a run should start in now: ``now`` is inside it and no run has finished its
    work for it already (``done_until``: the end of the last window a run completed)."""
    window = window_at(schedule, now)
    if window is None or (done_until is not None and window.end <= done_until):
        return None
    return window
