"""Only valid, allowed E.164 numbers become dial strings, built from digits alone."""

from __future__ import annotations

import re

import phonenumbers
import pytest
from hypothesis import given
from hypothesis import strategies as st
from phonenumbers import PhoneNumberType

from bot.errors import ConfigError, PhoneNumberError
from bot.phone import check_template, dial_string, is_e164, mask, mask_numbers, normalize

ALLOWED = ["KR", "CN", "US"]
E164_SHAPE = re.compile(r"\+[1-9][0-9]{6,14}")


def norm(raw: str, region: str = "KR", allowed: list[str] = ALLOWED) -> str:
    return normalize(raw, default_region=region, allowed_countries=allowed)


def example(region: str, kind: PhoneNumberType) -> str:
    number = phonenumbers.example_number_for_type(region, kind)
    assert number is not None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@pytest.mark.parametrize(("raw", "expected"), [
    ("010-5555-0001", "+821055550001"),
    ("+82 10 5555 0001", "+821055550001"),
    (" 010 5555 0001 ", "+821055550001"),
    ("(02) 312-3456", "+8223123456"),
    ("02.312.3456", "+8223123456"),
    ("+1 650-253-0000", "+16502530000"),
    ("+86 138 0013 8000", "+8613800138000"),
])
def test_valid_numbers_become_e164(raw: str, expected: str) -> None:
    assert norm(raw) == expected


def test_default_region_applies_to_national_numbers() -> None:
    assert norm("(650) 253-0000", region="US") == "+16502530000"
    assert norm("(650) 253-0000", region="us") == "+16502530000"


@pytest.mark.parametrize("raw", [
    "123&PJSIP/x",
    "123@evil",
    "+82 10 5555 0001\r\nAction: Originate",
    "+82 10 5555 0001\n",
    "+82105555000１",  # a full-width digit
    "010-5555-0001,1",
    "010-5555-0001;ext=1",
    "tel:+821055550001",
    "+82 10 5555 0001 ext 5",
    "++821055550001",
    "82+1055550001",
    "010\t5555\t0001",
    "010-5555-0001\x00",
    "",
    "   ",
    "-().",
    "1" * 41,
])
def test_dangerous_or_malformed_input_is_refused(raw: str) -> None:
    with pytest.raises(PhoneNumberError):
        norm(raw)


@pytest.mark.parametrize(("raw", "allowed", "needle"), [
    ("+81 90 1234 5678", ALLOWED, "country JP"),
    ("+800 1234 5678", ALLOWED, "country 001"),
    (example("US", PhoneNumberType.PREMIUM_RATE), ALLOWED, "premium-rate"),
    (example("CN", PhoneNumberType.SHARED_COST), ALLOWED, "shared-cost"),
    (example("KR", PhoneNumberType.PREMIUM_RATE), ["kr"], "premium-rate"),
    ("+82 10 1", ALLOWED, "not a valid phone number"),
    ("+999 1234 5678", ALLOWED, "unknown country code"),
    ("010 5555 0001", [], "may not be dialled"),
])
def test_refusals_say_why_without_the_number(raw: str, allowed: list[str], needle: str) -> None:
    with pytest.raises(PhoneNumberError) as caught:
        norm(raw, allowed=allowed)
    message = str(caught.value)
    assert needle in message
    digits = re.sub(r"\D", "", raw)
    assert digits[-6:] not in message


@given(st.text(max_size=60))
def test_any_text_is_refused_or_becomes_e164(raw: str) -> None:
    try:
        out = norm(raw)
    except PhoneNumberError:
        return
    assert E164_SHAPE.fullmatch(out)


@given(st.from_regex(r"\A\+?[0-9 ().\-]{0,25}\Z"))
def test_number_like_text_is_refused_or_becomes_e164(raw: str) -> None:
    try:
        out = norm(raw)
    except PhoneNumberError:
        return
    assert E164_SHAPE.fullmatch(out)


def _reference(raw: str, region: str, allowed: list[str]) -> str:
    """What normalize did before it asked for the number type once: is_valid_number, then type."""
    number = phonenumbers.parse(raw, region)
    if not phonenumbers.is_valid_number(number):
        raise PhoneNumberError("invalid")
    country = phonenumbers.region_code_for_number(number) or "unknown"
    if country not in allowed:
        raise PhoneNumberError("country")
    if phonenumbers.number_type(number) in (PhoneNumberType.PREMIUM_RATE, PhoneNumberType.SHARED_COST):
        raise PhoneNumberError("type")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


KINDS = {"invalid": "not a valid phone number", "country": "may not be dialled", "type": "numbers may not be dialled"}


@given(st.from_regex(r"\A\+?(82|1|86|81|44|800|979|0|)[0-9 \-]{4,16}\Z"),
       st.sampled_from(["KR", "US", "CN"]), st.sampled_from([ALLOWED, ["KR"], ["US", "GB", "001"]]))
