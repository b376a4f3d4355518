"""Compliance policy: the local calling window in every candidate zone, caps, cooldown, suppression.

Every test passes the clock in; local times are built with zoneinfo so the expectations never assume offsets.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.campaign.compliance import PACKS, Attempt, Rules, decide, next_allowed, rules_from_mapping
from bot.campaign.zones import zones_for
from bot.domain import CallResult
from bot.errors import ConfigError, InputError

UTC = dt.UTC
NY = ("America/New_York",)
DEFAULT = PACKS["default"]
REG_F = PACKS["us_reg_f"]


def at(zone: str, *args: int, fold: int = 0) -> dt.datetime:
    """A wall-clock time in ``zone`` as an aware UTC instant."""
    return dt.datetime(*args, tzinfo=ZoneInfo(zone), fold=fold).astimezone(UTC)  # type: ignore[misc]


def check(zones: Sequence[str], now: dt.datetime, rules: Rules = DEFAULT, history: Sequence[Attempt] = (),
          suppressed: str | None = None):
    return decide(zones=zones, history=history, now=now, rules=rules, suppressed=suppressed)


def tried(*times: dt.datetime, result: CallResult = CallResult.NO_ANSWER) -> list[Attempt]:
    return [Attempt(t, result, conversation=False) for t in times]


# --- the window, zone by zone -------------------------------------------------------------------------


@pytest.mark.parametrize("zone", [
    "Asia/Seoul", "America/New_York", "America/Phoenix", "America/Indiana/Indianapolis", "Europe/Moscow",
])
@pytest.mark.parametrize("day", [dt.date(2026, 1, 15), dt.date(2026, 7, 15)])
def test_the_window_is_local_time_in_every_season(zone: str, day: dt.date) -> None:
    y, m, d = day.year, day.month, day.day
    assert check([zone], at(zone, y, m, d, 8, 0)).allow
    assert check([zone], at(zone, y, m, d, 20, 59)).allow
    early = check([zone], at(zone, y, m, d, 7, 59))
    assert (early.allow, early.reason) == (False, "outside_window")
    assert early.not_before == at(zone, y, m, d, 8, 0)
    late = check([zone], at(zone, y, m, d, 21, 0))
    assert (late.allow, late.reason) == (False, "outside_window")
    assert late.not_before == at(zone, y, m, d + 1, 8, 0)


def test_phoenix_keeps_standard_time_all_year() -> None:
    # 15:00 UTC is 08:00 in Phoenix in January and July alike; Denver moves an hour with DST.
    for month in (1, 7):
        assert check(["America/Phoenix"], dt.datetime(2026, month, 15, 15, 0, tzinfo=UTC)).allow
        assert not check(["America/Phoenix"], dt.datetime(2026, month, 15, 14, 59, tzinfo=UTC)).allow
    assert check(["America/Denver"], dt.datetime(2026, 7, 15, 14, 0, tzinfo=UTC)).allow
    assert not check(["America/Denver"], dt.datetime(2026, 1, 15, 14, 0, tzinfo=UTC)).allow


def test_seoul_window_in_utc() -> None:
    # 08:00 KST is 23:00 UTC the day before: the local date, not the UTC date, decides.
    assert check(["Asia/Seoul"], dt.datetime(2026, 5, 31, 23, 0, tzinfo=UTC)).allow
    denied = check(["Asia/Seoul"], dt.datetime(2026, 6, 1, 12, 0, tzinfo=UTC))  # 21:00 KST
    assert denied.not_before == dt.datetime(2026, 6, 1, 23, 0, tzinfo=UTC)


# --- daylight saving in New York ----------------------------------------------------------------------


def test_spring_forward_day() -> None:
    # 2026-03-08: 02:00 EST jumps to 03:00 EDT; the window still opens at 08:00 EDT (12:00 UTC).
    opening = dt.datetime(2026, 3, 8, 12, 0, tzinfo=UTC)
    assert at("America/New_York", 2026, 3, 8, 8, 0) == opening
    assert check(NY, at("America/New_York", 2026, 3, 8, 8, 30)).allow
    for now in (
        at("America/New_York", 2026, 3, 8, 7, 30),
        at("America/New_York", 2026, 3, 8, 1, 30),  # still EST: an offset taken now would be an hour off
        at("America/New_York", 2026, 3, 7, 21, 30),
    ):
        denied = check(NY, now)
        assert (denied.allow, denied.reason, denied.not_before) == (False, "outside_window", opening)
        assert next_allowed(zones=NY, history=[], after=now, rules=DEFAULT) == opening


def test_fall_back_day() -> None:
    # 2026-11-01: 02:00 EDT falls back to 01:00 EST; the window opens at 08:00 EST (13:00 UTC).
    opening = dt.datetime(2026, 11, 1, 13, 0, tzinfo=UTC)
    assert check(NY, at("America/New_York", 2026, 11, 1, 8, 30)).allow
    for now in (
        at("America/New_York", 2026, 11, 1, 7, 30),
        at("America/New_York", 2026, 11, 1, 1, 30, fold=0),  # first 01:30 (EDT)
        at("America/New_York", 2026, 11, 1, 1, 30, fold=1),  # second 01:30 (EST)
        at("America/New_York", 2026, 10, 31, 22, 0),
    ):
        denied = check(NY, now)
        assert (denied.allow, denied.not_before) == (False, opening)
    # The evening closes at 21:00 EST (02:00 UTC next day).
    assert check(NY, dt.datetime(2026, 11, 2, 1, 59, tzinfo=UTC)).allow
    assert not check(NY, dt.datetime(2026, 11, 2, 2, 0, tzinfo=UTC)).allow


def test_a_day_cap_counts_the_short_local_day_of_spring_forward() -> None:
    rules = Rules(max_per_day=1)
    now = at("America/New_York", 2026, 3, 8, 12, 0)
    inside = [at("America/New_York", 2026, 3, 8, 0, 0), at("America/New_York", 2026, 3, 8, 23, 59)]
    outside = [at("America/New_York", 2026, 3, 7, 23, 59), at("America/New_York", 2026, 3, 9, 0, 0)]
    for attempt in inside:
        assert check(NY, now, rules, tried(attempt)).reason == "cap_day"
    for attempt in outside:
        assert check(NY, now, rules, tried(attempt)).allow
    denied = check(NY, now, rules, tried(inside[0]))
    assert denied.not_before == at("America/New_York", 2026, 3, 9, 8, 0)


# --- ambiguous zones: the stricter window ---------------------------------------------------------------


def test_ambiguous_zones_wait_for_the_latest_opening() -> None:
    zones = ("America/New_York", "America/Chicago")
    now = at("America/New_York", 2026, 6, 1, 8, 30)  # 07:30 in Chicago
    denied = check(zones, now)
    assert (denied.allow, denied.reason) == (False, "outside_window")
    assert "America/Chicago" in denied.detail
    assert denied.not_before == at("America/Chicago", 2026, 6, 1, 8, 0)
    assert check(zones, at("America/Chicago", 2026, 6, 1, 8, 0)).allow


def test_ambiguous_zones_close_with_the_earliest_closing() -> None:
    zones = ("America/Chicago", "America/New_York")
    assert check(zones, at("America/New_York", 2026, 6, 1, 20, 59)).allow
    denied = check(zones, at("America/New_York", 2026, 6, 1, 21, 0))  # still 20:00 in Chicago
    assert denied.not_before == at("America/Chicago", 2026, 6, 2, 8, 0)


def test_zones_from_an_ambiguous_area_code() -> None:
    zones = zones_for("+12085550123")  # Boise (Mountain) and Los Angeles (Pacific)
    assert not check(zones, at("America/Boise", 2026, 6, 1, 8, 30)).allow
    assert check(zones, at("America/Los_Angeles", 2026, 6, 1, 8, 0)).allow


def test_zones_whose_windows_never_overlap() -> None:
    # Eight hours apart each way: whenever one is open another is asleep.
    zones = ("Asia/Seoul", "Europe/London", "America/Los_Angeles")
    denied = check(zones, dt.datetime(2026, 6, 1, 12, 0, tzinfo=UTC))
    assert (denied.allow, denied.reason, denied.not_before) == (False, "no_common_window", None)
    assert next_allowed(zones=zones, history=[], after=dt.datetime(2026, 6, 1, tzinfo=UTC), rules=DEFAULT) is None


def test_duplicate_zones_count_once() -> None:
    assert check(("Asia/Seoul", "Asia/Seoul"), at("Asia/Seoul", 2026, 6, 1, 9, 0)).allow


# --- caps and cooldown -----------------------------------------------------------------------------------


def test_reg_f_seventh_attempt_allowed_eighth_denied_until_the_oldest_leaves() -> None:
    now = at("America/New_York", 2026, 6, 10, 11, 0)
    six = [at("America/New_York", 2026, 6, 4 + i, 10, 0) for i in range(6)]  # June 4..9, 10:00
    assert check(NY, now, REG_F, tried(*six)).allow
    seven = [*six, at("America/New_York", 2026, 6, 10, 9, 0)]
    denied = check(NY, now, REG_F, tried(*seven))
    assert (denied.allow, denied.reason) == (False, "cap_7_days")
    assert denied.not_before == at("America/New_York", 2026, 6, 11, 10, 0)  # June 4 10:00 + 7 x 24 h
    assert check(NY, denied.not_before, REG_F, tried(*seven)).allow
    assert not check(NY, denied.not_before - dt.timedelta(seconds=1), REG_F, tried(*seven)).allow


def test_reg_f_counts_a_rolling_window_not_calendar_weeks() -> None:
    now = at("America/New_York", 2026, 6, 10, 11, 0)
    old = [now - dt.timedelta(days=7, minutes=1)] * 5
    recent = [now - dt.timedelta(hours=h) for h in range(1, 7)]
    assert check(NY, now, REG_F, tried(*old, *recent)).allow


def test_reg_f_no_call_within_seven_days_after_a_conversation() -> None:
    talk = at("America/New_York", 2026, 6, 1, 10, 0)
    history = [Attempt(talk, CallResult.ANSWERED, conversation=True)]
    denied = check(NY, talk + dt.timedelta(days=6), REG_F, history)
    assert (denied.allow, denied.reason) == (False, "cooldown_after_conversation")
    assert denied.not_before == talk + dt.timedelta(days=7)
    assert check(NY, talk + dt.timedelta(days=7), REG_F, history).allow
    assert check(NY, talk + dt.timedelta(days=8), REG_F, history).allow
    # An answered call without a conversation (e.g. nobody spoke) starts no cooldown.
    quiet = [Attempt(talk, CallResult.ANSWERED, conversation=False)]
    assert check(NY, talk + dt.timedelta(days=1), REG_F, quiet).allow


def test_cooldown_end_outside_the_window_waits_for_the_next_opening() -> None:
    talk = at("America/New_York", 2026, 6, 1, 20, 30)
    history = [Attempt(talk, CallResult.ANSWERED, conversation=True)]
    rules = Rules(cooldown_after_conversation=dt.timedelta(days=7, hours=1))  # ends 21:30, after closing
    denied = check(NY, talk + dt.timedelta(days=2), rules, history)
    assert denied.not_before == at("America/New_York", 2026, 6, 9, 8, 0)


def test_ma_ny_two_per_seven_days() -> None:
    rules = PACKS["us_ma_ny"]
    now = at("America/New_York", 2026, 6, 10, 11, 0)
    one = tried(at("America/New_York", 2026, 6, 8, 10, 0))
    assert check(NY, now, rules, one).allow
    two = [*one, *tried(at("America/New_York", 2026, 6, 9, 10, 0))]
    denied = check(NY, now, rules, two)
    assert (denied.reason, denied.not_before) == ("cap_7_days", at("America/New_York", 2026, 6, 15, 10, 0))


def test_china_six_unanswered_attempts_per_local_day() -> None:
    sh = ("Asia/Shanghai",)
    rules = PACKS["cn_2026"]
    now = at("Asia/Shanghai", 2026, 6, 11, 15, 0)
    # 00:30 Shanghai is still the previous UTC date: the local day counts.
    unanswered = [at("Asia/Shanghai", 2026, 6, 11, 0, 30), *[at("Asia/Shanghai", 2026, 6, 11, 9 + i, 0)
                                                             for i in range(4)]]
    answered = tried(*[at("Asia/Shanghai", 2026, 6, 11, 14, m) for m in (0, 20, 40)], result=CallResult.ANSWERED)
    history = [*tried(*unanswered), *answered]
    assert check(sh, now, rules, history).allow  # five unanswered
    busy = tried(at("Asia/Shanghai", 2026, 6, 11, 14, 50), result=CallResult.BUSY)
    denied = check(sh, now, rules, [*history, *busy])
    assert (denied.allow, denied.reason) == (False, "cap_unanswered_day")
    assert denied.not_before == at("Asia/Shanghai", 2026, 6, 12, 8, 0)
    yesterday = tried(*[at("Asia/Shanghai", 2026, 6, 10, 20, m) for m in range(0, 60, 10)])
    assert check(sh, now, rules, yesterday).allow


def test_unknown_results_count_as_unanswered() -> None:
    now = at("Asia/Shanghai", 2026, 6, 11, 15, 0)
    history = [Attempt(now - dt.timedelta(minutes=m + 1), None if m % 2 else CallResult.UNKNOWN) for m in range(6)]
    assert check(("Asia/Shanghai",), now, PACKS["cn_2026"], history).reason == "cap_unanswered_day"


def test_the_china_pack_uses_the_safe_window() -> None:
    assert PACKS["cn_2026"].window == (dt.time(8), dt.time(21))
    assert not check(("Asia/Shanghai",), at("Asia/Shanghai", 2026, 6, 11, 21, 30), PACKS["cn_2026"]).allow


def test_a_day_cap_takes_the_busiest_candidate_day() -> None:
    zones = ("Asia/Seoul", "America/Los_Angeles")
    now = dt.datetime(2026, 6, 10, 0, 30, tzinfo=UTC)  # 09:30 June 10 in Seoul, 17:30 June 9 in Los Angeles
    history = tried(
        dt.datetime(2026, 6, 9, 8, 0, tzinfo=UTC),  # June 9 in both zones
        dt.datetime(2026, 6, 10, 0, 0, tzinfo=UTC),  # June 10 in Seoul, June 9 in Los Angeles
    )
    rules = Rules(max_per_day=2)
    assert check(("Asia/Seoul",), now, rules, history).allow
    denied = check(zones, now, rules, history)
    assert (denied.reason, denied.not_before) == ("cap_day", dt.datetime(2026, 6, 10, 23, 0, tzinfo=UTC))
    assert "America/Los_Angeles" in denied.detail


def test_checks_run_in_the_documented_order() -> None:
    talk = at("America/New_York", 2026, 6, 9, 10, 0)
    history = [*tried(*[talk - dt.timedelta(hours=h) for h in range(1, 8)]), Attempt(talk, None, conversation=True)]
    night = at("America/New_York", 2026, 6, 10, 3, 0)
    assert check(NY, night, REG_F, history).reason == "cap_7_days"
    assert check(NY, night, REG_F, history[-1:]).reason == "cooldown_after_conversation"
    assert check(NY, night, REG_F, []).reason == "outside_window"
    assert check(NY, night, REG_F, history, suppressed="dnc").reason == "suppressed:dnc"
    assert check([], night, REG_F, history).reason == "no_time_zone"


# --- permanent denials and bad input --------------------------------------------------------------------


@pytest.mark.parametrize("why", ["opt_out", "wrong_number", "dnc"])
def test_suppression_is_permanent(why: str) -> None:
    now = at("America/New_York", 2026, 6, 10, 11, 0)
    denied = check(NY, now, suppressed=why)
    assert (denied.allow, denied.reason, denied.not_before) == (False, f"suppressed:{why}", None)
    assert next_allowed(zones=NY, history=[], after=now, rules=DEFAULT, suppressed=why) is None


def test_no_time_zone_is_denied() -> None:
    denied = check([], at("America/New_York", 2026, 6, 10, 11, 0))
    assert (denied.allow, denied.reason, denied.not_before) == (False, "no_time_zone", None)


def test_naive_datetimes_are_rejected() -> None:
    naive = dt.datetime(2026, 6, 10, 11, 0)
    with pytest.raises(ValueError, match="timezone-aware"):
        check(NY, naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        next_allowed(zones=NY, history=[], after=naive, rules=DEFAULT)
    with pytest.raises(ValueError, match="timezone-aware"):
        Attempt(naive, None, False)


def test_bad_zones_are_rejected() -> None:
    now = dt.datetime(2026, 6, 10, 15, 0, tzinfo=UTC)
    with pytest.raises(InputError):
        check(["Mars/Olympus_Mons"], now)
    with pytest.raises(TypeError):
        check("America/New_York", now)


def test_an_aware_non_utc_clock_is_fine() -> None:
    now = dt.datetime(2026, 6, 10, 8, 30, tzinfo=ZoneInfo("America/Chicago"))
    assert check(NY, now).allow
    denied = check(("America/Chicago",), now.replace(hour=7))
    assert denied.not_before is not None and denied.not_before.tzinfo is UTC


# --- packs and custom rules ------------------------------------------------------------------------------


def test_the_packs() -> None:
    assert set(PACKS) >= {"default", "us_reg_f", "us_ma_ny", "cn_2026"}
    assert all(rules.window == (dt.time(8), dt.time(21)) for rules in PACKS.values())
    assert (REG_F.max_per_7_days, REG_F.cooldown_after_conversation) == (7, dt.timedelta(days=7))
    assert (PACKS["us_ma_ny"].max_per_7_days, PACKS["us_ma_ny"].cooldown_after_conversation) == (
        2, dt.timedelta(days=7))
    assert PACKS["cn_2026"].max_unanswered_per_day == 6
    assert all(name == rules.name for name, rules in PACKS.items())


def test_rules_from_mapping_extends_a_base_pack() -> None:
    rules = rules_from_mapping({"base": "us_reg_f", "window": "09:00-20:30", "max_per_day": 3})
    assert rules.window == (dt.time(9), dt.time(20, 30))
    assert (rules.max_per_day, rules.max_per_7_days) == (3, 7)
    assert rules.cooldown_after_conversation == dt.timedelta(days=7)
    assert rules.name == "us_reg_f+custom"


def test_rules_from_mapping_can_lift_a_cap_and_name_the_pack() -> None:
    rules = rules_from_mapping({
        "base": "us_reg_f", "max_per_7_days": None, "cooldown_after_conversation_days": 3, "name": "acme",
        "max_unanswered_per_day": 4,
    })
    assert (rules.max_per_7_days, rules.cooldown_after_conversation, rules.name) == (
        None, dt.timedelta(days=3), "acme")
    assert rules.max_unanswered_per_day == 4
    assert rules_from_mapping({}) == PACKS["default"]
    assert rules_from_mapping({"base": "cn_2026"}) == PACKS["cn_2026"]


@pytest.mark.parametrize(("data", "message"), [
    ({"window": "21:00-08:00"}, "ends before it starts"),
    ({"window": "08:00-08:00"}, "ends before it starts"),
    ({"window": "8-21"}, "must look like"),
    ({"window": "25:00-26:00"}, "impossible time"),
    ({"window": ["08:00", "21:00"]}, "must look like"),
    ({"max_per_day": -1}, "at least 1"),
    ({"max_per_day": 0}, "at least 1"),
    ({"max_per_7_days": "7"}, "whole number"),
    ({"max_unanswered_per_day": True}, "whole number"),
    ({"max_per_7_days": 2.5}, "whole number"),
    ({"cooldown_after_conversation_days": -1}, "0 to 366"),
    ({"cooldown_after_conversation_days": "seven"}, "must be a number"),
    ({"base": "us_nowhere"}, "base must be one of"),
    ({"max_per_week": 3}, "unknown key"),
    ({"name": ""}, "non-empty name"),
])
def test_rules_from_mapping_rejects_bad_values(data: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        rules_from_mapping(data)


def test_rules_from_mapping_needs_a_mapping() -> None:
    with pytest.raises(ConfigError, match="mapping"):
        rules_from_mapping(["window"])  # type: ignore[arg-type]


def test_rules_validate_when_built_directly() -> None:
    with pytest.raises(ConfigError, match="after its start"):
        Rules(window=(dt.time(21), dt.time(8)))
    with pytest.raises(ConfigError, match="366 days"):
        Rules(cooldown_after_conversation=dt.timedelta(days=-1))


# --- properties ---------------------------------------------------------------------------------------------

ZONES = [
    "Asia/Seoul", "America/New_York", "America/Chicago", "America/Phoenix", "America/Indiana/Indianapolis",
    "Europe/Moscow", "America/Los_Angeles", "Asia/Shanghai", "Australia/Sydney", "Europe/London",
    "Asia/Kathmandu", "Australia/Lord_Howe",
]
START = dt.datetime(2026, 1, 1, tzinfo=UTC)
MINUTE = dt.timedelta(minutes=1)
# The 2026 DST change days in ZONES, so that they are drawn often.
DST_DAYS = [dt.datetime(2026, m, d, tzinfo=UTC) for m, d in ((3, 8), (3, 29), (4, 5), (10, 4), (10, 25), (11, 1))]

minutes = st.integers(min_value=0, max_value=365 * 24 * 60)
instants = st.one_of(
    minutes.map(lambda n: START + n * MINUTE),
    st.builds(lambda day, n: day + n * MINUTE, st.sampled_from(DST_DAYS), st.integers(-24 * 60, 48 * 60)),
)
windows = st.tuples(st.integers(0, 22 * 60), st.integers(30, 16 * 60)).map(
    lambda s: (dt.time(*divmod(s[0], 60)), dt.time(*divmod(min(s[0] + s[1], 23 * 60 + 59), 60)))
)
caps = st.none() | st.integers(1, 4)
custom_rules = st.builds(
    Rules,
    window=windows,
    max_per_day=caps,
    max_per_7_days=st.none() | st.integers(1, 8),
    cooldown_after_conversation=st.none() | st.integers(0, 8 * 24).map(lambda h: dt.timedelta(hours=h)),
    max_unanswered_per_day=caps,
)
all_rules = st.sampled_from(list(PACKS.values())) | custom_rules
zone_sets = st.lists(st.sampled_from(ZONES), min_size=1, max_size=3, unique=True)


@st.composite
def histories(draw: st.DrawFn, now: dt.datetime) -> list[Attempt]:
    ages = draw(st.lists(st.integers(0, 10 * 24 * 60), max_size=10))
    results = st.none() | st.sampled_from(list(CallResult))
    return [Attempt(now - age * MINUTE, draw(results), draw(st.booleans())) for age in ages]


def oracle(zones: Sequence[str], history: Sequence[Attempt], t: dt.datetime, rules: Rules) -> bool:
    """A plain restatement of the rules, used to check decide and next_allowed."""
    start, end = rules.window
    for name in zones:
        zone = ZoneInfo(name)
        local = t.astimezone(zone)
        if not start <= local.time() < end:
            return False
        today = [a for a in history if a.at.astimezone(zone).date() == local.date()]
        if rules.max_per_day is not None and len(today) >= rules.max_per_day:
            return False
        unanswered = [a for a in today if a.result != CallResult.ANSWERED]
        if rules.max_unanswered_per_day is not None and len(unanswered) >= rules.max_unanswered_per_day:
            return False
    week = [a for a in history if a.at > t - dt.timedelta(days=7)]
    if rules.max_per_7_days is not None and len(week) >= rules.max_per_7_days:
        return False
    talks = [a.at for a in history if a.conversation]
    cooldown = rules.cooldown_after_conversation
    return not (cooldown and talks and t < max(talks) + cooldown)


@st.composite
def cases(draw: st.DrawFn) -> tuple[list[str], list[Attempt], dt.datetime, Rules]:
    now = draw(instants)
    return draw(zone_sets), draw(histories(now)), now, draw(all_rules)


@settings(max_examples=150, deadline=None)
@given(cases())
def test_decide_agrees_with_a_plain_restatement(case: tuple[list[str], list[Attempt], dt.datetime, Rules]) -> None:
    zones, history, now, rules = case
    decision = decide(zones=zones, history=history, now=now, rules=rules)
    assert decision.allow == oracle(zones, history, now, rules)
    if decision.allow:
        assert (decision.reason, decision.not_before) == ("ok", None)
    elif decision.not_before is not None:
        assert decision.not_before > now
        assert decision.not_before == next_allowed(zones=zones, history=history, after=now, rules=rules)


@settings(max_examples=60, deadline=None)
@given(cases())
def test_next_allowed_is_the_earliest_allowed_minute(case: tuple[list[str], list[Attempt], dt.datetime, Rules]) -> None:
    zones, history, now, rules = case
    found = next_allowed(zones=zones, history=history, after=now, rules=rules)
    if found is None:
        # Only zones whose windows never meet may give no answer (histories clear within days).
        assert not any(oracle(zones, [], now + k * MINUTE, rules) for k in range(2 * 24 * 60))
        return
    assert found >= now
    assert decide(zones=zones, history=history, now=found, rules=rules).allow
    assert oracle(zones, history, found, rules)
    # Nothing earlier is allowed: every whole minute near both ends of [now, found) is checked.
    span = int((found - now) / MINUTE)
    checked = set(range(min(span, 2 * 24 * 60))) | set(range(max(0, span - 24 * 60), span))
    assert not any(oracle(zones, history, now + k * MINUTE, rules) for k in checked)
