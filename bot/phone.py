"""Phone numbers: the only way a number from outside becomes E.164 and then a dial string.

Only digits ever reach a dial string; error messages never contain the full number.
"""

from __future__ import annotations

import functools
import re
import string
from collections.abc import Sequence

import phonenumbers
from phonenumbers import PhoneNumberType

from bot.errors import ConfigError, PhoneNumberError

E164 = re.compile(r"\+[1-9][0-9]{6,14}")
# Digits, spaces, - ( ) . and one leading '+': nothing a dial string or AMI could misread.
_ACCEPTED = re.compile(r" *\+?[0-9 ().\-]*[0-9][0-9 ().\-]*")
_MAX_INPUT = 40
_REFUSED_TYPES = {
    PhoneNumberType.PREMIUM_RATE: "premium-rate",
    PhoneNumberType.SHARED_COST: "shared-cost",
}
# What logs and messages mask: '+' and 8 or more digits, or the bare digits of a dial
# string such as Local/821055500012@context (templates may use {digits}).
_NUMBER_IN_TEXT = re.compile(r"(?<![0-9])\+[0-9]{8,}|(?<=/)[0-9]{8,}(?=@)")
_TEMPLATE_FIELDS = {"e164", "digits"}


def is_e164(value: object) -> bool:
    return isinstance(value, str) and E164.fullmatch(value) is not None


def normalize(raw: str, *, default_region: str, allowed_countries: Sequence[str]) -> str:
    """Return ``raw`` as a valid E.164 number of an allowed country, or raise PhoneNumberError."""
    if not isinstance(raw, str):
        raise PhoneNumberError("phone number is not text")
    if len(raw) > _MAX_INPUT:
        raise PhoneNumberError(f"phone number is longer than {_MAX_INPUT} characters")
    if _ACCEPTED.fullmatch(raw) is None:
        raise PhoneNumberError(
            "phone number may only contain digits, spaces, '-', '(', ')', '.' and a leading '+'"
        )
    region = default_region.upper()
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        raise PhoneNumberError(f"not a phone number ({_parse_reason(exc)})") from None
    # number_type is UNKNOWN exactly when is_valid_number is false (both match the number
    # against the same per-region patterns); asking once halves the cost of an import.
    kind = phonenumbers.number_type(number)
    if kind == PhoneNumberType.UNKNOWN:
        raise PhoneNumberError(
            f"not a valid phone number for country code +{number.country_code}"
        )
    country = phonenumbers.region_code_for_number(number) or "unknown"
    if country not in _upper(allowed_countries):
        raise PhoneNumberError(f"numbers in country {country} may not be dialled")
    if kind in _REFUSED_TYPES:
        raise PhoneNumberError(f"{_REFUSED_TYPES[kind]} numbers may not be dialled")
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if not is_e164(e164):
        raise PhoneNumberError("phone number does not format as E.164")
    return e164


def _upper(countries: Sequence[str]) -> frozenset[str]:
    if isinstance(countries, list | tuple):
        return _upper_cached(tuple(countries))
    return frozenset(c.upper() for c in countries)


@functools.lru_cache(maxsize=16)
def _upper_cached(countries: tuple[str, ...]) -> frozenset[str]:
    return frozenset(c.upper() for c in countries)


def _parse_reason(exc: phonenumbers.NumberParseException) -> str:
    reasons = {
        phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: "unknown country code",
        phonenumbers.NumberParseException.NOT_A_NUMBER: "no number found",
        phonenumbers.NumberParseException.TOO_SHORT_NSN: "too short",
        phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: "too short",
        phonenumbers.NumberParseException.TOO_LONG: "too long",
    }
    return reasons.get(exc.error_type, "unparsable")


def mask(e164: str) -> str:
    """``+821055500012`` → ``+8210******12``: country code, a 2-digit prefix if long, last 2."""
    if not isinstance(e164, str) or not re.fullmatch(r"\+[0-9]+", e164):
        return "***"
    digits = e164[1:]
    cc = _country_code(digits)
    national = digits[len(cc):]
    head = national[:2] if len(national) >= 9 else ""  # at least 5 digits stay hidden
    tail = national[-2:] if len(national) > 2 else ""
    hidden = len(national) - len(head) - len(tail)
    return f"+{cc}{head}{'*' * hidden}{tail}"


def _country_code(digits: str) -> str:
    # ITU country codes are prefix-free, so the first known prefix is the code.
    for size in (1, 2, 3):
        if int(digits[:size] or 0) in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            return digits[:size]
    return digits[:1]


def mask_numbers(text: str) -> str:
    """Mask E.164-looking numbers (``+`` and 8 or more digits) and dial-string digits in text."""
    return _NUMBER_IN_TEXT.sub(_mask_match, text)


def _mask_match(match: re.Match[str]) -> str:
    found = match.group(0)
    return mask(found) if found.startswith("+") else mask("+" + found)[1:]


def check_template(template: str) -> None:
    """Raise ConfigError unless ``template`` is a dial string using only {e164} and {digits}."""
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in template):
        raise ConfigError("dial template contains a control character (CR, LF, NUL ...)")
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ConfigError(f"dial template is malformed: {exc}") from None
    fields = set()
    for _, name, spec, conversion in parts:
        if name is None:
            continue
        if name not in _TEMPLATE_FIELDS or spec or conversion:
            raise ConfigError(
                f"dial template field {{{name}}} is not allowed; use {{e164}} or {{digits}}"
            )
        fields.add(name)
    if not fields:
        raise ConfigError("dial template must contain {e164} or {digits}")


def dial_string(template: str, e164: str) -> str:
    """Fill ``template`` with the number; only '+' and digits are ever substituted."""
    check_template(template)
    if not is_e164(e164):
        raise PhoneNumberError("refusing to dial a value that is not an E.164 number")
    values = {"e164": e164, "digits": e164[1:]}
    out = []
    for literal, name, _, _ in string.Formatter().parse(template):
        out.append(literal)
        if name is not None:
            out.append(values[name])
    return "".join(out)
