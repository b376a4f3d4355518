"""The values of one debtor row: each cell checked, every problem named, no value ever echoed
that may be a phone number.

``RowChecker`` turns a row's cells into plain ``Fields`` (cheap to send between processes) or
into the reasons it cannot be a debtor; ``debtor`` makes the Debtor. ``start_worker`` and
``check_in_worker`` run the same checker in worker processes for large imports; this module
imports little so that they start fast.
"""

from __future__ import annotations

import datetime as dt
import functools
import gc
import re
import zoneinfo
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import TypeVar

from bot.domain import Debtor
from bot.errors import PhoneNumberError
from bot.phone import normalize
from bot.phone_fast import allowed, national_e164

REQUIRED = ("id", "name", "phone", "amount", "currency", "due_date")
OPTIONAL = ("timezone", "language", "alt_phone", "tags", "dpd", "score")
LANGUAGES = ("ko", "zh", "en")
DEFAULT_LANGUAGE = "ko"
MAX_AMOUNT = Decimal("999999999999.99")  # what the store's Numeric(14, 2) holds
MAX_TAGS, MAX_TAG = 20, 40
MAX_DPD = 36500  # a hundred years
MAX_SCORE = 1000

T = TypeVar("T")
Fields = tuple[str, str, str, str, str, int, str, dict[str, str], str | None, str | None, tuple[str, ...],
               int | None, float | None]
"""A valid row as plain values: id, name, phone, amount, currency, due date ordinal, language,
extra, timezone, alt_phone, tags, dpd, score."""
Checked = tuple[str | None, Fields | None, list[str]]
"""(the row's id if it is a valid id, its fields if the row is valid, the reasons it is not)."""


def debtor(fields: Fields, today: dt.date) -> Debtor:
    """The Debtor of a valid row imported on ``today``: days past due count from ``today - dpd``
    when the row gives a dpd, else from the due date."""
    ident, name, phone, amount, currency, due, language, extra, zone, alt_phone, tags, dpd, score = fields
    due_date = dt.date.fromordinal(due)
    overdue_since = today - dt.timedelta(days=dpd) if dpd is not None else due_date
    return Debtor(id=ident, name=name, phone=phone, amount=Decimal(amount), currency=currency,
                  due_date=due_date, language=language, extra=extra, timezone=zone,
                  alt_phone=alt_phone, tags=tags, overdue_since=overdue_since, score=score)


# --- Worker processes ---------------------------------------------------------------------------

_worker: RowChecker | None = None  # one per worker process, made by start_worker
GC_ALLOCATIONS = 100_000  # container allocations between two passes of the cycle collector (importing)


def start_worker(columns: dict[str, int], region: str, countries: Sequence[str]) -> None:
    """Process-pool initializer: the checker this worker process uses for every chunk."""
    global _worker
    _worker = RowChecker(columns, region, countries)
    # This process only checks rows, whose objects reference counting frees: see the importer.
    gc.set_threshold(GC_ALLOCATIONS, *gc.get_threshold()[1:])


def check_in_worker(rows: list[list[str]]) -> list[Checked]:
    assert _worker is not None, "start_worker was not run in this process"
    return [_worker(cells) for cells in rows]


# --- Values -------------------------------------------------------------------------------------


class _Bad(Exception):
    """One value of a row is unusable; the message is the reason shown to the user."""


_ID = re.compile(r"[A-Za-z0-9._-]+")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_AMOUNT = re.compile(r"(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.([0-9]+))?")
_YMD = re.compile(r"([0-9]{4})([-/.])([0-9]{1,2})\2([0-9]{1,2})")
_DMY = re.compile(r"([0-9]{1,2})\.([0-9]{1,2})\.([0-9]{4})")
_DATE_LIKE = re.compile(r"[0-9]{1,4}[./-][0-9]{1,2}[./-][0-9]{1,4}")
_TAG_SPLIT = re.compile(r"[;,]")
_DATE_FORMS = "YYYY-MM-DD, YYYY/MM/DD, YYYY.MM.DD or DD.MM.YYYY"


