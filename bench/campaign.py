"""Campaign throughput on the real sandboxed Asterisk, side by side with the floor.

    .venv/bin/python bench/campaign.py [--debtors 2000] [--concurrency 100 [200 ...]] [--quick]

For each concurrency C the same N simulated customers are called twice, in a fresh database
and a cold prompt cache:

* the campaign: ``run_campaign`` (the real controller, Vosk, espeak-ng prompts, SQLite), one
  round, no retries, ``limits.max_concurrent = C``;
* the floor: Asterisk alone placing the same calls, paced the same, at most C in flight, each
  answered call replaying the campaign's turns for that number in the dialplan (bench/floor.conf):
  the same prompt files (cut where the robot's recording cuts them: listen.early_start_ms before
  their end), then a Record() where the robot listened. No controller, no ASR, no database: what
  these calls cost Asterisk itself.

Each run is a child process, so CPU and peak memory are its own. The bench uses its own sandbox
(``--sandbox-dir``, AMI and FastAGI ports apart from the development sandbox's) and stops it at
the end unless ``--keep-up``. Prints figures, asserts nothing; compare ratios from one run, the
machine may be shared.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import logging
import os
import resource
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.config import Settings, load_settings  # noqa: E402
from bot.telephony.sandbox import Sandbox  # noqa: E402

SCRIPT = ROOT / "scripts" / "reminder-ko.yaml"
FLOOR_CONF = Path(__file__).with_name("floor.conf")
FLOOR_CONTEXT = "collbot-floor-calls"
WORK = Path("/tmp/collbot-bench")
RING_TIMEOUT_S = 5.0
ANSWER_AFTER_S = 1.0
PREFIX = "+8210557"  # 8210557xxxxx: apart from the numbers of the tests and the demo
# Of every 20 customers: 12 answer (6 reply with keys, 6 speak), 5 never answer, 2 are busy, 1 congested.
MIX = ["dtmf", "speech"] * 6 + ["no_answer"] * 5 + ["busy"] * 2 + ["congestion"]
# the promise is confirmed ("…맞으세요?") before it is stored: the speaking customer says 네 to it. "모레"
# rather than "내일": the small Korean model mishears espeak's 내일 (docs/understanding.md)
REPLIES = {"dtmf": [{"dtmf": "1"}, {"dtmf": "1"}], "speech": ["네", "모레 낼게요", "네"]}
EXPECTED_RESULT = {"dtmf": "answered", "speech": "answered", "no_answer": "no_answer", "busy": "busy",
                   "congestion": "congestion"}
SURNAMES = "김이박최정강조윤장임"
GIVEN = "민서지현준우하은도윤예성수아진호연유시영"


@dataclass(frozen=True)
class Customer:
    debtor_id: str
    number: str
    kind: str
    name: str
    amount: int


def population(n: int) -> list[Customer]:
    """n customers with distinct numbers and names (so every greeting is its own prompt)."""
    people = []
    for i in range(n):
        name = SURNAMES[i % 10] + GIVEN[(i // 10) % 20] + GIVEN[(i // 200) % 20]
        people.append(Customer(f"B-{i:05d}", f"{PREFIX}{i:05d}", MIX[i % len(MIX)], name,
                               (i % 40 + 1) * 10_000))
    return people


def mid_morning_zone() -> str:
    """An Etc/GMT zone where it is now between 10:00 and 11:00, inside any calling window."""
    hour = dt.datetime.now(dt.UTC).hour
    offset = (10 - hour + 12) % 24 - 12
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"


def bench_settings(job: dict[str, object]) -> Settings:
    """The machine's settings, pointed at the bench's own sandbox, ports, database and folders."""
    base = load_settings(None)
    return base.model_copy(update={
        "sandbox": base.sandbox.model_copy(update={"cache_dir": Path(str(job["sandbox_dir"]))}),
        "ami": base.ami.model_copy(update={"port": int(job["ami_port"])}),  # type: ignore[call-overload]
        "agi": base.agi.model_copy(update={"port": int(job["agi_port"])}),  # type: ignore[call-overload]
        "database": base.database.model_copy(update={"url": str(job.get("db", "sqlite:///:memory:"))}),
        "asterisk": base.asterisk.model_copy(update={
            "sounds_dir": str(job.get("sounds_dir", base.asterisk.sounds_dir)),
            "spool_dir": str(job.get("spool_dir", base.asterisk.spool_dir))}),
        "log": base.log.model_copy(update={"level": "WARNING",
                                           "file": Path(str(job.get("log", WORK / "bench.log")))}),
        "governor": base.governor.model_copy(update={"enabled": bool(job.get("governor", True))}),
    })


def write_personas(path: Path, people: list[Customer]) -> None:
    personas = []
    for c in people:
        p: dict[str, object] = {"number": c.number, "answer_after_s": ANSWER_AFTER_S, "language": "ko"}
        if c.kind in REPLIES:
            p["replies"] = REPLIES[c.kind]
        else:
            p["behavior"] = c.kind
        personas.append(p)
    path.write_text(yaml.safe_dump({"personas": personas}, allow_unicode=True))


def write_campaign(path: Path, name: str, people: list[Customer], zone: str, concurrency: int,
                   script: Path = SCRIPT) -> None:
    once = {"delay": "1m", "max_attempts": 1}
    campaign = {
        "campaign": name, "script": str(script),
        "debtors": {"ids": [c.debtor_id for c in people]},
        "schedule": {"timezone": zone, "start": "00:00", "end": "23:59:59"},
        "rounds": [{"name": "only", "retries": ["new"], "ring_timeout_s": RING_TIMEOUT_S}],
        "retry": {k: once for k in ("no_answer", "busy", "congestion", "failed")},
        "limits": {"max_concurrent": concurrency, "originates_per_second": originate_rate(concurrency)},
        "compliance": {"pack": "default"},
    }
    path.write_text(yaml.safe_dump(campaign, allow_unicode=True))


def originate_rate(concurrency: int) -> float:
    """High enough that pacing is not the limit: a full set of lines is dialled in 2 s."""
    return float(min(200, max(5, concurrency / 2)))


# --- measuring -------------------------------------------------------------------------------

def asterisk_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


class Meter:
    """CPU of this process, of its reaped children and of Asterisk over one measured stretch."""

    def __init__(self, asterisk_pid: int):
        self.pid = asterisk_pid

    def __enter__(self) -> Meter:
        self.wall0 = time.perf_counter()
        self.self0 = resource.getrusage(resource.RUSAGE_SELF)
        self.kids0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.ast0 = asterisk_cpu_s(self.pid)
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.wall0
        me = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.cpu_self = me.ru_utime + me.ru_stime - self.self0.ru_utime - self.self0.ru_stime
        self.cpu_children = kids.ru_utime + kids.ru_stime - self.kids0.ru_utime - self.kids0.ru_stime
        self.cpu_asterisk = asterisk_cpu_s(self.pid) - self.ast0
        self.peak_mb = me.ru_maxrss / 1024  # children's maxrss is not theirs: they fork from this process

    def figures(self) -> dict[str, float]:
        return {"wall_s": self.wall, "cpu_self_s": self.cpu_self, "cpu_children_s": self.cpu_children,
                "cpu_asterisk_s": self.cpu_asterisk, "peak_mb": self.peak_mb}


def ramp_rate(dial_times: list[float], concurrency: int) -> float:
    """Originates per second while the first set of lines is being filled."""
    first = sorted(dial_times)[:concurrency]
    return (len(first) - 1) / (first[-1] - first[0]) if len(first) > 1 and first[-1] > first[0] else 0.0


# --- the campaign run (a child process) ------------------------------------------------------

def floor_turns(events: list[object], prompt_path: object) -> list[list[str]]:
    """The campaign call's turns: ["play", file] for each prompt, ["listen"] where it listened."""
    from bot.domain import EventKind

    turns: list[list[str]] = []
    for e in events:
        kind, data = e.kind, e.data  # type: ignore[attr-defined]
        if kind is EventKind.PROMPT and "text" in data:
            turns.append(["play", str(prompt_path(str(data["text"])))])  # type: ignore[operator]
        elif kind in (EventKind.RECOGNITION, EventKind.NO_INPUT) or (
                kind is EventKind.DTMF and "during" not in data):
            turns.append(["listen"])
    return turns


