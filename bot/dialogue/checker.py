"""Static checks of a call script before it calls anyone: schema, graph, text and vocabulary.

All problems are reported together, each as ``file:line:column: key: message``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.errors import ConfigError
from bot.yamlfile import LoadedYaml, format_loc, load_yaml, validate

from .schema import BUILTIN_FIELDS, DEBT_FIELDS, PLACEHOLDER, Listen, Recording, Script, Step

Loc = tuple[str | int, ...]
MissingWords = Callable[[Sequence[str]], list[str]]


@dataclass(frozen=True)
class Problem:
    where: str
    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.key}: {self.message}"


def load_script(path: Path) -> tuple[Script, LoadedYaml]:
    """Parse and schema-validate a script; schema errors raise one ConfigError listing all."""
    loaded = load_yaml(path, columns=True)
    return validate(Script, loaded), loaded


def check(script: Script, loaded: LoadedYaml, *, missing_words: MissingWords | None = None,
          slot_phrases: Callable[[str, str], list[str]] | None = None,
          require_recording_notice: bool = False) -> list[Problem]:
    """Every problem the script has; empty when it may go live. ``require_recording_notice``: the
    compliance pack (kr) or the ``privacy.recording_notice`` setting asks for one."""
    c = _Checker(script, loaded)
    c.targets()
    if not c.problems:  # graph checks need every target to exist
        c.graph()
        c.disclosure()
        c.recording_notice(require_recording_notice)
    c.listens()
    c.interruptions()
    c.conditions()
    c.placeholders()
    if not c.problems:  # the path analysis needs a sound graph
        c.slot_paths()
    if missing_words is not None:
        c.vocabulary(missing_words, slot_phrases)
    return sorted(c.problems, key=lambda p: _order(p.where))


def check_file(path: Path, **kwargs: object) -> Script:
    """Load and check; raise one ConfigError listing every problem."""
    script, loaded = load_script(path)
    problems = check(script, loaded, **kwargs)  # type: ignore[arg-type]
    if problems:
        raise ConfigError("\n".join(map(str, problems)))
    return script


def edges(script: Script, name: str) -> Iterator[tuple[Loc, str]]:
    """(location of the reference, target step) for every way out of a step."""
    step = script.steps[name]
    base: Loc = ("steps", name)
    if step.goto:
        yield (*base, "goto"), step.goto
    if step.branch:
        for i, rule in enumerate(step.branch):
            yield (*base, "branch", i, "goto"), rule.goto
    if step.listen:
        for intent_name, intent in step.listen.intents.items():
            yield (*base, "listen", "intents", intent_name, "goto"), intent.goto
        for kind in ("no_input", "no_match", "question"):
            retry = getattr(step.listen, kind)
            if retry is not None:
                yield (*base, "listen", kind, "goto"), retry.goto
        if step.listen.globals:
            for g_name, g in script.globals.items():
                yield ("globals", g_name, "goto"), g.goto


def says(script: Script, name: str) -> Iterator[tuple[Loc, str]]:
    """(location, text) of everything a step can say."""
    step = script.steps[name]
    if isinstance(step.say, str):
        yield ("steps", name, "say"), step.say
    if step.listen:
        for kind in ("no_input", "no_match", "question"):
            retry = getattr(step.listen, kind)
            if retry is not None and isinstance(retry.say, str):
                yield ("steps", name, "listen", kind, "say"), retry.say
        if step.listen.ask_slot:
            yield ("steps", name, "listen", "ask_slot"), step.listen.ask_slot
        for i_name, intent in step.listen.intents.items():
            if intent.confirm:
                yield ("steps", name, "listen", "intents", i_name, "confirm"), intent.confirm


class _Checker:
    def __init__(self, script: Script, loaded: LoadedYaml):
        self.s = script
        self.y = loaded
        self.problems: list[Problem] = []

    def add(self, loc: Loc, message: str) -> None:
        self.problems.append(Problem(self.y.where(loc), format_loc(loc), message))

    def interruptions(self) -> None:
        """interruptible: false means something only on a prompt the customer could cut short."""
        for name, step in self.s.steps.items():
            if not step.interruptible and (step.say is None or step.listen is None):
                self.add(("steps", name, "interruptible"),
                         "interruptible: false needs a say and a listen on the same step "
                         "(only a prompt that is listened over can be interrupted)")

    def targets(self) -> None:
        if self.s.start not in self.s.steps:
            self.add(("start",), f"unknown step {self.s.start!r}{self._hint(self.s.start)}")
        if self.s.identification and self.s.identification not in self.s.steps:
            self.add(("identification",), f"unknown step {self.s.identification!r}")
        if self.s.recording_notice and self.s.recording_notice not in self.s.steps:
            self.add(("recording_notice",), f"unknown step {self.s.recording_notice!r}"
                                            f"{self._hint(self.s.recording_notice)}")
        seen: set[Loc] = set()
        for name in self.s.steps:
            for loc, target in edges(self.s, name):
                if target not in self.s.steps and loc not in seen:
                    seen.add(loc)
                    self.add(loc, f"unknown step {target!r}{self._hint(target)}")

    def _hint(self, name: str) -> str:
        import difflib

        close = difflib.get_close_matches(name, list(self.s.steps), n=1)
        return f"; did you mean {close[0]!r}?" if close else ""

    def graph(self) -> None:
        reachable = _reach(self.s, self.s.start)
        for name in self.s.steps:
            if name not in reachable:
                self.add(("steps", name), "unreachable from the start step")
        ends = {n for n, step in self.s.steps.items() if step.end}
        can_end = _co_reach(self.s, ends)
        for name in self.s.steps:
            if name in reachable and name not in can_end:
                self.add(("steps", name), "no end step can be reached from here (a loop without exit)")

    def disclosure(self) -> None:
        ident = self.s.identification
        before = _reach(self.s, self.s.start, avoid=ident) if ident else set(self.s.steps)
        why = f"before the identification step {ident!r}" if ident else \
            "but the script declares no identification step (right-party check)"
        for name in sorted(before):
            for loc, text in says(self.s, name):
                for field in PLACEHOLDER.findall(text):
                    if field in DEBT_FIELDS:
                        self.add(loc, f"mentions {{{field}}} {why}")

    def recording_notice(self, required: bool) -> None:
        notice = self.s.recording_notice
        if notice is None:
            if required:
                self.add(("start",), "the compliance pack requires a recording notice: name the step whose "
                                     "prompt says the call is recorded under recording_notice")
            return
        if not isinstance(self.s.steps[notice].say, str):
            self.add(("recording_notice",), f"step {notice!r} says nothing, so it cannot be the recording notice")
        # The customer is recorded from the first listen on: every path to one must play the notice.
        early = _reach(self.s, self.s.start, avoid=notice)
        for name in sorted(early):
            if self.s.steps[name].listen is not None:
                self.add(("steps", name, "listen"), f"listens before the recording notice {notice!r} was played")

    def listens(self) -> None:
        for name, step in self.s.steps.items():
            if step.listen is None:
                continue
            base: Loc = ("steps", name, "listen")
            if step.listen.no_input is None:
                self.add(base, "a listen step needs a no_input path (what happens when nobody answers)")
            if not self._can_opt_out(step.listen):
                self.add(base, "no opt-out: keep the global opt_out intent on (globals) or add an intent "
                               "leading to an end step with outcome opt_out")
            self._ambiguity(base, step.listen)
            self._kinds(base, step.listen)

    def _kinds(self, base: Loc, listen: Listen) -> None:
        """An intent said to mean an opt-out must end the call as one (a legal promise to the customer)."""
        for intent_name, intent in listen.intents.items():
            if intent.kind == "opt_out" and not _is_opt_out(self.s, intent.goto):
                self.add((*base, "intents", intent_name, "kind"),
                         "an intent of kind opt_out must lead to an end step with outcome opt_out")

    def _can_opt_out(self, listen: Listen) -> bool:
        if listen.globals and "opt_out" in self.s.globals:
            return True
        return any(_is_opt_out(self.s, intent.goto) for intent in listen.intents.values())

    def conditions(self) -> None:
        slots = self._slots()
        for name, step in self.s.steps.items():
            for i, rule in enumerate(step.branch or []):
                cond = rule.if_
                if cond is None:
                    continue
                loc: Loc = ("steps", name, "branch", i, "if")
                if cond.counter is not None and cond.counter not in self.s.steps:
                    self.add((*loc, "counter"), f"unknown step {cond.counter!r}{self._hint(cond.counter)}")
                if cond.slot is not None and cond.slot not in slots:
                    self.add((*loc, "slot"), f"{cond.slot!r} is not a slot: no intent captures or sets it")
                if cond.field is not None and cond.field not in self.s.fields:
                    self.add((*loc, "field"), f"{cond.field!r} is not a declared field (add it under fields)")

    def _ambiguity(self, base: Loc, listen: Listen) -> None:
        owners: dict[str, str] = {}
        keys: dict[str, str] = {}
        for intent_name, intent in self.s.intents_of(listen):
            for phrase in intent.phrases:
                other = owners.setdefault(phrase, intent_name)
                if other != intent_name:
                    self.add((*base, "intents"), f"phrase {phrase!r} belongs to both {other!r} and {intent_name!r}")
            for key in intent.dtmf or "":
                other = keys.setdefault(key, intent_name)
                if other != intent_name:
                    self.add((*base, "intents"), f"key {key!r} belongs to both {other!r} and {intent_name!r}")

    def placeholders(self) -> None:
        slots = self._slots()
        for field in self.s.fields:
            if field in slots:
                self.add(("fields",), f"{field!r} is both a debtor field and a slot")
        known = set(self.s.fields) | slots
        for name in self.s.steps:
            for loc, text in says(self.s, name):
                for field in PLACEHOLDER.findall(text):
                    if field not in known:
                        hint = " (declare it under fields)" if field in BUILTIN_FIELDS else ""
                        self.add(loc, f"placeholder {{{field}}} is neither a declared field nor a slot{hint}")
                if "{" in PLACEHOLDER.sub("", text) or "}" in PLACEHOLDER.sub("", text):
                    self.add(loc, "a brace that is not a {placeholder}; placeholders are {lower_case_names}")

    def slot_paths(self) -> None:
        """Every slot placeholder is set on every path to the prompt that says it (bot.dialogue.slotflow)."""
        from .slotflow import default_parses, describe, must_set, slot_edges, unset_path

        slots = self._slots()
        flow = slot_edges(self.s, default_parses(self.s.language))
        entry = must_set(self.s, flow)
        for name in self.s.steps:
            if name not in entry:
                continue
            for loc, text in says(self.s, name):
                for slot in dict.fromkeys(PLACEHOLDER.findall(text)):
                    if slot in slots and slot not in entry[name]:
                        path = unset_path(self.s, flow, name, slot)
                        how = f": {describe(path, self.s.start)}" if path else ""
                        self.add(loc, f"{{{slot}}} may be unset here; a path reaches {name!r} without setting "
                                      f"it{how}")

    def _slots(self) -> set[str]:
        found: set[str] = set()
        intents = [g for g in self.s.globals.values()]
        for step in self.s.steps.values():
            if step.listen:
                intents += list(step.listen.intents.values())
        for intent in intents:
            found |= set(intent.capture) | set(intent.set)
        return found

    def vocabulary(self, missing_words: MissingWords,
                   slot_phrases: Callable[[str, str], list[str]] | None) -> None:
        checked: list[tuple[Loc, str]] = []
        for g_name, g in self.s.globals.items():
            checked += [(("globals", g_name, "phrases", i), p) for i, p in enumerate(g.phrases)]
        for name, step in self.s.steps.items():
            if step.listen is None:
                continue
            for i_name, intent in step.listen.intents.items():
                base: Loc = ("steps", name, "listen", "intents", i_name)
                checked += [((*base, "phrases", i), p) for i, p in enumerate(intent.phrases)]
                if slot_phrases is not None:
                    for slot, kind in intent.capture.items():
                        checked += [((*base, "capture", slot), p) for p in slot_phrases(kind, self.s.language)]
        reported: set[tuple[Loc, str]] = set()
        for loc, phrase in checked:
            for word in missing_words([phrase]):
                if (loc, word) not in reported:
                    reported.add((loc, word))
                    self.add(loc, f"{word!r} (in {phrase!r}) is not in the speech model's vocabulary")


def _is_opt_out(script: Script, name: str) -> bool:
    step = script.steps.get(name)
    return step is not None and step.outcome is not None and step.outcome.value == "opt_out"


def _reach(script: Script, start: str, *, avoid: str | None = None) -> set[str]:
    seen = {start} if start in script.steps and start != avoid else set()
    todo = deque(seen)
    while todo:
        for _, target in edges(script, todo.popleft()):
            if target in script.steps and target not in seen and target != avoid:
                seen.add(target)
                todo.append(target)
    return seen


def _co_reach(script: Script, goals: set[str]) -> set[str]:
    back: dict[str, set[str]] = {n: set() for n in script.steps}
    for name in script.steps:
        for _, target in edges(script, name):
            if target in back:
                back[target].add(name)
    seen = set(goals)
    todo = deque(goals)
    while todo:
        for source in back[todo.popleft()]:
            if source not in seen:
                seen.add(source)
                todo.append(source)
    return seen


def _order(where: str) -> tuple[int, int]:
    parts = where.rsplit(":", 2)
    try:
        return int(parts[-2]), int(parts[-1])
    except (ValueError, IndexError):
        return 0, 0


__all__ = ["Problem", "Recording", "Step", "check", "check_file", "edges", "load_script", "says"]
