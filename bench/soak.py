"""A soak: `collbot serve` placing calls at 30 concurrent for hours, watched for leaks.

    source /work/wt/NAME.env   # the sandbox Asterisk to call through (started if down)
    .venv/bin/python bench/soak.py [--minutes 120] [--concurrency 30] [--every 30] [--debtors N]

The controller is the real daemon, run as a user runs it: `collbot campaign add` then
`collbot serve` in a child process, with its own SQLite database, log and /metrics port under
/tmp/collbot-bench/soak-<stamp>/. It calls the simulated customers of bench/campaign.py (its MIX:
keys, speech with the promise confirmed, no answer, busy, congestion) on the sandbox; no answer
and busy are retried once two minutes later. The debtor set is sized so that the supply outlasts
the run. When the time is up the daemon gets SIGTERM (the calls in flight finish) and the ledger
is checked against the personas and Asterisk's per-number counters.

Every ``--every`` seconds one sample (samples.csv and samples.jsonl): the controller's RSS,
open fds and threads (/proc), the RSS of its child processes, its asyncio tasks, event-loop lag
and calls in flight (its own /metrics), Asterisk's RSS, fds and active channels, the ledger's
calls, wrong outcomes so far, and the machine's load average.

The summary says PASS or FAIL against the soak's bar (docs/performance.md, "The soak"):
  * RSS growth < 10 %: mean RSS of the last window vs the first window after warm-up;
  * fds flat: max over the last flat-window <= max over the first flat-window (after warm-up) + 5;
  * tasks flat: the same with + 10 % of that max, at least 10 (tasks move with the calls in flight);
  * 0 wrong outcomes, 0 calls beyond the policy or beyond the ledger.
Windows for --minutes 120: warm-up 10 min, RSS windows 10 min, flat windows 30 min; shorter
runs scale them down (a sixth, a sixth and a quarter of the run). Asserts nothing, exits 0 once
the figures are printed; the machine may be shared, so the load average is in every sample.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import math
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from decimal import Decimal
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from campaign import (  # noqa: E402  (bench/campaign.py: the customers and what they should end as)
    EXPECTED_RESULT,
    RING_TIMEOUT_S,
    SCRIPT,
    WORK,
    mid_morning_zone,
    population,
    write_personas,
)

from bot.commands import load_personas  # noqa: E402
from bot.config import load_settings  # noqa: E402
from bot.domain import Debtor  # noqa: E402
from bot.store.repo import open_store  # noqa: E402
from bot.telephony.sandbox import Sandbox  # noqa: E402
from bot.telephony.sim import call_counts  # noqa: E402
from tests.conftest import _free_port  # noqa: E402

NAME = "bench-soak"
RETRY = {"no_answer": {"delay": "2m", "max_attempts": 2}, "busy": {"delay": "2m", "max_attempts": 2},
         "congestion": {"delay": "1m", "max_attempts": 1}, "failed": {"delay": "1m", "max_attempts": 1}}
POLICY = {"dtmf": 1, "speech": 1, "no_answer": 2, "busy": 2, "congestion": 1}  # calls per number at most
MEAN_CALL_S = 18.0  # per debtor incl. retries, measured C=30 runs were ~20: the supply outlasts the run
FD_SLACK, RSS_LIMIT_PCT = 5, 10.0


def task_slack(first_max: float) -> float:
    """Tasks come and go with the calls in flight: 10 % of the first window's max, at least 10."""
    return max(10.0, 0.1 * first_max)
SERVE_STOP_S = 240.0  # SIGTERM lets answered calls (~40 s) finish


# --- what one sample reads ----------------------------------------------------------------------

def proc_status(pid: int) -> dict[str, int]:
    """VmRSS (kB) and Threads of a process, from /proc."""
    out: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "Threads"):
            out[key] = int(value.split()[0])
    return out


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def descendants(pid: int) -> list[int]:
    kids: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            kids += [int(k) for k in (task / "children").read_text().split()]
        except OSError:
            continue
    return kids + [d for k in kids for d in descendants(k)]


