"""Strict YAML loading that remembers where every key is, so errors can name ``file:line``.

Used for settings, personas and call scripts: ``load_yaml`` parses safely (no tags, no
duplicate keys, text keys only) and ``validate`` turns every pydantic error into one
``ConfigError`` listing ``file:line: key.path: message`` per problem.
"""

from __future__ import annotations

import datetime as dt
import difflib
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from yaml.events import CollectionStartEvent, ScalarEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from bot.errors import ConfigError

Loc = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)

MAX_FILE_BYTES = 4 * 1024 * 1024
MAX_NODES = 200_000  # after alias expansion: stops "billion laughs" before pydantic walks it

_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"


class _Problem(Exception):
    """Raised inside the loader; turned into a ConfigError with the file path."""

    def __init__(self, message: str, line: int | None):
        super().__init__(message)
        self.line = line


def _line(node_or_event: Any) -> int:
    return node_or_event.start_mark.line + 1


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses explicit tags, duplicate keys and keys that are not text."""

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:  # type: ignore[override]
        event = self.peek_event()
        if isinstance(event, ScalarEvent | CollectionStartEvent) and event.tag is not None:
            tag = event.tag.replace("tag:yaml.org,2002:", "!!")
            raise _Problem(
                f"YAML tag {tag!r} is not allowed: write plain values (quote text)", _line(event)
            )
        return super().compose_node(parent, index)

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:  # type: ignore[override]
        seen: dict[str, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG:
                continue
            key = _key_text(key_node)
            if key in seen:
                line = _line(key_node)
                raise _Problem(
                    f"duplicate key {key!r} (first on line {seen[key]}, again on line {line})", line
                )
            seen[key] = _line(key_node)
        return super().construct_mapping(node, deep=deep)


def _key_text(node: Node) -> str:
    if isinstance(node, ScalarNode) and node.tag == _STR_TAG:
        return str(node.value)
    if isinstance(node, ScalarNode) and node.style is None:
        raise _Problem(
            f"key {node.value!r} is not read as text by YAML; write it in quotes: \"{node.value}\"",
            _line(node),
        )
    raise _Problem("mapping keys must be plain text", _line(node))


@dataclass(frozen=True)
class LoadedYaml:
    """Parsed data plus the 1-based (line, column) of every key and sequence item.

    ``positions[()]`` is the top mapping; ``plain`` keeps the source text of unquoted scalars
    (for "write it in quotes" hints); ``origins`` labels values that came from elsewhere
    (e.g. an environment variable) and wins over a file position.
    """

    path: Path | None
    data: dict[str, Any]
    positions: Mapping[Loc, tuple[int, int]] = field(default_factory=dict)
    plain: Mapping[Loc, str] = field(default_factory=dict)
    origins: Mapping[Loc, str] = field(default_factory=dict)
    columns: bool = False  # name places as file:line:column (call scripts) instead of file:line

    def line(self, loc: Sequence[str | int]) -> int | None:
        """Line of ``loc`` or of its nearest ancestor that is in the file."""
        for n in range(len(loc), -1, -1):
            pos = self.positions.get(tuple(loc[:n]))
            if pos is not None:
                return pos[0]
        return None

    def where(self, loc: Sequence[str | int]) -> str:
        """``file:line`` (or an origin label such as an environment variable) for ``loc``."""
        for n in range(len(loc), -1, -1):
            prefix = tuple(loc[:n])
            if prefix in self.origins:
                return self.origins[prefix]
            if prefix in self.positions:
                line, column = self.positions[prefix]
                return f"{self._name()}:{line}:{column}" if self.columns else f"{self._name()}:{line}"
        return self._name()

    def error(self, loc: Sequence[str | int], message: str) -> ConfigError:
        """A ConfigError for a problem found after validation (e.g. a dangling reference)."""
        err = ConfigError(f"{self.where(loc)}: {format_loc(loc)}: {message}")
        err.path, err.line = self._path_str(), self.line(loc)
        return err

    def _name(self) -> str:
        return str(self.path) if self.path is not None else "<settings>"

    def _path_str(self) -> str | None:
        return str(self.path) if self.path is not None else None


def load_yaml(path: Path, *, columns: bool = False) -> LoadedYaml:
    """Read ``path`` as strict YAML whose top level is a mapping (an empty file is ``{}``)."""
    from bot.inputfile import read_regular  # a FIFO or /dev/zero: one line, never a hang

    raw = read_regular(path, max_bytes=MAX_FILE_BYTES)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(
            "not valid UTF-8 text; save the file as UTF-8", path=str(path), line=line
        ) from exc
    return parse_yaml(text, path, columns=columns)


def parse_yaml(text: str, path: Path | None = None, *, columns: bool = False) -> LoadedYaml:
    """Parse YAML text; ``path`` only names the source in errors."""
    where = str(path) if path is not None else None
    positions: dict[Loc, tuple[int, int]] = {}
    plain: dict[Loc, str] = {}
    try:
        data = _compose_and_construct(text, positions, plain)
    except _Problem as exc:
        raise ConfigError(str(exc), path=where, line=exc.line) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = " ".join(p for p in (exc.context, exc.problem) if p)
        raise ConfigError(f"invalid YAML: {problem}", path=where, line=line) from exc
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        shown = f"U+{exc.character:04X}" if isinstance(exc.character, int) else repr(exc.character)
        raise ConfigError(f"invalid YAML: character {shown} is not allowed",
                          path=where, line=line) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML: {exc}", path=where) from exc
    except RecursionError:
        raise ConfigError("YAML is nested too deeply", path=where) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError("the top level must be a mapping of keys to values", path=where,
                          line=positions.get((), (1, 1))[0])
    return LoadedYaml(path=path, data=data, positions=positions, plain=plain, columns=columns)


def _compose_and_construct(text: str, positions: dict[Loc, tuple[int, int]],
                           plain: dict[Loc, str]) -> Any:
    loader = _StrictLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        data = loader.construct_document(node)
        positions[()] = (_line(node), node.start_mark.column + 1)
        _Walker(positions, plain).walk(node, ())
        return data
    finally:
        loader.dispose()


class _Walker:
    """Records positions by key path; the node budget also catches alias bombs and cycles."""

    def __init__(self, positions: dict[Loc, tuple[int, int]], plain: dict[Loc, str]):
        self.positions = positions
        self.plain = plain
        self.budget = MAX_NODES
        self.active: set[int] = set()

    def walk(self, node: Node, loc: Loc) -> None:
        self.budget -= 1
        if self.budget < 0:
            raise _Problem("the document is too large once aliases are expanded", _line(node))
        if isinstance(node, ScalarNode):
            if node.style is None:
                self.plain[loc] = str(node.value)
            return
        if id(node) in self.active:
            raise _Problem("an alias refers to a mapping or list that contains it", _line(node))
        self.active.add(id(node))
        if isinstance(node, MappingNode):
            for key_node, value_node in node.value:
                child = (*loc, _key_text(key_node))
                self.positions[child] = (_line(key_node), key_node.start_mark.column + 1)
                self.walk(value_node, child)
        elif isinstance(node, SequenceNode):
            for index, item in enumerate(node.value):
                child = (*loc, index)
                self.positions[child] = (_line(item), item.start_mark.column + 1)
                self.walk(item, child)
        self.active.discard(id(node))


def format_loc(loc: Sequence[str | int]) -> str:
    """``('personas', 3, 'answer_after_s')`` → ``personas[3].answer_after_s``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def validate(model: type[M], loaded: LoadedYaml) -> M:
    """Validate ``loaded.data`` as ``model``; every error becomes one line of a ConfigError."""
    try:
        return model.model_validate(loaded.data)
    except ValidationError as exc:
        problems = sorted(
            _specific(_describe(model, loaded, err) for err in exc.errors(include_url=False)),
            key=lambda p: p[0] or 0,
        )
        err = ConfigError("\n".join(text for _, text in problems))
        err.path, err.line = loaded._path_str(), problems[0][0]
        raise err from exc


