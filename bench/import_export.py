"""How fast `collbot import` is and whether its memory stays flat as the file grows.

    .venv/bin/python bench/import_export.py [--rows 1000000] [--small 100000] [--database-url URL]

Writes synthetic debtors (about 1% of them bad) to a temporary CSV, imports them into a fresh
database, and prints rows per second and peak memory. Each size runs in its own process so
that its peak is its own. The id index (``import_debtors`` keeps every id seen) is the only
part meant to grow with the file; it is estimated and printed so the rest can be judged flat.
Prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BAD = ["123&PJSIP/x", "123@evil", "+1 900 555 0123"]


def write_csv(path: Path, rows: int) -> None:
    with open(path, "w", encoding="utf-8", newline="") as f:
        out = csv.writer(f)
        out.writerow(["id", "name", "phone", "amount", "currency", "due_date", "timezone", "branch", "tags"])
        for i in range(rows):
            phone = BAD[i % 3] if i % 100 == 99 else f"010-{5000 + i // 10_000:04d}-{i % 10_000:04d}"
            out.writerow([f"L{i:08d}", f"김민준 {i}", phone, f"{(i % 5000 + 1) * 1000:,}", "KRW",
                          f"2026-{i % 12 + 1:02d}-{i % 28 + 1:02d}", "Asia/Seoul" if i % 2 else "",
                          f"Branch {i % 40}", "vip;late" if i % 7 == 0 else ""])


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def one(rows: int, url: str | None) -> dict[str, float]:
    """Generate, import, measure: run in a child process."""
    from bot.campaign.importer import import_debtors
    from bot.config import DialSettings
    from bot.store.repo import open_store

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "debtors.csv"
        write_csv(path, rows)
        size = path.stat().st_size
        with open_store(url or f"sqlite:///{tmp}/bench.db") as store:
            before = peak_mb()
            started = time.perf_counter()
            report = import_debtors(path, store, DialSettings())
            seconds = time.perf_counter() - started
    sample = min(rows, 100_000)
    per_id = _index_bytes(sample) / sample
    return {"rows": report.rows, "imported": report.imported, "updated": report.updated,
            "rejected": report.rejected, "mb": size / 1e6, "seconds": seconds, "rows_per_s": report.rows / seconds,
            "rss_before_mb": before, "peak_mb": peak_mb(), "id_index_mb": per_id * rows / 1e6}


def _index_bytes(count: int) -> int:
    """Bytes of an id -> line index like the importer's: fresh id strings and line numbers."""
    import tracemalloc

    tracemalloc.start()
    seen = {f"L{i:08d}": i + 1_000 for i in range(count)}
    size = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del seen
    return size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--database-url", help="a fresh, empty database (default: a temporary SQLite file)")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(one(args.one, args.database_url)))
        return
    print(f"{'rows':>10} {'file MB':>8} {'seconds':>8} {'rows/s':>8} {'RSS before':>11} {'peak RSS':>9} "
          f"{'id index':>9} {'peak - ids':>11}  imported/updated/rejected")
    for rows in sorted({args.small, args.rows}):
        command = [sys.executable, __file__, "--one", str(rows)]
        if args.database_url:
            command += ["--database-url", args.database_url]
        r = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
        print(f"{r['rows']:>10,} {r['mb']:>8.1f} {r['seconds']:>8.1f} {r['rows_per_s']:>8,.0f} "
              f"{r['rss_before_mb']:>9.0f}MB {r['peak_mb']:>7.0f}MB {r['id_index_mb']:>7.0f}MB "
              f"{r['peak_mb'] - r['id_index_mb']:>9.0f}MB  {r['imported']:,}/{r['updated']:,}/{r['rejected']:,}")


if __name__ == "__main__":
    main()