def _shown(value: str) -> str:
    """`` 'value'`` for a reason, or nothing for long values or ones that may be phone numbers."""
    if len(value) > 30 or sum(c.isdigit() for c in value) >= 7:
        return ""
    return f" {value!r}"


class RowChecker:
    """Turns the cells of one row into its fields, or into the reasons it cannot be a debtor."""

    def __init__(self, columns: dict[str, int], region: str, countries: Sequence[str]):
        self._col = dict(columns)
        self._region, self._countries = region, list(countries)
        known = set(REQUIRED) | set(OPTIONAL)
        self._extras = [(name, i) for name, i in columns.items() if name not in known]
        parsers: list[tuple[str, Callable[[str], object]]] = [
            ("id", _ident), ("name", _name), ("phone", self._phone), ("alt_phone", self._alt_phone),
            ("amount", _amount), ("currency", _currency), ("due_date", _date), ("timezone", _zone),
            ("language", _language), ("tags", _tags), ("dpd", _dpd), ("score", _score)]
        # Problems are reported in this order; a column the header lacks reads as an empty cell.
        self._plan = [(columns.get(name), parse) for name, parse in parsers]
        self._phones: dict[str, tuple[str | None, str | None]] = {}
        self._allowed = allowed(countries)

    @property
    def settings(self) -> tuple[dict[str, int], str, list[str]]:
        """The arguments that make the same checker in a worker process (see start_worker)."""
        return self._col, self._region, self._countries

    def __call__(self, cells: list[str]) -> Checked:
        problems: list[str] = []
        values: list[object] = []
        for column, parse in self._plan:
            try:
                values.append(parse(cells[column].strip() if column is not None else ""))
            except _Bad as bad:
                problems.append(str(bad))
                values.append(None)
        ident, name, phone, alt_phone, amount, currency, due, zone, language, tags, dpd, score = values
        if problems:
            return ident, None, problems  # type: ignore[return-value]
        assert ident and name and phone and amount and currency and due and language and tags is not None
        extra = {key: cells[i].strip() for key, i in self._extras}
        return ident, (ident, name, phone, str(amount), currency, due.toordinal(), language,  # type: ignore[return-value, attr-defined]
                       extra, zone, alt_phone, tags, dpd, score), []

    def _phone(self, raw: str, column: str = "phone") -> str:
        if not raw:
            raise _Bad(f"{column} is empty")
        # normalize is a pure function of the text (region and countries are this checker's), so
        # a number met again (a household, alt_phone equal to phone) costs a dict lookup.
        decided = self._phones.get(raw)
        if decided is None:
            # The fast path gives normalize's answer for plain national numbers, or None.
            fast = national_e164(raw, default_region=self._region, allowed_countries=self._allowed)
            try:
                decided = fast or normalize(raw, default_region=self._region, allowed_countries=self._countries), None
            except PhoneNumberError as exc:  # its message never contains the number
                decided = None, str(exc)
            if len(self._phones) >= _PHONES_KEPT:
                self._phones.clear()
            self._phones[raw] = decided
        e164, problem = decided
        if problem is not None:
            raise _Bad(f"{column}: {problem}")
        assert e164 is not None
        return e164

    def _alt_phone(self, raw: str) -> str | None:
        return self._phone(raw, "alt_phone") if raw else None


_PHONES_KEPT = 20_000  # phone decisions a checker remembers (~150 bytes each), then it starts over


def _ident(raw: str) -> str:
    if not raw:
        raise _Bad("id is empty")
    if len(raw) > 64:
        raise _Bad("id is longer than 64 characters")
    if not _ID.fullmatch(raw):
        raise _Bad("id may only contain letters A-Z, digits, '.', '_' and '-'")
    return raw


def _name(raw: str) -> str:
    if not raw:
        raise _Bad("name is empty")
    if len(raw) > 200:
        raise _Bad("name is longer than 200 characters")
    if _CONTROL.search(raw):
        raise _Bad("name contains a control character (line break, tab ...)")
    return raw


