"""Amounts read from answers, and the amount phrases a grammar lists, in three languages."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.dialogue.amounts import amount_phrases, parse_amount, parse_number, phrase_number
from bot.dialogue.speak import spoken_amount, spoken_number
from bot.speech.asr import Recognizer

LANGUAGES = ["ko", "zh", "en"]


@pytest.fixture(scope="module")
def recognizer() -> Iterator[Recognizer]:
    """The real Korean Vosk model (loaded once per process, ~2 s)."""
    rec = Recognizer(None, workers=1)
    yield rec
    rec.close()


@pytest.mark.parametrize(("text", "language", "amount"), [
    ("삼십 만 원", "ko", "300000"),
    ("삼십만원", "ko", "300000"),
    ("오십만", "ko", "500000"),
    ("백 이십 만 오천 원", "ko", "1205000"),
    ("천 원", "ko", "1000"),
    ("만 원", "ko", "10000"),
    ("이 백 오십", "ko", "250"),
    ("30만원 낼게요", "ko", "300000"),
    ("3만 5천원", "ko", "35000"),
    ("1.5만 원", "ko", "15000"),
    ("총삼십만원이요", "ko", "300000"),
    ("오늘은 못 내고 십 만 원", "ko", "100000"),  # 오 in 오늘 is not a number
    ("십 달러 오십 센트", "ko", "10.50"),
    ("三十万", "zh", "300000"),
    ("三千五百块", "zh", "3500"),
    ("两万", "zh", "20000"),
    ("一万二", "zh", "12000"),
    ("三千五", "zh", "3500"),
    ("一万零二", "zh", "10002"),
    ("一百零五", "zh", "105"),
    ("5000元", "zh", "5000"),
    ("我下周还三十万韩元", "zh", "300000"),
    ("三块五", "zh", "3.5"),
    ("十二元五角", "zh", "12.5"),
    ("十二元零五分", "zh", "12.05"),
    ("一角一分", "zh", "0.11"),
    ("五毛五", "zh", "0.55"),
    ("５０００元", "zh", "5000"),  # full-width digits
    ("thirty thousand", "en", "30000"),
    ("three hundred thousand won", "en", "300000"),
    ("twelve hundred", "en", "1200"),
    ("1,500", "en", "1500"),
    ("a hundred dollars", "en", "100"),
    ("one hundred and five", "en", "105"),
    ("twenty-one thousand", "en", "21000"),
    ("I can pay $1,500.50 now", "en", "1500.50"),
    ("300 thousand", "en", "300000"),
    ("300k", "en", "300000"),
    ("twelve dollars and fifty cents", "en", "12.50"),
    ("fifty cents", "en", "0.50"),
    ("maybe 3 or 4 payments of 100 dollars", "en", "100"),  # the number with a currency wins
])
def test_parse_amount(text: str, language: str, amount: str) -> None:
    assert parse_amount(text, language) == Decimal(amount)


@pytest.mark.parametrize(("text", "language"), [
    ("", "ko"), ("네", "ko"), ("돈이 없어요", "ko"), ("천천히 말해 주세요", "ko"), ("이번에는 못 내요", "ko"),
    ("", "zh"), ("我一定还", "zh"), ("十分感谢", "zh"), ("五分钟以后再打", "zh"),
    ("", "en"), ("i have no money", "en"), ("a lot", "en"),
])
def test_no_number_means_no_amount(text: str, language: str) -> None:
    assert parse_amount(text, language) is None


@pytest.mark.parametrize(("text", "language", "value"), [
    ("삼십 만", "ko", 300_000), ("십오", "ko", 15), ("영", "ko", 0), ("二十二", "zh", 22), ("零", "zh", 0),
    ("twenty one", "en", 21), ("a thousand", "en", 1000), ("15", "en", 15),
])
def test_parse_number_reads_a_whole_text(text: str, language: str, value: int) -> None:
    assert parse_number(text, language) == value


@pytest.mark.parametrize(("text", "language"), [
    ("십오일", "ko"), ("삼십 만 원", "ko"), ("一定", "zh"), ("twenty twenty", "en"), ("one two", "en"), ("a", "en"),
])
def test_parse_number_refuses_anything_else(text: str, language: str) -> None:
    assert parse_number(text, language) is None


@given(st.integers(0, 10**9), st.sampled_from(LANGUAGES))
def test_spoken_numbers_read_back(n: int, language: str) -> None:
    said = spoken_number(n, language)
    assert parse_number(said, language) == n
    assert parse_amount(said, language) == n


@given(st.integers(0, 10**15 - 1), st.sampled_from(LANGUAGES))
def test_grammar_numbers_read_back(n: int, language: str) -> None:
    if language == "zh" and n >= 10**12:
        n //= 1000
    assert parse_amount(phrase_number(n, language), language) == n


@given(st.integers(0, 10**10), st.sampled_from(["KRW", "USD", "CNY"]), st.sampled_from(LANGUAGES))
def test_spoken_amounts_read_back(cents: int, currency: str, language: str) -> None:
    amount = Decimal(cents) / 100
    expected = amount if currency != "KRW" else amount.quantize(Decimal(1), rounding=ROUND_HALF_UP)
    assert parse_amount(spoken_amount(amount, currency, language), language) == expected


@pytest.mark.parametrize(("n", "words"), [
    (0, "영"), (15, "십 오"), (22, "이십 이"), (200, "이 백"), (250, "이 백 오십"), (10_000, "만"),
    (35_000, "삼 만 오천"), (300_000, "삼십 만"), (1_205_000, "백 이십 만 오천"), (100_000_000, "일 억"),
])
def test_korean_grammar_numbers_are_split_into_known_words(n: int, words: str) -> None:
    assert phrase_number(n, "ko") == words


def test_amount_phrases_per_language() -> None:
    assert amount_phrases("ko", [Decimal(300_000)]) == ["삼십 만", "삼십 만 원"]
    assert amount_phrases("zh", [Decimal(300_000), Decimal(2)], "CNY") == ["三十万", "三十万元", "二", "两元"]
    assert amount_phrases("en", [Decimal(300_000)]) == ["three hundred thousand", "three hundred thousand won"]
    assert amount_phrases("en", [Decimal("12.50")], "USD") == ["twelve dollars and fifty cents"]


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("currency", ["KRW", "USD", "CNY"])
def test_every_amount_phrase_reads_back_as_its_amount(language: str, currency: str) -> None:
    amounts = [Decimal(n) for n in (0, 1, 2, 1000, 10_000, 35_000, 150_000, 300_000, 1_205_000, 10**8 + 10**4)]
    amounts += [Decimal("12.50"), Decimal("0.05")] if currency != "KRW" else []
    for amount in amounts:
        for phrase in amount_phrases(language, [amount], currency):
            assert parse_amount(phrase, language) == amount, phrase


# Every word a Korean grammar number can use: 0..9999 covers every shape of a group.
KO_NUMBER_WORDS = sorted({w for n in range(10_000) for w in phrase_number(n, "ko").split()} | {"만", "억", "조"})


@given(st.integers(0, 10**16 - 1))
def test_korean_grammar_numbers_use_a_closed_set_of_words(n: int) -> None:
    assert set(phrase_number(n, "ko").split()) <= set(KO_NUMBER_WORDS)


def test_korean_amount_words_are_in_the_vosk_model(recognizer: Recognizer) -> None:
    phrases = [*KO_NUMBER_WORDS]
    for currency in ("KRW", "USD", "CNY"):
        phrases += amount_phrases("ko", [Decimal(1_205_000), Decimal("12.50")], currency)
    assert recognizer.missing_words(phrases) == []
