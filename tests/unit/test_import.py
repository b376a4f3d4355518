"""`collbot import` against a corpus of bad CSV files: every row imported, updated or rejected with its line."""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime as dt
import os
import re
import tempfile
from collections.abc import Iterator
from concurrent.futures.process import BrokenProcessPool
from decimal import Decimal
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.campaign import importer
from bot.campaign.csvsafe import restore
from bot.campaign.importer import MAX_FIELD, MAX_RECORD, ImportReport, check_header, import_debtors
from bot.config import DialSettings
from bot.domain import Debtor
from bot.errors import ConfigError, StoreError
from bot.phone import normalize
from bot.store.engine import MIGRATIONS, create_store_engine
from bot.store.repo import Store, open_store
from tests.cli import collbot as _collbot


def collbot(*args: str, cwd: Path):
    return _collbot(*args, cwd=cwd, timeout=120)

HEADER = "id,name,phone,amount,currency,due_date"
DIAL = DialSettings()  # default region KR; KR, CN and US allowed


def row(ident: str, phone: str = "010-5550-0012", *, name: str = "Kim", amount: str = "300000",
        currency: str = "KRW", due: str = "2026-03-04", more: str = "") -> str:
    return f"{ident},{name},{phone},{amount},{currency},{due}{more}"


def lines(*rows: str, header: str = HEADER, end: str = "\n") -> str:
    return end.join((header, *rows)) + end


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    with open_store(database_url) as opened:
        yield opened


