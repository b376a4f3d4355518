"""`collbot import`: debtors from a CSV file of any size; every data row is saved or rejected with its line.

The file is read as a stream, validated row by row and written in batches of ``BATCH_ROWS``
(one transaction each). Files over ``POOL_MIN_BYTES`` have their rows checked by worker
processes, a chunk at a time, while this process reads the file and writes the database in
file order; results are the same as checking here. Workers are spawned, so a script that
imports a large file must guard its entry point with ``if __name__ == "__main__"`` (without
it the pool breaks and the rows are checked here, slower but the same). The index of ids seen, used to reject
repeated ids, is a dict up to ``IDS_IN_MEMORY`` ids and a temporary SQLite file beyond, so
memory stays flat whatever the size of the file.

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
Optional ``dpd`` (days past due on the day of the import, a whole number 0-36500) and ``score``
(the lender's model score, a number 0-1000, higher: more likely to pay). Without a dpd, days
past due count from the due date; without a score, the case sorts last by score.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime as dt
import gc
import io
import multiprocessing
import os
import shutil
import sqlite3
import tempfile
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from bot.campaign.csvsafe import neutralize
from bot.campaign.rows import (  # noqa: F401 - _amount, _Bad and _ident are shared with campaign.payments
    _CONTROL,
    GC_ALLOCATIONS,
    OPTIONAL,
    REQUIRED,
    Checked,
    RowChecker,
    _amount,
    _Bad,
    _ident,
    check_in_worker,
    debtor,
    start_worker,
)
from bot.config import DialSettings
from bot.domain import Debtor
from bot.errors import ConfigError, StoreError
from bot.inputfile import MB, open_regular
from bot.store.repo import Store

BATCH_ROWS = 2_000
MAX_CSV_BYTES = 1024 * MB  # the default of input.max_csv_mb
MAX_FIELD = 10_000  # characters in one cell
MAX_RECORD = 1 << 20  # characters in one record, however many lines it spans
CHUNK_ROWS = 1_000  # rows a worker process checks at a time
POOL_MIN_BYTES = 4_000_000  # smaller files are checked here: starting workers would cost more
MAX_WORKERS = 4
IDS_IN_MEMORY = 100_000  # distinct ids kept in a dict (~120 bytes each) before they move to disk

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


def check_header(path: Path, *, max_bytes: int = MAX_CSV_BYTES) -> list[str]:
    """The file's column names (normalized), or the ConfigError ``import_debtors`` would raise."""
    with _field_limit(), _open(path, max_bytes) as (_, reader, _):
        return list(_read_header(reader, path).index)


def import_debtors(path: Path, store: Store, dial: DialSettings, *, rejects: Path | None = None,
                   progress: Progress | None = None, batch_rows: int = BATCH_ROWS,
                   workers: int | None = None, max_bytes: int = MAX_CSV_BYTES,
                   today: dt.date | None = None) -> ImportReport:
    """Import (insert or update by id) every valid row of ``path``; rejected rows go to ``rejects``.

    ``today`` (default: the UTC date now) is the day a ``dpd`` column counts from.

    ``workers``: processes that check rows (0: none, this process checks them; default: one per
    core, up to ``MAX_WORKERS``, for files over ``POOL_MIN_BYTES``).
    """
    path = Path(path)
    today = today or dt.datetime.now(dt.UTC).date()
    rejects_path = Path(rejects) if rejects is not None else default_rejects_path(path)
    if rejects_path.resolve() == path.resolve():
        raise ConfigError("the rejects file would overwrite the file being imported", path=str(path))
    with _field_limit(), _fewer_collections(), _open(path, max_bytes) as (binary, reader, total):
        header = _read_header(reader, path)
        check = RowChecker(header.index, dial.default_region, dial.allowed_countries)
        if workers is None:
            workers = min(os.cpu_count() or 1, MAX_WORKERS) if total >= POOL_MIN_BYTES else 0
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

        def chunks() -> Iterator[list[_Record]]:
            nonlocal rows
            chunk: list[_Record] = []
            for record in reader:
                if record.blank:
                    continue
                rows += 1
                if rows % batch_rows == 0:
                    report()
                chunk.append(record)
                if len(chunk) >= CHUNK_ROWS:
                    yield chunk
                    chunk = []
            if chunk:
                yield chunk

        with _Rejects(rejects_path, header.names) as out, _FirstLines() as seen, _Checks(check, workers) as checks:
            for records, results in checks(chunks()):
                firsts = iter(seen.first_lines([(ident, record.line) for record, (ident, _, _)
                                                in zip(records, results, strict=True) if ident is not None]))
                for record, (ident, fields, problems) in zip(records, results, strict=True):
                    if record.problem is not None:
                        out.add(record.line, record.problem, record.cells or [])
                        continue
                    first = next(firsts) if ident is not None else record.line
                    if first != record.line:
                        problems.insert(0, f"duplicate id, first seen on line {first}")
                    if fields is None or problems:
                        out.add(record.line, "; ".join(problems), record.cells or [])
                    else:
                        batch.append(debtor(fields, today))
                        if len(batch) >= batch_rows:
                            flush(record.line)
            if batch:
                flush(reader.last_line)
            out.commit()
        report()
    return ImportReport(rows=rows, imported=imported, updated=updated, rejected=out.count,
                        rejects_path=rejects_path, blank=reader.blank)


