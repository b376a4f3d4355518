"""A `kr` campaign on the real sandbox: debtors' contact requests and the 7-contacts-in-7-days cap
that counts collectors' contacts are honoured before anything is dialled (the simulated carrier's
own per-number call counters say who was called), the dry run shows the same reasons, and a
restriction the customer asks for during the call is stored and honoured, and a suspension they ask
for (in hospital) is stored for a person to review, not granted.

The debtors get a zone where it is now mid-morning; the campaign's schedule ends before noon there,
so a debtor deferred to the end of a 09:00-12:00 restriction is not waited for.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest
import yaml

from bot.campaign import compliance
from bot.campaign.commands import dry_run, run_campaign
from bot.commands import load_personas
from bot.compliance.actions import restrict, suspend
from bot.config import Settings
from bot.privacy.forget import forget
from bot.privacy.prompts import PROMPTS_MANIFEST, prompt_digest
from bot.privacy.purge import purge
from bot.store.repo import open_store
from bot.telephony.sandbox import Sandbox
from bot.telephony.sim import call_counts
from tests.integration.test_campaign import ROOT, campaign_env, mid_morning_zone, seed  # noqa: F401

pytestmark = pytest.mark.integration
NAME = "it-kr"
PROMISE = {"replies": [{"dtmf": "1"}, {"dtmf": "1"}]}
PEOPLE = [  # id, number, what the ledger holds before the run, expected calls
    ("R-1", "+821055530001", "nothing", 1),
    ("R-2", "+821055530002", "restricted 09:00-12:00", 0),
    ("R-3", "+821055530003", "suspended", 0),
    ("R-4", "+821055530004", "7 collector contacts", 0),
    ("R-5", "+821055530005", "6 collector contacts", 1),
    ("R-6", "+821055530006", "asks in the call: no calls 09:00-18:00", 1),
    ("R-7", "+821055530007", "says in the call they are in hospital", 1),
]
ASKS = {"replies": [{"dtmf": "3"}]}
HOSPITAL = {"replies": [{"dtmf": "4"}]}


def kr_script(tmp: Path) -> Path:
    """reminder-ko with a recording notice in its greeting, as the kr pack requires, and key 3 in the
    greeting for "don't call me during the day" (a contact request the call records)."""
    text = (ROOT / "scripts" / "reminder-ko.yaml").read_text(encoding="utf-8")
    text = text.replace("자동 안내 전화입니다.", "자동 안내 전화입니다. 이 통화는 녹음됩니다.", 1)
    text = text.replace("\nstart: greet\n", "\nrecording_notice: greet\nstart: greet\n", 1)
    intent = '        not_me: {kind: "no", phrases: ["아니요"], dtmf: "2", goto: bye_wrong_number}\n'
    assert intent in text
    text = text.replace(intent, intent + '        daytime: {dtmf: "3", goto: noted}\n'
                        '        hospital: {dtmf: "4", goto: hospital}\n', 1)
    text += ('  noted:\n    say: "알겠습니다. 낮에는 전화 드리지 않겠습니다."\n'
             '    contact_request: {hours: ["daily 09:00-18:00"], means: [phone]}\n    goto: bye_callback\n'
             '  hospital:\n    say: "알겠습니다. 담당 직원이 확인 후 다시 연락 드리겠습니다."\n'
             '    contact_request: {suspension: hospital}\n    goto: bye_callback\n')
    path = tmp / "reminder-ko-kr.yaml"
    path.write_text(text, encoding="utf-8")
    return path


async def test_kr_requests_and_collector_contacts_are_honoured_on_the_sandbox(
        sandbox: Sandbox, campaign_env: tuple[Settings, Path]) -> None:  # noqa: F811
    settings, tmp = campaign_env
    zone = mid_morning_zone()
    replies = {"R-6": ASKS, "R-7": HOSPITAL}
    personas = [{"number": n, "answer_after_s": 0.5, "language": "ko", **replies.get(d, PROMISE)}
                for d, n, _, _ in PEOPLE]
    (tmp / "personas.yaml").write_text(yaml.safe_dump({"personas": personas}, allow_unicode=True))
    await load_personas(settings, tmp / "personas.yaml")
    seed(settings, [(d, n, {}) for d, n, _, _ in PEOPLE], zone)
    now = dt.datetime.now(dt.UTC)
    with open_store(settings.database.url) as store:
        restrict(store, "R-2", ["daily 09:00-12:00"], [], by="it")
        suspend(store, "R-3", (now + dt.timedelta(days=30)).date(), "hospital", by="it", now=now)
        for debtor_id, count in (("R-4", 7), ("R-5", 6)):
            for i in range(count):
                store.record_collector_contact(debtor_id, at=now - dt.timedelta(days=6, hours=-i), agent="it",
                                               means="phone", answered=False)
    campaign = {
        "campaign": NAME, "script": str(kr_script(tmp)),
        "debtors": {"ids": [d for d, _, _, _ in PEOPLE]},
        "schedule": {"timezone": zone, "start": "00:00", "end": "11:59:59"},
        "rounds": [{"name": "first", "retries": ["new"], "ring_timeout_s": 3}],
        "limits": {"max_concurrent": 5, "originates_per_second": 5},
        "compliance": {"pack": "kr"},
        # R-6's call ends as a callback; what is tested here is the request it records, and a
        # callback follow-up a day later would keep this run waiting for it
        "callbacks": {"default_delay": "none"},
    }
    path = tmp / "kr.yaml"
    path.write_text(yaml.safe_dump(campaign, allow_unicode=True))

    planned = {r.debtor_id: (r.allow, r.reason) for r in dry_run(settings, path)}
    assert planned == {"R-1": (True, "ok"), "R-2": (False, "request_restricted_hours"),
                       "R-3": (False, "request_suspended"), "R-4": (False, "cap_7_days"), "R-5": (True, "ok"),
                       "R-6": (True, "ok"), "R-7": (True, "ok")}

    await run_campaign(settings, path, handle_signals=False)
    counts = call_counts(sandbox)
    assert {n: counts.get(n, 0) for _, n, _, _ in PEOPLE} == {n: calls for _, n, _, calls in PEOPLE}
    with open_store(settings.database.url) as store:
        refused = {(d["debtor_id"], d["reason"]) for d in store.decisions(NAME) if not d["allow"]}
        assert {("R-2", "request_restricted_hours"), ("R-3", "request_suspended"), ("R-4", "cap_7_days")} <= refused
        assert len(store.history("R-5")) == 7  # 6 collectors' contacts and the robot's call
        latest = store.campaign_latest(NAME)
        assert latest["R-1"].outcome.value == "promise_to_pay"  # type: ignore[union-attr]
        assert latest["R-6"].outcome.value == "callback"  # type: ignore[union-attr]
        [asked] = store.contact_request_list("R-6")
        assert (asked.kind, asked.data["slots"], asked.by) == ("restrict", ["daily 09:00-18:00"],
                                                               f"call:{latest['R-6'].id}")
        # The request made in the call is honoured from the next decision on.
        again = compliance.decide(zones=(zone,), history=store.history("R-6"), now=dt.datetime.now(dt.UTC),
                                  rules=compliance.PACKS["kr"], requests=store.contact_requests("R-6"))
        assert again.reason == "request_restricted_hours"
        # The suspension R-7 asked for waits for a person to see the evidence: stored, not in force.
        [hospital] = store.contact_request_list("R-7")
        assert (hospital.kind, hospital.data["reason"], hospital.lifted_at) == ("suspend_asked", "hospital", None)
        assert hospital.by == f"call:{latest['R-7'].id}"
        assert latest["R-7"].outcome.value == "callback"  # type: ignore[union-attr]
        assert store.contact_requests("R-7").suspensions == ()

    # Forget R-1: no name or number left in the database, its recordings and the cached prompt that
    # spoke its name deleted, the ledger kept.
    spool = settings.host_path(settings.asterisk.spool_dir) / latest["R-1"].id
    manifest = (spool / PROMPTS_MANIFEST).read_text(encoding="ascii").splitlines()
    played = [settings.tts_cache_dir() / line.split(" ", 1)[1] for line in manifest]
    assert played and all(p.exists() for p in played)
    report = forget(settings, "R-1", by="it")
    assert report.recordings == 1 and report.prompts >= 1 and not spool.exists()
    assert sum(not p.exists() for p in played) == report.prompts
    connection = sqlite3.connect(settings.database.url.removeprefix("sqlite:///"))
    try:
        dump = "\n".join(connection.iterdump())
    finally:
        connection.close()
    assert "고객R-1" not in dump and "821055530001" not in dump
    assert "고객R-5" in dump  # the others are untouched
    with open_store(settings.database.url) as store:
        assert len(store.history("R-1")) == 1

    # The retention purge, long after: the cached prompts that spoke the data of the others (name,
    # amount) go with their calls' recordings; the prompts that spoke nobody's data stay.
    personal: set[Path] = set()
    shared: set[Path] = set()
    with open_store(settings.database.url) as store:
        for debtor_id in ("R-5", "R-6", "R-7"):
            attempt = latest[debtor_id].id
            flags = {prompt_digest(str(e.data["text"])): bool(e.data.get("personal"))
                     for e in store.events_for(attempt) if e.kind.value == "prompt" and "text" in e.data}
            for line in (settings.host_path(settings.asterisk.spool_dir) / attempt / PROMPTS_MANIFEST
                         ).read_text(encoding="ascii").splitlines():
                digest, name = line.split(" ", 1)
                (personal if flags[digest] else shared).add(settings.tts_cache_dir() / name)
    personal = {p for p in personal if p.exists()}  # forgetting R-1 took those R-1 spoke too (same amount)
    assert personal and shared - personal and all(p.exists() for p in shared)
    report = purge(settings, now=now + dt.timedelta(days=400))
    assert report.prompts == len(personal)
    assert not any(p.exists() for p in personal) and all(p.exists() for p in shared - personal)