def write(tmp_path: Path, content: str | bytes, name: str = "d.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def run(store: Store, path: Path, **options: object) -> ImportReport:
    report = import_debtors(path, store, DIAL, **options)  # type: ignore[arg-type]
    assert report.imported + report.updated + report.rejected == report.rows
    return report


def read_rejects(report: ImportReport) -> tuple[list[str], dict[int, tuple[str, list[str]]]]:
    """The rejects file read back: its header, and line -> (reason, original cells)."""
    with open(report.rejects_path, encoding="utf-8-sig", newline="") as f:
        header, *rows = [[restore(c) for c in r] for r in csv.reader(f)]
    found = {int(r[0]): (r[1], r[2:]) for r in rows}
    assert len(found) == len(rows) == report.rejected
    return header, found


def reasons(report: ImportReport) -> dict[int, str]:
    return {line: reason for line, (reason, _) in read_rejects(report)[1].items()}


# --- Encodings and bytes that are not text -------------------------------------------------------


@pytest.mark.parametrize(("codec", "bom"), [
    ("utf-8", b""), ("utf-8", codecs.BOM_UTF8), ("utf-16-le", codecs.BOM_UTF16_LE), ("utf-16-be", codecs.BOM_UTF16_BE),
])
def test_utf8_and_utf16_files_import_alike(store: Store, tmp_path: Path, codec: str, bom: bytes) -> None:
    text = lines(row("D1", name="김민준"), row("D2", "010-5550-0013", name="王小明", currency="cny"), end="\r\n")
    report = run(store, write(tmp_path, bom + text.encode(codec)))
    assert (report.rows, report.imported, report.rejected) == (2, 2, 0)
    assert store.get_debtor("D1").name == "김민준"
    assert store.get_debtor("D2").currency == "CNY"


def test_undecodable_row_is_rejected_and_the_rest_imported(store: Store, tmp_path: Path) -> None:
    cp949 = "박서준".encode("cp949")
    content = lines(row("D1")).encode() + b"D2," + cp949 + b",010-5550-0013,1,KRW,2026-03-04\n" + row("D3").encode()
    report = run(store, write(tmp_path, content))
    assert (report.rows, report.imported, report.rejected) == (3, 2, 1)
    assert "not valid UTF-8" in reasons(report)[3] and "CP949" in reasons(report)[3]
    _, found = read_rejects(report)
    assert "\ufffd" in found[3][1][1]  # the rejects file is clean UTF-8


def test_broken_utf16_is_rejected_per_row(store: Store, tmp_path: Path) -> None:
    good = codecs.BOM_UTF16_LE + lines(row("D1")).encode("utf-16-le")
    lone_surrogate = "D2,Kim,010-5550-0013,1,KRW,2026-03-04".encode("utf-16-le").replace(b"K\x00", b"\x00\xd8")
    report = run(store, write(tmp_path, good + lone_surrogate + "\n".encode("utf-16-le")))
    assert (report.rows, report.imported, report.rejected) == (2, 1, 1)
    assert "not valid UTF-16" in reasons(report)[3]


def test_nul_bytes_reject_the_row(store: Store, tmp_path: Path) -> None:
    report = run(store, write(tmp_path, lines(row("D1", name="Ki\0m"), row("D2", "010-5550-0013"))))
    assert reasons(report) == {2: "contains a NUL byte"}
    assert report.imported == 1


@pytest.mark.parametrize("content", [
    b"\xff\xfe\x00\x00" + "id".encode("utf-32-le"),
    "id,name\n".encode("utf-16-le"),  # UTF-16 without a BOM reads as text full of NULs
    b"id,n\xe9me,phone,amount,currency,due_date\n",
    b"", b"\n\n  \n",
])
def test_unusable_header_or_encoding_is_one_config_error(store: Store, tmp_path: Path, content: bytes) -> None:
    path = write(tmp_path, content)
    with pytest.raises(ConfigError, match=r"d\.csv(:1)?: "):
        import_debtors(path, store, DIAL)
    assert not (tmp_path / "d.rejects.csv").exists()


# --- Sizes -----------------------------------------------------------------------------------------


def test_a_one_megabyte_field_rejects_its_row_only(store: Store, tmp_path: Path) -> None:
    huge = "x" * 1_000_000
    text = lines(row("D1", more=f",{huge}"), row("D2", "010-5550-0013", more=',"' + huge + '"'),
                 row("D3", "010-5550-0014", more=",ok"), header=HEADER + ",note")
    report = run(store, write(tmp_path, text))
    assert reasons(report) == {2: f"a field is longer than {MAX_FIELD:,} characters"} | {
        3: f"a field is longer than {MAX_FIELD:,} characters"}
    assert report.imported == 1 and store.get_debtor("D3").extra == {"note": "ok"}
    assert os.path.getsize(report.rejects_path) < 10_000  # oversized cells are not copied


def test_field_size_limit_is_exact(store: Store, tmp_path: Path) -> None:
    text = lines(row("D1", more="," + "y" * MAX_FIELD), row("D2", "010-5550-0013", more="," + "y" * (MAX_FIELD + 1)),
                 header=HEADER + ",note")
    report = run(store, write(tmp_path, text))
    assert list(reasons(report)) == [3]
    assert len(store.get_debtor("D1").extra["note"]) == MAX_FIELD


def test_a_line_without_end_is_skipped_not_loaded(store: Store, tmp_path: Path) -> None:
    text = lines(row("D1"), "z" * (MAX_RECORD + 10), row("D2", "010-5550-0013"))
    report = run(store, write(tmp_path, text))
    assert reasons(report) == {3: f"the row is longer than {MAX_RECORD:,} characters"}
    assert report.imported == 2


# --- Structure: quoting, line endings, blank lines, field counts -----------------------------------


def test_line_numbers_follow_physical_lines(store: Store, tmp_path: Path) -> None:
    text = lines(row("D1", more=',"line one\r\nline two"'), row("D2", "010-5550-0013", amount="abc", more=",x"),
                 "", row("D3", "010-5550-0014", more=',"a\nb\nc"'), row("D4", "bad", more=",y"),
                 header=HEADER + ",note", end="\r\n")
    report = run(store, write(tmp_path, text))
    assert set(reasons(report)) == {4, 9}
    assert report.rows == 4 and report.blank == 1
    assert store.get_debtor("D1").extra["note"] == "line one\r\nline two"
    assert store.get_debtor("D3").extra["note"] == "a\nb\nc"


def test_old_mac_line_endings(store: Store, tmp_path: Path) -> None:
    report = run(store, write(tmp_path, lines(row("D1"), row("D2", "x"), end="\r")))
    assert (report.imported, reasons(report)) == (1, {3: reasons(report)[3]})


def test_trailing_blank_lines_are_not_rows(store: Store, tmp_path: Path) -> None:
    text = lines(row("D1"), row("D2", "010-5550-0013")) + "\n\n   \n,,,,,\r\n\n"
    report = run(store, write(tmp_path, text))
    assert (report.rows, report.imported, report.rejected, report.blank) == (2, 2, 0, 5)


def test_a_stray_quote_does_not_swallow_the_rows_after_it(store: Store, tmp_path: Path) -> None:
    text = lines(row("D1"), row("D2", "010-5550-0013", name='"Kim'), row("D3", "010-5550-0014"),
                 row("D4", "010-5550-0015"))
    report = run(store, write(tmp_path, text))
    (reason,) = reasons(report).values()
    assert list(reasons(report)) == [3] and "never closed" in reason and "lines 4-5 were read again" in reason
    assert report.imported == 3


def test_text_after_a_closing_quote_and_wrong_field_counts(store: Store, tmp_path: Path) -> None:
    text = lines(row("D1", name='"Kim" Jr'), "D2,Lee,010-5550-0013,1,KRW", row("D3", "010-5550-0014", more=",extra"),
                 row("D4", "010-5550-0015", more=",,  ,"))
    report = run(store, write(tmp_path, text))
    found = reasons(report)
    assert "text after a closing quote" in found[2]
    assert found[3] == "expected 6 fields as in the header, found 5"
    assert found[4] == "expected 6 fields as in the header, found 7"
    assert report.imported == 1  # D4: trailing empty cells are ignored


# --- The header ---------------------------------------------------------------------------------------


def test_missing_required_columns_name_file_line_and_columns(store: Store, tmp_path: Path) -> None:
    path = write(tmp_path, "id,name,phone,currency\nD1,Kim,010-5550-0012,KRW\n")
    with pytest.raises(ConfigError) as caught:
        import_debtors(path, store, DIAL)
    assert str(caught.value).startswith(f"{path}:1: missing required column(s): amount, due_date")


@pytest.mark.parametrize(("header", "message"), [
    (HEADER + ",Phone", "column 'Phone' appears twice in the header (columns 3 and 7)"),
    ("id,,name,phone,amount,currency,due_date", "column 2 of the header has no name"),
])
def test_bad_header_names(store: Store, tmp_path: Path, header: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        import_debtors(write(tmp_path, header + "\n"), store, DIAL)


def test_header_names_are_trimmed_and_case_insensitive_and_extras_kept(store: Store, tmp_path: Path) -> None:
    text = (" ID ,Name, PHONE ,Amount,Currency,Due_Date, Branch , Overdue Days,TimeZone,Language,Alt_Phone,Tags,,\n"
            "D1,Kim,010-5550-0012,300000,KRW,2026-03-04,Seoul,12,america/new_york,EN,+1 212 555 0100,vip; late;vip,,\n")
    path = write(tmp_path, text)
    assert check_header(path)[:7] == ["id", "name", "phone", "amount", "currency", "due_date", "branch"]
    report = run(store, path)
    assert report.imported == 1
    kim = store.get_debtor("D1")
    assert kim.extra == {"branch": "Seoul", "overdue days": "12"}
    assert (kim.timezone, kim.language, kim.alt_phone, kim.tags) == (
        "America/New_York", "en", "+12125550100", ("vip", "late"))


def test_a_header_only_file_imports_nothing(store: Store, tmp_path: Path) -> None:
    report = run(store, write(tmp_path, lines()))
    assert (report.rows, report.rejected) == (0, 0)
    assert read_rejects(report)[0] == ["line", "reason", *HEADER.split(",")]


# --- Values --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("phone", "reason"), [
    ("123&PJSIP/x", "phone: phone number may only contain digits"),
    ("123@evil", "phone: phone number may only contain digits"),
    ("call-me-maybe", "phone: phone number may only contain digits"),
    ("+1 900 555 0123", "phone: premium-rate numbers may not be dialled"),
    ("060-700-1234", "phone: premium-rate numbers may not be dialled"),
    ("+44 20 7946 0958", "phone: numbers in country GB may not be dialled"),
    ("010-5550", "phone: not a valid phone number"),
    ("", "phone is empty"),
])
def test_bad_phone_numbers(store: Store, tmp_path: Path, phone: str, reason: str) -> None:
    report = run(store, write(tmp_path, lines(row("D1", phone))))
    (found,) = reasons(report).values()
    assert found.startswith(reason)
    digits = "".join(c for c in phone if c.isdigit())
    assert len(digits) < 7 or digits not in "".join(c for c in found if c.isdigit())


