"""Contact requests and collectors' contacts in the store (SQLite and PostgreSQL), the claim's kr cap,
and the `collbot debtor` / `collbot suppress` commands' bad input."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from bot.campaign import compliance
from bot.compliance.actions import adjust, restrict, suspend
from bot.domain import CallResult, Debtor
from bot.errors import InputError, StoreError
from bot.store.repo import ClaimRefused, Store, open_store
from tests.cli import collbot

PHONE = "+821055500031"
ZONES = ("Asia/Seoul",)
NOW = dt.datetime(2026, 12, 7, 3, 0, tzinfo=dt.UTC)  # Monday 12:00 in Seoul
KR = compliance.PACKS["kr"]


def kr_gate(store: Store, now: dt.datetime = NOW) -> Callable[[list[compliance.Attempt]], compliance.Decision]:
    requests = store.contact_requests("D-1")
    return lambda history: compliance.decide(zones=ZONES, history=history, now=now, rules=KR, requests=requests)


@pytest.fixture
def store(database_url: str):
    with open_store(database_url, clock=lambda: NOW) as s:
        s.upsert_debtor(Debtor("D-1", "Kim", PHONE, Decimal(1000), timezone="Asia/Seoul"))
        yield s


def robot_call(store: Store, at: dt.datetime) -> None:
    store._clock = lambda: at  # the ledger stamps dialled_at with the store's clock
    attempt = store.create_attempt("D-1", PHONE, gate=kr_gate(store, at))
    store.mark_dialing(attempt)
    store.record_result(attempt, CallResult.NO_ANSWER, 19)
    store.finish_attempt(attempt, None, {}, 19)
    store._clock = lambda: NOW


def test_robot_and_collector_contacts_share_the_kr_7_in_7_cap_inside_the_claim(store: Store) -> None:
    week_ago = NOW - dt.timedelta(days=6)
    for day in range(4):
        robot_call(store, week_ago + dt.timedelta(days=day))
    for day in range(4, 7):
        store.record_collector_contact("D-1", at=week_ago + dt.timedelta(days=day, hours=1), agent="agent-7",
                                       means="phone", answered=day == 5)
    assert len(store.history("D-1")) == 7
    with pytest.raises(ClaimRefused) as refused:
        store.create_attempt("D-1", PHONE, gate=kr_gate(store))
    assert refused.value.decision.reason == "cap_7_days"
    # Once the oldest robot call is 7 x 24 h old, the 8th contact is allowed.
    later = week_ago + dt.timedelta(days=7)
    assert store.create_attempt("D-1", PHONE, gate=kr_gate(store, later))


def test_a_stored_restriction_is_enforced_at_the_claim(store: Store) -> None:
    restrict(store, "D-1", ["mon 11:00-13:00"], [], by="ops")
    with pytest.raises(ClaimRefused) as refused:
        store.create_attempt("D-1", PHONE, gate=kr_gate(store))
    assert refused.value.decision.reason == "request_restricted_hours"
    [request] = store.contact_request_list("D-1")
    store.lift_contact_request(request.id, by="ops")
    assert store.create_attempt("D-1", PHONE, gate=kr_gate(store))


def test_overlapping_suspensions_are_refused_and_extend_lengthens(store: Store) -> None:
    first = suspend(store, "D-1", dt.date(2027, 1, 31), "surgery", by="ops", now=NOW)
    with pytest.raises(InputError, match=r"already suspended through 2027-01-31.*--extend"):
        suspend(store, "D-1", dt.date(2027, 2, 28), "hospital", by="ops", now=NOW)
    extended = suspend(store, "D-1", dt.date(2027, 7, 31), "surgery", by="ops", now=NOW, extend=True)
    assert extended.id == first.id
    [row] = store.contact_request_list("D-1")
    assert (row.data["until"], row.data["extensions"]) == ("2027-07-31", 1)
    assert any("pack kr honours this suspension through" in n for n in extended.notes)
    with pytest.raises(InputError, match="does not extend"):
        suspend(store, "D-1", dt.date(2027, 3, 1), "surgery", by="ops", now=NOW, extend=True)
    with pytest.raises(InputError, match="in the past"):
        suspend(store, "D-1", dt.date(2026, 12, 1), "surgery", by="ops", now=NOW)
    decision = kr_gate(store, NOW + dt.timedelta(days=30))([])
    assert decision.reason == "request_suspended"


def test_unknown_debtor_is_refused(store: Store) -> None:
    with pytest.raises(StoreError, match="no debtor 'nobody'"):
        restrict(store, "nobody", ["mon 09:00-10:00"], [], by="ops")
    with pytest.raises(StoreError, match="no debtor 'nobody'"):
        adjust(store, "nobody", by="ops", now=NOW)
    with pytest.raises(StoreError, match="no debtor"):
        store.record_collector_contact("nobody", at=NOW, agent="a", means="phone", answered=True)


def test_suppressions_keep_an_audit_trail(store: Store) -> None:
    assert store.add_suppression(PHONE, "dnc", by="alice", why="asked by letter")
    assert store.suppression(PHONE) == "dnc"
    assert store.remove_suppression(PHONE, by="bob", why="consent renewed") == "dnc"
    assert store.suppression(PHONE) is None
    trail = store.suppression_trail(PHONE)
    assert [(action, who, why) for _, action, _, who, why in trail] == [
        ("add", "alice", "asked by letter"), ("remove", "bob", "consent renewed")]
    with pytest.raises(StoreError, match="not suppressed"):
        store.remove_suppression(PHONE, by="bob", why="again")


def test_a_robots_hold_for_review_blocks_calls_until_a_person_lifts_or_confirms_it(store: Store) -> None:
    from bot.compliance.requests import UNCONFIRMED_OPT_OUT

    assert store.add_suppression(PHONE, UNCONFIRMED_OPT_OUT, by="call:A-1", why="unconfirmed opt-out cue")
    verdict = compliance.decide(zones=ZONES, history=[], now=NOW, rules=KR, suppressed=store.suppression(PHONE))
    assert not verdict.allow and verdict.reason == "suppressed:opt_out_review"
    assert "review" in verdict.detail and "never called again" not in verdict.detail
    # a person confirms the opt-out: the hold becomes one
    assert store.add_suppression(PHONE, "opt_out", by="alice", why="heard the recording: asked to stop")
    assert store.suppression(PHONE) == "opt_out"
    assert not store.add_suppression(PHONE, "dnc", by="bob", why="also on a list")  # a decision stays
    assert store.suppression(PHONE) == "opt_out"
    store.remove_suppression(PHONE, by="alice", why="test")
    # the customer's own opt-out in a later call replaces a hold too; a hold never replaces a decision
    store.add_suppression(PHONE, UNCONFIRMED_OPT_OUT, by="call:A-2", why="unconfirmed opt-out cue")
    store.suppress(PHONE, "opt_out", "D-1")
    assert store.suppression(PHONE) == "opt_out"
    store.suppress(PHONE, UNCONFIRMED_OPT_OUT, "D-1")
    assert store.suppression(PHONE) == "opt_out"


def test_debtor_commands_give_one_line_on_bad_input(tmp_path: Path) -> None:
    for args, message in [
        (("debtor", "restrict", "nobody", "--hours", "mon-fri 09:00-18:00"), "no debtor 'nobody'"),
        (("debtor", "restrict", "nobody", "--hours", "mon-fri 9-18"), "--hours"),
        (("debtor", "suspend", "nobody", "--until", "2099-01-01", "--reason", "holiday"), "--reason"),
        (("debtor", "requests", "nobody"), "no debtor 'nobody'"),
        (("debtor", "forget", "nobody"), "no debtor 'nobody'"),
        (("suppress", "remove", "+821055500031", "--why", "x"), "not suppressed"),
    ]:
        done = collbot(*args, cwd=tmp_path, database=True)
        assert done.returncode == 1, (args, done.stdout, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], (args, done.stderr)


def test_restricting_every_hour_is_stored_and_said(store: Store) -> None:
    stored = restrict(store, "D-1", ["daily 07:00-22:00"], [], by="ops")
    assert any(n.startswith("under packs default, us_reg_f, us_ma_ny, cn_2026 no hour is left") for n in stored.notes)
    assert not any("pack kr no hour" in n for n in stored.notes)  # kr honours 28 of those hours
    assert any("pack kr honours 28 of the 105 hours" in n for n in stored.notes)
    decision = compliance.decide(zones=ZONES, history=[], now=NOW, rules=compliance.PACKS["default"],
                                 requests=store.contact_requests("D-1"))
    assert (decision.reason, decision.not_before) == ("request_blocks_window", None)


def test_debtor_and_suppress_commands_end_to_end(tmp_path: Path) -> None:
    with open_store(f"sqlite:///{tmp_path / 'c.db'}") as s:
        s.upsert_debtor(Debtor("D-1", "Kim", PHONE, Decimal(1000), timezone="Asia/Seoul"))
    run = lambda *args: collbot(*args, cwd=tmp_path, database=True)  # noqa: E731
    done = run("debtor", "restrict", "D-1", "--hours", "mon-fri 09:00-18:00", "--by", "alice")
    assert done.returncode == 0 and "restriction 1 stored" in done.stdout
    assert "pack kr honours 28 of the 45 hours" in done.stdout
    assert run("debtor", "suspend", "D-1", "--until", "2099-01-31", "--reason", "surgery").returncode == 0
    again = run("debtor", "suspend", "D-1", "--until", "2099-02-28", "--reason", "surgery")
    assert again.returncode == 1 and "already suspended through 2099-01-31" in again.stderr
    assert run("debtor", "adjust", "D-1").returncode == 0
    assert run("debtor", "contact", "D-1", "--by", "agent7", "--unanswered").returncode == 0
    listed = run("debtor", "requests", "D-1")
    assert listed.returncode == 0
    for text in ("no contact mon-fri 09:00-18:00 by every means", "suspended", "debt adjustment", "alice"):
        assert text in listed.stdout, listed.stdout
    assert run("debtor", "lift", "1").returncode == 0
    assert "lifted" in run("debtor", "requests", "D-1").stdout
    added = run("suppress", "add", "010-5550-0031", "--why", "asked by letter", "--by", "bob")
    assert added.returncode == 0 and "+8210******31 suppressed (dnc)" in added.stdout
    listed = run("suppress", "list")
    assert "+8210******31" in listed.stdout and "add by bob: asked by letter" in listed.stdout
    assert PHONE not in listed.stdout
    assert run("suppress", "remove", PHONE, "--why", "consent renewed").returncode == 0
    assert "0 suppressed numbers" in run("suppress", "list").stdout
    with open_store(f"sqlite:///{tmp_path / 'c.db'}") as s:
        assert len(s.history("D-1")) == 1  # the collector's contact
        assert [t[1] for t in s.suppression_trail(PHONE)] == ["add", "remove"]
