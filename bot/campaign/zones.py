"""A debtor's candidate time zones: an explicit zone, else what the number's prefix suggests.

Several zones mean the evidence is ambiguous; compliance then applies the stricter window.
"""

from __future__ import annotations

import zoneinfo

import phonenumbers
from phonenumbers import timezone as phone_timezone

from bot.errors import InputError, PhoneNumberError

_UNKNOWN = "Etc/Unknown"


def load_zone(name: str) -> zoneinfo.ZoneInfo:
    """Return the IANA zone ``name`` from the system tz database, or raise InputError."""
    if not isinstance(name, str):
        raise InputError("a time zone name must be text")
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        # ValueError also covers keys that try to leave the tz database (absolute paths, '..').
        raise InputError(f"unknown time zone {name!r} (expected an IANA name such as 'Asia/Seoul')") from None


def zones_for(e164: str, explicit: str | None = None) -> tuple[str, ...]:
    """Candidate IANA zones for a number: ``(explicit,)`` if given, else phonenumbers' guess; () if unknown."""
    if explicit is not None and explicit.strip():
        name = explicit.strip()
        load_zone(name)
        return (name,)
    if not isinstance(e164, str):
        raise PhoneNumberError("cannot find time zones: the phone number is not text")
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        raise PhoneNumberError("cannot find time zones: not an E.164 phone number") from None
    found = phone_timezone.time_zones_for_number(number)
    zones = tuple(dict.fromkeys(z for z in found if z != _UNKNOWN))
    for name in zones:
        # Fail closed: a zone the local tz database lacks cannot have its window checked.
        load_zone(name)
    return zones