@pytest.mark.parametrize(("amount", "expected"), [
    ("300000", Decimal("300000")), ("300,000", Decimal("300000")), ("1,234.5", Decimal("1234.50")),
    ("1234.50", Decimal("1234.50")), (" 7 ", Decimal(7)), ("999999999999.99", Decimal("999999999999.99")),
    ("-3", "amount is negative"), ("abc", "amount 'abc' is not a number"),
    ("1.234", "amount '1.234' has 3 decimal places; at most 2 are allowed"), ("0", "amount is zero"),
    ("1,23", "is not a number"), ("1e5", "is not a number"), ("₩300,000", "is not a number"),
    ("1000000000000", "amount is more than 999,999,999,999.99"), ("", "amount is empty"),
])
def test_amounts(store: Store, tmp_path: Path, amount: str, expected: Decimal | str) -> None:
    report = run(store, write(tmp_path, lines(row("D1", amount=f'"{amount}"'))))
    if isinstance(expected, Decimal):
        assert store.get_debtor("D1").amount == expected
    else:
        assert expected in reasons(report)[2]


@pytest.mark.parametrize(("due", "expected"), [
    ("2026-03-04", dt.date(2026, 3, 4)), ("2026/03/04", dt.date(2026, 3, 4)), ("2026.3.4", dt.date(2026, 3, 4)),
    ("04.03.2026", dt.date(2026, 3, 4)),
    ("03/04/2026", "due_date '03/04/2026' is ambiguous (day/month or month/day?)"),
    ("04-03-2026", "is ambiguous"), ("26-03-04", "is ambiguous"),
    ("2026-02-30", "due_date '2026-02-30' is not a calendar date"), ("4 March 2026", "is not a date"),
    ("0026-03-04", "has a year outside 1900-2100"), ("", "due_date is empty"),
])
def test_due_dates(store: Store, tmp_path: Path, due: str, expected: dt.date | str) -> None:
    report = run(store, write(tmp_path, lines(row("D1", due=due))))
    if isinstance(expected, dt.date):
        assert store.get_debtor("D1").due_date == expected
    else:
        assert expected in reasons(report)[2]