class TurnFigures:
    """Where the campaign's turns spent their time (the robot's own timings in the call events),
    and how often a prompt came from the cache."""

    def __init__(self) -> None:
        self.ms: dict[str, list[int]] = {k: [] for k in ("eos_ms", "asr_ms", "decide_ms", "tts_ms")}
        self.prompts = self.turns = self.early = self.lost_keys = 0

    def add(self, events: list[object]) -> None:
        from bot.domain import EventKind

        for e in events:
            kind, data = e.kind, e.data  # type: ignore[attr-defined]
            timing = data.get("timing") or {}
            if kind is EventKind.PROMPT and "text" in data:
                self.prompts += 1
            if kind in (EventKind.RECOGNITION, EventKind.NO_INPUT, EventKind.DTMF) and "during" not in data:
                self.turns += 1
                self.early += int(timing.get("early", 0))
                self.lost_keys += int(timing.get("lost_key", 0))
            for key, values in self.ms.items():
                if key in timing:
                    values.append(int(timing[key]))

    def figures(self, *, synthesized: int) -> dict[str, object]:
        def pct(values: list[int], q: float) -> int:
            return sorted(values)[min(len(values) - 1, int(q * len(values)))] if values else 0

        return {"prompts_played": self.prompts, "prompts_synthesized": synthesized,
                "turns": self.turns, "turns_early": self.early, "lost_keys": self.lost_keys,
                "turn_ms": {k: [pct(v, 0.5), pct(v, 0.95)] for k, v in self.ms.items()}}


