"""Response-time reports: pure maths over the SLA history (no boto3).

A day's figures are folded from that day's reporting entries (inbound messages
and the SLA events that matter for reports, read through the day index) into a
:class:`dict` *rollup*: counts, response-time histograms and breach counters
per dimension value. Rollups of several days merge by adding, so a month is
31 rollups, never the month's events.

Response times are kept in a log histogram: exact below 100 s, then buckets
1 % wide, so a percentile read from it is within 0.5 % of the exact value.
Both wall-clock and business seconds come from the SLA events, which recorded
them with the policy's calendar of the time: a later policy change rewrites
nothing.

Counting rules (one entry counted once, on the UTC day of its time):

* a clock is counted on the day it opened (``opened``), by kind;
* a response (``met`` / ``responded_late``) adds its times on the day of the reply;
* a breach is counted once: at the checker's ``breached`` event, or at a late
  reply that no breach page preceded (``paged_breach`` false);
  reasons are the clock kind (``first_response``, ``next_response``) and
  ``resolution`` (resolved after the resolution target);
* compliance = met / (met + response-clock breaches), over clocks decided that day;
* noise share = inbound messages labelled ``noise`` or ``spam`` / inbound messages.
"""
from __future__ import annotations

import math
import re
from collections import Counter
from typing import Any, Iterable, Mapping, Optional

DIMENSIONS = ("platform", "channel", "policy", "priority")
KINDS = ("first_response", "next_response")
NOISE_LABELS = frozenset({"noise", "spam"})
COMPLAINT_LABEL = "complaint"
PERCENTILES = (50, 90, 95)
EXACT_BELOW = 100
RATIO = 1.01
TOP_TERMS = 50
SCHEMA = 1

Stats = dict[str, Any]
Rollup = dict[str, Any]


# ---------------------------------------------------------------- histogram


def bucket(seconds: int) -> int:
    """The histogram bucket of a duration: exact below 100 s, 1 % wide above."""
    if seconds < EXACT_BELOW:
        return max(seconds, 0)
    return EXACT_BELOW + int(math.log(seconds / EXACT_BELOW) / math.log(RATIO))


def bucket_value(key: int) -> float:
    """A bucket's representative duration (its geometric middle above 100 s)."""
    if key < EXACT_BELOW:
        return float(key)
    return EXACT_BELOW * RATIO ** (key - EXACT_BELOW + 0.5)


def percentile(histogram: Mapping[str, int], pct: float) -> Optional[int]:
    """Nearest-rank percentile of a histogram (``{bucket: count}``, keys as strings for JSON)."""
    total = sum(histogram.values())
    if not total:
        return None
    rank = max(1, math.ceil(pct / 100 * total))
    seen = 0
    for key in sorted(histogram, key=int):
        seen += histogram[key]
        if seen >= rank:
            return round(bucket_value(int(key)))
    return None  # pragma: no cover - rank <= total


# ---------------------------------------------------------------- folding a day


def empty_stats() -> Stats:
    return {"opened": {k: 0 for k in KINDS}, "responses": {k: {"wall": {}, "business": {}} for k in KINDS},
            "met": 0, "breached": 0, "breaches": {}, "inbound": 0, "noise": 0}


def empty_rollup() -> Rollup:
    return {"schema": SCHEMA, "entries": 0, "all": empty_stats(), **{d: {} for d in DIMENSIONS}, "terms": {}}


def clock_kind(clock_id: str) -> str:
    """Clock ids start with the kind's initial (functions.domain.sla._open)."""
    return "next_response" if clock_id.startswith("n") else "first_response"


def fold(entries: Iterable[Mapping[str, Any]]) -> Rollup:
    """A day's rollup from its reporting entries (see :func:`entry_effects`)."""
    rollup = empty_rollup()
    terms: Counter[str] = Counter()
    for entry in entries:
        rollup["entries"] += 1
        dims = {
            "platform": entry.get("platform") or "unknown",
            "channel": entry.get("channel") or "unknown",
            "policy": entry.get("policy") or "none",
            "priority": entry.get("priority") or "normal",
        }
        targets = [rollup["all"]] + [rollup[d].setdefault(dims[d], empty_stats()) for d in DIMENSIONS]
        for stats in targets:
            _apply(stats, entry)
        if entry.get("type") == "message" and COMPLAINT_LABEL in (entry.get("labels") or ()):
            terms.update(complaint_terms(entry.get("text") or ""))
    rollup["terms"] = dict(terms.most_common(TOP_TERMS))
    return rollup