def test_one_type_lookup_decides_exactly_as_is_valid_number_did(raw: str, region: str, allowed: list[str]) -> None:
    try:
        expected, why = _reference(raw, region, allowed), None
    except phonenumbers.NumberParseException:
        expected, why = None, "not a phone number"
    except PhoneNumberError as exc:
        expected, why = None, KINDS[str(exc)]
    if why is None:
        assert norm(raw, region, allowed) == expected
    else:
        with pytest.raises(PhoneNumberError, match=why):
            norm(raw, region, allowed)


@pytest.mark.parametrize(("number", "masked"), [
    ("+821055500012", "+8210******12"),
    ("+16502530000", "+165******00"),
    ("+8613800138000", "+8613*******00"),
    ("+8223123456", "+82******56"),
    ("+4930123", "+49***23"),
    ("not a number", "***"),
    ("", "***"),
])
def test_mask_keeps_country_code_and_last_two_digits(number: str, masked: str) -> None:
    assert mask(number) == masked


def test_mask_numbers_in_text() -> None:
    text = "dialing +821055500012 for L-1 (ref 12345678, +1234567, +16502530000)"
    assert mask_numbers(text) == (
        "dialing +8210******12 for L-1 (ref 12345678, +1234567, +165******00)"
    )
    channel = "Channel: Local/821055500012@collbot-sim-carrier/n, PJSIP/+821055500012@c"
    assert mask_numbers(channel) == (
        "Channel: Local/8210******12@collbot-sim-carrier/n, PJSIP/+8210******12@c"
    )


@pytest.mark.parametrize(("template", "expected"), [
    ("PJSIP/{e164}@carrier", "PJSIP/+821055500012@carrier"),
    ("Local/{digits}@collbot-sim-carrier/n", "Local/821055500012@collbot-sim-carrier/n"),
    ("SIP/{digits}@x/{e164}", "SIP/821055500012@x/+821055500012"),
    ("PJSIP/{{literal}}{digits}", "PJSIP/{literal}821055500012"),
])
def test_dial_string(template: str, expected: str) -> None:
    assert dial_string(template, "+821055500012") == expected


@pytest.mark.parametrize("template", [
    "PJSIP/{number}@carrier",
    "PJSIP/{}",
    "PJSIP/{0}",
    "PJSIP/{e164!r}",
    "PJSIP/{e164:>20}",
    "PJSIP/{e164.__class__}",
    "PJSIP/{digits[0]}",
    "PJSIP/carrier",
    "PJSIP/{e164}\r\nAction: Originate",
    "PJSIP/{e164",
])
def test_bad_templates_are_config_errors(template: str) -> None:
    with pytest.raises(ConfigError):
        check_template(template)
    with pytest.raises(ConfigError):
        dial_string(template, "+821055500012")


@pytest.mark.parametrize("value", [
    "123&PJSIP/x", "123@evil", "+821055500012\n", "+82 10 5555 0001", "821055500012",
    "+0821055500012", "+82105550001234567", "+82105555000１",
    "+82 10 5555 0001\r\nAction: Originate",
])
def test_dial_string_refuses_anything_but_e164(value: str) -> None:
    assert not is_e164(value)
    with pytest.raises(PhoneNumberError):
        dial_string("PJSIP/{e164}@carrier", value)


TEMPLATES = st.sampled_from([
    "PJSIP/{e164}@carrier", "Local/{digits}@collbot-sim-carrier/n", "SIP/{digits},{e164}&x@y",
])
SPECIAL = "\r\n\0,&@"


@given(TEMPLATES, st.text(max_size=30))
def test_dial_string_never_adds_separators(template: str, value: str) -> None:
    try:
        out = dial_string(template, value)
    except PhoneNumberError:
        return
    for ch in SPECIAL:
        assert out.count(ch) == template.count(ch)
    assert set(out) - set(template) <= set("+0123456789")


@given(TEMPLATES, st.from_regex(r"\A\+[1-9][0-9]{6,14}\Z"))
def test_dial_string_accepts_every_e164_shape(template: str, value: str) -> None:
    assert value[1:] in dial_string(template, value)


def _outcome(call: object) -> tuple[str, str]:
    try:
        return "ok", call()  # type: ignore[operator]
    except phonenumbers.NumberParseException:
        return "refused", "not a phone number"
    except PhoneNumberError as exc:
        return "refused", KINDS.get(str(exc), str(exc))


@given(st.lists(st.from_regex(r"\A\+?(82|1|86|0|)[0-9 ().\-]{0,16}[0-9][0-9 ().\-]{0,3}\Z"), min_size=1, max_size=20),
       st.sampled_from(["KR", "US", "CN"]), st.sampled_from([ALLOWED, ["KR"], ["US", "GB", "001"]]), st.randoms())
def test_cached_decisions_are_phonenumbers_decisions_every_time(raws: list[str], region: str, allowed: list[str],
                                                                rnd: object) -> None:
    """The decision cache: a number seen again (in any order) is decided as phonenumbers decides it."""
    again = raws + [rnd.choice(raws) for _ in raws]  # type: ignore[attr-defined]
    for raw in again:
        status, value = _outcome(lambda raw=raw: norm(raw, region, allowed))
        want_status, want = _outcome(lambda raw=raw: _reference(raw, region, allowed))
        assert status == want_status
        if status == "ok":
            assert value == want
        else:
            assert want in value