# --- Checking rows, here or in worker processes ---------------------------------------------------

_UNCHECKED: Checked = (None, None, [])  # the result for a record rejected for its structure


class _Checks:
    """Each chunk of records with its check results, in file order; workers check ahead."""

    def __init__(self, check: RowChecker, workers: int):
        self._check = check
        self._ahead = 2 * workers  # chunks in flight: enough to keep every worker busy
        self._pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                         initializer=start_worker, initargs=check.settings) if workers > 0 else None

    def __call__(self, chunks: Iterator[list[_Record]]) -> Iterator[tuple[list[_Record], list[Checked]]]:
        pending: deque[tuple[list[_Record], Future[list[Checked]] | None]] = deque()
        for chunk in chunks:
            pending.append((chunk, self._submit(chunk)))
            while pending and (len(pending) > self._ahead or pending[0][1] is None):
                yield self._done(*pending.popleft())
        while pending:
            yield self._done(*pending.popleft())

    def _submit(self, chunk: list[_Record]) -> Future[list[Checked]] | None:
        if self._pool is None:
            return None
        try:
            return self._pool.submit(check_in_worker, [r.cells or [] for r in chunk if r.problem is None])
        except BrokenProcessPool:
            self._pool = None  # a worker died (killed, out of memory): go on without workers
            return None

    def _done(self, chunk: list[_Record], future: Future[list[Checked]] | None) -> tuple[list[_Record], list[Checked]]:
        checked: Iterator[Checked] | None = None
        if future is not None:
            try:
                checked = iter(future.result())
            except BrokenProcessPool:
                self._pool = None
        if checked is None:
            checked = (self._check(r.cells or []) for r in chunk if r.problem is None)
        return chunk, [_UNCHECKED if r.problem is not None else next(checked) for r in chunk]

    def __enter__(self) -> _Checks:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)


class _FirstLines:
    """The line each id was first seen on: a dict up to IDS_IN_MEMORY ids, then a temporary SQLite file."""

    def __init__(self) -> None:
        self._memory: dict[str, int] = {}
        self._dir: str | None = None
        self._db: sqlite3.Connection | None = None

    def first_lines(self, seen: list[tuple[str, int]]) -> list[int]:
        """For each (id, line) in file order, the line that id was first seen on (maybe this one)."""
        if self._db is None:
            firsts = [self._memory.setdefault(ident, line) for ident, line in seen]
            if len(self._memory) > IDS_IN_MEMORY:
                self._spill()
            return firsts
        here: dict[str, int] = {}
        for ident, line in seen:
            here.setdefault(ident, line)
        earlier: dict[str, int] = {}
        idents = list(here)
        for start in range(0, len(idents), 500):  # SQLite allows 999 parameters per statement
            part = idents[start:start + 500]
            earlier.update(self._db.execute(f"SELECT id, line FROM seen WHERE id IN ({','.join('?' * len(part))})",
                                            part).fetchall())
        self._insert([(ident, line) for ident, line in here.items() if ident not in earlier])
        return [earlier.get(ident, here[ident]) for ident, _ in seen]

    def _spill(self) -> None:
        self._dir = tempfile.mkdtemp(prefix="collbot-import-")
        self._db = sqlite3.connect(os.path.join(self._dir, "ids.db"), isolation_level=None)
        for pragma in ("journal_mode = OFF", "synchronous = OFF", "cache_size = -8192"):  # 8 MB of cache
            self._db.execute(f"PRAGMA {pragma}")
        self._db.execute("CREATE TABLE seen (id TEXT PRIMARY KEY, line INTEGER NOT NULL) WITHOUT ROWID")
        self._insert(list(self._memory.items()))
        self._memory = {}

    def _insert(self, rows: list[tuple[str, int]]) -> None:
        assert self._db is not None
        self._db.execute("BEGIN")
        self._db.executemany("INSERT INTO seen VALUES (?, ?)", rows)
        self._db.execute("COMMIT")

    def __enter__(self) -> _FirstLines:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._db is not None:
            self._db.close()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)


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
def _open(path: Path, max_bytes: int = MAX_CSV_BYTES) -> Iterator[tuple[BinaryIO, _Reader, int]]:
    # A FIFO, a device or a file over the cap: one line before anything is read.
    binary = open_regular(path, max_bytes=max_bytes, limit_hint="input.max_csv_mb")
    try:
        start = binary.peek(4)[:4]
        size = os.fstat(binary.fileno()).st_size
    except OSError as exc:
        binary.close()
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
def _fewer_collections() -> Iterator[None]:
    # Every row allocates short-lived lists, tuples and dicts that reference counting frees; the
    # cycle collector's default pass every 2,000 allocations found nothing to free and cost ~8 %
    # of the import's CPU. A pass every GC_ALLOCATIONS still bounds what cycles could hold.
    old = gc.get_threshold()
    gc.set_threshold(max(old[0], GC_ALLOCATIONS), *old[1:])
    try:
        yield
    finally:
        gc.set_threshold(*old)


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
    return not "".join(cells).strip()  # as no cell having anything but spaces, in one call


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