def _apply(stats: Stats, entry: Mapping[str, Any]) -> None:
    if entry.get("type") == "message":
        stats["inbound"] += 1
        if NOISE_LABELS & set(entry.get("labels") or ()):
            stats["noise"] += 1
        return
    kind = entry.get("kind")
    detail = entry.get("detail") or {}
    clock = clock_kind(entry.get("clock_id", ""))
    if kind == "opened":
        stats["opened"][clock] += 1
    elif kind in ("met", "responded_late"):
        for scale, field in (("wall", "response_seconds"), ("business", "business_seconds")):
            value = detail.get(field)
            if isinstance(value, int):
                hist = stats["responses"][clock][scale]
                key = str(bucket(value))
                hist[key] = hist.get(key, 0) + 1
        if kind == "met":
            stats["met"] += 1
        elif not detail.get("paged_breach", False):
            _breach(stats, clock)
    elif kind == "breached":
        _breach(stats, clock)
    elif kind == "resolved" and detail.get("late"):
        stats["breaches"]["resolution"] = stats["breaches"].get("resolution", 0) + 1


def _breach(stats: Stats, reason: str) -> None:
    stats["breached"] += 1
    stats["breaches"][reason] = stats["breaches"].get(reason, 0) + 1


# ---------------------------------------------------------------- merging and summaries


def merge(rollups: Iterable[Rollup]) -> Rollup:
    total = empty_rollup()
    terms: Counter[str] = Counter()
    for rollup in rollups:
        total["entries"] += rollup.get("entries", 0)
        _add(total["all"], rollup["all"])
        for d in DIMENSIONS:
            for value, stats in rollup.get(d, {}).items():
                _add(total[d].setdefault(value, empty_stats()), stats)
        terms.update(rollup.get("terms", {}))
    total["terms"] = dict(terms.most_common(TOP_TERMS))
    return total


def _add(into: Stats, other: Stats) -> None:
    for key in ("met", "breached", "inbound", "noise"):
        into[key] += other.get(key, 0)
    for kind in KINDS:
        into["opened"][kind] += other["opened"].get(kind, 0)
        for scale in ("wall", "business"):
            hist = into["responses"][kind][scale]
            for key, count in other["responses"][kind][scale].items():
                hist[key] = hist.get(key, 0) + count
    for reason, count in other["breaches"].items():
        into["breaches"][reason] = into["breaches"].get(reason, 0) + count


def summary(stats: Stats) -> dict[str, Any]:
    """What the report shows for one group (or the totals)."""
    decided = stats["met"] + stats["breached"]
    out: dict[str, Any] = {
        "clocks_opened": sum(stats["opened"].values()),
        "opened": dict(stats["opened"]),
    }
    for kind in KINDS:
        responses = stats["responses"][kind]
        out[kind] = {
            "count": sum(responses["wall"].values()),
            **{scale: {f"p{p}": percentile(responses[scale], p) for p in PERCENTILES}
               for scale in ("wall", "business")},
        }
    out.update({
        "met": stats["met"],
        "breached": stats["breached"],
        "sla_compliance_pct": round(100 * stats["met"] / decided, 1) if decided else None,
        "breaches_by_reason": dict(sorted(stats["breaches"].items())),
        "inbound_messages": stats["inbound"],
        "noise_messages": stats["noise"],
        "noise_share_pct": round(100 * stats["noise"] / stats["inbound"], 1) if stats["inbound"] else None,
    })
    return out


def report(rollup: Rollup, group_by: Optional[str]) -> dict[str, Any]:
    body: dict[str, Any] = {"totals": summary(rollup["all"])}
    if group_by:
        body["groups"] = [{"value": value, **summary(stats)} for value, stats in sorted(rollup[group_by].items())]
    return body


# ---------------------------------------------------------------- complaint terms

_WORD = re.compile(r"[^\W\d_][\w'’-]{2,}", re.UNICODE)
STOPWORDS = frozenset("""
a about after again all also am an and any are as at be because been before being but by can could did do does
doing don done for from get got had has have having he her here hers him his how i if in into is it its just me
more most my no nor not now of off on once only or other our out over own same she should so some still such than
that the their them then there these they this those through to too under until up very was we were what when where
which while who why will with would you your yours yet im ive dont cant wont didnt isnt its still please thanks
thank hello hi hey one two even really already
de het een en van ik je is dat die niet te op zijn voor met er maar als bij nog wel ook dan mijn jullie ze we
""".split())


def complaint_terms(text: str) -> Counter[str]:
    """The words of a complaint worth counting (lower case, 3+ letters, no stop words or links)."""
    text = re.sub(r"https?://\S+|@\w+", " ", text.lower())
    return Counter(w.strip("'’-") for w in _WORD.findall(text) if w.strip("'’-") not in STOPWORDS)


def top_terms(terms: Mapping[str, int], n: int = 10) -> list[tuple[str, int]]:
    return sorted(terms.items(), key=lambda item: (-item[1], item[0]))[:n]
