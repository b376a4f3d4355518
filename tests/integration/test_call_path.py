"""One reminder call end to end on the real sandboxed Asterisk, for each kind of customer."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.controller import CallReport, Controller, local_today
from bot.domain import CallResult, Debtor, EventKind, Outcome
from bot.store.repo import Store

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(("number", "result", "causes"), [
    ("+821055550104", CallResult.NO_ANSWER, None),
    ("+821055550105", CallResult.BUSY, None),
    ("+821055550106", CallResult.CONGESTION, None),
])
async def test_each_unanswered_originate_result(controller: Controller, debtors: dict[str, Debtor],
                                                store: Store, number: str, result: CallResult,
                                                causes: object) -> None:
    report = await controller.call(debtors[number])
    assert report.result is result
    assert report.outcome is None
    [attempt] = [a for a in store.attempts_for(debtors[number].id) if a.id == report.attempt_id]
    assert attempt.result == result.value
    assert attempt.state == "completed"


async def test_number_without_persona_fails_like_unallocated(controller: Controller,
                                                             store: Store) -> None:
    ghost = Debtor("T-GHOST", "유령", "+821055559999", amount=__import__("decimal").Decimal(1))
    store.upsert_debtor(ghost)
    report = await controller.call(ghost)
    assert report.result is CallResult.FAILED


def _spoken_promise_is_recognized_through_asterisk_audio(
        debtors: dict[str, Debtor], store: Store, report: CallReport) -> None:
    debtor = debtors["+821055550101"]
    assert report.result is CallResult.ANSWERED
    assert report.outcome is Outcome.PROMISE_TO_PAY, _story(store, report.attempt_id)
    day_after_tomorrow = local_today(debtor.phone) + dt.timedelta(days=2)  # "내일모레"
    assert report.detail["promise_date"] == day_after_tomorrow.isoformat()
    events = store.events_for(report.attempt_id)
    heard = [e for e in events if e.kind is EventKind.RECOGNITION]
    assert heard[0].data["text"] == "네" and "모레" in str(heard[1].data["text"])
    assert all(0 < float(e.data["confidence"]) <= 1 for e in heard)  # type: ignore[arg-type]
    # less than certain: the promise was confirmed ("네") before it was stored
    assert [e.data["answer"] for e in events if e.kind is EventKind.CONFIRM] in ([], ["yes"])
    steps = [e.data["step"] for e in events if e.kind is EventKind.STATE and "intent" not in e.data]
    assert steps == ["greet", "verify", "ask", "check_date", "bye_promise"]
    assert [e.data["by"] for e in events if e.kind is EventKind.HANGUP] == ["robot"]


async def test_customer_hangs_up_mid_prompt(controller: Controller, debtors: dict[str, Debtor],
                                            store: Store) -> None:
    report = await controller.call(debtors["+821055550107"])
    assert report.result is CallResult.ANSWERED
    assert report.outcome is Outcome.HUNG_UP
    events = store.events_for(report.attempt_id)
    [hangup] = [e for e in events if e.kind is EventKind.HANGUP]
    assert hangup.data["by"] == "customer"
    # it happened during the greeting: the robot never got to listen
    assert not [e for e in events if e.kind in (EventKind.RECOGNITION, EventKind.NO_INPUT)]
    [attempt] = [a for a in store.attempts_for(debtors["+821055550107"].id) if a.id == report.attempt_id]
    assert attempt.outcome == Outcome.HUNG_UP.value
    assert attempt.hangup_cause == 16


async def test_concurrent_calls_each_get_their_own_outcome(
        controller: Controller, debtors: dict[str, Debtor], store: Store) -> None:
    # Also the spoken promise, the spoken refusal and the keyed refusal, each checked whole: side
    # by side they prove what one call at a time did, in the time of the longest call (~40 s each).
    numbers = ["+821055550101", "+821055550102", "+821055550103", "+821055550105"]
    reports = await controller.call_many([debtors[n] for n in numbers], concurrency=4)
    by_debtor = {r.debtor_id: r for r in reports}
    _spoken_promise_is_recognized_through_asterisk_audio(debtors, store, by_debtor["T-0101"])
    keyed = by_debtor["T-0103"]  # the keyed reply
    digits = [e.data["digit"] for e in store.events_for(keyed.attempt_id) if e.kind is EventKind.DTMF]
    assert digits == ["1", "2"]
    got = {r.debtor_id: (r.result, r.outcome) for r in reports}
    assert got == {
        "T-0101": (CallResult.ANSWERED, Outcome.PROMISE_TO_PAY),
        "T-0102": (CallResult.ANSWERED, Outcome.REFUSED),
        "T-0103": (CallResult.ANSWERED, Outcome.REFUSED),
        "T-0105": (CallResult.BUSY, None),
    }


async def test_a_paraphrased_promise_is_confirmed_then_stored(
        controller: Controller, debtors: dict[str, Debtor], store: Store) -> None:
    debtor = debtors["+821055550114"]
    report = await controller.call(debtor)
    assert report.outcome is Outcome.PROMISE_TO_PAY, _story(store, report.attempt_id)
    day_after_tomorrow = local_today(debtor.phone) + dt.timedelta(days=2)
    assert report.detail["promise_date"] == day_after_tomorrow.isoformat()
    events = store.events_for(report.attempt_id)
    confirmations = [e.data for e in events if e.kind is EventKind.CONFIRM]
    assert [c["answer"] for c in confirmations] == ["yes"] and confirmations[0]["intent"] == "promise"
    prompts = [str(e.data.get("text", "")) for e in events if e.kind is EventKind.PROMPT]
    assert any("납부하시는 거 맞으세요" in p for p in prompts)


async def test_an_opt_out_in_the_customers_own_words(
        controller: Controller, debtors: dict[str, Debtor], store: Store) -> None:
    report = await controller.call(debtors["+821055550115"])
    assert report.outcome is Outcome.OPT_OUT, _story(store, report.attempt_id)


def _story(store: Store, attempt_id: str) -> list[tuple[str, dict[str, object]]]:
    """What the call heard and said, for a failure message."""
    return [(e.kind.value, {k: v for k, v in e.data.items() if k != "timing"}) for e in store.events_for(attempt_id)
            if e.kind is not EventKind.STATE or "intent" in e.data]