async def campaign_child(job: dict[str, object]) -> dict[str, object]:
    from bot.campaign.commands import run_campaign
    from bot.dialogue.checker import load_script
    from bot.domain import Debtor
    from bot.logutil import setup_logging
    from bot.speech.tts import Synthesizer
    from bot.speech.wav import read_pcm, write_pcm
    from bot.store.repo import open_store
    from bot.telephony.sim import call_counts

    settings = bench_settings(job)
    setup_logging(settings)
    people = population(int(job["debtors"]))  # type: ignore[call-overload]
    zone, concurrency = str(job["zone"]), int(job["concurrency"])  # type: ignore[call-overload]
    with open_store(settings.database.url) as store:
        store.upsert_debtors([Debtor(c.debtor_id, c.name, c.number, Decimal(c.amount), timezone=zone)
                              for c in people])
    for folder in (settings.asterisk.sounds_dir, settings.asterisk.spool_dir):
        settings.host_path(folder).mkdir(parents=True, exist_ok=True)
    sandbox = Sandbox(settings)
    pid = sandbox.pid()
    assert pid is not None, "the bench sandbox is not running"
    peak_in_flight = 0

    def progress(p: object) -> None:
        nonlocal peak_in_flight
        peak_in_flight = max(peak_in_flight, p.in_flight)  # type: ignore[attr-defined]

    with Meter(pid) as meter:
        started = dt.datetime.now(dt.UTC)
        await run_campaign(settings, Path(str(job["campaign"])), on_progress=progress, handle_signals=False)
    figures = meter.figures()

    counts = call_counts(sandbox)
    by_number = {c.number: c for c in people}
    script, _ = load_script(SCRIPT)
    shape = settings.prompt_shape()
    synth = Synthesizer(settings.tts_cache_dir(), rate=script.rate or settings.tts.rate, shape=shape)
    voice = script.voice or script.language
    sounds = settings.asterisk.sounds_dir.rstrip("/")

    def prompt_path(text: str) -> str:
        cached = synth.path_for(text, voice)
        if not cached.is_file():
            raise SystemExit(f"prompt not in the cache: {cached}")
        return f"{sounds}/{cached.stem}"

    def as_heard(path: str) -> str:
        """The prompt as the customer hears it when the robot listens next: the robot starts
        recording listen.early_start_ms before the prompt's end, which stops the prompt there.
        The floor plays that much of the file, then records, as the robot does."""
        early_ms = settings.listen.early_start_ms
        if not early_ms:
            return path
        stem = path.rsplit("/", 1)[1]
        cut = settings.tts_cache_dir() / "floor" / f"{stem}.wav"
        if not cut.is_file():
            cut.parent.mkdir(exist_ok=True)
            pcm = read_pcm(settings.tts_cache_dir() / f"{stem}.wav")
            write_pcm(cut, pcm[: max(0, len(pcm) - early_ms * 16)])
        return f"{sounds}/floor/{stem}"

    with open_store(settings.database.url) as store:
        attempts = store.campaign_attempts(str(job["name"]))
        plan, failed, results, seconds, dials, talk = [], [], Counter[str](), 0.0, [], []
        wrong = Counter({"dtmf": 0, "speech": 0})  # answered, but not the promise the customer made
        speech_path = TurnFigures()
        for a in sorted(attempts, key=lambda a: a.dialed_at or a.created_at):  # type: ignore[arg-type, return-value]
            c = by_number[a.phone]
            result = a.result.value if a.result else a.state.value
            results[a.outcome.value if a.outcome else result] += 1
            if result != EXPECTED_RESULT[c.kind] or (a.outcome is not None and a.outcome.value == "error"):
                failed.append(f"{c.debtor_id} {c.kind}: {result} {a.outcome.value if a.outcome else ''}")
            elif c.kind in wrong and (a.outcome is None or a.outcome.value != "promise_to_pay"):
                wrong[c.kind] += 1
            if a.dialed_at and a.ended_at:
                seconds += (a.ended_at - a.dialed_at).total_seconds()
                dials.append((a.dialed_at - started).total_seconds())
                if result == "answered":
                    talk.append((a.ended_at - a.dialed_at).total_seconds())
            events = store.events_for(a.id) if result == "answered" else []
            speech_path.add(events)
            turns = floor_turns(events, prompt_path) if result == "answered" else []
            for i in range(len(turns) - 1):
                if turns[i][0] == "play" and turns[i + 1] == ["listen"]:
                    turns[i] = ["play", as_heard(turns[i][1])]
            plan.append({"number": a.phone, "kind": c.kind, "turns": turns})
    called = {c.number for c in people}
    missing = [n for n in called if counts.get(n, 0) == 0]
    from bot.metrics import REGISTRY

    held = [m for m in REGISTRY.collect() if m.name == "collbot_governor_holds"]
    figures["governor_holds"] = sum(x.value for m in held for x in m.samples if x.name.endswith("_total"))
    figures["governor_held_s"] = REGISTRY.get_sample_value("collbot_governor_held_seconds_total") or 0.0
    return {**figures, "plan": plan, "calls": len(attempts), "results": dict(results), "wrong_outcomes": wrong,
            "failed": failed + [
        f"{n}: never called" for n in missing], "duplicates": sum(v > 1 for v in counts.values()),
        "stray_calls": sum(v for n, v in counts.items() if n not in called),
        "call_seconds": seconds, "mean_answered_s": sum(talk) / len(talk) if talk else 0.0,
        "first_dial_s": min(dials) if dials else 0.0, "ramp_orig_per_s": ramp_rate(dials, concurrency),
        "peak_in_flight": peak_in_flight,
        **speech_path.figures(synthesized=len(list(settings.tts_cache_dir().glob("*.wav"))))}


