"""A cheaper road to the same E.164 as ``bot.phone.normalize`` for the commonest input.

``normalize`` runs ``phonenumbers.parse``, which spends most of its time finding out what kind
of text it was given. A number written in the default region's national format with plain
separators (``010-5000-0012``, ``010 5000 0012``, ``01050000012``) leaves ``parse`` nothing to
decide but the national prefix, so ``national_e164`` builds the ``PhoneNumber`` that ``parse``
would build and asks phonenumbers the same questions ``normalize`` asks (type, region, length).

It answers only when every one of ``parse``'s branches is known for that text (checked
against the region's own metadata); otherwise, and for every refusal, it returns None and the
caller runs ``normalize``, so error messages always come from one place.
``tests/unit/test_phone_fast.py`` checks it against ``normalize`` with hypothesis.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

import phonenumbers
from phonenumbers import PhoneMetadata, PhoneNumber, PhoneNumberType, ValidationResult

from bot.phone import is_e164

# Digits in groups separated by one space or '-', nothing else (no '+', no brackets, no dots).
_SHAPE = re.compile(r"[0-9]+(?:[ -][0-9]+)*")
_MAX_INPUT = 40  # normalize's limit
_MAX_DIGITS = 17  # the longest national number phonenumbers parses
_REFUSED = frozenset({PhoneNumberType.PREMIUM_RATE, PhoneNumberType.SHARED_COST, PhoneNumberType.UNKNOWN})


@dataclass(frozen=True, slots=True)
class _Region:
    code: str
    country_code: int
    prefix: str  # the national prefix, e.g. "0"
    for_parsing: re.Pattern[str]  # what parse strips as a national prefix (and carrier code)
    idd: re.Pattern[str] | None  # the international dialling prefix, e.g. 00 or 001


@functools.lru_cache(maxsize=32)
def _region(code: str) -> _Region | None:
    """What the fast path needs of a region, or None when it cannot serve that region."""
    metadata = PhoneMetadata.metadata_for_region(code, None)
    if metadata is None or not metadata.national_prefix or not metadata.national_prefix_for_parsing:
        return None
    # A country code shared by several regions (+1, +7 ...) is parsed with the main region's
    # lengths by is_possible_number but the default region's by parse: leave those to parse.
    if phonenumbers.region_code_for_country_code(metadata.country_code) != code:
        return None
    idd = re.compile(metadata.international_prefix) if metadata.international_prefix else None
    return _Region(code, metadata.country_code, metadata.national_prefix,
                   re.compile(metadata.national_prefix_for_parsing), idd)


def national_e164(raw: str, *, default_region: str, allowed_countries: frozenset[str]) -> str | None:
    """The E.164 ``normalize`` returns for ``raw``, or None: not certainly handled here, or refused.

    ``allowed_countries`` are upper-case region codes.
    """
    if len(raw) > _MAX_INPUT or _SHAPE.fullmatch(raw) is None:
        return None
    region = _region(default_region.upper())
    if region is None:
        return None
    digits = raw.replace("-", "").replace(" ", "")
    if len(digits) > _MAX_DIGITS or not digits.startswith(region.prefix):
        return None
    # parse reads a leading international prefix as "a country code follows"...
    if region.idd is not None and region.idd.match(digits) is not None:
        return None
    # ...and strips what the region's pattern matches: only the bare national prefix is handled
    # here, not a carrier code or a transformed prefix (any group matched).
    prefix = region.for_parsing.match(digits)
    if prefix is None or prefix.group(0) != region.prefix or any(g is not None for g in prefix.groups()):
        return None
    national = digits[len(region.prefix):]
    if not national or national[0] == "0":  # a leading zero is kept apart by parse (Italian style)
        return None
    number = PhoneNumber(country_code=region.country_code, national_number=int(national))
    # parse strips the prefix when what remains is a possible number of the region; a valid
    # number (type not UNKNOWN) of a possible length is exactly that.
    if phonenumbers.is_possible_number_with_reason(number) != ValidationResult.IS_POSSIBLE:
        return None
    if phonenumbers.number_type(number) in _REFUSED:
        return None
    if (phonenumbers.region_code_for_number(number) or "unknown") not in allowed_countries:
        return None
    e164 = f"+{region.country_code}{national}"  # format_number's E164 when there is no leading zero
    return e164 if is_e164(e164) else None


def allowed(countries: Sequence[str]) -> frozenset[str]:
    """``allowed_countries`` as ``national_e164`` takes them."""
    return frozenset(c.upper() for c in countries)
