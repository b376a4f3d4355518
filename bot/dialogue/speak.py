"""Money as it is spoken, per language (the built-in reminder's needs; scripts extend this)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

_KO_DIGITS = ["", "일", "이", "삼", "사", "오", "육", "칠", "팔", "구"]
_KO_SMALL = [(1000, "천"), (100, "백"), (10, "십")]
_KO_LARGE = [(10**12, "조"), (10**8, "억"), (10**4, "만")]
_KO_CURRENCY = {"KRW": "원", "USD": "달러", "CNY": "위안"}
_EN_CURRENCY = {"KRW": "won", "USD": "dollars", "CNY": "yuan"}


def korean_number(n: int) -> str:
    """Sino-Korean reading with a space between groups: 300000 -> '삼십 만'.

    Groups are split by a space because the Korean Vosk model knows '삼십' and '만' but not
    '삼십만'; espeak-ng reads both forms the same way.
    """
    if n < 0:
        raise ValueError("negative amount")
    if n == 0:
        return "영"
    parts: list[str] = []
    for size, unit in _KO_LARGE:
        if n >= size:
            parts.extend([_korean_below_10000(n // size), unit])
            n %= size
    if n:
        parts.append(_korean_below_10000(n))
    return " ".join(p for p in parts if p)


def _korean_below_10000(n: int) -> str:
    out = ""
    for size, unit in _KO_SMALL:
        digit, n = divmod(n, size)
        if digit:
            out += ("" if digit == 1 else _KO_DIGITS[digit]) + unit
    return out + _KO_DIGITS[n]


def spoken_amount(amount: Decimal, currency: str, language: str) -> str:
    """The amount due as the robot says it, e.g. '삼십 만 원' or '300,000 won'."""
    whole = int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    if language == "ko":
        return f"{korean_number(whole)} {_KO_CURRENCY.get(currency, currency)}"
    return f"{whole:,} {_EN_CURRENCY.get(currency, currency)}"