# --- the floor run (a child process) ---------------------------------------------------------

def floor_dialplan(plan: list[dict[str, object]], spool: str) -> str:
    """One extension per number replaying its turns; only digits and cache file names reach it."""
    out = ["; generated by bench/campaign.py for one floor run", f"[{FLOOR_CONTEXT}]"]
    for call in plan:
        digits = str(call["number"]).lstrip("+")
        out.append(f"exten => {digits},1,NoOp(floor)")
        listened = 0
        for turn in call["turns"]:  # type: ignore[attr-defined]
            if turn[0] == "play":
                out.append(f" same => n,Gosub(collbot-floor-play,s,1({turn[1]}))")
            else:
                listened += 1
                out.append(f" same => n,Gosub(collbot-floor-listen,s,1({spool}/${{UNIQUEID}}-{listened}))")
        out.append(" same => n,Hangup(16)")
    out.append("exten => _X.,1,Hangup(16)")
    return "\n".join(out) + "\n"


async def floor_child(job: dict[str, object]) -> dict[str, object]:
    from bot.commands import load_personas
    from bot.logutil import setup_logging
    from bot.phone import dial_string
    from bot.telephony.ami import Ami, OriginateRequest
    from bot.telephony.sim import call_counts

    settings = bench_settings(job)
    setup_logging(settings)
    sandbox = Sandbox(settings)
    pid = sandbox.pid()
    assert pid is not None, "the bench sandbox is not running"
    plan: list[dict[str, object]] = job["plan"]  # type: ignore[assignment]
    concurrency = int(job["concurrency"])  # type: ignore[call-overload]
    await load_personas(settings, Path(str(job["personas"])))  # resets the call counters
    spool = settings.asterisk.spool_dir.rstrip("/") + "/floor"
    settings.host_path(spool).mkdir(parents=True, exist_ok=True)
    conf = sandbox.root / "etc/asterisk/collbot"
    shutil.copyfile(FLOOR_CONF, conf / "collbot-bench-floor.conf")
    (conf / "collbot-bench-floor-calls.conf").write_text(floor_dialplan(plan, spool))
    sandbox.cli("dialplan reload")

    gate = asyncio.Semaphore(concurrency)
    interval = 1.0 / originate_rate(concurrency)
    token = str(job["name"]).replace("_", "-")[-24:]
    loop = asyncio.get_running_loop()
    last = [0.0]
    calls: list[tuple[str, str, float, float]] = []  # kind, result, dialled, ended (loop time)

    async def one(ami: Ami, i: int, call: dict[str, object]) -> None:
        try:
            wait = last[0] + interval - loop.time()
            last[0] = max(loop.time(), last[0] + interval)
            if wait > 0:
                await asyncio.sleep(wait)
            number = str(call["number"])
            attempt = f"{token}-{i:05d}"
            dialled = loop.time()
            res = await ami.originate(OriginateRequest(
                attempt_id=attempt, channel=dial_string(settings.dial.template, number),
                context=FLOOR_CONTEXT, exten=number.lstrip("+"), ring_timeout_s=RING_TIMEOUT_S))
            if res.result.value == "answered":
                await ami.wait_hangup(attempt, 300.0)
            calls.append((str(call["kind"]), res.result.value, dialled, loop.time()))
        finally:
            gate.release()

    async with Ami(settings.ami) as ami:
        with Meter(pid) as meter:
            t0 = loop.time()
            tasks = []
            for i, call in enumerate(plan):
                await gate.acquire()
                tasks.append(asyncio.create_task(one(ami, i, call)))
            await asyncio.gather(*tasks)
    counts = call_counts(sandbox)
    shutil.rmtree(settings.host_path(spool), ignore_errors=True)
    failed = [f"{kind}: {result}" for kind, result, _, _ in calls if result != EXPECTED_RESULT[kind]]
    numbers = {str(c["number"]) for c in plan}
    talk = [end - start for kind, result, start, end in calls if result == "answered"]
    return {**meter.figures(), "calls": len(calls), "results": dict(Counter(r for _, r, _, _ in calls)),
            "failed": failed + [f"{n}: never called" for n in numbers if counts.get(n, 0) == 0],
            "duplicates": sum(v > 1 for v in counts.values()),
            "stray_calls": sum(v for n, v in counts.items() if n not in numbers),
            "call_seconds": sum(end - start for _, _, start, end in calls),
            "mean_answered_s": sum(talk) / len(talk) if talk else 0.0,
            "first_dial_s": min((s - t0 for _, _, s, _ in calls), default=0.0),
            "ramp_orig_per_s": ramp_rate([s for _, _, s, _ in calls], concurrency),
            "peak_in_flight": concurrency}


