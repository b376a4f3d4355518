"""The YAML call-script model: what operators write. Reference: docs/scripts.md.

A script is a set of named steps. Each step may say something, then does exactly one of:
listen (and go where the answer leads), branch (on slots, fields and counters), go to a
step, or end the call with an outcome.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from bot.domain import Outcome

StepName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
SlotName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
Keys = Annotated[str, StringConstraints(pattern=r"^[0-9*#]{1,12}$")]
Phrase = Annotated[str, StringConstraints(min_length=1, max_length=200)]
PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]*)\}")
BUILTIN_FIELDS = ("name", "amount", "currency", "due_date", "days_overdue")
DEBT_FIELDS = ("amount", "due_date", "days_overdue")
LANGUAGES = ("ko", "zh", "en")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Recording(_Strict):
    """A recorded prompt, confined to the sounds directory."""

    file: Annotated[str, StringConstraints(min_length=1, max_length=200)]

    @field_validator("file")
    @classmethod
    def _inside_sounds(cls, value: str) -> str:
        if value.startswith("/") or ".." in value.split("/") or not re.fullmatch(r"[A-Za-z0-9_./-]+", value):
            raise ValueError("a recorded prompt must be a path inside the sounds directory "
                             "(letters, digits, _ - . /; no '..', no leading '/')")
        return value


Say = Phrase | Recording


KINDS = ("yes", "no", "opt_out", "wrong_number", "human", "already_paid", "refuse", "callback", "promise")


class Intent(_Strict):
    """One expected answer: phrases and/or keys; may capture or set slots; leads to a step.

    ``kind`` says what the answer means, so the robot also understands paraphrases of the
    phrases (docs/understanding.md); without it, the kind follows from the outcome the
    intent leads to. ``confirm`` is the question asked before a consequential answer heard
    with less than certainty is stored.
    """

    kind: Literal["yes", "no", "opt_out", "wrong_number", "human", "already_paid", "refuse", "callback",
                  "promise"] | None = None
    confirm: Phrase | None = None
    phrases: list[Phrase] = Field(default_factory=list)
    dtmf: Keys | None = None
    capture: dict[SlotName, Literal["date", "amount", "time"]] = Field(default_factory=dict)
    set: dict[SlotName, str] = Field(default_factory=dict)
    goto: StepName

    @model_validator(mode="after")
    def _answerable(self) -> Intent:
        if not self.phrases and not self.dtmf and not self.capture:
            raise ValueError("an intent needs phrases, dtmf keys or a capture")
        if len(self.capture) > 1:
            raise ValueError("an intent captures at most one slot")
        return self


class Retry(_Strict):
    """What happens when nothing (no_input) or nothing expected (no_match) is heard."""

    say: Say | None = None
    retries: int = Field(2, ge=0, le=5)
    goto: StepName


class Listen(_Strict):
    intents: dict[StepName, Intent] = Field(min_length=1)
    no_input: Retry | None = None
    no_match: Retry | None = None
    question: Retry | None = None  # a question back ("누구세요?"); no_match's when absent
    ask_slot: Phrase | None = None  # asked when an answer means an intent but lacks its date/amount
    timeout_s: float = Field(5.0, gt=0, le=30)
    max_speech_s: float = Field(10.0, gt=0, le=60)
    globals: bool = True


class Condition(_Strict):
    """One test; exactly one of slot / field / counter, with one comparison."""

    slot: SlotName | None = None
    field: SlotName | None = None
    counter: StepName | None = None
    set: bool | None = None  # the slot or field has a value
    eq: str | float | None = None
    gt: float | None = None
    ge: float | None = None
    lt: float | None = None
    le: float | None = None
    within_days: int | None = Field(None, ge=0, le=3650)  # a date slot/field no later than today + N

    @model_validator(mode="after")
    def _one_subject_one_test(self) -> Condition:
        subjects = [s for s in (self.slot, self.field, self.counter) if s is not None]
        tests = [t for t in (self.set, self.eq, self.gt, self.ge, self.lt, self.le, self.within_days)
                 if t is not None]
        if len(subjects) != 1:
            raise ValueError("a condition names exactly one of slot, field or counter")
        if len(tests) != 1:
            raise ValueError("a condition has exactly one test: set, eq, gt, ge, lt, le or within_days")
        return self


class Rule(_Strict):
    if_: Condition | None = Field(None, alias="if")
    else_: bool | None = Field(None, alias="else")
    goto: StepName

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _if_or_else(self) -> Rule:
        if (self.if_ is None) == (self.else_ is None):
            raise ValueError("a branch rule has either 'if' or 'else: true'")
        return self


class ContactRequestSpec(_Strict):
    """A contact restriction the customer asked for in the call ("don't call me at work"), stored
    when the call ends and honoured by the compliance gate (docs/compliance.md).

    ``suspension``: the customer said they qualify for a suspension (hospitalised, surgery, a death
    in the family, a disaster). The law's suspension needs evidence, so it is stored as a request
    pending a person's review and never honoured by the gate until a person enters it
    (`collbot debtor suspend`)."""

    hours: list[str] = Field(default_factory=list)  # weekly slots, e.g. "mon-fri 09:00-18:00"
    means: list[Literal["phone", "sms"]] = Field(default_factory=list)
    suspension: str | None = None  # disaster, surgery, hospital or bereavement

    @model_validator(mode="after")
    def _something(self) -> ContactRequestSpec:
        from bot.compliance.requests import REASONS, parse_slot
        from bot.errors import InputError

        if not self.hours and not self.means and self.suspension is None:
            raise ValueError("a contact request needs hours, means or a suspension")
        if self.suspension is not None and self.suspension not in REASONS:
            raise ValueError(f"suspension {self.suspension!r}: expected one of {', '.join(REASONS)}")
        for text in self.hours:
            try:
                parse_slot(text)
            except InputError as exc:
                raise ValueError(str(exc).replace("--hours ", "hours ")) from None
        return self


class Step(_Strict):
    say: Say | None = None
    contact_request: ContactRequestSpec | None = None  # recorded when the call passes this step
    listen: Listen | None = None
    branch: list[Rule] | None = None
    goto: StepName | None = None
    end: bool | None = None
    outcome: Outcome | None = None
    action: Literal["transfer", "callback", "opt_out"] | None = None
    # false: neither speech nor keys stop this step's prompt (a disclosure heard whole)
    interruptible: bool = True

    @model_validator(mode="after")
    def _one_way_on(self) -> Step:
        ways = [w for w in ("listen", "branch", "goto", "end") if getattr(self, w) not in (None, False)]
        if len(ways) != 1:
            raise ValueError("a step does exactly one of listen, branch, goto or end: true")
        if self.branch is not None and (not self.branch or self.branch[-1].else_ is not True):
            raise ValueError("a branch ends with an 'else: true' rule")
        if self.end and self.outcome is None:
            raise ValueError("an end step sets an outcome")
        return self

    @field_validator("outcome", "action")
    @classmethod
    def _only_when_ending(cls, value: object, info: ValidationInfo) -> object:
        if value is not None and not info.data.get("end"):
            raise ValueError("outcome and action belong on an end step (end: true)")
        return value


class UnderstandingPolicy(_Strict):
    """What is consequential and how sure the robot must be (docs/understanding.md)."""

    consequential: list[Outcome] = Field(default_factory=lambda: [
        Outcome.PROMISE_TO_PAY, Outcome.WRONG_NUMBER, Outcome.ALREADY_PAID, Outcome.REFUSED, Outcome.CALLBACK])
    # 1.0: every spoken consequential answer is confirmed (no lower value was found safe)
    certain_confidence: float = Field(1.0, ge=0, le=1)
    thresholds: dict[Literal["yes", "no", "opt_out", "wrong_number", "human", "already_paid", "refuse", "callback",
                             "promise"], Annotated[float, Field(ge=0, le=1)]] = Field(default_factory=dict)
    confirm_retries: int = Field(1, ge=0, le=3)
    # confirmation of an opt-out cue that stays unclear: honour it (store opt_out), review it (the
    # call goes on as a no_match, but the number is held, suppressed as "opt_out_review" until a
    # person lifts or confirms it), or take it as no answer (nothing held)
    unclear_opt_out: Literal["honour", "review", "no_match"] = "review"


class GlobalIntent(Intent):
    """An intent active in every listen step unless the step sets globals: false."""


class Script(_Strict):
    script: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    version: int = Field(1, ge=1)
    language: Literal["ko", "zh", "en"]
    voice: str | None = None
    rate: int | None = Field(None, ge=50, le=400)
    asr_model: str | None = None
    identification: StepName | None = None
    recording_notice: StepName | None = None  # the step whose prompt says the call is recorded
    fields: list[SlotName] = Field(default_factory=list)
    globals: dict[Literal["opt_out", "wrong_number", "human", "already_paid"], GlobalIntent] = Field(
        default_factory=dict)
    understanding: UnderstandingPolicy = Field(default_factory=UnderstandingPolicy)
    start: StepName
    steps: dict[StepName, Step] = Field(min_length=1)

    def placeholders(self, text: str) -> list[str]:
        return PLACEHOLDER.findall(text)

    def intents_of(self, listen: Listen) -> list[tuple[str, Intent]]:
        """What a listen step hears: its own intents, then the global ones unless turned off."""
        found: list[tuple[str, Intent]] = list(listen.intents.items())
        if listen.globals:
            found += [(f"globals.{k}", v) for k, v in self.globals.items()]
        return found
