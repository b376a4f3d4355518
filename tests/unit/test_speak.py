"""Numbers, money and dates in words: Korean, Mandarin and English."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal

import pytest

from bot.dialogue.speak import (
    base_language,
    chinese_number,
    english_number,
    english_ordinal,
    korean_number,
    spoken_amount,
    spoken_date,
    spoken_number,
    spoken_ordinal_day,
)


@pytest.mark.parametrize(("code", "base"), [
    ("ko", "ko"), ("ko-KR", "ko"), ("zh", "zh"), ("cmn", "zh"), ("zh_CN", "zh"), ("en", "en"), ("en-us", "en"),
    ("EN-GB", "en"),
])
def test_language_codes_and_voices_name_one_of_three_languages(code: str, base: str) -> None:
    assert base_language(code) == base


def test_an_unsupported_language_is_an_error() -> None:
    with pytest.raises(ValueError, match="unsupported language"):
        spoken_number(3, "fr")


@pytest.mark.parametrize(("n", "words"), [
    (0, "영"), (1, "일"), (10, "십"), (15, "십오"), (100, "백"), (250, "이백오십"), (1000, "천"),
    (10_000, "만"), (15_000, "만 오천"), (20_000, "이 만"), (300_000, "삼십 만"), (1_205_000, "백이십 만 오천"),
    (100_000_000, "일 억"), (100_010_000, "일 억 만"), (10**12, "일 조"),
])
def test_korean_numbers_split_groups_with_spaces(n: int, words: str) -> None:
    assert korean_number(n) == words


@pytest.mark.parametrize(("n", "words"), [
    (0, "零"), (2, "二"), (10, "十"), (12, "十二"), (20, "二十"), (22, "二十二"), (110, "一百一十"),
    (200, "两百"), (1010, "一千零一十"), (2002, "两千零二"), (10_000, "一万"), (10_500, "一万零五百"),
    (12_000, "一万两千"), (20_000, "两万"), (100_500, "十万零五百"), (300_000, "三十万"), (220_000, "二十二万"),
    (1_205_000, "一百二十万五千"), (100_000_000, "一亿"), (100_010_000, "一亿零一万"), (100_001_000, "一亿零一千"),
    (200_000_000, "两亿"),
])
def test_mandarin_numbers_use_ling_and_liang(n: int, words: str) -> None:
    assert chinese_number(n) == words


@pytest.mark.parametrize(("n", "words"), [
    (0, "zero"), (7, "seven"), (21, "twenty one"), (105, "one hundred five"), (1200, "one thousand two hundred"),
    (300_000, "three hundred thousand"), (1_205_000, "one million two hundred five thousand"),
    (2_000_000_001, "two billion one"),
])
def test_english_numbers_have_no_and_and_no_hyphens(n: int, words: str) -> None:
    assert english_number(n) == words


@pytest.mark.parametrize(("n", "words"), [
    (1, "first"), (2, "second"), (3, "third"), (5, "fifth"), (8, "eighth"), (9, "ninth"), (12, "twelfth"),
    (15, "fifteenth"), (20, "twentieth"), (21, "twenty first"), (30, "thirtieth"), (31, "thirty first"),
    (100, "one hundredth"),
])
def test_english_ordinals(n: int, words: str) -> None:
    assert english_ordinal(n) == words


@pytest.mark.parametrize(("n", "language", "words"), [
    (300_000, "ko", "삼십 만"), (300_000, "cmn", "三十万"), (300_000, "en-us", "three hundred thousand"),
    (-3, "ko", "마이너스 삼"), (-3, "zh", "负三"), (-3, "en", "minus three"),
])
def test_spoken_number_per_language(n: int, language: str, words: str) -> None:
    assert spoken_number(n, language) == words


@pytest.mark.parametrize("say", [korean_number, chinese_number, english_number])
def test_numbers_out_of_range_are_errors(say: Callable[[int], str]) -> None:
    with pytest.raises(ValueError):
        say(-1)
    with pytest.raises(ValueError):
        say(10**16)


@pytest.mark.parametrize(("amount", "currency", "language", "words"), [
    ("300000", "KRW", "ko", "삼십 만 원"),
    ("300000.4", "KRW", "ko", "삼십 만 원"),  # won have no fraction: rounded
    ("300000.5", "KRW", "ko", "삼십 만 일 원"),
    ("12.50", "USD", "ko", "십이 달러 오십 센트"),
    ("300000", "KRW", "zh", "三十万韩元"),
    ("300000", "CNY", "zh", "三十万元"),
    ("2", "CNY", "zh", "两元"),
    ("12.50", "CNY", "zh", "十二元五角"),
    ("12.05", "CNY", "zh", "十二元零五分"),
    ("12.55", "CNY", "zh", "十二元五角五分"),
    ("0.30", "CNY", "zh", "三角"),
    ("20000", "USD", "zh", "两万美元"),
    ("300000", "KRW", "en", "three hundred thousand won"),
    ("1", "USD", "en", "one dollar"),
    ("12.50", "USD", "en", "twelve dollars and fifty cents"),
    ("12.01", "USD", "en", "twelve dollars and one cent"),
    ("0.50", "USD", "en", "fifty cents"),
    ("0", "KRW", "en", "zero won"),
    ("1500", "EUR", "en", "one thousand five hundred EUR"),  # unknown codes are said as codes
])
def test_spoken_amount(amount: str, currency: str, language: str, words: str) -> None:
    assert spoken_amount(Decimal(amount), currency, language) == words


def test_a_negative_amount_is_an_error() -> None:
    with pytest.raises(ValueError, match="negative"):
        spoken_amount(Decimal(-1), "KRW", "ko")


@pytest.mark.parametrize(("day", "language", "words"), [
    (dt.date(2026, 12, 1), "ko", "십이월 일일"),
    (dt.date(2026, 6, 25), "ko", "유월 이십오일"),
    (dt.date(2026, 10, 3), "ko", "시월 삼일"),
    (dt.date(2026, 12, 1), "zh", "十二月一号"),
    (dt.date(2026, 2, 22), "zh", "二月二十二号"),
    (dt.date(2026, 12, 1), "en", "December first"),
    (dt.date(2026, 3, 23), "en", "March twenty third"),
])
def test_spoken_date_is_month_and_day_in_words(day: dt.date, language: str, words: str) -> None:
    assert spoken_date(day, language) == words


@pytest.mark.parametrize(("n", "language", "words"), [
    (15, "en", "the fifteenth"), (1, "en", "the first"), (31, "en", "the thirty first"),
    (15, "ko", "십오일"), (1, "ko", "일일"), (15, "zh", "十五号"), (2, "zh", "二号"),
])
def test_spoken_ordinal_day(n: int, language: str, words: str) -> None:
    assert spoken_ordinal_day(n, language) == words


@pytest.mark.parametrize("n", [0, 32])
def test_no_ordinal_day_outside_a_month(n: int) -> None:
    with pytest.raises(ValueError):
        spoken_ordinal_day(n, "en")
