"""Durations: parsing the policy file's ``15m``/``1h30m`` and the compact SMS form."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from functions.domain.durations import parse_duration, short_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("45s", timedelta(seconds=45)),
        ("15m", timedelta(minutes=15)),
        ("8h", timedelta(hours=8)),
        ("2d", timedelta(days=2)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1d 4h", timedelta(days=1, hours=4)),
        ("1d4h30m15s", timedelta(days=1, hours=4, minutes=30, seconds=15)),
        ("  15m\t", timedelta(minutes=15)),
        ("1 h 30 m", timedelta(hours=1, minutes=30)),
        ("90m", timedelta(minutes=90)),
        ("0h5m", timedelta(minutes=5)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "   ", "15", "m", "15 minutes", "1.5h", "-5m", "+5m", "30m1h", "1h1h", "15M", "1w", "h1", "1h,30m", "١٥m"],
)
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_duration(text)
    assert str(caught.value) == f"{text!r} is not a duration like 45s, 15m, 8h, 2d"


@pytest.mark.parametrize("text", ["0m", "0s", "0h 0m"])
def test_parse_duration_rejects_zero_unless_allowed(text: str) -> None:
    with pytest.raises(ValueError, match="must be longer than zero"):
        parse_duration(text)
    assert parse_duration(text, allow_zero=True) == timedelta(0)


@pytest.mark.parametrize(
    ("delta", "expected"),
    [
        (timedelta(0), "0s"),
        (timedelta(milliseconds=900), "0s"),
        (timedelta(seconds=45), "45s"),
        (timedelta(seconds=59, milliseconds=999), "59s"),
        (timedelta(minutes=1), "1m"),
        (timedelta(minutes=12), "12m"),
        (timedelta(minutes=12, seconds=59), "12m"),
        (timedelta(hours=1), "1h"),
        (timedelta(hours=1, minutes=5), "1h05m"),
        (timedelta(hours=1, minutes=5, seconds=30), "1h05m"),
        (timedelta(hours=23, minutes=59), "23h59m"),
        (timedelta(days=1), "1d"),
        (timedelta(days=2, hours=3), "2d3h"),
        (timedelta(days=2, hours=3, minutes=59), "2d3h"),
        (timedelta(days=2, minutes=30), "2d"),
        (timedelta(days=40, hours=1), "40d1h"),
        (-timedelta(minutes=5), "-5m"),
    ],
)
def test_short_duration(delta: timedelta, expected: str) -> None:
    assert short_duration(delta) == expected


@given(st.integers(min_value=1, max_value=400 * 86_400))
def test_short_duration_reads_back_as_at_most_one_unit_less(seconds: int) -> None:
    delta = timedelta(seconds=seconds)
    shown = parse_duration(short_duration(delta), allow_zero=True)
    unit = next(
        size
        for limit, size in (
            (timedelta(minutes=1), timedelta(seconds=1)),
            (timedelta(hours=1), timedelta(minutes=1)),
            (timedelta(days=1), timedelta(minutes=1)),
            (timedelta.max, timedelta(hours=1)),
        )
        if delta < limit
    )
    assert delta - unit < shown <= delta
