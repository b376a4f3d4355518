"""`collbot import`: debtors from a CSV file of any size; every data row is saved or rejected with its line.

The file is read as a stream, validated row by row and written in batches of ``BATCH_ROWS``
(one transaction each). What stays in memory besides a batch is the index of ids seen, used
to reject repeated ids: about 120 bytes per distinct id (~120 MB for a million rows).

File rules
    Encoding: UTF-8 with or without BOM, UTF-16 LE/BE with BOM; lines end with LF, CRLF or CR.
    The first non-blank line is the header: names trimmed, case-insensitive, all distinct.
    Required columns ``REQUIRED``, optional ``OPTIONAL``; any other column is an extra field.
    A header problem is one ConfigError naming the file and line; nothing is imported.
Row rules
    A row is one CSV record (quoted fields may span lines); its line is the one it starts on.
    A record whose cells are all empty or spaces is blank: skipped, counted in ``blank``,
    not a row. Every other record counts in ``rows`` and is imported, updated or rejected.
    Rejected: undecodable bytes, NUL, a cell over ``MAX_FIELD`` characters, a record over
    ``MAX_RECORD`` characters, broken quoting, a field count other than the header's (extra
    empty cells at the end are ignored), an invalid value, an id seen on an earlier line
    (the first row with an id keeps it even if that row is rejected for another reason).
    A broken record that spans several lines rejects its first line only; the lines after
    it are read again, so one stray quote cannot swallow the rows that follow.
Re-importing a file updates debtors by id, replacing every field (extras and tags too).
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime as dt
import functools
import io
import os
import re
import zoneinfo
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import BinaryIO, TypeVar

from bot.campaign.csvsafe import neutralize
from bot.config import DialSettings
from bot.domain import Debtor
from bot.errors import ConfigError, PhoneNumberError, StoreError
from bot.phone import normalize
from bot.store.repo import Store

REQUIRED = ("id", "name", "phone", "amount", "currency", "due_date")
OPTIONAL = ("timezone", "language", "alt_phone", "tags")
LANGUAGES = ("ko", "zh", "en")
DEFAULT_LANGUAGE = "ko"
BATCH_ROWS = 2_000
MAX_FIELD = 10_000  # characters in one cell
MAX_RECORD = 1 << 20  # characters in one record, however many lines it spans
MAX_AMOUNT = Decimal("999999999999.99")  # what the store's Numeric(14, 2) holds
MAX_TAGS, MAX_TAG = 20, 40

T = TypeVar("T")
Progress = Callable[[int, int, int], None]
"""Called as ``progress(bytes_read, total_bytes, rows)`` every batch and at the end."""


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What one import did: ``imported + updated + rejected == rows``."""

    rows: int  # data rows (records after the header that are not blank)
    imported: int  # new debtors
    updated: int  # debtors whose id was already stored, overwritten
    rejected: int  # rows written to the rejects file
    rejects_path: Path  # always written (only a header when nothing was rejected)
    blank: int = 0  # blank records skipped; not rows


def default_rejects_path(path: Path) -> Path:
    """``debtors.csv`` → ``debtors.rejects.csv`` next to it."""
    return path.with_name(f"{path.stem if path.suffix.lower() == '.csv' else path.name}.rejects.csv")


def check_header(path: Path) -> list[str]:
    """The file's column names (normalized), or the ConfigError ``import_debtors`` would raise."""
    with _field_limit(), _open(path) as (_, reader, _):
        return list(_read_header(reader, path).index)


