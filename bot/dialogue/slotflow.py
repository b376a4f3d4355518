"""Which slots are set on EVERY path to a step: a must-analysis over the script graph.

A prompt that says ``{promise_amount}`` must not be reachable by a path that never set it (a
keypress answers an intent that captures an amount, but a key carries no amount): the call would
end as ``error`` instead of the promise the customer just made. Edges set what the running dialogue
sets (``bot.dialogue.session``): an intent's ``set`` slots always; its ``capture`` only when it was
heard as speech that parses, so a key or a phrase that does not parse leaves it unset; a branch
rule that tests a slot (other than ``set: false``) is only taken when the slot has a value.
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from .schema import Intent, Script

Loc = tuple[str | int, ...]
Parses = Callable[[str, str], bool]  # (slot kind, phrase) -> the phrase yields a value
_SAMPLE_DAY = dt.date(2026, 1, 15)  # relative dates parse on any day; amounts ignore it


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    sets: frozenset[str]
    how: str  # for the witness path: "goto", "intent pay (key)", "branch 1" ...


def default_parses(language: str) -> Parses:
    from .slots import parse_slot

    def parses(kind: str, phrase: str) -> bool:
        return parse_slot(kind, phrase, language, _SAMPLE_DAY) is not None

    return parses


def slot_edges(script: Script, parses: Parses) -> list[Edge]:
    out: list[Edge] = []
    for name, step in script.steps.items():
        if step.goto:
            out.append(Edge(name, step.goto, frozenset(), "goto"))
        for i, rule in enumerate(step.branch or []):
            cond = rule.if_
            tested = frozenset({cond.slot}) if cond is not None and cond.slot and cond.set is not False else frozenset()
            out.append(Edge(name, rule.goto, tested, "else" if rule.else_ else f"branch {i + 1}"))
        if step.listen is None:
            continue
        for intent_name, intent in script.intents_of(step.listen):
            out += _intent_edges(name, intent_name, intent, parses)
        for kind in ("no_input", "no_match"):
            retry = getattr(step.listen, kind)
            if retry is not None:
                out.append(Edge(name, retry.goto, frozenset(), kind))
    return out


def _intent_edges(step: str, name: str, intent: Intent, parses: Parses) -> list[Edge]:
    always = frozenset(intent.set)
    captured = always | frozenset(intent.capture)
    edges = []
    if intent.capture:
        edges.append(Edge(step, intent.goto, captured, f"intent {name} (heard)"))
        if intent.dtmf:
            edges.append(Edge(step, intent.goto, always, f"intent {name} (key {intent.dtmf[0]})"))
        for phrase in intent.phrases:
            if not all(parses(kind, phrase) for kind in intent.capture.values()):
                edges.append(Edge(step, intent.goto, always, f"intent {name} (phrase {phrase!r})"))
                break
    else:
        edges.append(Edge(step, intent.goto, always, f"intent {name}"))
    return edges


def must_set(script: Script, edges: list[Edge]) -> dict[str, frozenset[str]]:
    """Slots set on every path from the start to each reachable step (on entry)."""
    universe = frozenset(s for e in edges for s in e.sets)
    into: dict[str, frozenset[str]] = {script.start: frozenset()}
    todo = deque([script.start])
    outgoing: dict[str, list[Edge]] = {}
    for e in edges:
        outgoing.setdefault(e.source, []).append(e)
    while todo:
        step = todo.popleft()
        for e in outgoing.get(step, ()):
            if e.target not in script.steps:
                continue
            value = into[step] | e.sets
            old = into.get(e.target, universe)
            new = value & old if e.target in into else value
            if e.target == script.start:
                new = frozenset()  # the start is entered with nothing set
            if e.target not in into or new != old:
                into[e.target] = new
                todo.append(e.target)
    return into


def unset_path(script: Script, edges: list[Edge], target: str, slot: str) -> list[Edge] | None:
    """A shortest path from the start to ``target`` on which ``slot`` is never set, if any."""
    back: dict[str, Edge | None] = {script.start: None}
    todo = deque([script.start])
    while todo:
        step = todo.popleft()
        if step == target:
            path: list[Edge] = []
            edge = back[step]
            while edge is not None:
                path.append(edge)
                edge = back[edge.source]
            return path[::-1]
        for e in edges:
            if e.source == step and slot not in e.sets and e.target not in back and e.target in script.steps:
                back[e.target] = e
                todo.append(e.target)
    return None


def describe(path: list[Edge], start: str) -> str:
    parts = [start]
    for e in path:
        parts.append(f"-[{e.how}]-> {e.target}")
    return " ".join(parts)