# --- the parent: set up, run each child, print ----------------------------------------------

def run_child(job: dict[str, object], run_dir: Path, profile: bool) -> dict[str, object]:
    path = run_dir / f"{job['kind']}.job.json"
    path.write_text(json.dumps(job))
    command = [sys.executable, __file__, "--child", str(path)]
    if profile and shutil.which("py-spy", path=str(Path(sys.executable).parent)):
        spy = str(Path(sys.executable).parent / "py-spy")
        command = [spy, "record", "--subprocesses", "--nonblocking", "--rate", "50", "--format", "raw",
                   "--output", str(run_dir / f"{job['kind']}.py-spy.txt"), "--", *command]
    with (run_dir / f"{job['kind']}.stderr").open("w") as err:
        done = subprocess.run(command, stdout=subprocess.PIPE, stderr=err, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the {job['kind']} run failed; see {run_dir}/{job['kind']}.stderr")
    return json.loads([line for line in done.stdout.splitlines() if line.startswith("{")][-1])


def row(n: int, c: int, camp: dict[str, float], floor: dict[str, float]) -> dict[str, object]:
    ideal = camp["call_seconds"] / c
    return {
        "N": n, "C": c,
        "campaign wall s": f"{camp['wall_s']:.0f}", "floor wall s": f"{floor['wall_s']:.0f}",
        "wall ratio": f"{camp['wall_s'] / floor['wall_s']:.2f}",
        "ideal s": f"{ideal:.0f}", "efficiency": f"{ideal / camp['wall_s']:.2f}",
        "floor efficiency": f"{floor['call_seconds'] / c / floor['wall_s']:.2f}",
        "answered call s (camp/floor)": f"{camp['mean_answered_s']:.1f}/{floor['mean_answered_s']:.1f}",
        "ctl CPU ms/call": f"{1000 * (camp['cpu_self_s'] + camp['cpu_children_s']) / n:.0f}",
        "  of which TTS": f"{1000 * camp['cpu_children_s'] / n:.0f}",
        "floor driver ms/call": f"{1000 * floor['cpu_self_s'] / n:.0f}",
        "Asterisk CPU ms/call (camp/floor)":
            f"{1000 * camp['cpu_asterisk_s'] / n:.0f}/{1000 * floor['cpu_asterisk_s'] / n:.0f}",
        "ctl peak MB": f"{camp['peak_mb']:.0f}",
        "orig/s overall (camp/floor)": f"{n / camp['wall_s']:.1f}/{n / floor['wall_s']:.1f}",
        "orig/s ramp (camp/floor)": f"{camp['ramp_orig_per_s']:.0f}/{floor['ramp_orig_per_s']:.0f}",
        "first dial s": f"{camp['first_dial_s']:.1f}", "peak in flight": camp["peak_in_flight"],
        "failed (camp/floor)": f"{len(camp['failed'])}/{len(floor['failed'])}",  # type: ignore[arg-type]
        "wrong outcome (keys/speech)": "{dtmf}/{speech}".format(**camp["wrong_outcomes"]),  # type: ignore[arg-type]
        "governor holds / held s": f"{camp.get('governor_holds', 0):.0f} / {camp.get('governor_held_s', 0):.0f}",
        "duplicates (camp/floor)": f"{camp['duplicates']}/{floor['duplicates']}",
        "stray (camp/floor)": f"{camp['stray_calls']}/{floor['stray_calls']}",
        "results": " ".join(f"{k}={v}" for k, v in sorted(camp["results"].items())),  # type: ignore[attr-defined]
        "prompt cache hit ratio": _hit_ratio(camp),
        "turns recorded from the prompt's tail": f"{camp.get('turns_early', 0)}/{camp.get('turns', 0)}",
        "keys recovered from AMI": camp.get("lost_keys", 0),
        **{f"turn {k} p50/p95": "{}/{}".format(*v)
           for k, v in camp.get("turn_ms", {}).items()},  # type: ignore[attr-defined]
    }


def _hit_ratio(camp: dict[str, object]) -> str:
    played = int(camp.get("prompts_played", 0))  # type: ignore[call-overload]
    synthesized = int(camp.get("prompts_synthesized", 0))  # type: ignore[call-overload]
    return f"{1 - synthesized / played:.2f} ({synthesized} synthesized, {played} played)" if played else "n/a"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--debtors", type=int, default=2000, help="customers called (N)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[100], help="max calls in flight (C)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: N=200, C=50")
    parser.add_argument("--sandbox-dir", default=str(Path.home() / ".cache/collbot/bench-sandbox"))
    parser.add_argument("--ami-port", type=int, default=5039)
    parser.add_argument("--agi-port", type=int, default=4574)
    parser.add_argument("--keep-up", action="store_true", help="leave the bench sandbox running")
    parser.add_argument("--profile", action="store_true", help="record the campaign under py-spy (raw stacks)")
    parser.add_argument("--no-governor", action="store_true", help="run the campaign with governor.enabled false")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        job = json.loads(Path(args.child).read_text())
        if job["kind"] == "campaign":
            figures = asyncio.run(campaign_child(job))
            Path(job["plan"]).write_text(json.dumps(figures.pop("plan")))
        else:
            job["plan"] = json.loads(Path(job["plan"]).read_text())
            figures = asyncio.run(floor_child(job))
        print(json.dumps(figures))
        return
    if args.quick:
        args.debtors, args.concurrency = 200, [50]
    logging.basicConfig(level=logging.WARNING)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    common = {"sandbox_dir": args.sandbox_dir, "ami_port": args.ami_port, "agi_port": args.agi_port,
              "debtors": args.debtors, "zone": mid_morning_zone(), "governor": not args.no_governor}
    settings = bench_settings(common)
    box = Sandbox(settings, progress=lambda msg: print(f"sandbox: {msg}", flush=True))
    box.up()
    people = population(args.debtors)
    WORK.mkdir(parents=True, exist_ok=True)
    personas = WORK / f"personas-{args.debtors}.yaml"
    write_personas(personas, people)
    print(f"machine: {os.cpu_count()} cores; {args.debtors} customers; script {SCRIPT.name}; "
          f"governor {'off' if args.no_governor else 'on'}; "
          f"ring timeout {RING_TIMEOUT_S:g} s; logs under {WORK}", flush=True)
    rows = []
    try:
        for c in args.concurrency:
            name = f"bench-{stamp}-n{args.debtors}-c{c}"
            run_dir = WORK / name
            run_dir.mkdir(parents=True)
            write_campaign(run_dir / "campaign.yaml", name, people, str(common["zone"]), c)
            job = {**common, "name": name, "concurrency": c, "personas": str(personas),
                   "campaign": str(run_dir / "campaign.yaml"), "plan": str(run_dir / "floor-plan.json"),
                   "db": f"sqlite:///{run_dir}/bench.db", "log": str(run_dir / "collbot.log"),
                   "sounds_dir": f"/var/lib/asterisk/sounds/collbot-bench/{name}",
                   "spool_dir": f"/var/spool/asterisk/collbot-bench/{name}"}
            from bot.commands import load_personas

            asyncio.run(load_personas(settings, personas))  # fresh call counters
            print(f"C={c}: campaign ...", flush=True)
            camp = run_child({**job, "kind": "campaign"}, run_dir, args.profile)
            print(f"C={c}: floor ...", flush=True)
            floor = run_child({**job, "kind": "floor"}, run_dir, False)
            (run_dir / "figures.json").write_text(json.dumps({"campaign": camp, "floor": floor}, indent=1))
            for what, figures in (("campaign", camp), ("floor", floor)):
                for line in figures["failed"][:10]:  # type: ignore[index]
                    print(f"  {what} failed: {line}")
            rows.append(row(args.debtors, c, camp, floor))  # type: ignore[arg-type]
            for path in (job["sounds_dir"], job["spool_dir"]):
                shutil.rmtree(settings.host_path(str(path)), ignore_errors=True)
    finally:
        if not args.keep_up:
            box.down()
    print()
    for key in rows[0] if rows else []:
        print(f"{key:<36}" + "".join(f"{r[key]!s:>24}" for r in rows))
    print("\nefficiency: (sum of dialed..ended over all attempts) / C / wall time. ctl CPU: the campaign"
          "\nprocess (controller, Vosk threads) plus its TTS workers. wrong outcome: answered calls whose"
          "\ncustomer promised to pay (keys or speech) but that ended otherwise (a reply missed or misheard).")


if __name__ == "__main__":
    main()
