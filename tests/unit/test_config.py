"""Settings: YAML file, environment overrides, and docs/example generated from the model."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel

from bot.config import (
    Settings,
    load_settings,
    settings_example_yaml,
    settings_reference_markdown,
)
from bot.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
REGENERATE = (
    "regenerate with: .venv/bin/python -c 'import bot.config as c; "
    "open(\"docs/configuration.md\", \"w\").write(c.settings_reference_markdown()); "
    "open(\"collbot.example.yaml\", \"w\").write(c.settings_example_yaml())'"
)


@pytest.fixture(autouse=True)
def empty_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run each test where no collbot.yaml exists unless the test writes one."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def all_keys() -> list[str]:
    keys = []
    for section, f in Settings.model_fields.items():
        assert isinstance(f.annotation, type) and issubclass(f.annotation, BaseModel)
        keys += [f"{section}.{key}" for key in f.annotation.model_fields]
    return keys


def test_no_file_and_no_environment_gives_the_defaults() -> None:
    assert load_settings(None, env={}) == Settings()


def test_collbot_yaml_in_the_working_directory_is_used(empty_cwd: Path) -> None:
    (empty_cwd / "collbot.yaml").write_text("ami:\n  port: 6000\n")
    assert load_settings(None, env={}).ami.port == 6000


def test_an_explicit_path_must_exist(empty_cwd: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(empty_cwd / "missing.yaml", env={})


def test_environment_overrides_the_file(empty_cwd: Path) -> None:
    path = empty_cwd / "s.yaml"
    path.write_text("ami:\n  port: 6000\n  host: 127.0.0.2\n")
    env = {
        "COLLBOT__AMI__PORT": "5039",
        "COLLBOT__DATABASE__URL": "postgresql+psycopg://bot@db/collbot",
        "COLLBOT__AMI__ALLOW_REMOTE": "yes",
        "COLLBOT__DIAL__ALLOWED_COUNTRIES": "KR, US",
        "COLLBOT__LOG__FILE": "",
        "COLLBOT__SPEECH__MODEL_DIR": "/opt/vosk",
        "COLLBOT_UNRELATED": "x",
        "PATH": "/usr/bin",
    }
    settings = load_settings(path, env=env)
    assert settings.ami.port == 5039 and settings.ami.host == "127.0.0.2"
    assert settings.database.url == "postgresql+psycopg://bot@db/collbot"
    assert settings.ami.allow_remote is True
    assert settings.dial.allowed_countries == ["KR", "US"]
    assert settings.log.file is None
    assert settings.speech.model_dir == Path("/opt/vosk")


def test_list_override_may_be_json() -> None:
    env = {"COLLBOT__DIAL__ALLOWED_COUNTRIES": '["CN"]'}
    assert load_settings(None, env=env).dial.allowed_countries == ["CN"]


@pytest.mark.parametrize(("name", "needle"), [
    ("COLLBOT__AMY__PORT", "COLLBOT__AMY__PORT: unknown section 'amy'; did you mean 'ami'?"),
    ("COLLBOT__AMI__PROT", "COLLBOT__AMI__PROT: unknown key 'prot' in 'ami'; did you mean 'port'?"),
    ("COLLBOT__AMI", "COLLBOT__AMI: expected COLLBOT__SECTION__KEY"),
    ("COLLBOT__AMI__PORT__X", "expected COLLBOT__SECTION__KEY"),
])
def test_unknown_environment_keys_are_refused(name: str, needle: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(None, env={name: "1"})
    assert needle in str(caught.value)


def test_bad_environment_value_names_the_variable() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(None, env={"COLLBOT__AMI__PORT": "http"})
    assert str(caught.value) == (
        "environment variable COLLBOT__AMI__PORT: ami.port: "
        "Input should be a valid integer, unable to parse string as an integer"
    )


def test_bad_json_list_in_environment() -> None:
    with pytest.raises(ConfigError, match="COLLBOT__DIAL__ALLOWED_COUNTRIES: not a JSON list"):
        load_settings(None, env={"COLLBOT__DIAL__ALLOWED_COUNTRIES": "[KR"})


def test_file_errors_carry_file_and_line(empty_cwd: Path) -> None:
    path = empty_cwd / "collbot.yaml"
    path.write_text(
        "# collbot\n"
        "ami:\n"
        "  prot: 5039\n"
        "  port: 99999\n"
        "dial:\n"
        "  default_region: NO\n"
        "log:\n"
        "  level: verbose\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={})
    assert str(caught.value).splitlines() == [
        f"{path}:3: ami.prot: unknown key 'prot'; did you mean 'port'?",
        f"{path}:4: ami.port: Input should be less than or equal to 65535",
        f'{path}:6: dial.default_region: expected text, but YAML reads NO as false; '
        'write it in quotes: "NO"',
        f"{path}:8: log.level: Input should be 'DEBUG', 'INFO', 'WARNING' or 'ERROR'",
    ]
    assert caught.value.line == 3


def test_environment_cannot_patch_a_section_that_is_not_a_mapping(empty_cwd: Path) -> None:
    path = empty_cwd / "collbot.yaml"
    path.write_text("ami: 5\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={"COLLBOT__AMI__PORT": "1"})
    assert str(caught.value).startswith(f"{path}:1: ami: must be a mapping")


def test_docs_are_generated_from_the_model() -> None:
    text = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert text == settings_reference_markdown(), REGENERATE


def test_docs_mention_every_key() -> None:
    text = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    missing = [key for key in all_keys() if f"`{key}`" not in text]
    assert not missing, f"docs/configuration.md lacks {missing}; {REGENERATE}"


def test_example_file_is_generated_and_holds_the_defaults() -> None:
    path = ROOT / "collbot.example.yaml"
    text = path.read_text(encoding="utf-8")
    assert text == settings_example_yaml(), REGENERATE
    assert load_settings(path, env={}) == Settings()
    for key in all_keys():
        assert f" {key.split('.')[1]}:" in text, key


@pytest.mark.parametrize(("text", "line", "needle"), [
    ("dial:\n  template: 'PJSIP/{number}'\n", 2, "dial.template: dial template field {number}"),
    ("dial:\n  default_region: KO\n", 2, "dial.default_region: 'KO' is not an ISO 3166"),
    ("dial:\n  allowed_countries:\n    - KR\n    - XX\n", 4,
     "dial.allowed_countries[1]: 'XX' is not an ISO 3166"),
])
def test_dialling_settings_are_checked_at_load(
    empty_cwd: Path, text: str, line: int, needle: str
) -> None:
    path = empty_cwd / "collbot.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={})
    assert str(caught.value).startswith(f"{path}:{line}: {needle}")


def test_dial_template_from_environment_is_checked() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(None, env={"COLLBOT__DIAL__TEMPLATE": "PJSIP/{e164}\r\nAction: x"})
    assert str(caught.value).startswith("environment variable COLLBOT__DIAL__TEMPLATE: ")


def test_listening_cannot_start_before_the_prompts_silent_tail(empty_cwd: Path) -> None:
    path = empty_cwd / "s.yaml"
    path.write_text("tts:\n  tail_ms: 300\nlisten:\n  early_start_ms: 300\n")
    with pytest.raises(ConfigError, match=r"s\.yaml:4.*early_start_ms.*less than tts\.tail_ms \(300 ms\)"):
        load_settings(path, env={})
    path.write_text("tts:\n  tail_ms: 300\nlisten:\n  early_start_ms: 0\n")
    assert load_settings(path, env={}).listen.early_start_ms == 0
