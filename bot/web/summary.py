"""The robot's call summary that a screen pop shows: debtor, amount, the turns heard, the
outcome so far and why the customer asked for a person. Built from what the store recorded."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from bot.domain import EventKind
from bot.errors import StoreError
from bot.phone import mask
from bot.store.repo import Store

MAX_TURNS = 40


@dataclass(frozen=True, slots=True)
class Turn:
    who: str  # "robot" | "customer"
    text: str


@dataclass(frozen=True, slots=True)
class CallSummary:
    debtor_id: str
    debtor_name: str
    amount: str
    currency: str
    phone_masked: str
    attempt_id: str | None
    outcome: str  # the outcome so far ("" while the call is still going)
    reason: str  # why the customer asked for a person
    turns: list[Turn] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CallSummary:
        turns = [Turn(str(t.get("who", "")), str(t.get("text", ""))) for t in data.get("turns", [])
                 if isinstance(t, dict)]
        return cls(**{k: str(data.get(k) or "") for k in
                      ("debtor_id", "debtor_name", "amount", "currency", "phone_masked", "outcome", "reason")},
                   attempt_id=data.get("attempt_id") or None, turns=turns)


def summary_of(store: Store, attempt_id: str, reason: str = "") -> CallSummary:
    """The summary of one robot attempt as stored so far. Without ``reason``, the customer's
    last words (the request for a person is usually what ended the robot's part)."""
    attempt = store.find_attempt(attempt_id)
    if attempt is None:
        raise StoreError(f"no attempt {attempt_id!r}")
    debtor = store.get_debtor(attempt.debtor_id)
    turns: list[Turn] = []
    last_intent = ""
    for event in store.events_for(attempt_id):
        text = event.data.get("text")
        if event.kind is EventKind.PROMPT and isinstance(text, str):
            turns.append(Turn("robot", text))
        elif event.kind is EventKind.RECOGNITION and isinstance(text, str):
            turns.append(Turn("customer", text))
        elif event.kind is EventKind.DTMF:
            turns.append(Turn("customer", f"(pressed {event.data.get('digit', '?')})"))
        elif event.kind is EventKind.STATE and event.data.get("intent"):
            last_intent = str(event.data["intent"])
    said = [t.text for t in turns if t.who == "customer"]
    why = reason or (f"{said[-1]} ({last_intent})" if said and last_intent else (said[-1] if said else last_intent))
    return CallSummary(
        debtor_id=debtor.id, debtor_name=debtor.name, amount=str(debtor.amount), currency=debtor.currency,
        phone_masked=mask(attempt.phone), attempt_id=attempt_id,
        outcome=attempt.outcome.value if attempt.outcome else "", reason=why, turns=turns[-MAX_TURNS:],
    )
