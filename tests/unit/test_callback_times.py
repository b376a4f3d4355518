"""Callback times in speech: parsed without a clock, resolved against a frozen end of call."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from bot.dialogue.slots import slot_phrases
from bot.dialogue.times import CallbackTime, from_text, parse_time, resolve, spoken
from bot.understanding import IntentSpec, Kind, Result, StepModel, understand

SEOUL = ZoneInfo("Asia/Seoul")
ENDED = dt.datetime(2026, 12, 7, 15, 0, tzinfo=SEOUL)  # a Monday, 15:00 in Seoul


@pytest.mark.parametrize(("text", "lang", "stored"), [
    ("내일 오후 세 시에 다시 전화 주세요", "ko", "tomorrow 15:00"),
    ("내일 오후 세 시쯤 다시 전화 주세요", "ko", "tomorrow 15:00"),
    ("이따 한 시간 뒤에", "ko", "in 60 min"),
    ("한 시간 반 뒤에 다시 전화 주세요", "ko", "in 90 min"),
    ("한시간반 후에", "ko", "in 90 min"),
    ("한 시간 삼십 분 후에", "ko", "in 90 min"),
    ("삼십 분 후에", "ko", "in 30 min"),
    ("3시에", "ko", "15:00"),
    ("세 시쯤 다시 전화 주세요", "ko", "15:00"),
    ("저녁에 전화 주세요", "ko", "18:00"),
    ("저녁때 다시 전화 주세요", "ko", "18:00"),
    ("오전 9시", "ko", "09:00"),
    ("두 시 반에", "ko", "14:30"),
    ("열한 시", "ko", "11:00"),
    ("내일 다시 전화 주세요", "ko", "tomorrow"),
    ("call me back in an hour", "en", "in 60 min"),
    ("tomorrow at 3 pm", "en", "tomorrow 15:00"),
    ("call me back tomorrow at three pm", "en", "tomorrow 15:00"),
    ("at 10:30", "en", "10:30"),
    ("call me this evening", "en", "today 18:00"),
    ("明天下午三点再打", "zh", "tomorrow 15:00"),
    ("一个小时以后再打", "zh", "in 60 min"),
])
def test_said_times_are_stored_as_text_that_reads_back(text: str, lang: str, stored: str) -> None:
    parsed = parse_time(text, lang)
    assert str(parsed) == stored
    assert from_text(stored) == parsed


@pytest.mark.parametrize(("text", "lang"), [
    ("다시 전화 주세요", "ko"), ("나중에 전화 주세요", "ko"), ("call me back", "en"), ("", "ko"), ("세 시", "fr"),
    # a day or a part of the day without a word for calling answers "when will you pay?"
    ("내일", "ko"), ("내일 낼게요", "ko"), ("내일 오후", "ko"), ("tomorrow", "en"), ("this evening", "en"),
    ("明天", "zh"), ("晚上", "zh"),
])
def test_no_time_named(text: str, lang: str) -> None:
    assert parse_time(text, lang) is None


@pytest.mark.parametrize("stored", ["", "garbage", "25:00", "in x min", "tomorrow 3pm"])
def test_stored_text_is_untrusted(stored: str) -> None:
    assert from_text(stored) is None


@pytest.mark.parametrize(("stored", "expected"), [
    ("tomorrow 15:00", dt.datetime(2026, 12, 8, 15, 0, tzinfo=SEOUL)),
    ("in 60 min", dt.datetime(2026, 12, 7, 16, 0, tzinfo=SEOUL)),
    ("18:00", dt.datetime(2026, 12, 7, 18, 0, tzinfo=SEOUL)),
    ("09:00", dt.datetime(2026, 12, 8, 9, 0, tzinfo=SEOUL)),  # passed today: its next occurrence
    ("15:00", dt.datetime(2026, 12, 8, 15, 0, tzinfo=SEOUL)),  # exactly now: tomorrow
    ("tomorrow", dt.datetime(2026, 12, 8, 15, 0, tzinfo=SEOUL)),
    ("today 18:00", dt.datetime(2026, 12, 7, 18, 0, tzinfo=SEOUL)),
])
def test_resolved_in_the_debtors_zone(stored: str, expected: dt.datetime) -> None:
    when = from_text(stored)
    assert when is not None
    assert resolve(when, ENDED) == expected


def test_today_at_a_passed_hour_is_in_the_past() -> None:
    assert resolve(CallbackTime(day=0, at=dt.time(9, 0)), ENDED) is None


def test_time_is_a_slot_kind_with_a_compact_grammar() -> None:
    # the understanding layer fills a `time` capture; a callback without a time leaves it unset
    step = StepModel("ko", [IntentSpec("callback", Kind.CALLBACK, ["다시 전화 주세요"], {"callback_at": "time"}),
                            IntentSpec("promise", Kind.PROMISE, ["내일 낼게요"], {"promise_date": "date"})])
    heard = understand("내일 오후 세 시쯤 다시 전화 주세요", 1.0, step, ENDED.date())
    assert (heard.result, heard.intent) == (Result.INTENT, "callback")
    assert str(heard.slots["callback_at"]) == "tomorrow 15:00"
    plain = understand("나중에 다시 전화 주세요", 1.0, step, ENDED.date())
    assert (plain.intent, dict(plain.slots), plain.missing) == ("callback", {}, ())
    phrases = slot_phrases("time", "ko")
    assert 0 < len(phrases) <= 6
    assert all(parse_time(p, "ko") is not None for p in phrases)
    assert all(parse_time(p, "en") is not None for p in slot_phrases("time", "en"))
    assert all(parse_time(p, "zh") is not None for p in slot_phrases("time", "zh"))


@pytest.mark.parametrize(("stored", "ko", "en", "zh"), [
    ("tomorrow 15:00", "내일 오후 세 시", "tomorrow at 3 pm", "明天下午三点"),
    ("in 60 min", "한 시간 뒤", "in 60 minutes", "一个小时以后"),
    ("in 90 min", "한 시간 삼십 분 뒤", "in 90 minutes", "一个小时三十分钟以后"),
    ("09:30", "오전 아홉 시 삼십 분", "at 9:30 am", "上午九点三十分"),
    ("00:00", "오전 열두 시", "at 12 am", "上午十二点"),
    ("12:00", "오후 열두 시", "at 12 pm", "下午十二点"),
    ("tomorrow", "내일", "tomorrow", "明天"),
    ("+3d 19:00", "삼 일 뒤 오후 일곱 시", "in 3 days at 7 pm", "三天以后下午七点"),
])
def test_a_callback_time_is_said_back_as_it_was_meant(stored: str, ko: str, en: str, zh: str) -> None:
    when = from_text(stored)
    assert when is not None
    assert (spoken(when, "ko"), spoken(when, "en"), spoken(when, "zh")) == (ko, en, zh)
    assert parse_time(f"{ko} 다시 전화 주세요", "ko") == when or "일 뒤" in ko  # what is said back means it