def _specific(problems: Iterable[tuple[int | None, str]]) -> list[tuple[int | None, str]]:
    """For a union (text or mapping), keep the specific complaint, not "should be a valid X"."""
    found = list(dict.fromkeys(problems))
    places: dict[str, int] = {}
    for _, text in found:
        place = text.rsplit(": ", 1)[0]
        places[place] = places.get(place, 0) + 1
    return [(line, text) for line, text in found
            if not (places[text.rsplit(": ", 1)[0]] > 1 and ": Input should be a valid " in text)]


def _describe(model: type[BaseModel], loaded: LoadedYaml, err: Any) -> tuple[int | None, str]:
    loc: Loc = tuple(err["loc"])
    kind = err["type"]
    if kind == "missing":
        key = loc[-1] if loc else "?"
        message = f"missing required key {key!r}"
        where_loc = loc[:-1]
    elif kind == "extra_forbidden":
        key = loc[-1] if loc else "?"
        message = f"unknown key {key!r}"
        close = difflib.get_close_matches(str(key), _known_keys(model, loc[:-1]), n=1, cutoff=0.6)
        if close:
            message += f"; did you mean {close[0]!r}?"
        where_loc = loc
    else:
        loc = _data_prefix(loaded, loc)
        message = _with_quote_hint(err, loaded.plain.get(loc))
        where_loc = loc
    return loaded.line(where_loc), f"{loaded.where(where_loc)}: {format_loc(loc)}: {message}"