@pytest.mark.parametrize(("column", "value", "reason"), [
    ("timezone", "Mars/Olympus", "timezone 'Mars/Olympus' is not an IANA time zone name"),
    ("timezone", "../../etc/passwd", "is not an IANA time zone name"),
    ("timezone", "+09:00", "is not an IANA time zone name"),
    ("language", "fr", "language 'fr' is not one of ko, zh, en"),
    ("alt_phone", "123@evil", "alt_phone: phone number may only contain"),
    ("tags", ";".join(f"t{i}" for i in range(21)), "more than 20 tags"),
    ("currency", "WON", None), ("currency", "KR", "currency 'KR' is not a 3-letter ISO 4217 code"),
    ("id", "D 1", "id may only contain"), ("id", "D" * 65, "id is longer than 64 characters"),
    ("name", "", "name is empty"), ("name", "Kim\tJr", "name contains a control character"),
])
def test_other_values(store: Store, tmp_path: Path, column: str, value: str, reason: str | None) -> None:
    values = dict(zip(HEADER.split(","), row("D1").split(","), strict=True)) | {column: value}
    report = run(store, write(tmp_path, ",".join(values) + "\n" + ",".join(values.values()) + "\n"))
    if reason is None:
        assert report.imported == 1
    else:
        assert reason in reasons(report)[2]


def test_every_problem_of_a_row_is_reported(store: Store, tmp_path: Path) -> None:
    report = run(store, write(tmp_path, lines(row("", "x", name="", amount="-1", currency="?", due="03/04/2026"))))
    assert reasons(report)[2].split("; ")[:2] == ["id is empty", "name is empty"]
    assert reasons(report)[2].count("; ") >= 5


