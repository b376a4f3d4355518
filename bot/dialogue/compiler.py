"""A checked script compiled once into a shared ``transitions`` state machine.

States are steps; each edge of the script graph is a trigger ``to_<step>`` from its source,
so a call can only move the way the script allows. Calls are models added to the machine
when they start and removed when they end.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from transitions.extensions.asyncio import AsyncMachine

from bot.understanding import StepModel

from .checker import MissingWords, check_file, edges
from .listening import step_models
from .schema import Script


@dataclass
class CompiledScript:
    script: Script
    machine: AsyncMachine
    source: Path | None = None
    keys: dict[str, str] = field(default_factory=dict)  # step -> every DTMF key its listen accepts
    # step -> its understanding and grammar, built once per script (not per turn)
    models: dict[str, StepModel] = field(default_factory=dict)


def compile_script(script: Script, source: Path | None = None) -> CompiledScript:
    machine = AsyncMachine(model=None, states=list(script.steps), initial=script.start,
                           auto_transitions=False, after_state_change="on_state_change")
    for name in script.steps:
        for target in sorted({t for _, t in edges(script, name)}):
            machine.add_transition(f"to_{target}", name, target)
    compiled = CompiledScript(script, machine, source, models=step_models(script))
    for name, step in script.steps.items():
        if step.listen is not None:
            intents = [intent for _, intent in script.intents_of(step.listen)]
            compiled.keys[name] = "".join(sorted({k for i in intents for k in (i.dtmf or "")}))
    return compiled


def load_compiled(path: Path, *, missing_words: MissingWords | None = None) -> CompiledScript:
    """Check (all problems at once, as one ConfigError) and compile a script file."""
    from .slots import slot_phrases

    script = check_file(path, missing_words=missing_words, slot_phrases=slot_phrases)
    return compile_script(script, path)
