"""The campaign file: who is called, when, in how many rounds, how retries and limits work.

Reference: docs/campaigns.md. Validated strictly; errors name file:line.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from bot import durations
from bot.yamlfile import load_yaml, parse_yaml, validate

Name = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
RetryableResult = Literal["no_answer", "busy", "congestion", "failed"]
AnsweredAgain = Literal["no_response", "hung_up"]  # answered, unfinished: retried only if configured
LanguageCode = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def parse_duration(value: object) -> dt.timedelta:
    """A round's ``after`` (0 allowed), in the one syntax of bot.durations."""
    return durations.parse_duration(value, allow_zero=True)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DebtorFilter(_Strict):
    min_days_overdue: int | None = Field(None, ge=0)
    max_days_overdue: int | None = Field(None, ge=0)
    min_amount: Decimal | None = Field(None, ge=0)
    max_amount: Decimal | None = Field(None, ge=0)
    tags: list[str] = Field(default_factory=list)  # a debtor needs at least one of them
    ids: list[str] = Field(default_factory=list)  # only these debtors (handy for tests)


class Schedule(_Strict):
    timezone: str = "Asia/Seoul"
    days: list[Weekday] = Field(default_factory=lambda: list(WEEKDAYS))
    dates: list[dt.date] = Field(default_factory=list)  # empty: any date
    start: dt.time = dt.time(9, 0)
    end: dt.time = dt.time(20, 0)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _order(self) -> Schedule:
        if self.end <= self.start:
            raise ValueError("schedule end must be after its start")
        return self