def import_debtors(path: Path, store: Store, dial: DialSettings, *, rejects: Path | None = None,
                   progress: Progress | None = None, batch_rows: int = BATCH_ROWS) -> ImportReport:
    """Import (insert or update by id) every valid row of ``path``; rejected rows go to ``rejects``."""
    path = Path(path)
    rejects_path = Path(rejects) if rejects is not None else default_rejects_path(path)
    if rejects_path.resolve() == path.resolve():
        raise ConfigError("the rejects file would overwrite the file being imported", path=str(path))
    with _field_limit(), _open(path) as (binary, reader, total):
        header = _read_header(reader, path)
        check = _RowChecker(header, dial)
        seen: dict[str, int] = {}  # id -> line it was first seen on
        batch: list[Debtor] = []
        rows = imported = updated = 0

        def report() -> None:
            if progress is not None:
                progress(binary.tell(), total, rows)

        def flush(line: int) -> None:
            nonlocal imported, updated
            try:
                new, old = store.upsert_debtors(batch)
            except StoreError as exc:
                raise StoreError(
                    f"{path}: import stopped at the rows ending on line {line}: {exc}; "
                    f"{imported + updated} debtors from earlier lines were saved and importing "
                    "the file again is safe (debtors are updated by id)") from exc
            imported, updated = imported + new, updated + old
            batch.clear()

        with _Rejects(rejects_path, header.names) as out:
            for record in reader:
                if record.blank:
                    continue
                rows += 1
                if rows % batch_rows == 0:
                    report()
                if record.problem is not None:
                    out.add(record.line, record.problem, record.cells or [])
                else:
                    ident, debtor, problems = check(record.cells or [])
                    first = seen.setdefault(ident, record.line) if ident is not None else record.line
                    if first != record.line:
                        problems.insert(0, f"duplicate id, first seen on line {first}")
                    if debtor is None or problems:
                        out.add(record.line, "; ".join(problems), record.cells or [])
                    else:
                        batch.append(debtor)
                        if len(batch) >= batch_rows:
                            flush(record.line)
            if batch:
                flush(reader.last_line)
            out.commit()
        report()
    return ImportReport(rows=rows, imported=imported, updated=updated, rejected=out.count,
                        rejects_path=rejects_path, blank=reader.blank)


# --- Reading: encodings, bounded physical lines, CSV records ---------------------------------

_BAD = "\ud800"  # a lone surrogate: strict decoders never produce one, so it marks undecodable bytes
_ERRORS = "collbot-mark-undecodable"


