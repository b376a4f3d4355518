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


class Campaign(_Strict):
    campaign: Name
    script: Path
    debtors: DebtorFilter = Field(default_factory=DebtorFilter)
    schedule: Schedule = Field(default_factory=Schedule)
    rounds: list[Round] = Field(min_length=1, max_length=20)
    retry: dict[RetryableResult, RetryRuleSpec] = Field(default_factory=dict)
    limits: Limits = Field(default_factory=Limits)
    compliance: ComplianceSpec = Field(default_factory=ComplianceSpec)
    dnc: Path | None = None  # a file of numbers never to call (one per line, # comments)
    interrupted: InterruptedSpec = Field(default_factory=InterruptedSpec)

    @model_validator(mode="after")
    def _rounds(self) -> Campaign:
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
    return campaign.model_copy(update={"script": rel(campaign.script), "dnc": rel(campaign.dnc), "rounds": rounds})
