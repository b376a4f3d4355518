"""The pure parts of bench/latency.py: percentiles, loud spans, pairing replies with robot turns."""

from __future__ import annotations

import importlib.util
import struct
import sys
from pathlib import Path

import pytest

from bot.telephony.sim import Persona, PersonasFile, render_dialplan

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _load_latency():  # type: ignore[no-untyped-def]
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location("bench_latency", BENCH / "latency.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCH))


lat = _load_latency()


def test_percentile_interpolates_between_ranks() -> None:
    assert lat.percentile([5.0], 95) == 5.0
    assert lat.percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert lat.percentile(list(map(float, range(101))), 95) == 95.0
    assert lat.percentile([3.0, 1.0, 2.0], 100) == 3.0
    with pytest.raises(ValueError):
        lat.percentile([], 50)


def test_loud_span_counts_whole_20ms_frames_above_the_threshold() -> None:
    silence, loud = [0] * 160, [1000, -1000] * 80
    pcm = struct.pack("<" + "h" * 800, *(silence * 2 + loud * 2 + silence))
    assert lat.loud_span_ms(pcm) == (40, 80)
    assert lat.loud_span_ms(bytes(1600)) is None
    assert lat.loud_span_ms(struct.pack("<160h", *([200] * 160))) is None  # quieter than the DSP's 256


def _reply(turn: int, ended: float, answered: float | None = None, said: str = "네") -> object:
    return lat.CustomerTurn("+8210557", turn, said, "speech", ended, answered if answered else ended + 1.2)


def _event(at: float, kind: str, **data: object) -> object:
    return lat.RobotEvent(at, kind, data)


def test_pairing_takes_the_first_result_after_each_reply_and_the_prompt_after_it() -> None:
    timing = {"eos_ms": 1000, "asr_ms": 40}
    events = [
        _event(99.0, "prompt", text="greeting"),
        _event(100.0, "dtmf", digit="1", during="prompt"),  # a key during the prompt is no turn
        _event(101.1, "recognition", text="네", timing=timing),
        _event(101.15, "prompt", text="amount", timing={"decide_ms": 50, "tts_ms": 30}),
        _event(120.0, "no_input", audio_ms=0),
        _event(125.0, "prompt", text="again"),
        _event(131.0, "recognition", text="오늘"),
        _event(131.1, "prompt", text="bye"),
    ]
    turns = lat.pair_turns([_reply(2, 119.5, said="내일 낼게요"), _reply(1, 100.0)], events)
    first, second = turns
    assert (first.customer.turn, first.status, first.heard) == (1, "measured", "네")
    assert first.latency_ms == pytest.approx(1200)
    assert first.heard_after_ms == pytest.approx(1100)
    assert first.timing == {"eos_ms": 1000, "asr_ms": 40, "decide_ms": 50, "tts_ms": 30}
    assert lat.components(first) == pytest.approx({
        "end-of-speech detection": 1000, "recognition": 40, "decision": 20, "prompt ready": 30,
        "playback start": 1200 - 1000 - 40 - 50})
    assert (second.status, second.heard) == ("misheard", "")  # the robot heard nothing
    assert lat.components(second) == {}


def test_a_key_taken_by_the_end_of_the_prompt_answers_its_turn() -> None:
    # The customer's key ended as the prompt's tail played: STREAM FILE took it ("during"),
    # and it is that turn's answer; the next reply pairs with the next result, not this one.
    key = lat.CustomerTurn("+8210557", 1, "1", "dtmf", 100.0, 100.1)
    events = [_event(100.0, "dtmf", digit="1", during="prompt"), _event(100.0, "prompt", text="next"),
              _event(103.0, "recognition", text="네"), _event(103.1, "prompt", text="bye")]
    turns = lat.pair_turns([key, _reply(2, 102.0)], events)
    assert [(t.status, t.heard) for t in turns] == [("measured", "1"), ("measured", "네")]


def test_a_reply_the_robot_never_answered_is_lost() -> None:
    events = [_event(101.0, "recognition", text="네")]  # heard, but no prompt followed
    assert [t.status for t in lat.pair_turns([_reply(1, 100.0)], events)] == ["lost"]
    no_audio = lat.CustomerTurn("+8210557", 1, "1", "dtmf", 100.0, None)
    events = [_event(100.1, "dtmf", digit="1"), _event(100.2, "prompt", text="bye")]
    assert [t.status for t in lat.pair_turns([no_audio], events)] == ["lost"]


def test_summary_reports_percentiles_over_measured_turns_and_na_without_timing() -> None:
    turns = [lat.Turn(_reply(1, 0.0, 1.0 + i / 100), "measured", latency_ms=1000.0 + 10 * i) for i in range(21)]
    turns.append(lat.Turn(_reply(2, 0.0), "lost"))
    summary = lat.summarize(turns)
    assert (summary["measured"], summary["lost"], summary["misheard"]) == (21, 1, 0)
    assert summary["p50_ms"] == 1100.0
    assert summary["max_ms"] == 1200.0
    assert summary["breakdown"]["recognition"] is None
    assert "n/a" in "\n".join(lat.table([(1, 1, {"speech": summary, "dtmf": lat.summarize([])})]))


def test_timed_persona_times_each_reply_in_asterisk() -> None:
    persona = Persona(number="+821055700001", timed=True, replies=["네", {"dtmf": "1"}])
    plan = render_dialplan(PersonasFile(personas=[persona]), {"ko\x00네\x00timed": "abc-speech"})
    assert "Gosub(collbot-sim-say-timed,s,1(/var/lib/asterisk/sounds/collbot-sim/abc-speech,821055700001/1))" in plan
    assert "Gosub(collbot-sim-dtmf-timed,s,1(1,821055700001/2))" in plan


@pytest.mark.parametrize("script", sorted(lat.REPLIES))
@pytest.mark.parametrize("kind", ["speech", "mixed"])
async def test_each_bench_script_is_answered_to_a_promise_by_its_customers(script: str, kind: str) -> None:
    # The replies the bench's customers give must walk that script to the end, one per question:
    # a reply the script did not expect would be timed as a turn that measures nothing.
    import datetime as dt
    from decimal import Decimal

    from bot.commands import chat
    from bot.dialogue.checker import load_script
    from bot.dialogue.compiler import compile_script
    from bot.domain import Debtor, DialogueEvent, EventKind, Outcome
    from bot.telephony.channel import TextChannel

    path = lat.LATENCY_SCRIPT if script == "latency-ko" else lat.camp.SCRIPT
    assert path.stem == script
    customer = next(c for c in lat.customers(12, script) if c.kind == kind)
    replies = lat.replies_of(customer, script)
    compiled = compile_script(load_script(path)[0])
    events: list[DialogueEvent] = []
    debtor = Debtor("d1", customer.name, customer.number, Decimal(customer.amount))
    outcome = await chat(compiled, debtor, TextChannel(replies), today=dt.date(2026, 12, 1), events=events)
    assert outcome.outcome is Outcome.PROMISE_TO_PAY
    answers = [e for e in events if e.kind in (EventKind.RECOGNITION, EventKind.DTMF)]
    assert len(answers) == len(replies)


def test_a_script_without_known_replies_is_refused() -> None:
    with pytest.raises(SystemExit, match="no customer replies known for script 'other'"):
        lat.customers(3, "other")
