"""Plain data the rest of collbot speaks in: debtors, call results, outcomes, dialogue events."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum


class CallResult(StrEnum):
    """What the network did with one originate: exactly one per attempt."""

    ANSWERED = "answered"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    CONGESTION = "congestion"
    FAILED = "failed"
    REJECTED = "rejected"  # the far end refused the call's terms (SIP 488: no common codec); never retried
    UNKNOWN = "unknown"  # the link dropped before Asterisk told us; never blindly re-dialled


class Outcome(StrEnum):
    """What the conversation achieved (the fixed, documented vocabulary)."""

    PROMISE_TO_PAY = "promise_to_pay"
    REFUSED = "refused"
    ALREADY_PAID = "already_paid"
    DISPUTE = "dispute"
    WRONG_NUMBER = "wrong_number"
    CALLBACK = "callback"
    OPT_OUT = "opt_out"
    TRANSFER_REQUESTED = "transfer_requested"
    NO_RESPONSE = "no_response"
    HUNG_UP = "hung_up"
    ERROR = "error"  # the call ended politely because of a fault on our side; reason recorded


class EventKind(StrEnum):
    """Kinds of call events stored for each attempt."""

    STATE = "state"  # the dialogue moved to another step
    PROMPT = "prompt"  # the robot played a prompt
    RECOGNITION = "recognition"  # speech was recognized (text + confidence)
    NO_INPUT = "no_input"  # the customer said nothing in time
    NO_MATCH = "no_match"  # speech was heard but not understood as an answer (what was heard, why)
    CONFIRM = "confirm"  # the robot asked to confirm an answer; what the customer said to it
    DTMF = "dtmf"  # the customer pressed a key
    HANGUP = "hangup"  # the call ended (who, cause)
    ERROR = "error"
    RECONCILED = "reconciled"  # closed after its controller died (how: live channel hung up, ...)


# An opt-out cue whose confirmation stayed unclear (understanding.unclear_opt_out: review): the key
# in the outcome's detail and the reason of the call's NO_MATCH event. The controller, or the
# cut-call planner, then holds the number for a person's review.
OPT_OUT_REVIEW = "opt_out_review"


@dataclass(frozen=True, slots=True)
class Debtor:
    """A person who owes money; ``phone`` is always normalized E.164."""

    id: str
    name: str
    phone: str
    amount: Decimal
    currency: str = "KRW"
    due_date: dt.date | None = None
    language: str = "ko"
    extra: dict[str, str] = field(default_factory=dict)
    timezone: str | None = None  # IANA name; None: guessed from the number
    alt_phone: str | None = None  # a second E.164 number
    tags: tuple[str, ...] = ()
    overdue_since: dt.date | None = None  # the day days-past-due counts from; None: unknown
    score: float | None = None  # the lender's model score, 0-1000, higher: more likely to pay


@dataclass(frozen=True, slots=True)
class Heard:
    """What one listen step got from the customer."""

    text: str = ""  # recognized speech ('' when nothing or only DTMF)
    confidence: float = 0.0
    digit: str = ""  # a DTMF key, '' when none
    audio_ms: int = 0  # length of the captured utterance
    # where the turn's time went (ms): eos_ms from the end of speech until the robot had the
    # recording, asr_ms recognition; empty when the channel does not measure
    timing: Mapping[str, int] = field(default_factory=dict)

    @property
    def silent(self) -> bool:
        return not self.text and not self.digit


@dataclass(frozen=True, slots=True)
class DialogueEvent:
    """One thing that happened on a call, recorded in order."""

    kind: EventKind
    data: dict[str, object]
    at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
