"""A debtor who says in the call that they are in hospital (or had surgery, a death in the family, a
disaster) is stored as a suspension *asked*, pending a person's review of the evidence: the gate does
not honour it, and a person's `debtor suspend` closes it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from bot.campaign import compliance
from bot.commands import chat
from bot.compliance.actions import describe, status, suspend
from bot.compliance.requests import SUSPENSION_ASKED, ContactRequests
from bot.dialogue.chat import ChatChannel
from bot.dialogue.checker import check, load_script
from bot.dialogue.compiler import compile_script
from bot.domain import Debtor, Outcome
from bot.errors import ConfigError
from bot.store.repo import open_store

KIM = Debtor("D-1", "Kim", "+821055550001", Decimal(1), timezone="Asia/Seoul")
TODAY = dt.date(2026, 12, 7)
NOW = dt.datetime(2026, 12, 7, 3, 0, tzinfo=dt.UTC)  # Monday 12:00 in Seoul
SCRIPT = """\
script: t
language: ko
globals:
  opt_out: {{phrases: ["전화 하지 마세요"], dtmf: "9", goto: bye}}
start: greet
steps:
  greet:
    say: "안녕하세요."
    listen:
      intents:
        hospital: {{phrases: ["입원 했어요"], dtmf: "4", goto: noted}}
      no_input: {{goto: bye}}
  noted:
    say: "알겠습니다. 담당 직원이 확인 후 다시 연락 드리겠습니다."
    contact_request: {{suspension: {reason}}}
    outcome: callback
    end: true
  bye:
    say: "알겠습니다."
    outcome: opt_out
    end: true
"""


def script(tmp_path: Path, reason: str = "hospital"):
    path = tmp_path / "t.yaml"
    path.write_text(SCRIPT.format(reason=reason), encoding="utf-8")
    loaded_script, loaded = load_script(path)
    assert [str(p) for p in check(loaded_script, loaded)] == []
    return compile_script(loaded_script)


async def test_the_suspension_asked_is_in_the_outcome(tmp_path: Path) -> None:
    queue: list[object] = [{"dtmf": "4"}]
    channel = ChatChannel(lambda spec: queue.pop(0) if queue else None, lambda _: None)
    result = await chat(script(tmp_path), KIM, channel, today=TODAY, events=[])
    assert result.outcome == Outcome.CALLBACK
    assert result.detail["contact_requests"] == [{"hours": [], "means": [], "step": "noted",
                                                  "suspension": "hospital"}]


def test_an_unknown_reason_names_the_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        script(tmp_path, reason="holiday")
    assert f"{tmp_path / 't.yaml'}:15:" in str(caught.value) and "suspension 'holiday'" in str(caught.value)


def test_the_gate_ignores_it_until_a_person_suspends(tmp_path: Path) -> None:
    def decide(store_requests: ContactRequests) -> str:
        return compliance.decide(zones=("Asia/Seoul",), history=[], now=NOW, rules=compliance.PACKS["kr"],
                                 requests=store_requests).reason

    with open_store(f"sqlite:///{tmp_path / 'c.db'}", clock=lambda: NOW) as store:
        store.upsert_debtor(KIM)
        asked = store.add_contact_request("D-1", SUSPENSION_ASKED, {"reason": "hospital", "status": "pending_review",
                                                                   "attempt": "a1"}, by="call:a1")
        assert decide(store.contact_requests("D-1")) == "ok"  # the robot grants nothing on its own
        [row] = store.contact_request_list("D-1")
        assert status(row.kind, row.lifted_at) == "pending review"
        assert "needs a person to check the evidence" in describe(row.kind, row.data)
        suspend(store, "D-1", TODAY + dt.timedelta(days=90), "hospital", by="collector", now=NOW)
        assert decide(store.contact_requests("D-1")) == "request_suspended"
        reviewed = next(r for r in store.contact_request_list("D-1") if r.id == asked)
        assert status(reviewed.kind, reviewed.lifted_at).startswith("reviewed ")


def test_collbot_debtor_reviews_lists_what_a_person_must_check(tmp_path: Path) -> None:
    from tests.cli import collbot

    with open_store(f"sqlite:///{tmp_path / 'c.db'}", clock=lambda: NOW) as store:
        store.upsert_debtor(KIM)
        store.upsert_debtor(Debtor("D-2", "Lee", "+821055550002", Decimal(1), timezone="Asia/Seoul"))
        for debtor_id, reason in (("D-1", "hospital"), ("D-2", "bereavement")):
            store.add_contact_request(debtor_id, SUSPENSION_ASKED, {"reason": reason, "status": "pending_review",
                                                                    "attempt": f"call-{debtor_id}"}, by="call:x")
    listed = collbot("debtor", "reviews", cwd=tmp_path, database=True)
    assert listed.returncode == 0, listed.stderr
    assert "2 pending" in listed.stdout and "hospital" in listed.stdout and "bereavement" in listed.stdout
    assert collbot("debtor", "suspend", "D-2", "--until", "2099-01-31", "--reason", "bereavement",
                   cwd=tmp_path, database=True).returncode == 0
    listed = collbot("debtor", "reviews", cwd=tmp_path, database=True)
    assert "1 pending" in listed.stdout and "bereavement" not in listed.stdout
    requests = collbot("debtor", "requests", "D-2", cwd=tmp_path, database=True).stdout
    assert "reviewed" in requests and "pending review" not in requests


def test_collbot_debtor_reviews_lists_numbers_held_after_an_unconfirmed_opt_out(tmp_path: Path) -> None:
    from bot.compliance.requests import UNCONFIRMED_OPT_OUT
    from tests.cli import collbot

    with open_store(f"sqlite:///{tmp_path / 'c.db'}", clock=lambda: NOW) as store:
        store.upsert_debtor(KIM)
        store.add_suppression(KIM.phone, UNCONFIRMED_OPT_OUT, by="call:A-77", why="unconfirmed opt-out cue")
    listed = collbot("debtor", "reviews", cwd=tmp_path, database=True)
    assert listed.returncode == 0, listed.stderr
    assert "1 held" in listed.stdout and "A-77" in listed.stdout and KIM.phone not in listed.stdout
    confirmed = collbot("suppress", "add", KIM.phone, "--reason", "opt_out", "--why", "heard it: asked to stop",
                        cwd=tmp_path, database=True)
    assert confirmed.returncode == 0, confirmed.stderr
    listed = collbot("debtor", "reviews", cwd=tmp_path, database=True)
    assert "0 held" in listed.stdout
    with open_store(f"sqlite:///{tmp_path / 'c.db'}", clock=lambda: NOW) as store:
        assert store.suppression(KIM.phone) == "opt_out"
