"""Turn latency on the real sandboxed Asterisk, measured from the customer's side of the call.

    .venv/bin/python bench/latency.py [--concurrency 1 100] [--customers 112] [--script PATH] [--quick]
                                      [--transport agi|audiosocket]

For each concurrency C, N simulated customers who all answer go through a real campaign
(``run_campaign``: the controller, Vosk, espeak-ng prompts, SQLite) on a call script:
scripts/reminder-ko.yaml by default, where most say "네" and "내일 낼게요" and every sixth says
"네" and presses 1; or bench/latency-ko.yaml, ten short questions a call, where most say "네"
nine times and "내일 낼게요" once and every sixth presses 1 for three of the "네". Keys are
reported apart.

The customers are timed personas (bot/telephony/sim.py, dialplans/collbot-sim.conf): in
Asterisk's own dialplan each stores when its reply ended (Playback of the reply's speech
returned, or SendDTMF did) and when the robot's first audio came after it (WaitForNoise), with
ms precision, in AstDB. The latency of a turn is that first audio less the end of the speech,
which the bench finds in the reply's file. The robot's own events give the breakdown when they
carry ``timing`` (n/a otherwise).

Uses its own sandbox (``--sandbox-dir``, AMI and FastAGI ports apart from the others) and stops
it at the end unless ``--keep-up``. Prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import json
import logging
import math
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import campaign as camp  # bench/campaign.py: settings, population, the campaign file

from bot.config import Settings
from bot.logutil import setup_logging
from bot.telephony.sandbox import Sandbox

LATENCY_SCRIPT = Path(__file__).with_name("latency-ko.yaml")
_KEY = {"dtmf": "1"}
# What the customers answer, by script: (those who speak, every sixth customer).
REPLIES: dict[str, tuple[list[object], list[object]]] = {
    "reminder-ko": (["네", "내일 낼게요"], ["네", _KEY]),
    "latency-ko": (["네"] * 9 + ["내일 낼게요"], ["네", "네", _KEY, "네", "네", _KEY, "네", "네", _KEY, "내일 낼게요"]),
}
MIXED_EVERY = 6  # every sixth customer answers some questions with a key
DSP_THRESHOLD = 256  # Asterisk's default silence threshold (dsp.conf): mean |sample| of a 20 ms frame
FRAME_MS = 20
LISTEN_KINDS = ("recognition", "dtmf", "no_input")
COMPONENTS = ("end-of-speech detection", "recognition", "decision", "prompt ready", "playback start")
CHECKS = {"robot heard (event time)": "heard_after_ms", "prompt ready (event time)": "prompt_after_ms",
          "  prompt's quiet start (in file)": "onset_ms"}


# --- pure parts (tests/unit/test_latency_bench.py) ------------------------------------------

def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), linear between closest ranks (numpy's default)."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def loud_span_ms(pcm: bytes, threshold: int = DSP_THRESHOLD, frame_ms: int = FRAME_MS) -> tuple[int, int] | None:
    """(start of the first, end of the last) 20 ms frame whose mean |sample| reaches the
    threshold, in ms from the start: audio as Asterisk's DSP tells noise from silence."""
    samples = memoryview(pcm[: len(pcm) // 2 * 2]).cast("h")
    step = 8 * frame_ms
    loud = [i for i in range(0, len(samples), step)
            if sum(abs(s) for s in samples[i:i + step]) >= threshold * len(samples[i:i + step])]
    if not loud:
        return None
    return loud[0] // 8, min(len(samples), loud[-1] + step) // 8


@dataclass(frozen=True)
class CustomerTurn:
    """One reply as the customer's dialplan timed it (epoch seconds)."""

    number: str
    turn: int
    said: str  # the phrase, or the keys pressed
    kind: str  # "speech" | "dtmf"
    ended: float  # end of the speech (or of the key press)
    answered: float | None  # the robot's first audio after it; None if none came


@dataclass(frozen=True)
class RobotEvent:
    at: float  # epoch seconds
    kind: str
    data: dict[str, object]


@dataclass
class Turn:
    customer: CustomerTurn
    status: str  # "measured" | "misheard" | "lost"
    latency_ms: float | None = None
    heard: str | None = None
    heard_after_ms: float | None = None  # the robot's heard-result event, after the end of speech
    prompt_after_ms: float | None = None  # its next prompt event (recorded once the prompt is ready)
    timing: dict[str, float] = field(default_factory=dict)
    prompt: str = ""  # the text of the prompt that answered
    onset_ms: float | None = None  # how far into that prompt's file its first loud frame is


def pair_turns(replies: Iterable[CustomerTurn], events: Sequence[RobotEvent], *, slack_s: float = 0.05) -> list[Turn]:
    """Match each reply of one call with what the robot heard next and the prompt it played
    after; events are in the call's order. A reply without a first audio or without a robot
    turn after it is lost; one heard as anything else (or nothing) is misheard."""
    turns: list[Turn] = []
    used = -1

    def answers(e: RobotEvent, reply: CustomerTurn) -> bool:
        # A key that ends in the last moment of a prompt is taken by STREAM FILE ("during" the
        # prompt): it still answers the question. Other keys during a prompt answer nothing.
        return e.kind in LISTEN_KINDS and ("during" not in e.data or reply.kind == "dtmf")

    for reply in sorted(replies, key=lambda r: r.turn):
        heard_at = next((i for i, e in enumerate(events) if i > used and answers(e, reply)
                         and e.at >= reply.ended - slack_s), None)
        prompt_at = None if heard_at is None else next(
            (i for i, e in enumerate(events) if i > heard_at and e.kind == "prompt"), None)
        if heard_at is None or prompt_at is None or reply.answered is None:
            turns.append(Turn(reply, "lost"))
            continue
        used = heard_at
        heard, prompt = events[heard_at], events[prompt_at]
        said = str(heard.data.get("text") or heard.data.get("digit") or "")
        timing = {**_timing(heard), **_timing(prompt)}
        turns.append(Turn(
            reply, "measured" if said.strip().lower() == reply.said.strip().lower() else "misheard",
            latency_ms=(reply.answered - reply.ended) * 1000, heard=said,
            heard_after_ms=(heard.at - reply.ended) * 1000, prompt_after_ms=(prompt.at - reply.ended) * 1000,
            timing=timing, prompt=str(prompt.data.get("text", ""))))
    return turns


def _timing(event: RobotEvent) -> dict[str, float]:
    found = event.data.get("timing")
    if not isinstance(found, dict):
        return {}
    return {str(k): float(v) for k, v in found.items() if isinstance(v, int | float)}


def components(turn: Turn) -> dict[str, float]:
    """The robot-side breakdown of one turn, from its events' timing (empty without it). A key
    needs no end-of-speech detection nor recognition: the robot has it when the key ends."""
    t = dict(turn.timing)
    if turn.customer.kind == "dtmf":
        t = {"eos_ms": 0.0, "asr_ms": 0.0, **t}
    if turn.latency_ms is None or not all(k in t for k in ("eos_ms", "asr_ms", "decide_ms", "tts_ms")):
        return {}
    return {"end-of-speech detection": t["eos_ms"], "recognition": t["asr_ms"],
            "decision": t["decide_ms"] - t["tts_ms"], "prompt ready": t["tts_ms"],
            "playback start": turn.latency_ms - t["eos_ms"] - t["asr_ms"] - t["decide_ms"]}


def summarize(turns: Sequence[Turn]) -> dict[str, object]:
    """Percentiles over the measured turns; counts of the others; the breakdown's mean and p50."""
    measured = [t for t in turns if t.status == "measured"]
    latencies = [t.latency_ms for t in measured if t.latency_ms is not None]
    out: dict[str, object] = {
        "turns": len(turns), "measured": len(measured),
        "misheard": sum(t.status == "misheard" for t in turns), "lost": sum(t.status == "lost" for t in turns),
    }
    if latencies:
        out.update(p50_ms=percentile(latencies, 50), p95_ms=percentile(latencies, 95), max_ms=max(latencies),
                   min_ms=min(latencies), mean_ms=sum(latencies) / len(latencies))
    parts = [components(t) for t in measured]
    breakdown: dict[str, object] = {}
    for name in COMPONENTS:
        values = [p[name] for p in parts if name in p]
        breakdown[name] = {"n": len(values), "mean_ms": sum(values) / len(values),
                           "p50_ms": percentile(values, 50)} if values else None
    for name, attr in CHECKS.items():
        values = [getattr(t, attr) for t in measured if getattr(t, attr) is not None]
        breakdown[name] = {"n": len(values), "mean_ms": sum(values) / len(values),
                           "p50_ms": percentile(values, 50)} if values else None
    out["breakdown"] = breakdown
    return out


# --- the population and its personas --------------------------------------------------------

def customers(n: int, script: str = "reminder-ko") -> list[camp.Customer]:
    """bench/campaign.py's customers (numbers, names, amounts), every one answering, with the
    replies ``script`` expects."""
    if script not in REPLIES:
        raise SystemExit(f"bench/latency.py: no customer replies known for script {script!r} "
                         f"(known: {', '.join(REPLIES)})")
    return [dataclasses.replace(c, kind="mixed" if i % MIXED_EVERY == MIXED_EVERY - 1 else "speech")
            for i, c in enumerate(camp.population(n))]


def replies_of(c: camp.Customer, script: str = "reminder-ko") -> list[object]:
    speech, mixed = REPLIES[script]
    return mixed if c.kind == "mixed" else speech


def write_personas(path: Path, people: list[camp.Customer], script: str = "reminder-ko") -> None:
    personas = [{"number": c.number, "answer_after_s": camp.ANSWER_AFTER_S, "language": "ko", "timed": True,
                 "replies": replies_of(c, script)} for c in people]
    path.write_text(yaml.safe_dump({"personas": personas}, allow_unicode=True))


def customer_turns(people: list[camp.Customer], times: dict[tuple[str, int], tuple[float, float | None]],
                   speech_end_ms: dict[str, tuple[int, int]], script: str = "reminder-ko",
                   ) -> dict[str, list[CustomerTurn]]:
    """Each customer's timed replies; a spoken one ends where its speech ends in its file."""
    out: dict[str, list[CustomerTurn]] = {}
    for c in people:
        for k, reply in enumerate(replies_of(c, script), 1):
            if (c.number, k) not in times:
                continue  # never reached: the call ended earlier (counted as lost by the caller)
            returned, answered = times[(c.number, k)]
            if isinstance(reply, dict):
                said, kind, ended = str(reply["dtmf"]), "dtmf", returned
            else:
                end_ms, file_ms = speech_end_ms[str(reply)]
                said, kind, ended = str(reply), "speech", returned - (file_ms - end_ms) / 1000
            out.setdefault(c.number, []).append(CustomerTurn(
                c.number, k, said, kind, ended, answered))
    return out


# --- one run at one concurrency -------------------------------------------------------------

def _epoch(at: dt.datetime) -> float:
    return (at if at.tzinfo else at.replace(tzinfo=dt.UTC)).timestamp()


async def run_level(settings: Settings, job: dict[str, object], people: list[camp.Customer]) -> dict[str, object]:
    from bot.campaign.commands import run_campaign
    from bot.commands import load_personas
    from bot.dialogue.checker import load_script
    from bot.domain import Debtor
    from bot.speech.tts import Synthesizer
    from bot.speech.wav import read_pcm
    from bot.store.repo import open_store
    from bot.telephony.sim import REPLY_SHAPE, SIM_SOUNDS, speech_only, turn_times

    sandbox = Sandbox(settings)
    await load_personas(settings, Path(str(job["personas"])))  # also forgets the last run's times
    with open_store(settings.database.url) as store:
        store.upsert_debtors([Debtor(c.debtor_id, c.name, c.number, Decimal(c.amount), timezone=str(job["zone"]))
                              for c in people])
    for folder in (settings.asterisk.sounds_dir, settings.asterisk.spool_dir):
        settings.host_path(folder).mkdir(parents=True, exist_ok=True)
    load0 = os.getloadavg()[0]
    wall0 = time.perf_counter()
    await run_campaign(settings, Path(str(job["campaign"])), handle_signals=False)
    wall = time.perf_counter() - wall0

    replies = Synthesizer(settings.host_path(SIM_SOUNDS), rate=settings.tts.rate, shape=REPLY_SHAPE)
    speech_end: dict[str, tuple[int, int]] = {}
    script_path = Path(str(job["script"]))
    for phrase in {r for c in people for r in replies_of(c, script_path.stem) if isinstance(r, str)}:
        pcm = read_pcm(speech_only(replies.path_for(phrase, "ko")))
        span = loud_span_ms(pcm)
        assert span is not None, f"reply {phrase!r} is silent"
        speech_end[phrase] = (span[1], len(pcm) // 16)
    said = customer_turns(people, turn_times(sandbox), speech_end, script_path.stem)

    script, _ = load_script(script_path)
    prompts = Synthesizer(settings.tts_cache_dir(), rate=script.rate or settings.tts.rate,
                          shape=settings.prompt_shape())
    onsets: dict[str, float | None] = {}

    def onset_ms(text: str) -> float | None:
        if text not in onsets:
            path = prompts.path_for(text, script.voice or script.language)
            span = loud_span_ms(read_pcm(path)) if text and path.is_file() else None
            onsets[text] = None if span is None else span[0]
        return onsets[text]

    figures = analyze(settings.database.url, str(job["name"]), people, said, script_path.stem, onset_ms)
    return {"wall_s": wall, "load_before": load0, "load_after": os.getloadavg()[0], **figures}


def analyze(db_url: str, campaign: str, people: list[camp.Customer], said: dict[str, list[CustomerTurn]],
            script: str, onset_ms: Callable[[str], float | None]) -> dict[str, object]:
    """Pair every customer's timed replies with the robot's events in the database; the figures."""
    from bot.store.repo import open_store

    turns: list[Turn] = []
    with open_store(db_url) as store:
        attempts = {a.phone: a for a in store.campaign_attempts(campaign)}
        for c in people:
            expected = [CustomerTurn(c.number, k, "", "", 0.0, None) for k in range(1, len(replies_of(c, script)) + 1)]
            timed = {t.turn: t for t in said.get(c.number, [])}
            attempt = attempts.get(c.number)
            events = [] if attempt is None else [RobotEvent(_epoch(e.at), e.kind.value, dict(e.data))
                                                 for e in store.events_for(attempt.id)]
            turns += [Turn(e, "lost") for e in expected if e.turn not in timed]
            for turn in pair_turns(timed.values(), events):
                turn.onset_ms = onset_ms(turn.prompt)
                turns.append(turn)
    return {"calls": len(attempts), "speech": summarize([t for t in turns if t.customer.kind != "dtmf"]),
            "dtmf": summarize([t for t in turns if t.customer.kind == "dtmf"]),
            "turns": [{**dataclasses.asdict(t.customer), **{k: v for k, v in dataclasses.asdict(t).items()
                                                          if k != "customer"}} for t in turns]}


def reanalyze(out: Path) -> list[tuple[int, int, dict[str, object]]]:
    """The figures of an earlier run (``latency-<stamp>/``) paired again from what it kept: each
    level's customer times (in its figures.json), database and campaign file."""
    levels = []
    for run_dir in sorted(out.glob("c*/"), key=lambda d: int(d.name[1:])):
        kept = json.loads((run_dir / "figures.json").read_text())
        campaign = yaml.safe_load((run_dir / "campaign.yaml").read_text())
        script = Path(campaign["script"]).stem
        said: dict[str, list[CustomerTurn]] = {}
        onsets: dict[str, float | None] = {}
        for t in kept["turns"]:
            onsets[t["prompt"]] = t["onset_ms"]
            if t["kind"]:  # a reply the customer never reached has no time
                said.setdefault(t["number"], []).append(CustomerTurn(
                    t["number"], t["turn"], t["said"], t["kind"], t["ended"], t["answered"]))
        people = customers(len(campaign["debtors"]["ids"]), script)
        figures = analyze(f"sqlite:///{run_dir}/bench.db", campaign["campaign"], people, said, script,
                          onsets.get)
        levels.append((int(run_dir.name[1:]), len(people),
                       {**{k: kept[k] for k in ("wall_s", "load_before", "load_after")}, **figures}))
    return levels


# --- printing -------------------------------------------------------------------------------

def _ms(value: object) -> str:
    return "n/a" if value is None else f"{value:.0f}"


def table(levels: list[tuple[int, int, dict[str, object]]]) -> list[str]:
    """One column per (concurrency, kind of reply)."""
    cols = [(f"C={c} {kind}", fig[kind]) for c, _, fig in levels for kind in ("speech", "dtmf")]
    lines = ["".ljust(42) + "".join(f"{name:>16}" for name, _ in cols)]

    def row(label: str, cell: object) -> None:
        lines.append(label.ljust(42) + "".join(f"{cell(s)!s:>16}" for _, s in cols))  # type: ignore[operator]

    row("turns measured / of", lambda s: f"{s['measured']}/{s['turns']}")
    row("misheard / lost", lambda s: f"{s['misheard']}/{s['lost']}")
    for key in ("p50_ms", "p95_ms", "max_ms"):
        row(f"latency {key[:-3]} ms", lambda s, key=key: _ms(s.get(key)))
    for name in [*COMPONENTS, *CHECKS]:
        row(f"  {name} mean/p50", lambda s, name=name: "n/a" if s["breakdown"][name] is None else
            f"{s['breakdown'][name]['mean_ms']:.0f}/{s['breakdown'][name]['p50_ms']:.0f}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 100], help="max calls in flight (C)")
    parser.add_argument("--customers", type=int, nargs="+", default=[112],
                        help="customers called at each C (one value, or one per C)")
    parser.add_argument("--script", type=Path, default=camp.SCRIPT,
                        help=f"the call script; customers' replies are known for: {', '.join(REPLIES)}")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 6 customers at C=1, 20 at C=20")
    parser.add_argument("--reanalyze", type=Path, metavar="RUN_DIR",
                        help="no calls: pair the turns of an earlier run (/tmp/collbot-bench/latency-<stamp>) again")
    # The same sandbox as bench/campaign.py (make bench runs them one after the other).
    parser.add_argument("--sandbox-dir", default=str(Path.home() / ".cache/collbot/bench-sandbox"))
    parser.add_argument("--ami-port", type=int, default=5039)
    parser.add_argument("--agi-port", type=int, default=4574)
    parser.add_argument("--keep-up", action="store_true", help="leave the bench sandbox running")
    parser.add_argument("--transport", choices=["agi", "audiosocket"], default=None,
                        help="the robot's call.transport (default: the settings')")
    parser.add_argument("--audiosocket-port", type=int, default=4576)
    args = parser.parse_args()
    if args.transport is not None:  # bench_settings reads the environment like the CLI does
        os.environ["COLLBOT__CALL__TRANSPORT"] = args.transport
        os.environ["COLLBOT__AUDIOSOCKET__PORT"] = str(args.audiosocket_port)
    if args.quick:
        args.concurrency, args.customers = [1, 20], [6, 20]
    if len(args.customers) not in (1, len(args.concurrency)):
        parser.error("give one --customers value, or one per --concurrency value")
    sizes = args.customers * len(args.concurrency) if len(args.customers) == 1 else args.customers
    if args.reanalyze:
        if not any(args.reanalyze.glob("c*/figures.json")):
            parser.error(f"--reanalyze {args.reanalyze}: no c<C>/figures.json there (not a latency run's folder)")
        levels = reanalyze(args.reanalyze)
        (args.reanalyze / "figures-reanalyzed.json").write_text(json.dumps(
            {f"C={c}": {k: v for k, v in fig.items() if k != "turns"} for c, _, fig in levels}, indent=1))
        print("\n".join(table(levels)))
        return
    if not args.script.is_file():
        parser.error(f"--script {args.script}: no such file")
    # Every level's customers before the sandbox starts: a script whose replies are unknown stops here.
    populations = [customers(n, args.script.stem) for n in sizes]
    logging.basicConfig(level=logging.WARNING)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    common = {"sandbox_dir": args.sandbox_dir, "ami_port": args.ami_port, "agi_port": args.agi_port,
              "zone": camp.mid_morning_zone()}
    box = Sandbox(camp.bench_settings(common), progress=lambda msg: print(f"sandbox: {msg}", flush=True))
    box.up()
    print(f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; script {args.script.name}; "
          f"logs under {camp.WORK}", flush=True)
    levels: list[tuple[int, int, dict[str, object]]] = []
    out = camp.WORK / f"latency-{stamp}"
    try:
        for c, n, people in zip(args.concurrency, sizes, populations, strict=True):
            name = f"latency-{stamp}-n{n}-c{c}"
            run_dir = out / f"c{c}"
            run_dir.mkdir(parents=True)
            write_personas(run_dir / "personas.yaml", people, args.script.stem)
            camp.write_campaign(run_dir / "campaign.yaml", name, people, str(common["zone"]), c,
                                script=args.script.resolve())
            job = {**common, "name": name, "script": str(args.script.resolve()),
                   "personas": str(run_dir / "personas.yaml"),
                   "campaign": str(run_dir / "campaign.yaml"), "db": f"sqlite:///{run_dir}/bench.db",
                   "log": str(run_dir / "collbot.log"),
                   "sounds_dir": f"/var/lib/asterisk/sounds/collbot-bench/{name}",
                   "spool_dir": f"/var/spool/asterisk/collbot-bench/{name}"}
            settings = camp.bench_settings(job)
            setup_logging(settings)
            print(f"C={c}: {n} customers ...", flush=True)
            figures = asyncio.run(run_level(settings, job, people))
            (run_dir / "figures.json").write_text(json.dumps(figures, indent=1))
            levels.append((c, n, figures))
            for path in (job["sounds_dir"], job["spool_dir"]):
                shutil.rmtree(settings.host_path(str(path)), ignore_errors=True)
    finally:
        if not args.keep_up:
            box.down()
    summary = {f"C={c}": {k: v for k, v in fig.items() if k != "turns"} for c, _, fig in levels}
    out.mkdir(parents=True, exist_ok=True)
    (out / "figures.json").write_text(json.dumps(summary, indent=1))
    print()
    for c, n, fig in levels:
        print(f"C={c}: {n} customers, {fig['calls']} calls in {fig['wall_s']:.0f} s, load "
              f"{fig['load_before']:.1f} -> {fig['load_after']:.1f}")
    print("\n".join(table(levels)))
    print(f"\nfigures: {out}/figures.json (every turn in c*/figures.json). latency: the customer's end of"
          "\nspeech to the robot's first audio, in the customer's dialplan. breakdown (mean/p50 ms, measured"
          "\nturns): from the robot's event timing; playback start = latency less the robot's parts.")


if __name__ == "__main__":
    main()