class Round(_Strict):
    name: Name
    start: dt.time | None = None  # local (schedule time zone) time the round may begin
    after: str | None = None  # a delay after the previous round ended, e.g. "2h"
    script: Path | None = None
    ring_timeout_s: float | None = Field(None, gt=0, le=120)
    caller_id: str | None = Field(None, max_length=80)
    retries: list[RetryableResult | Literal["new"]] = Field(default_factory=lambda: ["new"])

    @field_validator("after")
    @classmethod
    def _after(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value

    @field_validator("caller_id")
    @classmethod
    def _caller_id(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r'[A-Za-z0-9 "<>+._-]*', value):
            raise ValueError('caller_id may hold letters, digits, spaces and "<>+._- only')
        return value


class RetryRuleSpec(_Strict):
    delay: str | float = "30m"
    max_attempts: int = Field(3, ge=0, le=20)

    @field_validator("delay")
    @classmethod
    def _delay(cls, value: str | float) -> str | float:
        durations.parse_duration(value)  # as the retry policy will read it: more than 0
        return value


class Limits(_Strict):
    max_concurrent: int = Field(20, ge=1, le=1000)
    originates_per_second: float = Field(5.0, gt=0, le=200)


class ComplianceSpec(_Strict):
    pack: str = "default"
    window: str | None = None  # "08:00-21:00" overrides the pack's
    max_per_day: int | None = Field(None, ge=0)
    max_per_7_days: int | None = Field(None, ge=0)
    cooldown_after_conversation_days: float | None = Field(None, ge=0)
    max_unanswered_per_day: int | None = Field(None, ge=0)
    default_timezone: str | None = None  # for numbers whose zone cannot be inferred

    @field_validator("pack")
    @classmethod
    def _known_pack(cls, value: str) -> str:
        from bot.campaign.compliance import PACKS

        if value not in PACKS:
            raise ValueError(f"unknown compliance pack {value!r}; known packs: {', '.join(PACKS)}")
        return value


class InterruptedSpec(_Strict):
    """What to do about an attempt cut short (controller killed, AMI link or Asterisk lost)."""

    follow_up: str | float = "none"  # "none", or a delay after the cut call: "2h", "30m"
    max_follow_ups: int = Field(1, ge=0, le=10)  # per debtor in this campaign

    @field_validator("follow_up")
    @classmethod
    def _follow_up(cls, value: str | float) -> str | float:
        if value != "none" and parse_duration(value) <= dt.timedelta(0):
            raise ValueError("follow_up must be none or a delay like 30m, 2h")
        return value

    def delay(self) -> dt.timedelta | None:
        return None if self.follow_up == "none" else parse_duration(self.follow_up)


class CallbackSpec(_Strict):
    """When a debtor asked to be called back (outcome ``callback``): docs/campaigns.md, "Callbacks"."""

    default_delay: str | float | None = "1d"  # a callback without a time; None: no follow-up

    @field_validator("default_delay")
    @classmethod
    def _delay(cls, value: str | float | None) -> str | float | None:
        if value is None or value == "none":  # as in interrupted.follow_up
            return None
        durations.parse_duration(value)
        return value

    def delay(self) -> dt.timedelta | None:
        return None if self.default_delay is None else durations.parse_duration(self.default_delay)


class AltPhoneSpec(_Strict):
    """Try the debtor's ``alt_phone`` once the primary number failed (docs/campaigns.md, "alt_phone")."""

    after: Literal["never", "first_failure", "retries"] = "never"  # retries: once its retries are spent
    results: list[RetryableResult] = Field(default_factory=lambda: ["no_answer", "busy", "failed"])


class Campaign(_Strict):
    campaign: Name
    script: Path | None = None
    scripts: dict[LanguageCode, Path] = Field(default_factory=dict)  # debtor language -> script
    callbacks: CallbackSpec = Field(default_factory=CallbackSpec)
    alt_phone: AltPhoneSpec = Field(default_factory=AltPhoneSpec)
    debtors: DebtorFilter = Field(default_factory=DebtorFilter)
    schedule: Schedule = Field(default_factory=Schedule)
    rounds: list[Round] = Field(min_length=1, max_length=20)
    retry: dict[RetryableResult | AnsweredAgain, RetryRuleSpec] = Field(default_factory=dict)
    limits: Limits = Field(default_factory=Limits)
    compliance: ComplianceSpec = Field(default_factory=ComplianceSpec)
    dnc: Path | None = None  # a file of numbers never to call (one per line, # comments)
    interrupted: InterruptedSpec = Field(default_factory=InterruptedSpec)

    @model_validator(mode="after")
    def _rounds(self) -> Campaign:
        if self.script is None and not self.scripts:
            raise ValueError("a campaign needs a script (or scripts: {language: file})")
        names = [r.name for r in self.rounds]
        if len(set(names)) != len(names):
            raise ValueError("round names must be unique")
        if "new" not in self.rounds[0].retries:
            raise ValueError("the first round must call new debtors (retries: [new])")
        return self


def read_campaign(path: Path) -> Campaign:
    """Load and validate; relative script/dnc paths are relative to the campaign file."""
    return _resolved(validate(Campaign, load_yaml(path)), path)


def campaign_from_text(text: str, source: Path) -> Campaign:
    """A campaign file's text (as registered), validated as if read from ``source``."""
    return _resolved(validate(Campaign, parse_yaml(text, source)), source)


def _resolved(campaign: Campaign, source: Path) -> Campaign:
    base = source.parent

    def rel(p: Path | None) -> Path | None:
        return p if p is None or p.is_absolute() else (base / p)

    rounds = [r.model_copy(update={"script": rel(r.script)}) for r in campaign.rounds]
    scripts = {lang: rel(p) for lang, p in campaign.scripts.items()}
    return campaign.model_copy(update={"script": rel(campaign.script), "dnc": rel(campaign.dnc), "rounds": rounds,
                                       "scripts": scripts})


def campaign_end(campaign: Campaign) -> dt.datetime | None:
    """The end of the campaign's last listed date (schedule.dates), in UTC; None: no end."""
    s = campaign.schedule
    if not s.dates:
        return None
    return dt.datetime.combine(max(s.dates), s.end, ZoneInfo(s.timezone)).astimezone(dt.UTC)


def script_for(campaign: Campaign, round_script: Path | None, language: str) -> Path | None:
    """The script a debtor speaking ``language`` is called with: the round's, else the campaign's
    for that language (``ko-KR`` falls back to ``ko``), else its single ``script``; None: none."""
    if round_script is not None:
        return round_script
    lang = (language or "").strip()
    for key in (lang, lang.split("-")[0].lower()):
        if key in campaign.scripts:
            return campaign.scripts[key]
    return campaign.script


def all_scripts(campaign: Campaign) -> set[Path]:
    return {p for p in (campaign.script, *campaign.scripts.values(), *(r.script for r in campaign.rounds))
            if p is not None}