def test_duplicate_ids_keep_the_first_row(store: Store, tmp_path: Path) -> None:
    text = lines(row("D1", amount="abc"), row("D2", "010-5550-0013"), row("D1", "010-5550-0014"),
                 row("D2", "010-5550-0015"))
    report = run(store, write(tmp_path, text))
    assert reasons(report) == {2: reasons(report)[2], 4: "duplicate id, first seen on line 2",
                               5: "duplicate id, first seen on line 3"}
    assert store.get_debtor("D2").phone == "+821055500013"


# --- The rejects file, re-imports, progress --------------------------------------------------------


def test_rejects_file_is_neutralized_and_reads_back(store: Store, tmp_path: Path) -> None:
    evil = '=HYPERLINK("http://evil","click")'
    text = lines(f'D1,"{evil.replace(chr(34), chr(34) * 2)}",123@evil,-3,KRW,@x,+cmd,-5', header=HEADER + ",a,b")
    report = run(store, write(tmp_path, text), rejects=tmp_path / "bad.csv")
    raw = (tmp_path / "bad.csv").read_text(encoding="utf-8-sig")
    assert "'=HYPERLINK" in raw and "'@x" in raw and "'+cmd" in raw and ",-3," in raw and ",-5" in raw
    header, found = read_rejects(report)
    assert header == ["line", "reason", *HEADER.split(","), "a", "b"]
    assert found[2][1] == ["D1", evil, "123@evil", "-3", "KRW", "@x", "+cmd", "-5"]


def test_reimport_updates_by_id_and_replaces_every_field(store: Store, tmp_path: Path) -> None:
    header = HEADER + ",branch,tags"
    first = run(store, write(tmp_path, lines(row("D1", more=",Seoul,vip"), row("D2", "010-5550-0013", more=",,"),
                                             header=header)))
    assert (first.imported, first.updated) == (2, 0)
    second = run(store, write(tmp_path, lines(row("D2", "010-5550-0013", amount="5"), row("D3", "010-5550-0014"),
                                              row("D1", amount='"1,000.5"')), "d2.csv"))
    assert (second.rows, second.imported, second.updated, second.rejected) == (3, 1, 2, 0)
    d1 = store.get_debtor("D1")
    assert (d1.amount, d1.extra, d1.tags) == (Decimal("1000.50"), {}, ())
    assert store.get_debtor("D2").amount == Decimal(5)


def test_batches_and_progress(store: Store, tmp_path: Path) -> None:
    text = lines(*(row(f"D{i}", f"010-5550-{i:04d}") for i in range(1, 12)), row("bad id"))
    path = write(tmp_path, text)
    calls: list[tuple[int, int, int]] = []
    report = run(store, path, batch_rows=4, progress=lambda *a: calls.append(a))
    assert (report.rows, report.imported, report.rejected) == (12, 11, 1)
    assert [c[2] for c in calls] == [4, 8, 12, 12]
    assert calls[-1][:2] == (path.stat().st_size, path.stat().st_size)
    assert store.get_debtor("D11").phone == "+821055500011"


def test_a_store_failure_stops_the_import_with_one_clear_error(tmp_path: Path) -> None:
    class FailingStore:
        calls = 0

        def upsert_debtors(self, debtors: list[Debtor]) -> tuple[int, int]:
            self.calls += 1
            if self.calls == 2:
                raise StoreError("cannot save 2 debtors: disk I/O error")
            return len(debtors), 0

    rejects = write(tmp_path, "old rejects\n", "d.rejects.csv")
    text = lines(*(row(f"D{i}", f"010-5550-{i:04d}") for i in range(1, 6)))
    with pytest.raises(StoreError) as caught:
        import_debtors(write(tmp_path, text), FailingStore(), DIAL, batch_rows=2)  # type: ignore[arg-type]
    message = str(caught.value)
    assert "stopped at the rows ending on line 5" in message and "2 debtors from earlier lines were saved" in message
    assert rejects.read_text() == "old rejects\n"  # untouched; no temporary file left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.csv", "d.rejects.csv"]