def _data_prefix(loaded: LoadedYaml, loc: Loc) -> Loc:
    """Drop pydantic's trailing union/validator labels that are not part of the data path."""
    for n in range(len(loc), 0, -1):
        if loc[:n] in loaded.positions or loc[:n] in loaded.origins:
            return loc[:n]
    return loc


def _with_quote_hint(err: Any, raw: str | None) -> str:
    value = err.get("input")
    message = str(err["msg"]).removeprefix("Value error, ")
    if raw is None or isinstance(value, str):
        return message
    if err["type"] in {"literal_error", "enum"}:
        if f"'{raw}'" not in str(err.get("ctx", {}).get("expected", "")):
            return message  # quoting would not help either
    elif err["type"] != "string_type":
        return message
    if isinstance(value, bool):
        read_as = "true" if value else "false"
    elif value is None:
        read_as = "empty (null)"
    elif isinstance(value, dt.date):
        read_as = "a date"
    else:
        read_as = f"the number {value!r}"
    if err["type"] == "string_type":
        message = "expected text"
    return f'{message}, but YAML reads {raw} as {read_as}; write it in quotes: "{raw}"'


def _known_keys(model: type[BaseModel], loc: Loc) -> list[str]:
    target: Any = model
    for part in loc:
        target = _child_type(target, part)
        if target is None:
            return []
    target = _as_model(target)
    if target is None:
        return []
    return [f.alias or name for name, f in target.model_fields.items()]


def _as_model(tp: Any) -> type[BaseModel] | None:
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return tp
    for arg in _union_args(tp):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return None


def _union_args(tp: Any) -> tuple[Any, ...]:
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        return typing.get_args(tp)
    if origin is typing.Annotated:
        return (typing.get_args(tp)[0],)
    return ()


def _child_type(tp: Any, part: str | int) -> Any:
    for candidate in (tp, *_union_args(tp)):
        model = _as_model(candidate) if isinstance(candidate, type) else None
        if model is not None and isinstance(part, str):
            for name, f in model.model_fields.items():
                if part in (name, f.alias):
                    return f.annotation
            return None
        origin = typing.get_origin(candidate)
        args = typing.get_args(candidate)
        if isinstance(part, int) and origin in (list, tuple, set, frozenset, Sequence) and args:
            return args[0]
        if isinstance(part, str) and origin in (dict, Mapping) and len(args) == 2:
            return args[1]
    return None
