"""Three controllers on one PostgreSQL database at scale, one of them SIGKILLed mid-run.

    source /work/wt/NAME.env   # the sandbox Asterisk to call through (started if down)
    .venv/bin/python bench/controllers.py [--debtors 1000] [--concurrency 8] [--kill-at 0.3]
                                          [--database-url postgresql://...]

N simulated debtors (70 % busy, 30 % no answer: every controller shares the sandbox's one
FastAGI route, so answered calls would reach only one of them) are called by three
``collbot run`` processes of one campaign (two rounds, busy and no-answer retried once in the
first round, once more in the second). Once ``--kill-at`` of the debtors have a call, the second
controller is SIGKILLed while it has calls in flight and never comes back; the two others close
its calls when its lease expires and finish. Without ``--database-url`` a throwaway cluster is
started (as tests/conftest.py does) and removed at the end.

Reports: wall time; double claims (two calls to one number overlapping in time); calls beyond
the policy or beyond the ledger (Asterisk's per-number counters, the ledger, and the fault
suite's independent replay of the policy); attempts stuck; every debtor accounted for (at the
policy, or its last call cut short with a stored decision). Prints figures; exits 1 if any check
failed. The machine may be shared: wall times vary with load.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import itertools
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.commands import load_personas  # noqa: E402
from bot.config import load_settings  # noqa: E402
from bot.domain import Debtor  # noqa: E402
from bot.store.repo import open_store  # noqa: E402
from bot.telephony.sandbox import Sandbox  # noqa: E402
from bot.telephony.sim import call_counts  # noqa: E402
from tests.integration.test_faults import _cut, replay  # noqa: E402

NAME = "bench-three-controllers"
POLICY = {"no_answer": 3, "busy": 3}  # first round: 1 + 1 retry (max 2); second round: 1


@contextmanager
def throwaway_postgres() -> Iterator[str]:
    from tests.conftest import _as_cluster_owner, _free_port, _initdb

    initdb = _initdb()
    if initdb is None:
        sys.exit("PostgreSQL server binaries not found: install postgresql or pass --database-url")
    base = Path(tempfile.mkdtemp(prefix="collbot-pg-bench-", dir="/tmp"))
    data, log, pwfile = base / "data", base / "server.log", base / "pw"
    password, port = secrets.token_hex(16), _free_port()
    pwfile.write_text(password + "\n")
    if os.geteuid() == 0:
        import pwd

        owner = pwd.getpwnam("postgres")
        for path in (base, pwfile):
            os.chown(path, owner.pw_uid, owner.pw_gid)

    def run(*argv: str) -> None:
        subprocess.run(_as_cluster_owner(list(argv)), check=True, capture_output=True, stdin=subprocess.DEVNULL)

    ctl = str(initdb.parent / "pg_ctl")
    try:
        run(str(initdb), "-D", str(data), "-U", "collbot", "--pwfile", str(pwfile), "--auth=scram-sha-256",
            "-E", "UTF8", "--no-locale", "--no-sync")
        run(ctl, "-D", str(data), "-l", str(log), "-o",
            f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c max_connections=200",
            "-w", "-t", "60", "start")
        yield f"postgresql+psycopg://collbot:{password}@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(_as_cluster_owner([ctl, "-D", str(data), "-m", "immediate", "-w", "stop"]),
                       capture_output=True, check=False)
        shutil.rmtree(base, ignore_errors=True)


def mid_morning_zone() -> str:
    """An Etc/GMT zone where it is now mid-morning: the calling window is open all run."""
    offset = (10 - dt.datetime.now(dt.UTC).hour + 12) % 24 - 12
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--debtors", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=8, help="limits.max_concurrent of each controller")
    parser.add_argument("--rate", type=float, default=20, help="limits.originates_per_second of each controller")
    parser.add_argument("--kill-at", type=float, default=0.3, help="share of debtors called before c2 is killed")
    parser.add_argument("--lease", type=float, default=5, help="controller.lease_s")
    parser.add_argument("--database-url", default="")
    parser.add_argument("--workdir", default="")
    args = parser.parse_args()
    settings = load_settings(None)
    Sandbox(settings).up()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="collbot-bench-controllers-"))
    work.mkdir(parents=True, exist_ok=True)
    if args.database_url:
        return bench(args, settings, work, args.database_url)
    with throwaway_postgres() as url:
        return bench(args, settings, work, url)


def bench(args: argparse.Namespace, settings, work: Path, url: str) -> int:  # type: ignore[no-untyped-def]
    zone = mid_morning_zone()
    people = [(f"B-{i:05d}", f"+8210559{i:05d}", "busy" if i % 10 < 7 else "no_answer") for i in range(args.debtors)]
    (work / "personas.yaml").write_text(yaml.safe_dump(
        {"personas": [{"number": n, "behavior": k} for _, n, k in people]}))
    asyncio.run(load_personas(settings, work / "personas.yaml"))
    with open_store(url) as store:
        store.upsert_debtors([Debtor(d, "Bench", n, Decimal(50000), timezone=zone) for d, n, _ in people])
    spec = {
        "campaign": NAME, "script": str(ROOT / "scripts/reminder-ko.yaml"),
        "debtors": {"ids": [d for d, _, _ in people]},
        "schedule": {"timezone": zone, "start": "00:00", "end": "23:59:59"},
        "rounds": [{"name": "first", "retries": ["new"], "ring_timeout_s": 2},
                   {"name": "second", "retries": ["no_answer", "busy"], "after": "1s", "ring_timeout_s": 2}],
        "retry": {"no_answer": {"delay": "2s", "max_attempts": 2}, "busy": {"delay": "2s", "max_attempts": 2},
                  "congestion": {"delay": "1s", "max_attempts": 1}, "failed": {"delay": "1s", "max_attempts": 2}},
        "limits": {"max_concurrent": args.concurrency, "originates_per_second": args.rate},
        "interrupted": {"follow_up": "2s", "max_follow_ups": 10},
        "compliance": {"max_per_7_days": 100, "max_unanswered_per_day": 100},
    }
    path = work / "campaign.yaml"
    path.write_text(yaml.safe_dump(spec))
    from tests.conftest import _free_port

    def start(name: str) -> subprocess.Popen[bytes]:
        env = dict(os.environ, COLLBOT__DATABASE__URL=url, COLLBOT__CONTROLLER__ID=name,
                   COLLBOT__CONTROLLER__LEASE_S=str(args.lease), COLLBOT__AGI__PORT=str(_free_port()),
                   COLLBOT__LOG__FILE=str(work / f"{name}.log"))
        return subprocess.Popen([sys.executable, "-m", "bot", "run", str(path)], env=env, cwd=work,
                                stdout=open(work / f"{name}.out", "wb"), stderr=subprocess.STDOUT)

    ringing = {n for _, n, k in people if k == "no_answer"}
    started = time.monotonic()
    with open_store(url) as store:
        procs = {"c1": start("c1")}
        while not store.campaign_attempts(NAME):
            if procs["c1"].poll() is not None:
                sys.exit(f"c1 ended first: {(work / 'c1.out').read_text()[-2000:]}")
            time.sleep(0.5)
        procs["c2"], procs["c3"] = start("c2"), start("c3")
        while True:  # kill c2 once enough debtors were called and it has ringing calls in flight
            called = len({a.debtor_id for a in store.campaign_attempts(NAME)})
            mine = [a.id for a in store.in_flight(NAME, keep=["c1", "c3"]) if a.phone in ringing]
            if called >= args.kill_at * len(people) and mine:
                break
            if procs["c2"].poll() is not None:
                sys.exit(f"c2 ended before it could be killed: {(work / 'c2.out').read_text()[-2000:]}")
            time.sleep(0.2)
        procs["c2"].send_signal(signal.SIGKILL)
        procs["c2"].wait()
        killed_at = time.monotonic() - started
        left = set(mine)
        codes = {name: procs[name].wait() for name in ("c1", "c3")}
        wall = time.monotonic() - started
        time.sleep(1)
        counts = call_counts(Sandbox(settings))
        attempts = store.campaign_attempts(NAME)
        rounds = store.campaign_rounds_of(NAME)
        given_up = {f.origin_attempt_id for f in store.follow_ups(NAME, states=("none",))}
        status = store.campaign_status(NAME)
    asyncio.run(load_personas(settings, ROOT / "tests/integration/personas.yaml"))  # the sandbox as tests expect

    spans: dict[str, list[tuple[dt.datetime, dt.datetime | None]]] = defaultdict(list)
    dialled, cut, natural = Counter[str](), Counter[str](), Counter[str]()
    for a in attempts:
        if a.dialed_at is not None:
            spans[a.phone].append((a.dialed_at, a.ended_at))
            dialled[a.phone] += 1
        cut[a.phone] += _cut(a)
        natural[a.phone] += not _cut(a) and a.result is not None and a.result.value in POLICY
    overlaps = 0
    for calls in spans.values():
        calls.sort()
        overlaps += sum(1 for (_, end), (nxt, _) in itertools.pairwise(calls) if end is None or end > nxt)
    beyond_ledger = sum(1 for _, n, _ in people if counts.get(n, 0) > dialled[n])
    unseen = sum(1 for _, n, _ in people if dialled[n] - cut[n] > counts.get(n, 0))
    stuck = sum(1 for a in attempts if a.state.value in ("queued", "dialing", "answered"))
    policy = replay(spec, attempts, rounds, given_up, finished=True)
    last_cut = {a.debtor_id for a in attempts if _cut(a) and a.id in given_up}
    unaccounted = [d for d, n, k in people if natural[n] != POLICY[k] and d not in last_cut]
    figures = {
        "debtors": len(people), "controllers": 3, "concurrency_each": args.concurrency,
        "wall_s": round(wall, 1), "killed_at_s": round(killed_at, 1), "exit_codes": codes, "status": status,
        "calls_asterisk": sum(counts.get(n, 0) for _, n, _ in people), "attempts": len(attempts),
        "killed_in_flight": len(left), "cut": sum(cut.values()),
        "calls_per_s": round(sum(dialled.values()) / wall, 1),
        "double_claims": overlaps, "beyond_ledger": beyond_ledger, "ledger_unseen": unseen,
        "beyond_policy": len(policy), "stuck": stuck, "unaccounted": len(unaccounted),
    }
    print(json.dumps(figures, indent=2))
    for line in policy[:10]:
        print("policy:", line)
    ok = (codes == {"c1": 0, "c3": 0} and status == "finished" and not overlaps and not beyond_ledger
          and not unseen and not policy and not stuck and not unaccounted)
    print("all checks held" if ok else "A CHECK FAILED", f"(work dir {work})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
