"""A debtor's candidate time zones: explicit zone first, else the number's prefix; unknown means none."""

from __future__ import annotations

import pytest

from bot.campaign.zones import load_zone, zones_for
from bot.errors import InputError, PhoneNumberError


@pytest.mark.parametrize(("e164", "expected"), [
    ("+821055500012", ("Asia/Seoul",)),
    ("+12125550123", ("America/New_York",)),
    ("+16025550123", ("America/Phoenix",)),
    ("+74951234567", ("Europe/Moscow",)),
    ("+8613800138000", ("Asia/Shanghai",)),
])
def test_single_zone_from_the_number(e164: str, expected: tuple[str, ...]) -> None:
    assert zones_for(e164) == expected


def test_an_area_code_spanning_zones_gives_every_candidate() -> None:
    # Idaho's 208 covers Mountain and Pacific time: the caller must apply the stricter window.
    assert set(zones_for("+12085550123")) == {"America/Boise", "America/Los_Angeles"}


def test_a_country_with_many_zones_gives_many_candidates() -> None:
    zones = zones_for("+79001234567")
    assert len(zones) > 1
    assert len(set(zones)) == len(zones)
    assert "Etc/Unknown" not in zones


@pytest.mark.parametrize("e164", ["+80012345678", "+88213123456"])
def test_no_geographic_zone_gives_an_empty_tuple(e164: str) -> None:
    assert zones_for(e164) == ()


def test_the_explicit_zone_wins() -> None:
    assert zones_for("+12125550123", "America/Chicago") == ("America/Chicago",)
    assert zones_for("+12125550123", " Asia/Seoul ") == ("Asia/Seoul",)


@pytest.mark.parametrize("explicit", ["", "   "])
def test_an_empty_explicit_zone_means_none_given(explicit: str) -> None:
    assert zones_for("+12125550123", explicit) == ("America/New_York",)


@pytest.mark.parametrize("bad", ["Mars/Olympus_Mons", "America", "../../etc/passwd", "/etc/localtime", "EST+5"])
def test_an_invalid_explicit_zone_is_an_input_error(bad: str) -> None:
    with pytest.raises(InputError, match="unknown time zone"):
        zones_for("+12125550123", bad)


@pytest.mark.parametrize("raw", ["not a number", "+999123456", ""])
def test_a_non_number_is_a_phone_number_error(raw: str) -> None:
    with pytest.raises(PhoneNumberError):
        zones_for(raw)


def test_load_zone_rejects_non_text() -> None:
    with pytest.raises(InputError):
        load_zone(42)  # type: ignore[arg-type]
    assert str(load_zone("Asia/Seoul")) == "Asia/Seoul"
