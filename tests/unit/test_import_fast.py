"""The import's fast paths (phone decisions remembered, worker processes, batch upserts) decide every
row of a large random file as checking each number afresh with phonenumbers does."""

from __future__ import annotations

import csv
import io
import random
import re
from pathlib import Path

import phonenumbers
import pytest

from bot.campaign import importer, rows
from bot.campaign.importer import import_debtors
from bot.config import DialSettings
from bot.store.repo import open_store

DIAL = DialSettings()  # region KR; KR, CN and US allowed
BAD = ["123&PJSIP/x", "123@evil", "+1 900 555 0123", "010-555", "abc", "++821055500012", "+82 10 5555 00012",
       "060-700-1234", "+44 20 7946 0958", "1588-1234", "00", "(010) 5555-0001 ", ""]


def _phone(rnd: random.Random, seen: list[str]) -> str:
    pick = rnd.random()
    if pick < 0.2 and seen:
        return rnd.choice(seen)  # met again: a remembered decision
    if pick < 0.35:
        return rnd.choice(BAD)
    digits = f"010{rnd.randrange(10**8):08d}" if pick < 0.8 else f"0{rnd.randrange(2, 70)}{rnd.randrange(10**7):07d}"
    sep = rnd.choice(["-", " ", ".", ""])
    raw = sep.join([digits[:3], digits[3:7], digits[7:]]) if rnd.random() < 0.7 else "+82 " + digits[1:]
    seen.append(raw)
    return raw


def _file(path: Path, count: int, seed: int) -> list[list[str]]:
    rnd, seen, out = random.Random(seed), [], []
    for i in range(count):
        phone = _phone(rnd, seen)
        alt = rnd.choice(["", phone, _phone(rnd, seen)])
        ident = f"L{rnd.randrange(count * 9 // 10)}"  # some ids twice
        amount = rnd.choice(["300000", "1,234.50", "0", "-5", "12.345", str(rnd.randrange(1, 10**6))])
        due = f"2026-{rnd.randrange(1, 13):02d}-{rnd.randrange(1, 29):02d}"
        out.append([ident, f"김 {i}", phone, amount, "KRW", due, alt, rnd.choice(["", "3", "x"])])
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["id", "name", "phone", "amount", "currency", "due_date", "alt_phone", "dpd"])
    writer.writerows(out)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return out


def _decision(raw: str) -> str | None:
    """The phone's E.164 form by phonenumbers itself, or None: what importing must have decided."""
    raw = raw.strip()
    if not raw or not re.fullmatch(r"\+?[0-9 ().\-]*[0-9][0-9 ().\-]*", raw):
        return None
    try:
        number = phonenumbers.parse(raw, "KR")
    except phonenumbers.NumberParseException:
        return None
    country = phonenumbers.region_code_for_number(number)
    if (not phonenumbers.is_valid_number(number) or country not in DIAL.allowed_countries
            or phonenumbers.number_type(number) in (phonenumbers.PhoneNumberType.PREMIUM_RATE,
                                                    phonenumbers.PhoneNumberType.SHARED_COST)):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _run(tmp_path: Path, name: str, source: Path, workers: int) -> tuple[bytes, dict[str, tuple[str, str | None]]]:
    with open_store(f"sqlite:///{tmp_path / name}.db") as store:
        report = import_debtors(source, store, DIAL, rejects=tmp_path / f"{name}.rejects.csv", workers=workers,
                                batch_rows=500)
        assert report.imported + report.updated + report.rejected == report.rows
        with store._engine.connect() as connection:
            stored = {i: (p, a) for i, p, a in connection.exec_driver_sql("SELECT id, phone, alt_phone FROM debtors")}
    return report.rejects_path.read_bytes(), stored


def test_a_large_random_file_is_decided_as_phonenumbers_decides(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "debtors.csv"
    written = _file(source, 6_000, seed=10)
    monkeypatch.setattr(importer, "CHUNK_ROWS", 97)
    fast = _run(tmp_path, "fast", source, workers=2)  # spawned workers: their own remembered decisions
    monkeypatch.setattr(rows, "_PHONES_KEPT", 50)  # here: dropped and rebuilt often
    assert _run(tmp_path, "often", source, workers=0) == fast
    monkeypatch.setattr(rows, "_PHONES_KEPT", 0)  # only the number just decided is remembered
    assert _run(tmp_path, "slow", source, workers=0) == fast  # rejects byte for byte, every stored debtor
    rejected = {int(r[0]) for r in list(csv.reader(io.StringIO(fast[0].decode("utf-8-sig"))))[1:]}
    firsts: dict[str, int] = {}
    checked = 0
    for line, (ident, _, phone, _, _, _, alt, _) in enumerate(written, 2):
        first = firsts.setdefault(ident, line)
        if line in rejected or first != line:
            continue
        assert fast[1][ident] == (_decision(phone), _decision(alt) if alt else None)
        checked += 1
    phones_refused = sum(1 for r in written if _decision(r[2]) is None)
    assert checked > 600 and phones_refused > 700  # both kinds of decision were exercised
    for line, (_, _, phone, *_rest) in enumerate(written, 2):
        if _decision(phone) is None:
            assert line in rejected
