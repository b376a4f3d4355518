"""The integration tier: the real Asterisk 22 sandbox, real espeak-ng and Vosk, real SQLite.

These tests are not optional: a machine that cannot run the sandbox fails them, with the
sandbox's own error message.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.commands import compiled_script, load_personas, persona_debtor
from bot.config import Settings, load_settings
from bot.controller import Controller
from bot.dialogue.compiler import CompiledScript
from bot.domain import Debtor
from bot.speech.asr import Recognizer
from bot.speech.tts import Synthesizer
from bot.store.repo import Store, open_store
from bot.telephony.sandbox import Sandbox
from bot.telephony.sim import PersonasFile, read_personas
from tests.sandboxes import WORKER, isolate_worker, prepare_sandbox

isolate_worker()  # under pytest-xdist: this worker's own sandbox and ports, before any settings load

PERSONAS = Path(__file__).with_name("personas.yaml")
SCRIPT = Path(__file__).parents[2] / "scripts" / "reminder-ko.yaml"


# The longest files first (docs/performance.md, "Test suite time"): with `--dist loadfile
# --no-loadscope-reorder` the workers take files in this order, so no long file starts last.
SLOW_FIRST = ("test_faults.py", "test_stream_real.py", "test_transfer.py", "test_lost_keys.py",
              "test_sip_phone.py", "test_follow_ups_real.py", "test_call_path.py", "test_campaign.py",
              "test_governor_real.py", "test_serve.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if not WORKER:
        return  # a serial run keeps the file order

    def rank(item: pytest.Item) -> int:
        name = item.path.name
        return SLOW_FIRST.index(name) if name in SLOW_FIRST else len(SLOW_FIRST)

    items.sort(key=rank)


@pytest.fixture(scope="session")
def sandbox_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The machine's settings (file and COLLBOT__ environment, as the CLI sees them), with a
    throwaway database and a short ring timeout."""
    db = tmp_path_factory.mktemp("db") / "collbot.db"
    base = load_settings(None)
    return base.model_copy(update={
        "database": base.database.model_copy(update={"url": f"sqlite:///{db}"}),
        "dial": base.dial.model_copy(update={"ring_timeout_s": 4.0}),
    })


@pytest.fixture(scope="session")
def sandbox(sandbox_settings: Settings) -> Iterator[Sandbox]:
    prepare_sandbox(sandbox_settings)
    box = Sandbox(sandbox_settings)
    box.up()
    asyncio.run(load_personas(sandbox_settings, PERSONAS))
    yield box


@pytest.fixture(scope="session")
def personas(sandbox: Sandbox) -> PersonasFile:
    return read_personas(PERSONAS)


@pytest.fixture(scope="session")
def debtors(personas: PersonasFile, sandbox_settings: Settings) -> dict[str, Debtor]:
    found = {}
    for p in personas.personas:
        debtor = persona_debtor(p, sandbox_settings)
        assert debtor is not None
        found[p.number] = debtor
    return found


@pytest.fixture(scope="session")
def store(sandbox_settings: Settings, debtors: dict[str, Debtor]) -> Iterator[Store]:
    st = open_store(sandbox_settings.database.url)
    for debtor in debtors.values():
        st.upsert_debtor(debtor)
    yield st
    st.close()


@pytest.fixture(scope="session")
def script(sandbox_settings: Settings) -> CompiledScript:
    return compiled_script(sandbox_settings, SCRIPT)


@pytest.fixture
async def controller(script: CompiledScript, sandbox: Sandbox, sandbox_settings: Settings,
                     store: Store) -> AsyncIterator[Controller]:
    s = sandbox_settings
    async with Synthesizer(s.tts_cache_dir(), rate=s.tts.rate, shape=s.prompt_shape()) as synth, \
            Recognizer(s.speech.model_dir, workers=s.speech.workers) as recognizer, \
            Controller(s, store, script=script, recognizer=recognizer, synth=synth) as ctl:
        yield ctl
