"""The fast path for national numbers answers exactly as ``normalize`` (phonenumbers) does, or not at all."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from phonenumbers import PhoneNumberType

from bot.campaign.rows import RowChecker
from bot.errors import PhoneNumberError
from bot.phone import normalize
from bot.phone_fast import allowed, national_e164

REGIONS = ["KR", "CN", "US", "JP", "GB", "DE", "VN", "IT", "SG", "CA", "RU", "IN", "FR", "AU", "HK", "TW"]
ALLOWED = [["KR", "CN", "US"], ["KR"], ["CN", "JP", "GB", "DE", "VN", "IT", "SG", "CA"], REGIONS]
TYPES = [t for t in vars(PhoneNumberType).values() if isinstance(t, int)]


def _slow(raw: str, region: str, countries: list[str]) -> str | None:
    try:
        return normalize(raw, default_region=region, allowed_countries=countries)
    except PhoneNumberError:
        return None


def _check(raw: str, region: str, countries: list[str]) -> str | None:
    fast = national_e164(raw, default_region=region, allowed_countries=allowed(countries))
    if fast is not None:  # when it answers, it is normalize's answer; refusals are left to normalize
        assert fast == _slow(raw, region, countries), (raw, region, countries)
    return fast


def _written(digits: str, cuts: list[int], seps: list[str]) -> str:
    """``digits`` cut into groups at ``cuts`` with the separators ``seps`` between them."""
    out, last = [], 0
    for cut, sep in zip(sorted(set(c for c in cuts if 0 < c < len(digits))), seps, strict=False):
        out += [digits[last:cut], sep]
        last = cut
    return "".join(out) + digits[last:]


@st.composite
def national_numbers(draw: st.DrawFn) -> tuple[str, str]:
    """A region's example number of some type, some of its digits changed, written nationally."""
    region = draw(st.sampled_from(REGIONS))
    example = phonenumbers.example_number_for_type(region, draw(st.sampled_from(TYPES)))
    if example is None:
        example = phonenumbers.example_number(region)
    national = phonenumbers.national_significant_number(example)
    digits = list(national)
    for _ in range(draw(st.sampled_from([0, 0, 1, 1, 2, 4]))):
        digits[draw(st.integers(0, len(digits) - 1))] = draw(st.sampled_from("0123456789"))
    tail = draw(st.sampled_from(["", "", "", "", "", "0", "12", "123"]))
    cut = draw(st.sampled_from([0, 0, 0, 0, 1, 2]))
    body = "".join(digits) + tail if cut == 0 else "".join(digits)[:-cut]
    prefix = draw(st.sampled_from([*["0"] * 6, "1", "", "00", "08", "082", "01", "1700",
                                   "0" + str(example.country_code)]))
    text = prefix + body
    cuts = draw(st.lists(st.integers(1, 16), max_size=4))
    seps = draw(st.lists(st.sampled_from(["-", " ", "-", " ", "-", "  ", ".", "--"]), min_size=4, max_size=4))
    return region, _written(text, cuts, seps)


@settings(max_examples=2000, deadline=None)
@given(national_numbers(), st.sampled_from([*ALLOWED, REGIONS, REGIONS]))
def test_national_numbers_of_many_regions_are_decided_as_normalize_decides(case: tuple[str, str],
                                                                           countries: list[str]) -> None:
    region, raw = case
    _check(raw, region, countries)


@settings(max_examples=2000, deadline=None)
@given(st.from_regex(r"\A[0-9][0-9 \-]{0,24}\Z"), st.sampled_from(REGIONS), st.sampled_from(ALLOWED))
def test_any_digits_and_separators_are_decided_as_normalize_decides(raw: str, region: str,
                                                                    countries: list[str]) -> None:
    _check(raw, region, countries)


@settings(max_examples=1000, deadline=None)
@given(st.from_regex(r"\A0(1[0-9]|[2-9][0-9]?)[ \-]?[0-9]{3,4}[ \-]?[0-9]{4}\Z"), st.sampled_from(ALLOWED))
def test_korean_national_numbers_are_decided_as_normalize_decides(raw: str, countries: list[str]) -> None:
    _check(raw, "KR", countries)


def test_every_example_number_of_every_region_is_decided_as_normalize_decides() -> None:
    answered = 0
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        prefix = phonenumbers.PhoneMetadata.metadata_for_region(region).national_prefix or ""
        for kind in TYPES:
            example = phonenumbers.example_number_for_type(region, kind)
            if example is None:
                continue
            national = phonenumbers.national_significant_number(example)
            for raw in (prefix + national, f"{prefix}{national[:2]}-{national[2:5]}-{national[5:]}"):
                answered += _check(raw.strip("-"), region, [region]) is not None
    assert answered > 500  # the fast path is exercised, not only skipped


@pytest.mark.parametrize(("raw", "region", "expected"), [
    ("010-5550-0012", "KR", "+821055500012"),
    ("010 5550 0012", "KR", "+821055500012"),
    ("01055500012", "KR", "+821055500012"),
    ("02-312-3456", "KR", "+8223123456"),
    ("031-123-4567", "KR", "+82311234567"),
    ("070-1234-5678", "KR", "+827012345678"),
    ("138 0013 8000", "CN", None),  # no national prefix: left to phonenumbers
    ("010-6552-9988", "CN", "+861065529988"),
    ("090-1234-5678", "JP", "+819012345678"),
])
def test_the_common_national_forms_take_the_fast_path(raw: str, region: str, expected: str | None) -> None:
    assert national_e164(raw, default_region=region, allowed_countries=allowed(REGIONS)) == expected
    if expected is not None:
        assert normalize(raw, default_region=region, allowed_countries=REGIONS) == expected


@pytest.mark.parametrize("raw", [
    "060-700-1234",  # premium rate in KR: normalize refuses it and says why
    "(010) 5550-0012",  # brackets
    "010.5550.0012",  # dots
    "+82 10-5550-0012",  # international form
    "0082-10-5550-0012",  # an international prefix
    "081-234-5678",  # 08x: a carrier code may follow the prefix
    "1588-1234",  # no national prefix
    "010-555",  # too short: normalize's message
    " 010-5550-0012",  # spaces around: as given, not trimmed here
])
def test_everything_else_is_left_to_normalize(raw: str) -> None:
    assert national_e164(raw, default_region="KR", allowed_countries=allowed(REGIONS)) is None


def test_a_refused_country_is_left_to_normalize_and_its_message() -> None:
    assert national_e164("010-5550-0012", default_region="KR", allowed_countries=allowed(["CN"])) is None
    with pytest.raises(PhoneNumberError, match="country KR may not be dialled"):
        normalize("010-5550-0012", default_region="KR", allowed_countries=["CN"])


def test_the_row_checker_gives_normalize_messages_for_refused_numbers() -> None:
    check = RowChecker({"id": 0, "name": 1, "phone": 2, "amount": 3, "currency": 4, "due_date": 5}, "KR", ["KR"])
    ident, fields, problems = check(["A1", "Kim", "060-700-1234", "1000", "KRW", "2026-01-02"])
    assert (ident, fields) == ("A1", None) and problems == ["phone: premium-rate numbers may not be dialled"]
    ident, fields, problems = check(["A2", "Kim", "010-5550-0012", "1000", "KRW", "2026-01-02"])
    assert problems == [] and fields is not None and fields[2] == "+821055500012"
