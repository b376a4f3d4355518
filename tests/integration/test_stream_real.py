"""The streaming transport (call.transport: audiosocket) on the real sandbox, against customers
with timing of their own: a quick answer, speech over the prompt, an echo of the robot, a
disclosure that must be heard whole, and customers who break the line."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import yaml

from bot.commands import compiled_script, load_personas, persona_debtor
from bot.config import Settings
from bot.controller import CallReport, Controller, local_today
from bot.dialogue.compiler import CompiledScript
from bot.domain import CallResult, Debtor, EventKind, Outcome
from bot.speech.asr import Recognizer
from bot.speech.tts import Synthesizer
from bot.store.repo import Store
from bot.telephony.sandbox import Sandbox
from bot.telephony.sim import read_personas
from bot.telephony.sim_stream import StreamCustomers, start_customers
from tests.integration.test_transfer import members, sim_agents

pytestmark = pytest.mark.integration
# The promise personas answer "네", "모레 낼게요" and then "네" to the robot's confirmation of the
# promise ("모레 … 납부하시는 거 맞으세요?"): three turns, each timed as the persona says. Not
# "내일 낼게요": through the open grammar espeak's "내일" is heard as "낼게요" (docs/understanding.md).
PROMISE_TURNS = ["네", "모레 낼게요", "네"]

HERE = Path(__file__).parent
STREAM_PERSONAS = HERE / "personas_stream.yaml"
DEFAULT_PERSONAS = HERE / "personas.yaml"
SCRIPT = HERE.parents[1] / "scripts" / "reminder-ko.yaml"


@pytest.fixture(scope="module")
def stream_sandbox(sandbox: Sandbox, sandbox_settings: Settings) -> Iterator[Sandbox]:
    asyncio.run(load_personas(sandbox_settings, STREAM_PERSONAS))
    yield sandbox
    asyncio.run(load_personas(sandbox_settings, DEFAULT_PERSONAS))  # leave the sandbox as the others expect


@pytest.fixture(scope="module")
def stream_debtors(sandbox_settings: Settings, store: Store) -> dict[str, Debtor]:
    found = {}
    for p in read_personas(STREAM_PERSONAS).personas:
        debtor = persona_debtor(p, sandbox_settings)
        assert debtor is not None
        store.upsert_debtor(debtor)
        found[p.number] = debtor
    return found


@pytest.fixture(scope="module")
def strict_script(sandbox_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> CompiledScript:
    """The reminder with a greeting that must be heard whole and answers capped at 3 s."""
    data = yaml.safe_load(SCRIPT.read_text(encoding="utf-8"))
    data["steps"]["greet"]["interruptible"] = False
    data["steps"]["ask"]["listen"]["max_speech_s"] = 3
    path = tmp_path_factory.mktemp("scripts") / "reminder-strict.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return compiled_script(sandbox_settings, path)


@pytest.fixture
async def customers(stream_sandbox: Sandbox, sandbox_settings: Settings) -> AsyncIterator[StreamCustomers]:
    served = await start_customers(sandbox_settings, read_personas(STREAM_PERSONAS), stream_sandbox)
    yield served
    await served.close()
    assert served.server.live == 0


@pytest.fixture
async def streaming(script: CompiledScript, stream_sandbox: Sandbox, sandbox_settings: Settings,
                    store: Store) -> AsyncIterator[Controller]:
    s = sandbox_settings.model_copy(update={
        "call": sandbox_settings.call.model_copy(update={"transport": "audiosocket"}),
        "audiosocket": sandbox_settings.audiosocket.model_copy(update={"port": 0}),
    })
    async with Synthesizer(s.tts_cache_dir(), rate=s.tts.rate, shape=s.prompt_shape()) as synth, \
            Recognizer(s.speech.model_dir, workers=s.speech.workers) as recognizer, \
            Controller(s, store, script=script, recognizer=recognizer, synth=synth) as ctl:
        assert ctl.audiosocket is not None
        await asyncio.to_thread(stream_sandbox.cli,
                                f"dialplan set global COLLBOT_AUDIOSOCKET 127.0.0.1:{ctl.audiosocket.port}")
        try:
            yield ctl
        finally:  # the address the sandbox was started with, for the tests that follow
            await asyncio.to_thread(stream_sandbox.cli, "dialplan set global COLLBOT_AUDIOSOCKET "
                                    f"127.0.0.1:{sandbox_settings.audiosocket.port}")
        assert ctl.audiosocket.live == 0  # every call's connection closed and its task ended


def _heard(store: Store, attempt_id: str) -> list[str]:
    return [str(e.data["text"]) for e in store.events_for(attempt_id) if e.kind is EventKind.RECOGNITION]


def _confirmations(store: Store, attempt_id: str) -> list[tuple[object, object]]:
    return [(e.data["intent"], e.data["answer"]) for e in store.events_for(attempt_id)
            if e.kind is EventKind.CONFIRM]


def _timings(store: Store, attempt_id: str) -> list[dict[str, int]]:
    return [e.data["timing"] for e in store.events_for(attempt_id)  # type: ignore[misc]
            if e.kind in (EventKind.RECOGNITION, EventKind.NO_INPUT, EventKind.DTMF) and "timing" in e.data]


def _promised(store: Store, report: CallReport, debtor: Debtor) -> None:
    """The call stored the promise for the day after tomorrow, confirmed by the customer's "네"."""
    events = [(e.kind.value, e.data.get("text"), e.data.get("confidence", e.data.get("answer")))
              for e in store.events_for(report.attempt_id) if e.kind is not EventKind.STATE]
    assert (report.result, report.outcome) == (CallResult.ANSWERED, Outcome.PROMISE_TO_PAY), events
    assert report.detail["promise_date"] == (local_today(debtor.phone) + dt.timedelta(days=2)).isoformat()
    assert _heard(store, report.attempt_id) == PROMISE_TURNS, events
    assert _confirmations(store, report.attempt_id) == [("promise", "yes")], events


