"""The one duration syntax of collbot's files: ``90s``, ``30m``, ``2h``, ``7d``, or a number of seconds.

A text duration is a whole number and a unit (``1.5m`` is refused: write ``90s``); a plain number
is seconds and may have decimals. Anything past ``MAX`` is refused, so no timedelta overflows.
Raises ValueError, which strict YAML validation reports with file:line.
"""

from __future__ import annotations

import datetime as dt
import math
import re

MAX = dt.timedelta(days=366)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_TEXT = re.compile(r"\s*([0-9]{1,12})\s*([smhd]?)\s*")
_EXAMPLES = "90s, 30m, 2h, 7d or a number of seconds"


def parse_duration(value: object, *, allow_zero: bool = False) -> dt.timedelta:
    """``value`` as a timedelta in (0, MAX], or [0, MAX] with ``allow_zero``."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration like {_EXAMPLES}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (match := _TEXT.fullmatch(value)):
        seconds = float(int(match.group(1)) * _UNITS[match.group(2) or "s"])
    elif isinstance(value, str) and re.fullmatch(r"\s*[0-9]*\.[0-9]+\s*[smhd]\s*", value):
        raise ValueError(f"{value!r}: write a whole number of a smaller unit (1.5m is 90s)")
    else:
        raise ValueError(f"{value!r} is not a duration like {_EXAMPLES}")
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"{value!r}: a duration must be {'0 or more' if allow_zero else 'more than 0'}")
    if seconds > MAX.total_seconds():
        raise ValueError(f"{value!r}: a duration can be at most {MAX.days} days")
    duration = dt.timedelta(seconds=seconds)
    if not duration and not allow_zero:  # 0, or less than the microsecond a timedelta can hold
        raise ValueError(f"{value!r}: a duration must be more than 0")
    return duration
