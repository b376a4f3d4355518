"""Strict YAML loading and validation errors that point at file:line."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict, Field

from bot.errors import ConfigError
from bot.yamlfile import format_loc, load_yaml, parse_yaml, validate


class Persona(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    answer_after_s: float = Field(1.0, gt=0)
    language: str = "ko"


class Book(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str
    personas: list[Persona] = []
    weights: dict[str, int] = {}


def write(tmp_path: Path, text: str, name: str = "book.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_of(path: Path, model: type[BaseModel] = Book) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        validate(model, load_yaml(path))
    return caught.value


PERSONAS = """\
title: Demo
personas:
  - name: a
  - name: b
  - name: c
  - name: d
    answer_after_s: -2
"""


def test_positions_map_pydantic_locations_to_lines(tmp_path: Path) -> None:
    loaded = load_yaml(write(tmp_path, PERSONAS))
    assert loaded.line(("personas", 3, "answer_after_s")) == 7
    assert loaded.line(("personas", 3)) == 6
    assert loaded.line(("personas", 3, "not-there")) == 6  # nearest ancestor
    assert loaded.positions[("personas", 1, "name")] == (4, 5)
    assert loaded.line(()) == 1


def test_wrong_value_is_reported_at_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, PERSONAS)
    err = error_of(path)
    assert str(err) == (
        f"{path}:7: personas[3].answer_after_s: Input should be greater than 0"
    )
    assert (err.path, err.line) == (str(path), 7)


def test_every_error_is_listed_one_per_line_in_file_order(tmp_path: Path) -> None:
    path = write(tmp_path, """\
personas:
  - name: a
    answer_after_s: slow
  - nmae: b
weights:
  x: heavy
""")
    lines = str(error_of(path)).splitlines()
    assert lines == [
        f"{path}:1: title: missing required key 'title'",
        f"{path}:3: personas[0].answer_after_s: "
        "Input should be a valid number, unable to parse string as a number",
        f"{path}:4: personas[1].name: missing required key 'name'",
        f"{path}:4: personas[1].nmae: unknown key 'nmae'; did you mean 'name'?",
        f"{path}:6: weights.x: Input should be a valid integer, "
        "unable to parse string as an integer",
    ]


def test_unknown_key_without_a_close_match_has_no_suggestion(tmp_path: Path) -> None:
    path = write(tmp_path, "title: x\nzzzzzz: 1\n")
    assert str(error_of(path)) == f"{path}:2: zzzzzz: unknown key 'zzzzzz'"


@pytest.mark.parametrize(
    "word", ["no", "No", "off", "yes", "on", "0x1F", "~", "2024-01-01", "1.10"]
)
def test_unquoted_words_yaml_reads_as_other_types_get_a_quoting_hint(
    tmp_path: Path, word: str
) -> None:
    path = write(tmp_path, f"title: Demo\npersonas:\n  - name: x\n    language: {word}\n")
    message = str(error_of(path))
    assert message.startswith(f"{path}:4: personas[0].language: expected text, but YAML reads")
    assert message.endswith(f'write it in quotes: "{word}"')


def test_quoted_value_is_text(tmp_path: Path) -> None:
    path = write(tmp_path, 'title: "no"\n')
    assert validate(Book, load_yaml(path)).title == "no"


def test_duplicate_keys_name_both_lines(tmp_path: Path) -> None:
    path = write(tmp_path, "title: a\npersonas:\n  - name: x\n    name: y\n")
    err = error_of(path)
    assert str(err) == f"{path}:4: duplicate key 'name' (first on line 3, again on line 4)"
    assert err.line == 4


@pytest.mark.parametrize("text", [
    "title: !!python/object/apply:os.system ['echo hacked']\n",
    "title: !!python/name:os.system\n",
    "title: !!str 5\n",
    "title: x\npersonas: !!set {a, b}\n",
    "title: !custom x\n",
])
def test_explicit_tags_are_refused(tmp_path: Path, text: str) -> None:
    err = error_of(write(tmp_path, text))
    assert "YAML tag" in str(err) and "is not allowed" in str(err)
    assert err.line == text.count("\n")


def test_python_tag_names_the_short_form(tmp_path: Path) -> None:
    path = write(tmp_path, "title: !!python/object/apply:os.system ['echo hacked']\n")
    assert "'!!python/object/apply:os.system'" in str(error_of(path))


@pytest.mark.parametrize(("text", "line", "needle"), [
    ("title: x\n1: y\n", 2, "key '1' is not read as text by YAML; write it in quotes"),
    ("on: y\n", 1, "key 'on' is not read as text"),
    ("title: x\n? [a, b]\n: c\n", 2, "mapping keys must be plain text"),
])
def test_keys_must_be_text(tmp_path: Path, text: str, line: int, needle: str) -> None:
    err = error_of(write(tmp_path, text))
    assert needle in str(err) and err.line == line


@pytest.mark.parametrize("text", ["- a\n- b\n", "just text\n", "42\n"])
def test_top_level_must_be_a_mapping(tmp_path: Path, text: str) -> None:
    assert "top level must be a mapping" in str(error_of(write(tmp_path, text)))


def test_empty_or_comment_only_file_is_an_empty_mapping(tmp_path: Path) -> None:
    assert load_yaml(write(tmp_path, "")).data == {}
    assert load_yaml(write(tmp_path, "# nothing yet\n")).data == {}


def test_syntax_error_has_a_line(tmp_path: Path) -> None:
    path = write(tmp_path, "title: x\npersonas:\n  - name: [a\n  - name: b\n")
    err = error_of(path)
    assert str(err).startswith(f"{path}:4: invalid YAML:")


def test_second_document_is_refused(tmp_path: Path) -> None:
    err = error_of(write(tmp_path, "title: a\n---\ntitle: b\n"))
    assert "single document" in str(err) and err.line == 2


def test_missing_unreadable_and_undecodable_files(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    assert str(error_of(missing)) == f"{missing}: cannot read: No such file or directory"
    assert "cannot read" in str(error_of(tmp_path))  # a directory
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes(b"title: x\nname: caf\xe9\n")
    err = error_of(latin1)
    assert str(err) == f"{latin1}:2: not valid UTF-8 text; save the file as UTF-8"


def test_control_characters_are_refused_with_their_line(tmp_path: Path) -> None:
    err = error_of(write(tmp_path, "title: x\nname: a\x07b\n"))
    assert "U+0007" in str(err) and err.line == 2


def test_utf8_bom_and_unicode_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes("\ufefftitle: 안녕하세요\n".encode())
    assert validate(Book, load_yaml(path)).title == "안녕하세요"


def test_anchors_and_merge_keys_work(tmp_path: Path) -> None:
    path = write(tmp_path, """\