async def test_answer_right_after_the_last_word_is_heard(streaming: Controller, customers: StreamCustomers,
                                                         stream_debtors: dict[str, Debtor], store: Store) -> None:
    debtor = stream_debtors["+821055550201"]
    report = await streaming.call(debtor)
    _promised(store, report, debtor)
    logs = [log for log in customers.logs if log.number == debtor.phone]
    assert len(logs) == len(PROMISE_TURNS)  # the greeting, the question and the confirmation
    for log in logs:  # the customer really began within 100 ms of the last word, every time
        assert log.prompt_end is not None and log.spoke is not None, log
        assert 0 <= log.spoke - log.prompt_end < 0.1, log
    assert [t["barge_in"] for t in _timings(store, report.attempt_id)] == [0, 0, 0]


async def test_speech_over_the_prompt_stops_it_and_is_the_answer(
        streaming: Controller, customers: StreamCustomers, stream_debtors: dict[str, Debtor], store: Store) -> None:
    debtor = stream_debtors["+821055550202"]
    report = await streaming.call(debtor)
    _promised(store, report, debtor)
    timings = _timings(store, report.attempt_id)
    assert [t["barge_in"] for t in timings] == [1, 1, 1]  # the confirmation was interrupted too
    logs = [log for log in customers.logs if log.number == debtor.phone]
    assert len(logs) == len(PROMISE_TURNS)
    for log in logs:
        # the robot fell silent while its prompt had seconds left
        assert log.prompt_end is not None and log.robot_stopped is not None and log.spoke is not None, log
        assert log.spoke < log.robot_stopped < log.prompt_end - 1.0, log


async def test_echo_of_the_robot_is_not_a_turn(streaming: Controller, customers: StreamCustomers,
                                               stream_debtors: dict[str, Debtor], store: Store) -> None:
    debtor = stream_debtors["+821055550203"]
    report = await streaming.call(debtor)
    _promised(store, report, debtor)
    # three prompts echoed back, none of them a barge-in or a turn of its own
    assert [t["barge_in"] for t in _timings(store, report.attempt_id)] == [0, 0, 0]
    assert not [e for e in store.events_for(report.attempt_id) if e.kind in (EventKind.NO_INPUT, EventKind.NO_MATCH)]
    # silent customer, echoing line: only no-input turns, none with audio
    silent = await streaming.call(stream_debtors["+821055550204"])
    assert silent.outcome is Outcome.NO_RESPONSE
    events = store.events_for(silent.attempt_id)
    assert not [e for e in events if e.kind is EventKind.RECOGNITION]
    no_input = [e for e in events if e.kind is EventKind.NO_INPUT]
    assert no_input and all(e.data["audio_ms"] == 0 for e in no_input)


async def test_disclosure_marked_not_interruptible_is_heard_whole(
        streaming: Controller, customers: StreamCustomers, stream_debtors: dict[str, Debtor], store: Store,
        strict_script: CompiledScript) -> None:
    debtor = stream_debtors["+821055550202"]
    report = await streaming.call(debtor, script=strict_script)
    _promised(store, report, debtor)
    # greeting whole; the question and the confirmation (interruptible) cut
    assert [t["barge_in"] for t in _timings(store, report.attempt_id)] == [0, 1, 1]
    first = next(log for log in customers.logs if log.number == debtor.phone)
    assert first.prompt_end is not None and first.spoke is not None and first.spoke < first.prompt_end - 1.0
    assert first.robot_stopped is not None and first.robot_stopped >= first.prompt_end


async def test_customer_closing_mid_prompt_ends_the_call_as_hung_up(
        streaming: Controller, customers: StreamCustomers, stream_debtors: dict[str, Debtor], store: Store) -> None:
    report = await streaming.call(stream_debtors["+821055550205"])
    assert (report.result, report.outcome) == (CallResult.ANSWERED, Outcome.HUNG_UP)
    [attempt] = [a for a in store.attempts_for("T-0205") if a.id == report.attempt_id]
    assert attempt.outcome == Outcome.HUNG_UP.value