def children_rss_kb(pid: int) -> int:
    total = 0
    for kid in descendants(pid):
        try:
            total += proc_status(kid).get("VmRSS", 0)
        except OSError:  # gone between the listing and the read
            continue
    return total


def scrape(port: int) -> dict[str, float]:
    """The controller's own /metrics (prometheus text), the gauges and counters the soak follows."""
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as reply:
        text = reply.read().decode()
    wanted = {"collbot_asyncio_tasks": "tasks", "collbot_event_loop_lag_seconds": "loop_lag_s",
              "collbot_calls_in_flight": "in_flight", "collbot_originates_total": "originates",
              "collbot_recognition_queue_depth": "recognition_queue", "collbot_governor_held": "governor_held"}
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name in wanted:
                out[wanted[s.name]] = s.value
    return out


def asterisk_channels(box: Sandbox) -> int:
    for line in box.cli("core show channels count", check=False).splitlines():
        if "active channel" in line:
            return int(line.split()[0])
    return -1


def ledger_now(db: Path, kinds: dict[str, str]) -> dict[str, int]:
    """Calls so far from the ledger (read-only; SQLite in WAL mode lets the daemon write meanwhile)."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        rows = con.execute("SELECT phone, state, result, outcome, dialed_at IS NOT NULL FROM call_attempts").fetchall()
    finally:
        con.close()
    ended = [r for r in rows if r[1] == "completed"]
    return {"attempts": len(rows), "dialed": sum(r[4] for r in rows), "ended": len(ended),
            "wrong": sum(wrong_reason(kinds[r[0]], r[2], r[3]) is not None for r in ended),
            "debtors_left": len(kinds) - len({r[0] for r in rows})}


def wrong_reason(kind: str, result: str | None, outcome: str | None) -> str | None:
    """Why an ended call is not what its customer did (bench/campaign.py's rule), or None."""
    if result != EXPECTED_RESULT[kind] or outcome == "error":
        return f"{kind}: {result} {outcome or ''}".strip()
    if kind in ("dtmf", "speech") and outcome != "promise_to_pay":
        return f"{kind}: answered, outcome {outcome}"
    return None


# --- the verdict --------------------------------------------------------------------------------

def windows(duration_s: float) -> tuple[float, float, float]:
    """(warm-up, RSS window, flat window) in seconds: 10, 10 and 30 min for runs of 2 h or more."""
    return min(600.0, duration_s / 6), min(600.0, duration_s / 6), min(1800.0, duration_s / 4)


def slope_per_h(points: list[tuple[float, float]]) -> float:
    """Least-squares slope, units per hour."""
    if len(points) < 2:
        return 0.0
    mx = sum(t for t, _ in points) / len(points)
    my = sum(v for _, v in points) / len(points)
    den = sum((t - mx) ** 2 for t, _ in points)
    return 3600 * sum((t - mx) * (v - my) for t, v in points) / den if den else 0.0


def verdict(samples: list[dict[str, float]], duration_s: float) -> dict[str, object]:
    warm, rss_w, flat_w = windows(duration_s)
    end = max(s["t_s"] for s in samples)
    after = [s for s in samples if s["t_s"] >= warm]

    def between(key: str, lo: float, hi: float) -> list[float]:
        return [s[key] for s in after if lo <= s["t_s"] < hi and s.get(key, -1) >= 0]

    out: dict[str, object] = {"warm_up_s": round(warm), "rss_window_s": round(rss_w), "flat_window_s": round(flat_w),
                              "samples": len(samples)}
    first, last = between("ctl_rss_kb", warm, warm + rss_w), between("ctl_rss_kb", end - rss_w, end + 1)
    if first and last:
        a, b = sum(first) / len(first), sum(last) / len(last)
        out["rss_first_mb"], out["rss_last_mb"] = round(a / 1024, 1), round(b / 1024, 1)
        out["rss_growth_pct"] = round(100 * (b - a) / a, 2)
        out["rss_slope_mb_per_h"] = round(slope_per_h([(s["t_s"], s["ctl_rss_kb"] / 1024) for s in after]), 2)
        out["rss_ok"] = out["rss_growth_pct"] < RSS_LIMIT_PCT  # type: ignore[operator]
    for key in ("ctl_fds", "tasks", "ctl_threads"):
        head, tail = between(key, warm, warm + flat_w), between(key, end - flat_w, end + 1)
        values = [s[key] for s in after if s.get(key, -1) >= 0]
        if not (head and tail):
            continue
        out[key] = {"min": min(values), "max": max(values), "first_window_max": max(head),
                    "last_window_max": max(tail),
                    "slope_per_h": round(slope_per_h([(s["t_s"], s[key]) for s in after if s.get(key, -1) >= 0]), 2)}
        if key != "ctl_threads":
            out[f"{key}_ok"] = max(tail) <= max(head) + (FD_SLACK if key == "ctl_fds" else task_slack(max(head)))
    ast = [s for s in after if s.get("ast_rss_kb", -1) >= 0]
    if ast:
        out["asterisk_rss_mb_first_last"] = [round(ast[0]["ast_rss_kb"] / 1024, 1),
                                             round(ast[-1]["ast_rss_kb"] / 1024, 1)]
        out["asterisk_fds_first_last"] = [ast[0]["ast_fds"], ast[-1]["ast_fds"]]
    lag = [s["loop_lag_s"] for s in after if s.get("loop_lag_s", -1) >= 0]
    if lag:
        out["loop_lag_s_median_max"] = [round(sorted(lag)[len(lag) // 2], 3), round(max(lag), 3)]
    load = [s["load1"] for s in samples]
    out["load1_mean_max"] = [round(sum(load) / len(load), 2), round(max(load), 2)]
    return out


# --- the run ----------------------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=120.0, help="how long calls are placed")
    parser.add_argument("--concurrency", type=int, default=30, help="limits.max_concurrent")
    parser.add_argument("--every", type=float, default=30.0, help="seconds between samples")
    parser.add_argument("--debtors", type=int, default=0, help="debtor set (default: enough for the run)")
    args = parser.parse_args()
    duration = args.minutes * 60
    n = args.debtors or max(100, math.ceil(duration * args.concurrency / MEAN_CALL_S / 20) * 20)
    settings = load_settings(None)
    box = Sandbox(settings, progress=lambda msg: print(f"sandbox: {msg}", flush=True))
    box.up()
    run_dir = WORK / f"soak-{time.strftime('%Y%m%d-%H%M%S')}"
    run_dir.mkdir(parents=True)
    db = run_dir / "soak.db"
    url = f"sqlite:///{db}"
    zone = mid_morning_zone()
    people = population(n)
    kinds = {c.number: c.kind for c in people}
    write_personas(run_dir / "personas.yaml", people)
    asyncio.run(load_personas(settings, run_dir / "personas.yaml"))  # also zeroes the per-number counters
    with open_store(url) as store:
        store.upsert_debtors([Debtor(c.debtor_id, c.name, c.number, Decimal(c.amount), timezone=zone)
                              for c in people])
    spec = {
        "campaign": NAME, "script": str(SCRIPT), "debtors": {"ids": [c.debtor_id for c in people]},
        "schedule": {"timezone": zone, "start": "00:00", "end": "23:59:59"},
        "rounds": [{"name": "only", "retries": ["new"], "ring_timeout_s": RING_TIMEOUT_S}],
        "retry": RETRY,
        "limits": {"max_concurrent": args.concurrency, "originates_per_second": float(max(5, args.concurrency / 2))},
        "compliance": {"pack": "default"},
    }
    (run_dir / "campaign.yaml").write_text(yaml.safe_dump(spec, allow_unicode=True))
    port = _free_port()
    env = dict(os.environ, COLLBOT__DATABASE__URL=url, COLLBOT__LOG__FILE=str(run_dir / "collbot.log"),
               COLLBOT__METRICS__PORT=str(port))
    cli = [sys.executable, "-m", "bot"]
    added = subprocess.run([*cli, "campaign", "add", str(run_dir / "campaign.yaml")], env=env, cwd=run_dir,
                           capture_output=True, text=True, check=False)
    if added.returncode != 0:
        sys.exit(f"collbot campaign add failed: {added.stdout}{added.stderr}")
    with (run_dir / "serve.out").open("wb") as out:
        serve = subprocess.Popen([*cli, "serve", "--poll", "5"], env=env, cwd=run_dir, stdout=out,
                                 stderr=subprocess.STDOUT)
    ast_pid = box.pid() or 0
    print(f"soak: {args.minutes:g} min at C={args.concurrency}, {n} debtors, sample every {args.every:g} s; "
          f"serve pid {serve.pid}, /metrics on {port}, Asterisk pid {ast_pid}; output in {run_dir}", flush=True)
    fields = ["t_s", "utc", "load1", "load5", "ctl_rss_kb", "ctl_fds", "ctl_threads", "ctl_children_rss_kb",
              "tasks", "loop_lag_s", "in_flight", "originates", "recognition_queue", "governor_held",
              "ast_rss_kb", "ast_fds", "ast_channels", "attempts", "dialed", "ended", "wrong", "debtors_left"]
    samples: list[dict[str, float]] = []
    started = time.monotonic()
    crashed = None
    with (run_dir / "samples.csv").open("w", newline="") as fcsv, (run_dir / "samples.jsonl").open("w") as fjson:
        writer = csv.DictWriter(fcsv, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        taken = 0
        next_at = started + min(args.every, 10.0)  # a first look early: did it start at all?
        while True:
            time.sleep(max(0.0, next_at - time.monotonic()))
            if serve.poll() is not None:
                crashed = f"collbot serve exited with {serve.returncode} after {time.monotonic() - started:.0f}s"
                break
            s: dict[str, float] = {k: -1 for k in fields}
            s["t_s"] = round(time.monotonic() - started, 1)
            s["utc"] = time.strftime("%H:%M:%S", time.gmtime())  # type: ignore[assignment]
            s["load1"], s["load5"], _ = os.getloadavg()
            try:
                st = proc_status(serve.pid)
                s["ctl_rss_kb"], s["ctl_threads"] = st["VmRSS"], st["Threads"]
                s["ctl_fds"], s["ctl_children_rss_kb"] = fd_count(serve.pid), children_rss_kb(serve.pid)
            except OSError:
                pass
            try:
                s.update(scrape(port))
            except OSError as exc:  # not yet listening, or a slow moment: the sample says -1
                print(f"  /metrics: {exc}", flush=True)
            try:
                s["ast_rss_kb"], s["ast_fds"] = proc_status(ast_pid)["VmRSS"], fd_count(ast_pid)
                s["ast_channels"] = asterisk_channels(box)
            except (OSError, subprocess.SubprocessError):
                pass
            try:
                s.update(ledger_now(db, kinds))
            except sqlite3.Error as exc:
                print(f"  ledger: {exc}", flush=True)
            samples.append(s)
            writer.writerow(s)
            fcsv.flush()
            fjson.write(json.dumps(s) + "\n")
            fjson.flush()
            print(f"  {s['utc']} t={s['t_s']:>6.0f}s load {s['load1']:.1f}  ctl rss {s['ctl_rss_kb'] / 1024:.0f} MB "
                  f"fds {s['ctl_fds']:.0f} thr {s['ctl_threads']:.0f} tasks {s['tasks']:.0f} "
                  f"lag {s['loop_lag_s']:.3f}s in flight {s['in_flight']:.0f} "
                  f"| ast rss {s['ast_rss_kb'] / 1024:.0f} MB ch {s['ast_channels']:.0f} "
                  f"| calls {s['dialed']:.0f} ended {s['ended']:.0f} wrong {s['wrong']:.0f} "
                  f"left {s['debtors_left']:.0f}", flush=True)
            if time.monotonic() - started >= duration:
                break
            taken += 1
            next_at = started + taken * args.every
    stop_at = time.monotonic()
    if crashed is None:
        serve.send_signal(signal.SIGTERM)
        try:
            serve.wait(SERVE_STOP_S)
        except subprocess.TimeoutExpired:
            crashed = f"collbot serve did not stop within {SERVE_STOP_S:.0f}s of SIGTERM: killed"
            serve.kill()
            serve.wait()
    stop_s = time.monotonic() - stop_at
    time.sleep(1)
    counts = call_counts(box)
    with open_store(url) as store:
        attempts = store.campaign_attempts(NAME)
    asyncio.run(load_personas(settings, ROOT / "tests/integration/personas.yaml"))  # the sandbox as tests expect

    dialled, results, states, wrong = Counter[str](), Counter[str](), Counter[str](), []
    wrong_kinds = Counter[str]()
    for a in attempts:
        states[a.state.value] += 1
        if a.dialed_at is not None:
            dialled[a.phone] += 1
        if a.state.value != "completed":  # queued: a planned retry not yet due when the run stopped
            continue
        result = a.result.value if a.result else None
        outcome = a.outcome.value if a.outcome else None
        results[outcome or result or "none"] += 1
        reason = wrong_reason(kinds[a.phone], result, outcome)
        if reason:
            wrong_kinds[kinds[a.phone]] += 1
            wrong.append(f"{a.debtor_id} {a.id} {reason}")
    beyond_policy = sorted(n for n in kinds if max(dialled[n], counts.get(n, 0)) > POLICY[kinds[n]])
    beyond_ledger = sorted(n for n in kinds if counts.get(n, 0) > dialled[n])
    stray = sum(v for num, v in counts.items() if num not in kinds)
    v = verdict(samples, stop_at - started) if samples else {}
    summary: dict[str, object] = {
        "run_dir": str(run_dir), "minutes": args.minutes, "concurrency": args.concurrency, "debtors": n,
        "crashed": crashed, "serve_exit": serve.returncode, "serve_stop_s": round(stop_s, 1),
        "calls_placed": sum(dialled.values()), "calls_asterisk": sum(counts.get(num, 0) for num in kinds),
        "attempts": len(attempts), "states": dict(states), "results": dict(sorted(results.items())),
        "retries": sum(dialled.values()) - len(dialled),
        "answered": sum(c for k, c in results.items() if k not in ("busy", "congestion", "no_answer")),
        "wrong": len(wrong), "wrong_by_kind": dict(wrong_kinds),
        "beyond_policy": len(beyond_policy), "beyond_ledger": len(beyond_ledger),
        "stray_calls": stray, "debtors_never_called": sum(1 for num in kinds if not dialled[num]), **v}
    checks = {"rss growth < 10 %": v.get("rss_ok"), f"fds flat (+{FD_SLACK})": v.get("ctl_fds_ok"),
              "tasks flat (+10 %)": v.get("tasks_ok"), "0 wrong": not wrong,
              "0 beyond policy / ledger": not beyond_policy and not beyond_ledger and not stray,
              "ran to the end": crashed is None,
              "0 attempts stuck or unknown": not states["dialing"] + states["answered"] + states["unknown"]}
    summary["checks"] = checks
    summary["verdict"] = "PASS" if all(c is True for c in checks.values()) else "FAIL"
    (run_dir / "summary.json").write_text(json.dumps({**summary, "wrong_list": wrong[:200],
                                                      "beyond_policy_list": beyond_policy[:200],
                                                      "beyond_ledger_list": beyond_ledger[:200]}, indent=1))
    print()
    for key, value in summary.items():
        if key != "checks":
            print(f"{key:<28} {value}")
    for line in wrong[:10]:
        print("  wrong:", line)
    for num in beyond_policy[:10]:
        print(f"  beyond policy: ...{num[-4:]} ({kinds[num]}) ledger {dialled[num]} asterisk {counts.get(num, 0)}")
    for name, ok in checks.items():
        print(f"  {'ok  ' if ok is True else 'FAIL' if ok is False else 'n/a '} {name}")
    print(f"soak: {summary['verdict']} (details in {run_dir}/summary.json)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
