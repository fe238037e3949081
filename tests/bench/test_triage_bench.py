"""Triage bench: hostile text costs what ordinary text of the same length costs, and grows linearly.

A webhook body may carry up to 3 MB of text built to be slow: before the spam
patterns were anchored, 5,000 characters of ``a-a-a-`` took 49 s and a
megabyte of anything never finished. Each figure is the median of several
runs against ordinary customer text of the same length, timed in the same run
(``bench: ...`` lines), and asserted.
"""
from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from functions.domain.triage import MAX_TRIAGE_CHARS, Customer, TriageRules, triage

TARGET_HOSTILE_OVER_ORDINARY = 3.0  # at 10,000 characters (what triage reads)
TARGET_GROWTH = 3.0  # time at 2n over time at n; linear is 2, quadratic 4

ORDINARY = "My parcel never arrived and nobody answers my emails. Order 1234, can you check? "
HOSTILE: dict[str, Callable[[int], str]] = {
    "a-a-a-": lambda n: "a-" * (n // 2),
    "x" * 6: lambda n: "x" * n,
    "free iphone": lambda n: "free iphone " * (n // 12),
    "www.": lambda n: "www." * (n // 4),
    "ok ok": lambda n: "ok " * (n // 3),
    "emoji": lambda n: "\U0001F620" * n,
}
RULES = TriageRules()
CUSTOMER = Customer("x", "1")


def _seconds(text: str, runs: int = 7) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        triage(text, "comment", CUSTOMER, RULES)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _ordinary(n: int) -> str:
    return (ORDINARY * (n // len(ORDINARY) + 1))[:n]


def test_hostile_text_is_triaged_as_fast_as_ordinary_text():
    n = MAX_TRIAGE_CHARS
    baseline = _seconds(_ordinary(n))
    worst = 0.0
    for name, make in HOSTILE.items():
        ratio = _seconds(make(n)) / baseline
        whole = _seconds(make(100 * n)) / baseline  # a megabyte: triage reads the first n characters
        print(f"bench: triage of {n:,} chars of {name!r} = {ratio:.2f}x ordinary text "
              f"({baseline * 1000:.1f} ms); of {100 * n:,} chars = {whole:.2f}x", flush=True)
        worst = max(worst, ratio, whole)
    assert worst <= TARGET_HOSTILE_OVER_ORDINARY


def test_the_spam_patterns_grow_linearly_with_the_text():
    n = 50_000
    worst = 0.0
    for name, make in {**HOSTILE, "ordinary": _ordinary}.items():
        small, large = make(n), make(2 * n)
        growth = _pattern_seconds(large) / _pattern_seconds(small)
        print(f"bench: spam patterns on {2 * n:,} vs {n:,} chars of {name!r} = {growth:.2f}x "
              f"(target <= {TARGET_GROWTH})", flush=True)
        worst = max(worst, growth)
    assert worst <= TARGET_GROWTH


def _pattern_seconds(text: str, runs: int = 7) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        for pattern in RULES.spam_patterns:
            pattern.search(text)
        times.append(time.perf_counter() - started)
    return statistics.median(times)