title: x
personas:
  - &base {name: a, answer_after_s: 2}
  - <<: *base
    name: b
""")
    book = validate(Book, load_yaml(path))
    assert [(p.name, p.answer_after_s) for p in book.personas] == [("a", 2.0), ("b", 2.0)]


def test_duplicate_key_next_to_a_merge_key_is_still_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "a: &a {x: 1}\nb:\n  <<: *a\n  y: 1\n  y: 2\n")
    assert "duplicate key 'y'" in str(error_of(path))


def test_alias_bombs_and_cycles_are_refused(tmp_path: Path) -> None:
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for i in range(1, 7):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    assert "too large once aliases are expanded" in str(
        error_of(write(tmp_path, "\n".join(lines) + "\n"))
    )
    assert "contains it" in str(error_of(write(tmp_path, "a: &x [1, *x]\n")))


def test_deep_nesting_is_refused(tmp_path: Path) -> None:
    assert "nested too deeply" in str(
        error_of(write(tmp_path, "a: " + "[" * 5000 + "]" * 5000 + "\n"))
    )


def test_later_errors_can_point_at_a_key(tmp_path: Path) -> None:
    path = write(tmp_path, PERSONAS)
    loaded = load_yaml(path)
    err = loaded.error(("personas", 2, "name"), "persona 'c' is never used")
    assert str(err) == f"{path}:5: personas[2].name: persona 'c' is never used"
    assert err.line == 5


def test_parse_yaml_without_a_path() -> None:
    loaded = parse_yaml("title: 1\n")
    with pytest.raises(ConfigError) as caught:
        validate(Book, loaded)
    assert str(caught.value) == "<settings>:1: title: expected text, but YAML reads 1 as the " \
        'number 1; write it in quotes: "1"'


def test_format_loc() -> None:
    assert format_loc(("personas", 3, "answer_after_s")) == "personas[3].answer_after_s"
    assert format_loc(()) == "(top level)"
