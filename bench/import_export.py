"""How fast `collbot import` and `collbot export` are, and whether their memory stays flat.

    .venv/bin/python bench/import_export.py [--rows 1000000] [--small 100000] [--no-postgres]
                                            [--database-url URL] [--import-only]

Writes synthetic debtors (about 1% of them bad) to a temporary CSV and, for each size and each
database, imports it into a fresh database, gives every imported debtor one finished call
attempt in a campaign (set up with plain SQL, not timed), and exports that campaign's debtor
view. SQLite is a temporary file; PostgreSQL is a throwaway cluster started here when its
server binaries are installed (as the tests start one), with its default durability settings.
``--database-url`` adds a database of your own, which must be fresh and empty.

Each import and each export runs in its own process, so its peak RSS is its own; the import's
worker processes are counted in its CPU seconds, not in its RSS. Prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime as dt
import glob
import json
import os
import re
import resource
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BAD = ["123&PJSIP/x", "123@evil", "+1 900 555 0123"]
CAMPAIGN = "bench"


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


def cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def import_one(path: Path, url: str, export: bool = True) -> dict[str, float]:
    """Import, measure, then give every debtor an attempt for the export (child process)."""
    from bot.campaign.importer import import_debtors
    from bot.config import DialSettings
    from bot.store.repo import open_store

    with open_store(url) as store:
        before, cpu = peak_mb(), cpu_seconds()
        started = time.perf_counter()
        report = import_debtors(path, store, DialSettings())
        seconds = time.perf_counter() - started
        figures = {"rows": report.rows, "imported": report.imported, "updated": report.updated,
                   "rejected": report.rejected, "seconds": seconds, "rows_per_s": report.rows / seconds,
                   "cpu_s": cpu_seconds() - cpu, "rss_before_mb": before, "peak_mb": peak_mb()}
        if export:
            _campaign_of_everyone(store)
    return figures


def _campaign_of_everyone(store: object) -> None:
    """One completed attempt per debtor, linked to CAMPAIGN: what the export reads."""
    from sqlalchemy import insert, select

    from bot.store.ledger import CampaignAttemptRow
    from bot.store.models import AttemptRow, DebtorRow

    store.ensure_campaign(CAMPAIGN)  # type: ignore[attr-defined]
    at = dt.datetime(2026, 3, 4, 1, 2, 3, tzinfo=dt.UTC)
    engine = store._engine  # type: ignore[attr-defined]
    with engine.connect() as reader:
        ids = [(d, p) for d, p in reader.execute(select(DebtorRow.id, DebtorRow.phone).order_by(DebtorRow.id))]
    for start in range(0, len(ids), 20_000):
        part = ids[start:start + 20_000]
        attempts = [{"id": f"a{start + i:031x}", "debtor_id": d, "phone": p, "state": "completed",
                     "result": "answered", "hangup_cause": 16, "outcome": "promise_to_pay",
                     "outcome_detail": {"promise_date": "2026-03-10", "promise_amount": "1000"},
                     "created_at": at, "dialed_at": at, "answered_at": at, "ended_at": at, "talk_seconds": 40}
                    for i, (d, p) in enumerate(part)]
        links = [{"attempt_id": a["id"], "campaign": CAMPAIGN, "round": "r1", "debtor_id": a["debtor_id"],
                  "script": "bench"} for a in attempts]
        with engine.begin() as connection:
            connection.execute(insert(AttemptRow.__table__), attempts)
            connection.execute(insert(CampaignAttemptRow.__table__), links)


def export_one(url: str, out: Path) -> dict[str, float]:
    """`collbot export CAMPAIGN` as the command runs it (child process)."""
    from bot.campaign.export import export
    from bot.store.repo import open_store

    with open_store(url) as store:
        before, cpu = peak_mb(), cpu_seconds()
        started = time.perf_counter()
        count = export(store, CAMPAIGN, out, attempts=False, full_phone=False, script="bench")
        seconds = time.perf_counter() - started
    return {"rows": count, "seconds": seconds, "rows_per_s": count / seconds, "cpu_s": cpu_seconds() - cpu,
            "rss_before_mb": before, "peak_mb": peak_mb(), "mb": out.stat().st_size / 1e6}


# --- A throwaway PostgreSQL cluster (as tests/conftest.py starts one) -------------------------------


@contextlib.contextmanager
def postgres() -> Iterator[str | None]:
    """A server URL without database name, or None when PostgreSQL is not installed."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: tuple(int(n) for n in re.findall(r"\d+", p)))
    if not found:
        yield None
        return
    bindir = Path(found[-1]).parent
    base = Path(tempfile.mkdtemp(prefix="collbot-bench-pg-", dir="/tmp"))
    data, log, pwfile = base / "data", base / "server.log", base / "pw"
    password = secrets.token_hex(16)
    pwfile.write_text(password + "\n")
    as_root = os.geteuid() == 0
    if as_root:
        import pwd

        owner = pwd.getpwnam("postgres")
        for path in (base, pwfile):
            os.chown(path, owner.pw_uid, owner.pw_gid)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    def run(*argv: str) -> None:
        command = ["runuser", "-u", "postgres", "--", *argv] if as_root else list(argv)
        subprocess.run(command, check=True, capture_output=True, stdin=subprocess.DEVNULL, timeout=120)

    started = False
    try:
        run(str(bindir / "initdb"), "-D", str(data), "-U", "collbot", "--pwfile", str(pwfile),
            "--auth=scram-sha-256", "-E", "UTF8", "--no-locale")
        run(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60", "-o",
            f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''", "start")
        started = True
        yield f"postgresql+psycopg://collbot:{password}@127.0.0.1:{port}"
    finally:
        if started:
            run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(base, ignore_errors=True)


def fresh_database(server: str, name: str) -> str:
    import psycopg

    with psycopg.connect(server.replace("+psycopg", "") + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{server}/{name}"


# --- The table ------------------------------------------------------------------------------------


def child(*args: str) -> dict[str, float]:
    done = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"{' '.join(args[:1])} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--database-url", help="also a fresh, empty database of yours (one size only)")
    parser.add_argument("--import-only", action="store_true", help="no campaign set-up, no export")
    parser.add_argument("--import-one", nargs=2, metavar=("CSV", "URL"), help=argparse.SUPPRESS)
    parser.add_argument("--export-one", nargs=2, metavar=("URL", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.import_one:
        print(json.dumps(import_one(Path(args.import_one[0]), args.import_one[1], export=not args.import_only)))
        return
    if args.export_one:
        print(json.dumps(export_one(args.export_one[0], Path(args.export_one[1]))))
        return

    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the start", flush=True)
    print(f"{'database':>10} {'rows':>10} {'file MB':>8} | {'import s':>8} {'rows/s':>7} {'cpu s':>6} "
          f"{'peak RSS':>8} | {'export s':>8} {'rows/s':>7} {'cpu s':>6} {'peak RSS':>8} |  "
          "imported/updated/rejected", flush=True)
    with tempfile.TemporaryDirectory() as tmp, (contextlib.nullcontext(None) if args.no_postgres
                                                else postgres()) as server:
        for rows in sorted({args.small, args.rows}):
            path = Path(tmp) / f"debtors-{rows}.csv"
            write_csv(path, rows)
            urls = {"sqlite": f"sqlite:///{tmp}/bench-{rows}.db"}
            if server is not None:
                urls["postgresql"] = fresh_database(server, f"bench_{rows}")
            if args.database_url and rows == max(args.small, args.rows):
                urls["yours"] = args.database_url
            for name, url in urls.items():
                imp = child("--import-one", str(path), url, *(["--import-only"] if args.import_only else []))
                exp = (dict.fromkeys(("seconds", "rows_per_s", "cpu_s", "peak_mb"), float("nan"))
                       if args.import_only else child("--export-one", url, str(Path(tmp) / "export.csv")))
                print(f"{name:>10} {imp['rows']:>10,} {path.stat().st_size / 1e6:>8.1f} | "
                      f"{imp['seconds']:>8.1f} {imp['rows_per_s']:>7,.0f} {imp['cpu_s']:>6.1f} "
                      f"{imp['peak_mb']:>6.0f}MB | {exp['seconds']:>8.1f} {exp['rows_per_s']:>7,.0f} "
                      f"{exp['cpu_s']:>6.1f} {exp['peak_mb']:>6.0f}MB | load {os.getloadavg()[0]:.1f} | "
                      f"{imp['imported']:,}/{imp['updated']:,}/{imp['rejected']:,}", flush=True)
            for leftover in Path(tmp).glob(f"bench-{rows}.db*"):
                leftover.unlink()
            path.unlink()


if __name__ == "__main__":
    main()
