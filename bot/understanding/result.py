"""The typed result of understanding one turn: an intent, no_match or no_input."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Kind(StrEnum):
    """What a customer's answer means, independent of any script."""

    YES = "yes"
    NO = "no"
    QUESTION = "question"  # a question back ("누구세요?"): never an answer
    OPT_OUT = "opt_out"
    WRONG_NUMBER = "wrong_number"
    HUMAN = "human"
    ALREADY_PAID = "already_paid"
    REFUSE = "refuse"
    CALLBACK = "callback"
    PROMISE = "promise"


class Result(StrEnum):
    INTENT = "intent"
    NO_MATCH = "no_match"
    NO_INPUT = "no_input"


@dataclass(frozen=True)
class Understanding:
    """What one turn meant to a listen step.

    ``intent`` names the step's intent (e.g. ``promise`` or ``globals.opt_out``) when
    ``result`` is INTENT. ``score`` is how sure the classifier is of the meaning (0-1),
    ``asr_confidence`` how sure the recognizer was of the words; ``certain`` says whether a
    consequential intent may be stored without asking the customer to confirm.
    ``slots`` holds what was parsed (``promise_date`` as a date, amounts as Decimal); a slot
    the intent captures but the answer did not name is listed in ``missing``.
    """

    result: Result
    text: str = ""
    intent: str | None = None
    kind: Kind | None = None
    score: float = 0.0
    asr_confidence: float = 0.0
    certain: bool = False
    slots: dict[str, object] = field(default_factory=dict)
    missing: tuple[str, ...] = ()
    reason: str = ""  # why no_match: 'question', 'unclear', 'not_expected', 'low_confidence'

    @property
    def matched(self) -> bool:
        return self.result is Result.INTENT