def _amount(raw: str) -> Decimal:
    if not raw:
        raise _Bad("amount is empty")
    match = _AMOUNT.fullmatch(raw.removeprefix("-"))
    if match is not None and raw.startswith("-"):
        raise _Bad("amount is negative")
    if match is None:
        raise _Bad(f"amount{_shown(raw)} is not a number (write e.g. 300000, 300,000 or 1234.50)")
    if match.group(1) is not None and len(match.group(1)) > 2:
        raise _Bad(f"amount{_shown(raw)} has {len(match.group(1))} decimal places; at most 2 are allowed "
                   "(thousands are separated with ',', not '.')")
    amount = Decimal(raw.replace(",", ""))
    if amount == 0:
        raise _Bad("amount is zero")
    if amount > MAX_AMOUNT:
        raise _Bad(f"amount is more than {MAX_AMOUNT:,}")
    return amount


def _currency(raw: str) -> str:
    if len(raw) != 3 or not raw.isascii() or not raw.isalpha():
        raise _Bad(f"currency{_shown(raw)} is not a 3-letter ISO 4217 code such as KRW")
    return raw.upper()


def _date(raw: str) -> dt.date:
    if not raw:
        raise _Bad("due_date is empty")
    shown = f" {raw!r}" if _DATE_LIKE.fullmatch(raw) else _shown(raw)
    if match := _YMD.fullmatch(raw):
        year, month, day = int(match[1]), int(match[3]), int(match[4])
    elif match := _DMY.fullmatch(raw):
        year, month, day = int(match[3]), int(match[2]), int(match[1])
    elif _DATE_LIKE.fullmatch(raw):
        raise _Bad(f"due_date{shown} is ambiguous (day/month or month/day?); write {_DATE_FORMS}")
    else:
        raise _Bad(f"due_date{shown} is not a date; write {_DATE_FORMS}")
    if not 1900 <= year <= 2100:
        raise _Bad(f"due_date{shown} has a year outside 1900-2100")
    try:
        return dt.date(year, month, day)
    except ValueError:
        raise _Bad(f"due_date{shown} is not a calendar date") from None


@functools.cache
def _zone_names() -> dict[str, str]:
    return {name.lower(): name for name in zoneinfo.available_timezones()}


def _zone(raw: str) -> str | None:
    if not raw:
        return None
    name = _zone_names().get(raw.lower())
    if name is None:
        raise _Bad(f"timezone{_shown(raw)} is not an IANA time zone name such as Asia/Seoul")
    return name


def _language(raw: str) -> str:
    language = raw.lower() or DEFAULT_LANGUAGE
    if language not in LANGUAGES:
        raise _Bad(f"language{_shown(raw)} is not one of {', '.join(LANGUAGES)}")
    return language


def _tags(raw: str) -> tuple[str, ...]:
    if not raw:
        return ()
    tags = tuple(dict.fromkeys(t.strip() for t in _TAG_SPLIT.split(raw) if t.strip()))
    if len(tags) > MAX_TAGS:
        raise _Bad(f"more than {MAX_TAGS} tags")
    for tag in tags:
        if len(tag) > MAX_TAG or _CONTROL.search(tag):
            raise _Bad(f"tag{_shown(tag)} is longer than {MAX_TAG} characters or contains a control character")
    return tags


def _dpd(raw: str) -> int | None:
    if not raw:
        return None
    if not raw.isascii() or not raw.isdigit():
        raise _Bad(f"dpd{_shown(raw)} is not a whole number of days past due (0 or more)")
    days = int(raw)
    if days > MAX_DPD:
        raise _Bad(f"dpd {days} is more than {MAX_DPD} days")
    return days


_SCORE = re.compile(r"[0-9]+(?:\.[0-9]+)?|\.[0-9]+")


def _score(raw: str) -> float | None:
    if not raw:
        return None
    if not _SCORE.fullmatch(raw):
        raise _Bad(f"score{_shown(raw)} is not a number from 0 to {MAX_SCORE} (write e.g. 0.82 or 640)")
    score = float(raw)
    if score > MAX_SCORE:
        raise _Bad(f"score{_shown(raw)} is above {MAX_SCORE}")
    return score