async def test_endless_speech_is_cut_at_max_speech(
        streaming: Controller, customers: StreamCustomers, stream_debtors: dict[str, Debtor], store: Store,
        strict_script: CompiledScript) -> None:
    report = await streaming.call(stream_debtors["+821055550206"], script=strict_script)
    assert report.result is CallResult.ANSWERED and report.outcome is not None
    timings = _timings(store, report.attempt_id)
    capped = [t for t in timings if t.get("max_speech")]
    assert capped and all(t["speech_ms"] <= 3000 for t in capped)
    [attempt] = [a for a in store.attempts_for("T-0206") if a.id == report.attempt_id]
    assert attempt.state == "completed" and attempt.outcome == report.outcome.value


async def test_a_request_for_a_person_reaches_an_agent_from_the_stream(
        streaming: Controller, customers: StreamCustomers, stream_debtors: dict[str, Debtor], store: Store,
        stream_sandbox: Sandbox, sandbox_settings: Settings, tmp_path: Path) -> None:
    """The AudioSocket twin of test_transfer.py's first test: the robot marks the call for the
    queue (AMI Setvar), ends its AudioSocket leg, and the dialplan takes the customer to the
    collectors' queue, where a simulated agent answers and its desk gets the robot's summary."""
    agents = "agents:\n  - id: sim-song\n    answer_after_s: 1\n    talk_s: 3\n    disposition: callback\n"
    async with sim_agents(sandbox_settings, tmp_path, agents):
        assert "sim-song" in members(stream_sandbox, sandbox_settings)
        # loading the agents reloaded the dialplan, whose [globals] name the settings' port
        assert streaming.audiosocket is not None
        await asyncio.to_thread(stream_sandbox.cli,
                                f"dialplan set global COLLBOT_AUDIOSOCKET 127.0.0.1:{streaming.audiosocket.port}")
        report = await streaming.call(stream_debtors["+821055550207"])
        events = [(e.kind, e.data) for e in store.events_for(report.attempt_id)]
        assert report.outcome is Outcome.TRANSFER_REQUESTED, (report.detail, events)
        assert report.detail["transfer"] == "connected" and report.detail["agent"] == "sim-song", report.detail
        assert (EventKind.STATE, {"step": "transfer", "transfer": "queue"}) in events
        assert (EventKind.HANGUP, {"by": "robot"}) not in events  # handed over, not hung up
        pops = [e for e in store.desk_events_after("sim-song", 0) if e.kind == "screen_pop"]
        assert [p.attempt_id for p in pops] == [report.attempt_id]
        summary = pops[0].data
        assert summary["debtor_id"] == "T-0207" and summary["outcome"] == "transfer_requested"
        assert "상담원 연결" in [t["text"] for t in summary["turns"] if t["who"] == "customer"]
        # the simulated agent wraps up through the desk: the disposition is stored as an attempt
        for _ in range(60):
            if not store.open_pops("sim-song"):
                break
            await asyncio.sleep(0.25)
        assert not store.open_pops("sim-song")
        wrapped = [a for a in store.attempts_for("T-0207")
                   if a.outcome_detail.get("transferred_from") == report.attempt_id]
        assert len(wrapped) == 1 and wrapped[0].outcome is Outcome.CALLBACK


async def test_nobody_free_after_a_streaming_transfer_gives_the_callback_offer(
        streaming: Controller, customers: StreamCustomers, stream_debtors: dict[str, Debtor], store: Store,
        stream_sandbox: Sandbox, sandbox_settings: Settings, tmp_path: Path) -> None:
    """The AudioSocket twin of test_transfer.py's nobody-free test: after the streaming robot's
    hand-over, the queue gives up at once (its only agent is paused), and the callback offer runs
    over FastAGI on the customer's channel, which the controller serves in streaming mode too. The
    customer says nothing to it: the offer is recorded as declined, never as a callback asked."""
    async with sim_agents(sandbox_settings, tmp_path, "agents:\n  - id: sim-kang\n    state: paused\n"):
        assert streaming.audiosocket is not None
        await asyncio.to_thread(stream_sandbox.cli,
                                f"dialplan set global COLLBOT_AUDIOSOCKET 127.0.0.1:{streaming.audiosocket.port}")
        report = await streaming.call(stream_debtors["+821055550207"])
    events = [(e.kind, e.data) for e in store.events_for(report.attempt_id)]
    assert (EventKind.STATE, {"step": "transfer", "transfer": "queue"}) in events
    assert report.detail["transfer"] == "no_agent", (report.detail, events)
    assert report.detail["callback"] == "declined", report.detail
    stored = store.find_attempt(report.attempt_id)
    assert stored is not None and stored.outcome is report.outcome and stored.outcome_detail["callback"] == "declined"
    assert not [e for e in store.desk_events_after("sim-kang", 0) if e.kind == "screen_pop"]
