"""Promise dates read from answers, and the date phrases a grammar lists, in three languages."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.dialogue.dates import date_phrases, day_phrase, parse_date
from bot.dialogue.speak import spoken_date, spoken_ordinal_day
from bot.speech.asr import Recognizer

D = dt.date
MONDAY = D(2026, 12, 28)  # a Monday in the last week of a year
FRIDAY = D(2027, 1, 8)
SUNDAY = D(2027, 1, 10)
LANGUAGES = ["ko", "zh", "en"]
TODAYS = [MONDAY, FRIDAY, SUNDAY, D(2027, 1, 31), D(2027, 2, 28), D(2028, 2, 29), D(2027, 12, 31), D(2027, 4, 30)]
days = st.dates(D(2000, 1, 1), D(2099, 12, 31))


@pytest.fixture(scope="module")
def recognizer() -> Iterator[Recognizer]:
    """The real Korean Vosk model (loaded once per process, ~2 s)."""
    rec = Recognizer(None, workers=1)
    yield rec
    rec.close()


@pytest.mark.parametrize(("text", "expected"), [
    ("오늘", MONDAY), ("내일", D(2026, 12, 29)), ("모레", D(2026, 12, 30)), ("글피", D(2026, 12, 31)),
    ("내일모레요", D(2026, 12, 30)),
    ("내일 낼게요", D(2026, 12, 29)), ("내일까지 낼게요", D(2026, 12, 29)),
    ("월요일", D(2027, 1, 4)), ("금요일에 낼게요", D(2027, 1, 1)), ("이번주 금요일", D(2027, 1, 1)),
    ("이번 주 월요일", MONDAY), ("다음주 월요일", D(2027, 1, 4)), ("다음 주 일요일에 낼게요", D(2027, 1, 10)),
    ("다다음주 월요일", D(2027, 1, 11)), ("다음주", D(2027, 1, 4)),
    ("15일", D(2027, 1, 15)), ("십오일", D(2027, 1, 15)), ("십오 일", D(2027, 1, 15)),
    ("십 오 일 까지", D(2027, 1, 15)),
    ("이십 일", D(2027, 1, 20)), ("이십 일 일", D(2027, 1, 21)), ("십일일", D(2027, 1, 11)), ("일일", D(2027, 1, 1)),
    ("28일", MONDAY), ("이십오일날 낼게요", D(2027, 1, 25)), ("다음달 십오일", D(2027, 1, 15)),
    ("삼일 뒤", D(2026, 12, 31)), ("3일 후에 낼게요", D(2026, 12, 31)), ("십 일 뒤", D(2027, 1, 7)),
    ("이틀 뒤", D(2026, 12, 30)), ("일주일 뒤", D(2027, 1, 4)), ("이 주 후", D(2027, 1, 11)),
    ("월말", D(2026, 12, 31)), ("이번달 말", D(2026, 12, 31)), ("다음 달 말일", D(2027, 1, 31)),
    ("십이월 일일", D(2027, 12, 1)), ("12월 31일", D(2026, 12, 31)), ("유월 오일", D(2027, 6, 5)),
    ("시월 삼일", D(2027, 10, 3)),
    ("돈이 십오일에 들어와요", D(2027, 1, 15)),  # 이 is the subject particle, not 2
    ("  내일!! ", D(2026, 12, 29)),
])
def test_korean(text: str, expected: D) -> None:
    assert parse_date(text, "ko", MONDAY) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("今天", MONDAY), ("明天", D(2026, 12, 29)), ("后天", D(2026, 12, 30)), ("大后天", D(2026, 12, 31)),
    ("我明天会还", D(2026, 12, 29)), ("明天 还款", D(2026, 12, 29)),
    ("周一", D(2027, 1, 4)), ("星期一", D(2027, 1, 4)), ("这周五", D(2027, 1, 1)), ("本周五", D(2027, 1, 1)),
    ("这个星期一", MONDAY), ("下周一", D(2027, 1, 4)), ("下星期一", D(2027, 1, 4)), ("下礼拜一还", D(2027, 1, 4)),
    ("下个星期天", D(2027, 1, 10)), ("星期日", D(2027, 1, 3)), ("下周", D(2027, 1, 4)),
    ("15号", D(2027, 1, 15)), ("十五号", D(2027, 1, 15)), ("15日", D(2027, 1, 15)), ("二十一号还", D(2027, 1, 21)),
    ("下个月五号", D(2027, 1, 5)), ("三天后", D(2026, 12, 31)), ("两天后还款", D(2026, 12, 30)),
    ("一个星期后", D(2027, 1, 4)), ("月底", D(2026, 12, 31)), ("下个月底", D(2027, 1, 31)),
    ("十二月一号", D(2027, 12, 1)), ("1月3日", D(2027, 1, 3)), ("十一月", None),
])
def test_mandarin(text: str, expected: D | None) -> None:
    assert parse_date(text, "zh", MONDAY) == expected
    assert parse_date(text, "cmn", MONDAY) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("today", MONDAY), ("Tomorrow", D(2026, 12, 29)), ("the day after tomorrow", D(2026, 12, 30)),
    ("I will pay tomorrow.", D(2026, 12, 29)),
    ("monday", D(2027, 1, 4)), ("on Friday", D(2027, 1, 1)), ("this friday", D(2027, 1, 1)),
    ("this monday", MONDAY), ("next monday", D(2027, 1, 4)), ("next sunday", D(2027, 1, 10)),
    ("monday next week", D(2027, 1, 4)), ("next week on wednesday", D(2027, 1, 6)), ("next week", D(2027, 1, 4)),
    ("in 3 days", D(2026, 12, 31)), ("in three days", D(2026, 12, 31)), ("in twenty one days", D(2027, 1, 18)),
    ("three days from now", D(2026, 12, 31)), ("in a week", D(2027, 1, 4)), ("in two weeks", D(2027, 1, 11)),
    ("the 15th", D(2027, 1, 15)), ("15th", D(2027, 1, 15)), ("fifteenth", D(2027, 1, 15)),
    ("The Fifteenth", D(2027, 1, 15)), ("i will pay on the twenty-first", D(2027, 1, 21)),
    ("by the 1st", D(2027, 1, 1)), ("on the 30", D(2026, 12, 30)), ("the 15th of next month", D(2027, 1, 15)),
    ("end of the month", D(2026, 12, 31)), ("by the end of this month", D(2026, 12, 31)),
    ("end of next month", D(2027, 1, 31)),
    ("December first", D(2027, 12, 1)), ("the 3rd of january", D(2027, 1, 3)), ("jan 3", D(2027, 1, 3)),
    ("i may pay on the 15th", D(2027, 1, 15)),  # 'may' is no month here
    ("i will pay in 3 days, i promise", D(2026, 12, 31)),
])
def test_english(text: str, expected: D) -> None:
    assert parse_date(text, "en", MONDAY) == expected
    assert parse_date(text, "en-us", MONDAY) == expected


@pytest.mark.parametrize(("text", "language"), [
    ("", "ko"), ("네", "ko"), ("돈이 없어요", "ko"), ("십일월", "ko"), ("사십일", "ko"), ("영일", "ko"),
    ("", "zh"), ("不知道", "zh"), ("三十二号", "zh"),
    ("", "en"), ("i don't know", "en"), ("the 32nd", "en"), ("february thirtieth", "en"), ("in a few days", "en"),
])
def test_no_date_means_none(text: str, language: str) -> None:
    assert parse_date(text, language, MONDAY) is None


@pytest.mark.parametrize(("text", "language", "today", "expected"), [
    # across the end of a year
    ("tomorrow", "en", D(2026, 12, 31), D(2027, 1, 1)),
    ("내일", "ko", D(2026, 12, 31), D(2027, 1, 1)),
    ("后天", "zh", D(2026, 12, 31), D(2027, 1, 2)),
    ("next monday", "en", D(2026, 12, 28), D(2027, 1, 4)),
    ("in 5 days", "en", D(2026, 12, 29), D(2027, 1, 3)),
    ("다음주 금요일", "ko", D(2026, 12, 31), D(2027, 1, 8)),
    # a day of the month on or after today, skipping months without it
    ("the 15th", "en", D(2027, 1, 20), D(2027, 2, 15)),
    ("the 15th", "en", D(2027, 1, 15), D(2027, 1, 15)),
    ("31일", "ko", D(2027, 2, 10), D(2027, 3, 31)),
    ("三十一号", "zh", D(2027, 4, 1), D(2027, 5, 31)),
    ("the thirtieth", "en", D(2027, 1, 31), D(2027, 3, 30)),
    ("29일", "ko", D(2027, 2, 1), D(2027, 3, 29)),
    ("29일", "ko", D(2028, 2, 1), D(2028, 2, 29)),
    ("the 5th", "en", D(2026, 12, 20), D(2027, 1, 5)),
    ("the 31st of next month", "en", D(2027, 3, 15), None),  # April has no 31st
    ("다음달 31일", "ko", D(2027, 4, 15), D(2027, 5, 31)),
    # leap years
    ("tomorrow", "en", D(2028, 2, 28), D(2028, 2, 29)),
    ("tomorrow", "en", D(2027, 2, 28), D(2027, 3, 1)),
    ("end of the month", "en", D(2028, 2, 10), D(2028, 2, 29)),
    ("월말", "ko", D(2027, 2, 10), D(2027, 2, 28)),
    ("月底", "zh", D(2028, 2, 29), D(2028, 2, 29)),
    ("end of the month", "en", D(2027, 12, 31), D(2027, 12, 31)),
    ("이월 이십구일", "ko", D(2026, 3, 1), D(2028, 2, 29)),
    ("February twenty ninth", "en", D(2096, 3, 1), D(2104, 2, 29)),  # 2100 is no leap year
    ("in 3 days", "en", D(2028, 2, 27), D(2028, 3, 1)),
])
def test_relative_dates_across_month_and_year_ends(text: str, language: str, today: D, expected: D | None) -> None:
    assert parse_date(text, language, today) == expected


@pytest.mark.parametrize(("today", "bare", "this", "next_"), [
    # Monday: a bare 'monday' is a week away, 'this monday' is today, 'next monday' next week's
    (MONDAY, D(2027, 1, 4), MONDAY, D(2027, 1, 4)),
    # Friday: this week's Monday has passed, so 'this monday' is the coming one
    (FRIDAY, D(2027, 1, 11), D(2027, 1, 11), D(2027, 1, 11)),
    # Sunday: next week starts tomorrow
    (SUNDAY, D(2027, 1, 11), D(2027, 1, 11), D(2027, 1, 11)),
    # Tuesday: all three name the coming Monday, the first day of next week
    (D(2026, 12, 29), D(2027, 1, 4), D(2027, 1, 4), D(2027, 1, 4)),
])
def test_weekday_meanings_for_monday(today: D, bare: D, this: D, next_: D) -> None:
    for language, (b, t, n) in {
        "en": ("monday", "this monday", "next monday"),
        "ko": ("월요일", "이번주 월요일", "다음주 월요일"),
        "zh": ("周一", "这周一", "下周一"),
    }.items():
        assert parse_date(b, language, today) == bare
        assert parse_date(t, language, today) == this
        assert parse_date(n, language, today) == next_


def test_next_friday_is_next_weeks_even_when_this_weeks_is_still_ahead() -> None:
    assert parse_date("friday", "en", MONDAY) == D(2027, 1, 1)
    assert parse_date("this friday", "en", MONDAY) == D(2027, 1, 1)
    assert parse_date("next friday", "en", MONDAY) == D(2027, 1, 8)
    assert parse_date("friday", "en", D(2027, 1, 1)) == D(2027, 1, 8)
    assert parse_date("this friday", "en", D(2027, 1, 1)) == D(2027, 1, 1)


def test_an_unknown_language_is_an_error() -> None:
    with pytest.raises(ValueError):
        parse_date("demain", "fr", MONDAY)


# --- Round trips ------------------------------------------------------------------------------


@given(days, st.integers(1, 31), st.sampled_from(LANGUAGES))
def test_a_spoken_day_of_month_is_the_first_such_day_on_or_after_today(today: D, n: int, language: str) -> None:
    for said in {spoken_ordinal_day(n, language), day_phrase(n, language)}:
        found = parse_date(said, language, today)
        assert found is not None and found.day == n and found >= today
        between = (today + dt.timedelta(days=k) for k in range((found - today).days))
        assert all(d.day != n for d in between)


@given(days, st.integers(0, 364), st.sampled_from(LANGUAGES))
def test_a_spoken_date_within_a_year_reads_back(today: D, ahead: int, language: str) -> None:
    day = today + dt.timedelta(days=ahead)
    assert parse_date(spoken_date(day, language), language, today) == day


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_date_phrase_parses_to_a_near_future_date(language: str) -> None:
    phrases = date_phrases(language)
    assert len(phrases) == len(set(phrases))
    for today in TODAYS:
        for phrase in phrases:
            found = parse_date(phrase, language, today)
            assert found is not None, phrase
            assert today <= found <= today + dt.timedelta(days=62), phrase


@pytest.mark.parametrize("language", LANGUAGES)
def test_promise_words_around_a_date_phrase_do_not_change_it(language: str) -> None:
    phrases = date_phrases(language)
    tails = {"ko": (" 낼게요", " 까지"), "zh": ("还",), "en": ()}[language]
    for today in TODAYS:
        for phrase in phrases:
            core = phrase
            for tail in tails:
                core = core.removesuffix(tail)
            if language == "en" and phrase.startswith("i will pay "):
                core = phrase.removeprefix("i will pay ").removeprefix("on ").removeprefix("by ")
            assert parse_date(phrase, language, today) == parse_date(core, language, today), phrase


@pytest.mark.parametrize("language", LANGUAGES)
def test_date_phrases_cover_days_weekdays_and_relative_days(language: str) -> None:
    phrases = set(date_phrases(language))
    assert {day_phrase(n, language) for n in range(1, 32)} <= phrases
    expected = {"ko": {"내일", "다음주 월요일", "이번주 금요일", "월말", "삼 일 뒤", "십 오 일 낼게요"},
                "zh": {"明天", "下周一", "这周五", "月底", "三天后", "十五号还"},
                "en": {"tomorrow", "next monday", "this friday", "the end of the month", "in three days",
                       "i will pay on the fifteenth"}}[language]
    assert expected <= phrases


def test_korean_day_phrases() -> None:
    assert [day_phrase(n, "ko") for n in (1, 10, 11, 15, 20, 22, 31)] == [
        "일 일", "십 일", "십 일 일", "십 오 일", "이십 일", "이십 이 일", "삼십 일 일"]


def test_korean_date_phrases_are_in_the_vosk_model(recognizer: Recognizer) -> None:
    assert recognizer.missing_words(date_phrases("ko")) == []
