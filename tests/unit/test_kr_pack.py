"""The kr pack and debtors' contact requests, on a frozen clock (zoneinfo, never fixed offsets).

Korea has had no daylight saving since 1988; the tests still build every instant with zoneinfo and
pass it in as UTC, so a wrong offset anywhere would move the 21:00 edge and fail.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from bot.campaign.compliance import PACKS, Attempt, decide, next_allowed
from bot.compliance.requests import (
    Adjustment,
    ContactRequests,
    Restriction,
    Suspension,
    adjustment_end,
    honoured_intervals,
    parse_means,
    parse_slot,
)
from bot.domain import CallResult
from bot.errors import InputError

UTC = dt.UTC
SEOUL = ("Asia/Seoul",)
KR = PACKS["kr"]
DEFAULT = PACKS["default"]


def seoul(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=ZoneInfo("Asia/Seoul")).astimezone(UTC)  # type: ignore[misc]


def check(now, rules=KR, history=(), requests=None):
    return decide(zones=SEOUL, history=history, now=now, rules=rules, requests=requests)


def restriction(*slots: str, means: tuple[str, ...] = (), rid: int = 1) -> ContactRequests:
    return ContactRequests(restrictions=(Restriction(rid, tuple(parse_slot(s) for s in slots), means,
                                                     dt.datetime(2026, 1, 1, tzinfo=UTC)),))


def test_kr_calls_end_at_21_seoul_time() -> None:
    assert check(seoul(2026, 12, 7, 20, 59, 59)).allow
    refused = check(seoul(2026, 12, 7, 21, 0, 0))
    assert (refused.allow, refused.reason) == (False, "outside_window")
    assert refused.not_before == seoul(2026, 12, 8, 8, 0)
    assert not check(seoul(2026, 12, 8, 7, 59, 59)).allow
    assert check(seoul(2026, 12, 8, 8, 0, 0)).allow


def test_kr_the_eighth_contact_in_any_7_days_is_refused() -> None:
    # Robot attempts and collectors' contacts are both attempts in the ledger (see test_contact_store).
    start = seoul(2026, 12, 1, 10, 0)
    history = [Attempt(start + dt.timedelta(hours=20 * i), CallResult.NO_ANSWER) for i in range(7)]
    now = history[-1].at + dt.timedelta(hours=1)
    refused = check(now, history=history)
    assert (refused.allow, refused.reason) == (False, "cap_7_days")
    # The window is rolling: the 8th is allowed once the first contact is more than 7 x 24 h old ...
    assert refused.not_before == history[0].at + dt.timedelta(days=7)
    assert check(history[0].at + dt.timedelta(days=7), history=history).allow
    # ... and six contacts leave room for a seventh.
    assert check(now, history=history[1:]).allow


def test_default_pack_has_caps_now() -> None:
    now = seoul(2026, 12, 7, 12, 0)
    week = [Attempt(now - dt.timedelta(hours=10 * i + 1), CallResult.ANSWERED) for i in range(7)]
    assert check(now, DEFAULT, week).reason == "cap_7_days"
    day = [Attempt(now - dt.timedelta(minutes=10 * i + 1), CallResult.BUSY) for i in range(6)]
    assert check(now, DEFAULT, day).reason == "cap_unanswered_day"


def test_a_28_hour_restriction_is_honoured() -> None:
    asked = restriction("mon-tue 09:00-18:00", "wed 09:00-19:00")  # 9 + 9 + 10 = 28 hours a week
    wed = seoul(2026, 12, 9, 18, 30)
    blocked = check(wed, requests=asked)
    assert (blocked.allow, blocked.reason) == (False, "request_restricted_hours")
    assert blocked.not_before == seoul(2026, 12, 9, 19, 0)
    assert check(seoul(2026, 12, 9, 19, 0), requests=asked).allow
    assert not check(seoul(2026, 12, 7, 9, 0), requests=asked).allow  # Monday
    assert check(seoul(2026, 12, 7, 8, 59, 59), requests=asked).allow
    assert check(seoul(2026, 12, 10, 12, 0), requests=asked).allow  # Thursday is not restricted


def test_kr_honours_28_hours_of_a_longer_restriction_in_the_order_asked() -> None:
    asked = restriction("mon-fri 09:00-18:00")  # 45 hours: kr honours the first 28
    assert not check(seoul(2026, 12, 10, 9, 30), requests=asked).allow  # Thursday 09:00-10:00 is the 28th hour
    assert check(seoul(2026, 12, 10, 10, 0), requests=asked).allow
    assert check(seoul(2026, 12, 11, 12, 0), requests=asked).allow  # Friday: beyond what kr must honour
    assert not check(seoul(2026, 12, 11, 12, 0), DEFAULT, requests=asked).allow  # default honours it all
    minutes = sum(hi - lo for lo, hi in honoured_intervals(asked.restrictions, "phone", 28))
    assert minutes == 28 * 60


def test_a_restriction_that_blocks_every_allowed_hour_says_so() -> None:
    asked = restriction("daily 07:00-22:00")
    refused = check(seoul(2026, 12, 7, 12, 0), DEFAULT, requests=asked)
    assert (refused.allow, refused.reason, refused.not_before) == (False, "request_blocks_window", None)
    assert "cover the whole calling window 08:00-21:00" in refused.detail
    assert next_allowed(zones=SEOUL, history=(), after=seoul(2026, 12, 7, 12), rules=DEFAULT,
                        requests=asked) is None
    # Under kr only 28 of those hours are honoured, so there is time left, and the gate finds it.
    assert check(seoul(2026, 12, 7, 12, 0), KR, requests=asked).reason == "request_restricted_hours"
    assert check(seoul(2026, 12, 9, 12, 0), KR, requests=asked).allow


def test_a_refused_means_stops_robot_calls_but_sms_only_does_not() -> None:
    phone = restriction(means=("phone",))
    assert check(seoul(2026, 12, 7, 12), requests=phone).reason == "request_means_refused"
    assert check(seoul(2026, 12, 7, 12), requests=restriction(means=("sms",))).allow
    assert not check(seoul(2026, 12, 7, 12), requests=restriction("mon 11:00-13:00", means=("phone",))).allow
    assert check(seoul(2026, 12, 7, 12), requests=restriction("mon 11:00-13:00", means=("sms",))).allow


def test_a_restriction_over_sunday_midnight_ends_on_monday() -> None:
    asked = restriction("sun 20:00-24:00", "mon 00:00-10:00")
    blocked = check(seoul(2026, 12, 13, 20, 30), DEFAULT, requests=asked)  # Sunday
    assert blocked.not_before == seoul(2026, 12, 14, 10, 0)


def test_a_three_month_suspension_is_honoured() -> None:
    s = Suspension(1, since=dt.date(2026, 1, 5), until=dt.date(2026, 4, 4), reason="surgery")
    asked = ContactRequests(suspensions=(s,))
    refused = check(seoul(2026, 4, 4, 20, 0), requests=asked)
    assert (refused.allow, refused.reason) == (False, "request_suspended")
    assert refused.not_before == seoul(2026, 4, 5, 8, 0)  # the next day, once the window opens
    assert check(seoul(2026, 4, 5, 8, 0), requests=asked).allow
    assert check(seoul(2026, 1, 4, 12, 0), requests=asked).allow  # before the request


def test_kr_honours_a_suspension_for_3_months_and_one_extension() -> None:
    long = Suspension(1, since=dt.date(2026, 1, 1), until=dt.date(2026, 12, 31), reason="hospital")
    ends = dt.date(2026, 1, 1) + dt.timedelta(days=92)
    assert not check(seoul(2026, 4, 2, 12), requests=ContactRequests(suspensions=(long,))).allow
    assert check(seoul(*ends.timetuple()[:3], 12), requests=ContactRequests(suspensions=(long,))).allow
    extended = Suspension(1, since=dt.date(2026, 1, 1), until=dt.date(2026, 12, 31), reason="hospital", extensions=3)
    twice = dt.date(2026, 1, 1) + dt.timedelta(days=184)
    assert not check(seoul(*(twice - dt.timedelta(days=1)).timetuple()[:3], 12),
                     requests=ContactRequests(suspensions=(extended,))).allow
    assert check(seoul(*twice.timetuple()[:3], 12), requests=ContactRequests(suspensions=(extended,))).allow
    # The default pack honours what was agreed, in full.
    assert not check(seoul(2026, 12, 30, 12), DEFAULT, requests=ContactRequests(suspensions=(long,))).allow


def test_a_debt_adjustment_stops_collection_for_10_business_days_without_kr_holidays() -> None:
    a = Adjustment(1, since=dt.date(2026, 12, 18))  # a Friday; 25 Dec and 1 Jan are holidays in Korea
    assert adjustment_end(a, 10, "KR") == dt.date(2027, 1, 6)
    assert adjustment_end(a, 10, None) == dt.date(2027, 1, 2)
    asked = ContactRequests(adjustments=(a,))
    refused = check(seoul(2027, 1, 5, 20, 0), requests=asked)
    assert (refused.reason, refused.not_before) == ("request_adjustment", seoul(2027, 1, 6, 8, 0))


@pytest.mark.parametrize("text", ["mon-fri", "mon 9-18", "xyz 09:00-10:00", "mon 18:00-09:00", "mon 25:00-26:00",
                                  "mon 09:00-24:30"])
def test_bad_hours_are_one_clear_error(text: str) -> None:
    with pytest.raises(InputError, match="--hours"):
        parse_slot(text)


def test_hours_and_means_parse() -> None:
    assert parse_slot("fri-mon 22:00-24:00").days == (0, 4, 5, 6)
    assert parse_slot("sat,sun 12:00-13:00").text() == "sat,sun 12:00-13:00"
    assert parse_means(["phone|sms"]) == ("phone", "sms")
    with pytest.raises(InputError, match="--means"):
        parse_means(["fax"])