def _mark(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return _BAD, exc.end


codecs.register_error(_ERRORS, _mark)

_BOMS = (  # UTF-32 first: its little-endian BOM starts like UTF-16's
    (codecs.BOM_UTF32_LE, None), (codecs.BOM_UTF32_BE, None), (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"),
)


@contextlib.contextmanager
def _open(path: Path) -> Iterator[tuple[BinaryIO, _Reader, int]]:
    try:
        binary = open(path, "rb")  # noqa: SIM115 - closed with the text wrapper below
        start = binary.peek(4)[:4]
        size = os.fstat(binary.fileno()).st_size
    except OSError as exc:
        raise ConfigError(f"cannot read the file: {exc.strerror or exc}", path=str(path)) from None
    encoding = "utf-8"
    for bom, name in _BOMS:
        if start.startswith(bom):
            if name is None:
                binary.close()
                raise ConfigError("UTF-32 files are not supported; save the file as UTF-8", path=str(path))
            encoding = name
            binary.read(len(bom))
            break
    with io.TextIOWrapper(binary, encoding=encoding, errors=_ERRORS, newline="") as text:
        yield binary, _Reader(text, encoding, path), size


@contextlib.contextmanager
def _field_limit() -> Iterator[None]:
    # csv's limit is process-wide; it is what bounds a quoted field that never closes.
    old = csv.field_size_limit(MAX_FIELD)
    try:
        yield
    finally:
        csv.field_size_limit(old)


class _TooLong(Exception):
    """A record grew past MAX_RECORD characters (or one of its lines did)."""


class _Lines:
    """Numbered physical lines for csv.reader; the lines of the record being read are kept in ``taken``."""

    def __init__(self, text: io.TextIOWrapper, path: Path):
        self._text, self._path = text, path
        self._again: deque[tuple[int, str | None]] = deque()  # lines given back, read again first
        self._count = 0
        self._chars = 0
        self.taken: list[tuple[int, str | None]] = []  # None: a line too long to keep

    def start_record(self) -> None:
        self.taken, self._chars = [], 0

    def give_back(self, lines: Sequence[tuple[int, str | None]]) -> None:
        self._again.extendleft(reversed(lines))

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        number, line = self._again.popleft() if self._again else self._read()
        self.taken.append((number, line))
        self._chars += MAX_RECORD + 1 if line is None else len(line)
        if line is None or self._chars > MAX_RECORD:
            raise _TooLong
        return line

    def _read(self) -> tuple[int, str | None]:
        try:
            line = self._text.readline(MAX_RECORD)
            if not line:
                raise StopIteration
            self._count += 1
            if len(line) == MAX_RECORD and not line.endswith(("\n", "\r")):
                rest = self._text.readline(MAX_RECORD)
                if rest:  # skip the rest of the line without keeping it
                    while rest and not rest.endswith(("\n", "\r")):
                        rest = self._text.readline(MAX_RECORD)
                    return self._count, None
            return self._count, line
        except OSError as exc:
            raise ConfigError(f"cannot read the file: {exc.strerror or exc}", path=str(self._path),
                              line=self._count + 1) from None


@dataclass(frozen=True, slots=True)
class _Record:
    line: int  # physical line the record starts on
    cells: list[str] | None  # None when the line could not be split into cells
    problem: str | None  # why the whole record is rejected before its values are looked at
    blank: bool = False  # every cell empty or spaces: not a row


class _Reader:
    """CSV records with their starting line; bad structure becomes a problem, never an exception."""

    def __init__(self, text: io.TextIOWrapper, encoding: str, path: Path):
        self._lines = _Lines(text, path)
        self._csv = csv.reader(self._lines, strict=True)
        self._encoding = encoding
        self.width: int | None = None  # fields per record, once the header is known
        self.blank = 0
        self.last_line = 0

    def __iter__(self) -> _Reader:
        return self

    def __next__(self) -> _Record:
        self._lines.start_record()
        cells: list[str] | None = None
        try:
            cells, problem = next(self._csv), None
        except csv.Error as exc:
            problem = _csv_problem(str(exc))
        except _TooLong:
            problem = f"the row is longer than {MAX_RECORD:,} characters"
        record = self._judge(cells, problem)
        self.blank += record.blank
        return record

    def _judge(self, cells: list[str] | None, problem: str | None) -> _Record:
        taken = self._lines.taken
        first, last = taken[0][0], taken[-1][0]
        self.last_line = last
        broken = problem is not None  # bad structure: a multi-line record gives its lines back
        if problem is None:
            problem = self._content_problem(taken)
        if problem is None and cells is not None and self.width is not None and not _blank(cells):
            while len(cells) > self.width and not cells[-1].strip():
                cells.pop()
            if len(cells) != self.width:
                problem, broken = f"expected {self.width} fields as in the header, found {len(cells)}", True
        if problem is None:
            return _Record(first, cells, None, blank=cells is not None and _blank(cells))
        if broken and len(taken) > 1:
            self._lines.give_back(taken[1:])
            self.last_line = first
            hint = "" if "quote" in problem else " (a quote that is never closed?)"
            problem += (f"; the row ran on to line {last}{hint}, "
                        f"so lines {first + 1}-{last} were read again as rows of their own")
            cells = None
        return _Record(first, cells if cells is not None else _cells_of(taken[0][1]), problem)

    def _content_problem(self, taken: list[tuple[int, str | None]]) -> str | None:
        for _, line in taken:
            if line is not None and _BAD in line:
                if self._encoding == "utf-8":
                    return ("not valid UTF-8 (if the file was saved as CP949/EUC-KR or another legacy "
                            "encoding, save it as 'CSV UTF-8')")
                return "not valid UTF-16 (an unpaired surrogate or a stray byte)"
            if line is not None and "\0" in line:
                return "contains a NUL byte"
        return None


def _csv_problem(message: str) -> str:
    if "field limit" in message:
        return f"a field is longer than {MAX_FIELD:,} characters"
    if "expected after" in message:
        return 'text after a closing quote (quote the whole field and double any " inside it)'
    if "unexpected end of data" in message:
        return "a quoted field is never closed"
    if "NUL" in message:
        return "contains a NUL byte"
    return f"not valid CSV ({message})"


def _cells_of(line: str | None) -> list[str]:
    """The cells of one line, read leniently, for the rejects file ([] if even that fails)."""
    if line is None:
        return []
    try:
        return next(csv.reader([line]), [])
    except csv.Error:
        return []


def _blank(cells: list[str]) -> bool:
    return not any(c.strip() for c in cells)


# --- The header -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Header:
    line: int
    names: list[str]  # as written, trimmed (for the rejects file)
    index: dict[str, int]  # normalized name -> column


def _read_header(reader: _Reader, path: Path, required: Sequence[str] = REQUIRED) -> _Header:
    def fail(message: str, line: int = 1) -> ConfigError:
        return ConfigError(message, path=str(path), line=line)

    record = next((r for r in reader if not r.blank), None)
    if record is None:
        raise fail(f"the file is empty; its first line must be the header ({', '.join(required)}, ...)")
    if record.problem is not None:
        hint = " (is it UTF-16 without a byte-order mark? save it as UTF-8)" if "NUL" in record.problem else ""
        raise fail(f"the header is unusable: {record.problem}{hint}", record.line)
    names = [c.strip().lstrip("\ufeff").strip() for c in record.cells or []]
    while names and not names[-1]:  # trailing unnamed columns, as spreadsheets write them
        names.pop()
    index: dict[str, int] = {}
    for column, name in enumerate(names, 1):
        key = name.lower()
        if not key:
            raise fail(f"column {column} of the header has no name", record.line)
        if _CONTROL.search(key):
            raise fail(f"column {column} of the header contains a control character", record.line)
        if key in index:
            raise fail(f"column {name!r} appears twice in the header (columns {index[key] + 1} and {column})",
                       record.line)
        index[key] = column - 1
    missing = [name for name in required if name not in index]
    if missing:
        raise fail(f"missing required column(s): {', '.join(missing)} "
                   f"(the header must name {', '.join(required)})", record.line)
    reader.width = len(names)
    return _Header(record.line, names, index)


# --- Values -----------------------------------------------------------------------------------


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


class _RowChecker:
    """Turns the cells of one row into a Debtor, or into the reasons it cannot be one."""

    def __init__(self, header: _Header, dial: DialSettings):
        self._col = header.index
        self._region, self._countries = dial.default_region, list(dial.allowed_countries)
        known = set(REQUIRED) | set(OPTIONAL)
        self._extras = [(name, i) for name, i in header.index.items() if name not in known]

    def __call__(self, cells: list[str]) -> tuple[str | None, Debtor | None, list[str]]:
        problems: list[str] = []

        def cell(name: str) -> str:
            column = self._col.get(name)
            return cells[column].strip() if column is not None else ""

        def value(parse: Callable[[str], T], name: str) -> T | None:
            try:
                return parse(cell(name))
            except _Bad as bad:
                problems.append(str(bad))
                return None

        ident = value(_ident, "id")
        name = value(_name, "name")
        phone = value(self._phone, "phone")
        alt_phone = value(lambda v: self._phone(v, "alt_phone") if v else None, "alt_phone")
        amount, currency, due = value(_amount, "amount"), value(_currency, "currency"), value(_date, "due_date")
        zone, language, tags = value(_zone, "timezone"), value(_language, "language"), value(_tags, "tags")
        if problems:
            return ident, None, problems
        assert ident and name and phone and amount and currency and due and language and tags is not None
        extra = {key: cells[i].strip() for key, i in self._extras}
        return ident, Debtor(id=ident, name=name, phone=phone, amount=amount, currency=currency, due_date=due,
                             language=language, extra=extra, timezone=zone, alt_phone=alt_phone, tags=tags), []

    def _phone(self, raw: str, column: str = "phone") -> str:
        if not raw:
            raise _Bad(f"{column} is empty")
        try:
            return normalize(raw, default_region=self._region, allowed_countries=self._countries)
        except PhoneNumberError as exc:  # its message never contains the number
            raise _Bad(f"{column}: {exc}") from None


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
    tags = tuple(dict.fromkeys(t.strip() for t in _TAG_SPLIT.split(raw) if t.strip()))
    if len(tags) > MAX_TAGS:
        raise _Bad(f"more than {MAX_TAGS} tags")
    for tag in tags:
        if len(tag) > MAX_TAG or _CONTROL.search(tag):
            raise _Bad(f"tag{_shown(tag)} is longer than {MAX_TAG} characters or contains a control character")
    return tags


# --- The rejects file -------------------------------------------------------------------------


class _Rejects:
    """``line, reason`` and the original cells of each rejected row; replaces ``path`` only when complete."""

    def __init__(self, path: Path, header: list[str]):
        self.path = path
        self.count = 0
        self._temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            # UTF-8 with a BOM: what spreadsheets need to show Hangul and Hanzi correctly.
            self._file = open(self._temp, "w", encoding="utf-8-sig", newline="")  # noqa: SIM115
            self._csv = csv.writer(self._file)
            self._csv.writerow([neutralize(_printable(c)) for c in ("line", "reason", *header)])
        except OSError as exc:
            self.__exit__()
            raise self._error(exc) from None

    def add(self, line: int, reason: str, cells: list[str]) -> None:
        self.count += 1
        try:
            self._csv.writerow([str(line), neutralize(reason), *(neutralize(_printable(c)) for c in cells)])
        except OSError as exc:
            raise self._error(exc) from None

    def commit(self) -> None:
        try:
            self._file.close()
            os.replace(self._temp, self.path)
        except OSError as exc:
            raise self._error(exc) from None

    def _error(self, exc: OSError) -> ConfigError:
        return ConfigError(f"cannot write the rejects file: {exc.strerror or exc}", path=str(self.path))

    def __enter__(self) -> _Rejects:
        return self

    def __exit__(self, *exc: object) -> None:
        if hasattr(self, "_file"):
            self._file.close()
        self._temp.unlink(missing_ok=True)


def _printable(cell: str) -> str:
    """NULs and undecodable bytes become U+FFFD: the rejects file itself must be clean UTF-8."""
    if "\0" in cell or _BAD in cell:
        return cell.replace("\0", "\ufffd").replace(_BAD, "\ufffd")
    return cell