# --- Worker processes and the on-disk id index give the same results ------------------------------

MIXED = lines(
    row("D1"), row("D2", "010-5550-0013", amount='"1,234.5"', due="04.03.2026"), "",
    row("D3", "123&PJSIP/x"), row("D1", "010-5550-0014"), row("D4", "010-5550-0015", amount="-3"),
    'D5,"Kim\nJr",010-5550-0016,5,KRW,2026-03-04', "D6,Lee,010-5550-0017,5,KRW,2026-03-04,x",
    'D7,"Park" x,010-5550-0018,5,KRW,2026-03-04', "D8,Choi,010-5550-0019,5,KRW,2026/3/4\0",
    row("D9", "+1 900 555 0123"), row("D10", due="03/04/2026"), row("D2", "010-5550-0020"),
    'D11,"never closed,010-5550-0021,5,KRW,2026-03-04', row("D12", "010-5550-0022"),
    row("D13", "010-5550-0023", name="x" * (MAX_FIELD + 1)), row("bad id", "010-5550-0024"),
    *(row(f"E{i}", f"010-6000-{i:04d}", amount=str(i + 1)) for i in range(40)), row("E3", "010-6000-9999"),
    "   ,  ,", row("D14", "010-5550-0025", currency="won"),
)


def _import_mixed(tmp_path: Path, name: str, workers: int) -> tuple[ImportReport, bytes, list[Debtor]]:
    path = write(tmp_path, codecs.BOM_UTF8 + MIXED.encode(), f"{name}.csv")
    with open_store(f"sqlite:///{tmp_path / name}.db") as store:
        report = run(store, path, workers=workers, batch_rows=7)
        ids = [ident for ident in [f"D{i}" for i in range(1, 15)] + [f"E{i}" for i in range(40)]
               if ident not in ("D1",)]
        stored = [store.get_debtor("D1")]
        for ident in ids:
            with contextlib.suppress(StoreError):
                stored.append(store.get_debtor(ident))
    return report, report.rejects_path.read_bytes(), stored


def _same(a: tuple[ImportReport, bytes, list[Debtor]], b: tuple[ImportReport, bytes, list[Debtor]]) -> None:
    (ra, rejects_a, stored_a), (rb, rejects_b, stored_b) = a, b
    assert (ra.rows, ra.imported, ra.updated, ra.rejected, ra.blank) == (rb.rows, rb.imported, rb.updated,
                                                                         rb.rejected, rb.blank)
    assert rejects_a == rejects_b
    assert stored_a == stored_b


def test_worker_processes_give_what_checking_here_gives(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importer, "CHUNK_ROWS", 4)  # many chunks in flight, boundaries inside the bad rows
    serial = _import_mixed(tmp_path, "serial", workers=0)
    assert (serial[0].rows, serial[0].imported, serial[0].rejected, serial[0].blank) == (58, 44, 14, 2)
    assert b"duplicate id, first seen on line 2" in serial[1] and b"first seen on line 3" in serial[1]
    _same(serial, _import_mixed(tmp_path, "pool", workers=2))


def test_the_id_index_moved_to_disk_keeps_every_duplicate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    serial = _import_mixed(tmp_path, "memory", workers=0)
    monkeypatch.setattr(importer, "CHUNK_ROWS", 5)
    monkeypatch.setattr(importer, "IDS_IN_MEMORY", 3)  # spills after the first chunk
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    _same(serial, _import_mixed(tmp_path, "disk", workers=0))
    assert list((tmp_path / "tmp").iterdir()) == []  # the index's file is removed


def test_a_dead_worker_pool_falls_back_to_checking_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise BrokenProcessPool("a worker died")

    serial = _import_mixed(tmp_path, "serial", workers=0)
    monkeypatch.setattr(importer.ProcessPoolExecutor, "submit", broken)
    _same(serial, _import_mixed(tmp_path, "broken", workers=1))


def test_rejects_may_not_overwrite_the_input(store: Store, tmp_path: Path) -> None:
    path = write(tmp_path, lines(row("D1")))
    with pytest.raises(ConfigError, match="would overwrite"):
        import_debtors(path, store, DIAL, rejects=path)


