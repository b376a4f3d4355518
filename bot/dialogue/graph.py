"""A script's steps as a diagram for review: Mermaid (default) or Graphviz dot."""

from __future__ import annotations

from .checker import edges
from .schema import Script


def _label(script: Script, loc: tuple[str | int, ...]) -> str:
    if loc[0] == "globals":
        return f"global {loc[1]}"
    if "intents" in loc:
        return str(loc[loc.index("intents") + 1])
    if "no_input" in loc or "no_match" in loc:
        return str(loc[3])
    if "branch" in loc:
        rule = script.steps[str(loc[1])].branch[int(loc[3])]  # type: ignore[index]
        return "else" if rule.else_ else "if"
    return ""


def _end_text(script: Script, name: str) -> str:
    step = script.steps[name]
    return f"{name}: {step.outcome.value}" if step.outcome else name


def _edges(script: Script, name: str) -> list[tuple[str, str]]:
    """(label, target) of every distinct way out of a step."""
    return list(dict.fromkeys((_label(script, loc), target) for loc, target in edges(script, name)))


def mermaid(script: Script) -> str:
    lines = ["flowchart TD", f"  start(((start))) --> {script.start}"]
    for name, step in script.steps.items():
        if step.end:
            lines.append(f"  {name}([\"{_end_text(script, name)}\"])")
        elif step.branch:
            lines.append(f"  {name}{{{name}}}")
        for label, target in _edges(script, name):
            lines.append(f"  {name} -->|{label}| {target}" if label else f"  {name} --> {target}")
    return "\n".join(lines) + "\n"


def dot(script: Script) -> str:
    lines = [f'digraph "{script.script}" {{', "  rankdir=TB;", f'  "start" [shape=point]; "start" -> "{script.start}";']
    for name, step in script.steps.items():
        shape = "doubleoctagon" if step.end else "diamond" if step.branch else "box"
        lines.append(f'  "{name}" [shape={shape}, label="{_end_text(script, name)}"];')
        for label, target in _edges(script, name):
            lines.append(f'  "{name}" -> "{target}" [label="{label}"];')
    lines.append("}")
    return "\n".join(lines) + "\n"
