"""Campaign definitions: checked exactly as `collbot run` checks a file, registered in the
database by `collbot campaign add`, loaded back from it by `collbot serve`."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from bot.campaign.spec import Campaign, all_scripts, campaign_from_text, read_campaign
from bot.config import Settings
from bot.dialogue.compiler import CompiledScript
from bot.errors import ConfigError
from bot.inputfile import read_regular
from bot.store.definitions import Registered
from bot.store.repo import open_store
from bot.yamlfile import MAX_FILE_BYTES


def checked_scripts(settings: Settings, campaign: Campaign) -> dict[Path, CompiledScript]:
    """Every script the campaign uses, checked and compiled before anything is dialled; the
    speech model each names must be installed (one clear error otherwise)."""
    from bot.campaign.compliance import PACKS
    from bot.commands import compiled_script
    from bot.speech.models import model_dir_for

    paths = all_scripts(campaign)
    notice = PACKS[campaign.compliance.pack].recording_notice  # kr: the debtor is told the call is recorded
    compiled = {}
    for path in paths:
        assert path is not None
        try:
            compiled[path] = compiled_script(settings, path, recording_notice=notice)
        except ConfigError as exc:
            raise ConfigError(f"campaign {campaign.campaign!r} cannot start: its script does not pass the "
                              f"check:\n{exc}") from exc
        try:
            model_dir_for(settings, compiled[path].script.asr_model, script=path)
        except ConfigError as exc:
            raise ConfigError(f"campaign {campaign.campaign!r} cannot start: {exc}") from None
    return compiled


@dataclass(frozen=True, slots=True)
class Registration:
    name: str
    change: str  # added | updated | unchanged
    status: str
    sha256: str
    source: str


def register(settings: Settings, path: Path) -> Registration:
    """Check a campaign file like `run` does, then store its text; nothing is stored if it fails."""
    campaign = read_campaign(path)
    checked_scripts(settings, campaign)
    try:
        text = read_regular(path, max_bytes=MAX_FILE_BYTES).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"cannot read it again: {exc}", path=str(path)) from exc
    if campaign_from_text(text, path) != campaign:
        raise ConfigError("the file changed while it was being read; add it again", path=str(path))
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    source = str(path.resolve())
    with open_store(settings.database.url) as store:
        change, status = store.save_definition(campaign.campaign, source_path=source, text=text, sha256=digest)
    return Registration(campaign.campaign, change, status, digest, source)


def load_registered(settings: Settings, registered: Registered) -> tuple[Campaign, dict[Path, CompiledScript]]:
    """A stored definition, validated again and its scripts (read from disk) checked."""
    campaign = campaign_from_text(registered.definition, Path(registered.source_path))
    if campaign.campaign != registered.name:
        raise ConfigError(f"the stored definition of {registered.name!r} names campaign {campaign.campaign!r}",
                          path=registered.source_path)
    return campaign, checked_scripts(settings, campaign)