def test_a_batch_stores_exactly_what_one_debtor_at_a_time_stores(database_url: str) -> None:
    """upsert_debtors converts values itself for speed; the stored columns must not differ."""
    times = iter([dt.datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=dt.UTC),
                  dt.datetime(2026, 3, 5, 1, 2, 3, tzinfo=dt.timezone(dt.timedelta(hours=9)))])
    now = next(times)
    fields = dict(name="김민준 \"Jr\"", phone="+821055500012", amount=Decimal("1234.5"), currency="KRW",
                  due_date=dt.date(2026, 2, 28), language="zh", extra={"지점": "서울", "b": ""},
                  timezone="Asia/Seoul", alt_phone="+16502530000", tags=("vip", "late"))
    with open_store(database_url, clock=lambda: now) as store:
        store.upsert_debtor(Debtor(id="ONE", **fields))  # type: ignore[arg-type]
        assert store.upsert_debtors([Debtor(id="MANY", **fields), Debtor(id="BARE", name="x", phone="+821055500013",
                                                                          amount=Decimal(1))]) == (2, 0)

        def stored() -> dict[str, tuple[object, ...]]:
            with store._engine.connect() as connection:
                rows = connection.exec_driver_sql("SELECT * FROM debtors ORDER BY id").all()
            return {row[0]: tuple(row[1:]) for row in rows}

        assert stored()["ONE"] == stored()["MANY"]
        assert store.get_debtor("MANY") == Debtor(id="MANY", **fields)  # type: ignore[arg-type]
        assert store.get_debtor("BARE").tags == () and store.get_debtor("BARE").extra == {}
        with store._engine.connect() as connection:
            created = connection.exec_driver_sql("SELECT created_at FROM debtors WHERE id = 'MANY'").scalar()
        now = next(times)
        store.upsert_debtor(Debtor(id="ONE", **fields | {"amount": Decimal(7)}))  # type: ignore[arg-type]
        assert store.upsert_debtors([Debtor(id="MANY", **fields | {"amount": Decimal(7)})]) == (0, 1)  # type: ignore[arg-type]
        assert stored()["ONE"] == stored()["MANY"]
        with store._engine.connect() as connection:
            again = connection.exec_driver_sql("SELECT created_at, updated_at FROM debtors WHERE id = 'MANY'").one()
        assert again[0] == created and again[1] != created


def test_existing_debtors_survive_the_0002_migration(database_url: str) -> None:
    engine = create_store_engine(database_url)
    try:
        with engine.begin() as connection:
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS))
            config.set_main_option("path_separator", "os")
            config.attributes["connection"] = connection
            command.upgrade(config, "0001")
            connection.exec_driver_sql(
                "INSERT INTO debtors (id, name, phone, amount, currency, due_date, language, extra, created_at, "
                "updated_at) VALUES ('OLD', 'Kim', '+821055500012', '10.00', 'KRW', NULL, 'ko', '{}', "
                "'2025-01-01 00:00:00', '2025-01-01 00:00:00')")
    finally:
        engine.dispose()
    with open_store(database_url) as store:
        old = store.get_debtor("OLD")
        assert (old.timezone, old.alt_phone, old.tags, old.amount) == (None, None, (), Decimal("10.00"))


# --- The command ---------------------------------------------------------------------------------------




