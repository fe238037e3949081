"""Durations as people write them in the policy file and read them in an SMS.

``parse_duration`` reads ``45s``, ``15m``, ``8h``, ``2d`` and combinations such
as ``1h30m`` or ``1d 4h``. Units go from largest to smallest, each at most once,
so ``30m1h`` (probably a typo) is refused rather than guessed at.
"""
from __future__ import annotations

import re
from datetime import timedelta

_DURATION = re.compile(
    r"(?:(?P<d>[0-9]+)\s*d)?\s*(?:(?P<h>[0-9]+)\s*h)?\s*(?:(?P<m>[0-9]+)\s*m)?\s*(?:(?P<s>[0-9]+)\s*s)?"
)
_UNIT_SECONDS: dict[str, int] = {"d": 86_400, "h": 3_600, "m": 60, "s": 1}


def parse_duration(text: str, *, allow_zero: bool = False) -> timedelta:
    """The duration ``text`` names; ValueError unless it is well formed and longer than zero.

    ``allow_zero`` admits ``0m`` for offsets that may be immediate (an alert
    ladder's first level).
    """
    stripped = text.strip()
    match = _DURATION.fullmatch(stripped)
    if not stripped or match is None:
        raise ValueError(f"{text!r} is not a duration like 45s, 15m, 8h, 2d")
    seconds = sum(int(amount) * _UNIT_SECONDS[unit] for unit, amount in match.groupdict().items() if amount)
    if seconds == 0 and not allow_zero:
        raise ValueError(f"{text!r} must be longer than zero")
    return timedelta(seconds=seconds)


def short_duration(delta: timedelta) -> str:
    """Compact form for an SMS: ``45s``, ``12m``, ``1h05m``, ``8h``, ``2d3h``, ``2d``.

    Seconds only under a minute, minutes under an hour, hours and minutes under
    a day, days and hours beyond. Smaller units are cut off, not rounded, so the
    text never claims more time than there is. Negative durations get a ``-``.
    """
    if delta < timedelta(0):
        return "-" + short_duration(-delta)
    seconds = delta // timedelta(seconds=1)
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days}d{hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h{minutes:02d}m" if minutes else f"{hours}h"
    if minutes:
        return f"{minutes}m"
    return f"{seconds}s"
