"""Hostile-text bench: text built to be slow costs what ordinary text costs, and grows linearly.

A webhook body may carry up to 3 MB of text built to be slow: before the spam
patterns were anchored, 5,000 characters of ``a-a-a-`` took 49 s in triage and
a megabyte of anything never finished; 20,000 characters of ``a.a.a.`` took
2.6 s to weigh as an X reply. Each figure is the median of several runs,
against ordinary customer text of the same length timed in the same run, or
against the same kind of text half as long (``bench: ...`` lines), and asserted.
"""
from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from functools import partial

from functions.domain.triage import MAX_TRIAGE_CHARS, Customer, TriageRules, triage
from functions.templating import x_weighted_length

TARGET_HOSTILE_OVER_ORDINARY = 5.0  # at 10,000 characters (what triage reads); "a-a-a-" was 10,000x
TARGET_GROWTH = 3.5  # time at 2n over time at n: linear is 2, quadratic 4 (hours, at these sizes)

ORDINARY = "My parcel never arrived and nobody answers my emails. Order 1234, can you check? "
HOSTILE: dict[str, Callable[[int], str]] = {
    "a-a-a-": lambda n: "a-" * (n // 2),
    "x" * 6: lambda n: "x" * n,
    "free iphone": lambda n: "free iphone " * (n // 12),
    "www.": lambda n: "www." * (n // 4),
    "ok ok": lambda n: "ok " * (n // 3),
    "emoji": lambda n: "\U0001F620" * n,
    "a.a.a.": lambda n: "a." * (n // 2),
}
RULES = TriageRules()
CUSTOMER = Customer("x", "1")


def _seconds(run: Callable[[], object], runs: int = 7) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _triage_seconds(text: str) -> float:
    return _seconds(partial(triage, text, "comment", CUSTOMER, RULES))


def _ordinary(n: int) -> str:
    return (ORDINARY * (n // len(ORDINARY) + 1))[:n]


def test_hostile_text_is_triaged_as_fast_as_ordinary_text():
    n = MAX_TRIAGE_CHARS
    baseline = _triage_seconds(_ordinary(n))
    worst = 0.0
    for name, make in HOSTILE.items():
        ratio = _triage_seconds(make(n)) / baseline
        whole = _triage_seconds(make(100 * n)) / baseline  # a megabyte: triage reads the first n characters
        print(f"bench: triage of {n:,} chars of {name!r} = {ratio:.2f}x ordinary text "
              f"({baseline * 1000:.1f} ms); of {100 * n:,} chars = {whole:.2f}x", flush=True)
        worst = max(worst, ratio, whole)
    assert worst <= TARGET_HOSTILE_OVER_ORDINARY


def _spam_patterns(text: str) -> None:
    for pattern in RULES.spam_patterns:
        pattern.search(text)


def test_the_spam_patterns_and_the_x_weighting_grow_linearly_with_the_text():
    n = 250_000
    worst = 0.0
    for what, run in (("spam patterns", _spam_patterns), ("X weighting", x_weighted_length)):
        for name, make in {**HOSTILE, "ordinary": _ordinary}.items():
            growth = _seconds(partial(run, make(2 * n))) / _seconds(partial(run, make(n)))
            print(f"bench: {what} on {2 * n:,} vs {n:,} chars of {name!r} = {growth:.2f}x "
                  f"(target <= {TARGET_GROWTH})", flush=True)
            worst = max(worst, growth)
    assert worst <= TARGET_GROWTH