def test_command_reports_counts_and_exits_zero_with_rejects(tmp_path: Path) -> None:
    note = "," + "n" * 80
    many = (row(f"X{i}", f"010-6000-{i:04d}", more=note) for i in range(10_000))
    path = write(tmp_path, lines(row("D1", more=note), row("D2", "123@evil", more=note), *many,
                                 header=HEADER + ",note"))
    assert path.stat().st_size > 1_000_000  # the progress bar path
    done = collbot("import", "d.csv", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "imported 10001, updated 0, rejected 1 (rejects written to d.rejects.csv)\n"
    again = collbot("import", "d.csv", "--rejects", "r.csv", cwd=tmp_path)
    assert again.stdout == "imported 0, updated 10001, rejected 1 (rejects written to r.csv)\n"


def test_command_file_errors_are_one_line_and_create_no_database(tmp_path: Path) -> None:
    write(tmp_path, "id,name\n")
    for args in (("import", "d.csv"), ("import", "missing.csv")):
        done = collbot(*args, cwd=tmp_path)
        assert done.returncode == 1 and "Traceback" not in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1 and done.stderr.startswith("collbot: error: ")
    assert not (tmp_path / "var").exists()


# --- Property: any mix of good and bad rows ------------------------------------------------------------

GOOD = {
    "id": [],  # filled per row: unique ids
    "name": ["Kim", "김민준", "王小明", "O'Neil, Jr.", '"Quoted"'],
    "phone": ["010-{a:04d}-{b:04d}", "+82 10 {a:04d} {b:04d}", "(010) {a:04d}.{b:04d}"],
    "amount": ["300000", "300,000", "1,234.5", "1234.50", "7"],
    "currency": ["KRW", "usd", "Cny"],
    "due_date": ["2026-03-04", "2026/12/31", "2024.2.29", "31.01.2027"],
}
BAD = {
    "id": ["", "bad id", "x" * 65],
    "name": ["", "Kim\nJr", "a\x01b"],
    "phone": ["123&PJSIP/x", "123@evil", "+1 900 555 0123", "letters"],
    "amount": ["-3", "abc", "1.234", "0"],
    "currency": ["", "KRWX", "₩"],
    "due_date": ["03/04/2026", "2026-02-30", "tomorrow"],
}
NOTE = st.text(st.characters(exclude_characters="\r\n\0", exclude_categories=("Cs",)), max_size=20)


@st.composite
def csv_rows(draw: st.DrawFn) -> list[tuple[dict[str, str], bool, str]]:
    """Rows as (cells, valid by construction, note); ids may repeat."""
    out = []
    for i in range(draw(st.integers(0, 25))):
        cells, valid = {}, True
        for column in HEADER.split(","):
            bad = draw(st.integers(0, 9)) == 0
            if column == "id" and not bad:
                cells[column] = draw(st.sampled_from([f"R{i}", f"R{max(i - 1, 0)}", "R0"]))
            else:
                choice = draw(st.sampled_from(BAD[column] if bad else GOOD[column]))
                cells[column] = choice.format(a=5000 + i, b=draw(st.integers(0, 9999)))
            valid = valid and not bad
        out.append((cells, valid, draw(NOTE)))
    return out


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=csv_rows(), blank_every=st.integers(0, 5), end=st.sampled_from(["\n", "\r\n"]))
def test_any_mix_of_rows_keeps_the_invariant_and_valid_rows_are_stored(
        rows: list[tuple[dict[str, str], bool, str]], blank_every: int, end: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "p.csv"
        expected_rejects: set[int] = set()
        expected: dict[str, tuple[dict[str, str], str]] = {}
        first_line: dict[str, int] = {}
        with open(path, "w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f, lineterminator=end)
            writer.writerow([*HEADER.split(","), "note"])
            line = 2
            for i, (cells, valid, note) in enumerate(rows):
                if blank_every and i % blank_every == 0:
                    f.write(end)
                    line += 1
                writer.writerow([*cells.values(), note])
                ident = cells["id"]
                duplicate = ident in first_line
                if ident and " " not in ident and len(ident) <= 64:
                    first_line.setdefault(ident, line)
                if valid and not duplicate:
                    expected[ident] = (cells, note)
                else:
                    expected_rejects.add(line)
                line += 1 + sum(v.count("\n") for v in cells.values())
        with open_store(f"sqlite:///{tmp}/db.sqlite") as store:
            report = run(store, path)
            assert report.rows == len(rows)
            assert set(reasons(report)) == expected_rejects
            assert report.imported == len(expected)
            for ident, (cells, note) in expected.items():
                got = store.get_debtor(ident)
                assert got.name == cells["name"]
                assert got.phone == normalize(cells["phone"], default_region="KR", allowed_countries=["KR"])
                assert got.amount == Decimal(cells["amount"].replace(",", ""))
                assert got.currency == cells["currency"].upper()
                assert got.extra == {"note": note.strip()}
