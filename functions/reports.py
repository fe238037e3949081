"""Reports over storage: response-time figures from day rollups, and the conversations CSV.

A closed day (UTC, over an hour past its end) is read from its stored rollup
(``REPORT#<day>``: one ``BatchGetItem`` serves up to 100 days); a closed day
without one is computed from the day index and stored; today (and yesterday
during its first hour after midnight) are computed live and not stored. So a
month's report reads at most 31 small items plus today's entries, whatever
the month held, and never Scans. The scheduled job (``reports_daily``)
recomputes the last two closed days, so events that reached the table late
(a stream backlog) are counted; a policy change touches nothing already
recorded.
"""
from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Iterable, Optional

from functions.domain import reports as maths
from functions.domain.message import iso_utc
from functions.errors import BadRequest
from functions.store import dynamo

MAX_DAYS = 366
MAX_CSV_DAYS = 93
DEFAULT_DAYS = 7
CLOSE_GRACE = timedelta(hours=1)  # late stream records of a day land within this, normally
GROUP_BY = maths.DIMENSIONS


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range((self.end - self.start).days + 1)]

    def bounds(self) -> tuple[str, str]:
        """``[start, end)`` as stored ISO times."""
        return (iso_utc(datetime.combine(self.start, time(), UTC)),
                iso_utc(datetime.combine(self.end + timedelta(days=1), time(), UTC)))


def period(params: dict[str, str], now: datetime, max_days: int = MAX_DAYS) -> Period:
    """``from``/``to`` (ISO dates, UTC days, both included); default the last 7 days to today."""
    end = _date(params.get("to"), "to") if params.get("to") else now.date()
    start = _date(params.get("from"), "from") if params.get("from") else end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise BadRequest("from must not be after to")
    if (end - start).days + 1 > max_days:
        raise BadRequest(f"the period is longer than {max_days} days")
    return Period(start, end)


def _date(raw: str, name: str) -> date:
    try:
        if len(raw) != 10:
            raise ValueError
        return date.fromisoformat(raw)
    except ValueError:
        raise BadRequest(f"{name} must be a date like 2026-11-22") from None


def group_by(params: dict[str, str]) -> Optional[str]:
    value = params.get("group_by")
    if value is None or value == "":
        return None
    if value not in GROUP_BY:
        raise BadRequest(f"group_by must be one of {', '.join(GROUP_BY)}")
    return value


# ---------------------------------------------------------------- rollups


@dataclass
class Sources:
    stored: int = 0  # rollups read as stored
    computed: int = 0  # closed days computed from the day index (and stored)
    live: int = 0  # open days computed from the day index


def _closed(day: date, now: datetime) -> bool:
    return now >= datetime.combine(day + timedelta(days=1), time(), UTC) + CLOSE_GRACE


def rollups(days: Iterable[date], now: datetime, sources: Optional[Sources] = None) -> dict[date, maths.Rollup]:
    """Each day's rollup: stored if it was computed after the day closed, else computed (and stored if closed)."""
    sources = sources if sources is not None else Sources()
    days = [d for d in days if d <= now.date()]
    closed = [d for d in days if _closed(d, now)]
    stored = dynamo.get_rollups([d.isoformat() for d in closed]) if closed else {}
    found: dict[date, maths.Rollup] = {}
    for day in days:
        hit = stored.get(day.isoformat())
        end = iso_utc(datetime.combine(day + timedelta(days=1), time(), UTC) + CLOSE_GRACE)
        if hit and hit["computed_at"] >= end and hit["rollup"].get("schema") == maths.SCHEMA:
            found[day] = hit["rollup"]
            sources.stored += 1
            continue
        found[day] = maths.fold(dynamo.day_entries(day.isoformat()))
        if day in closed:
            dynamo.put_rollup(day.isoformat(), found[day], iso_utc(now))
            sources.computed += 1
        else:
            sources.live += 1
    return found


def recompute(days: Iterable[date], now: datetime) -> int:
    """Recompute and store closed days' rollups (the scheduled job); returns how many were stored."""
    stored = 0
    for day in days:
        if _closed(day, now):
            dynamo.put_rollup(day.isoformat(), maths.fold(dynamo.day_entries(day.isoformat())), iso_utc(now))
            stored += 1
    return stored


def response_times(span: Period, group: Optional[str], now: datetime) -> dict[str, Any]:
    """The ``GET /reports/response-times`` body."""
    sources = Sources()
    by_day = rollups(span.days, now, sources)
    total = maths.merge(by_day.values())
    body: dict[str, Any] = {"from": span.start.isoformat(), "to": span.end.isoformat(), "timezone": "UTC",
                            "group_by": group, **maths.report(total, group)}
    body["daily"] = [_daily(day, rollup) for day, rollup in sorted(by_day.items())]
    body["sources"] = {"stored_rollups": sources.stored, "computed_days": sources.computed, "live_days": sources.live}
    return body


def _daily(day: date, rollup: maths.Rollup) -> dict[str, Any]:
    figures = maths.summary(rollup["all"])
    return {"date": day.isoformat(), "clocks_opened": figures["clocks_opened"],
            "first_response_p50_wall": figures["first_response"]["wall"]["p50"],
            "first_response_p90_wall": figures["first_response"]["wall"]["p90"],
            "sla_compliance_pct": figures["sla_compliance_pct"], "breached": figures["breached"]}


# ---------------------------------------------------------------- CSV export

CSV_COLUMNS = ("conversation_id", "platform", "channel", "account_id", "customer_id", "customer_name", "status",
               "priority", "labels", "incident_id", "created_at", "last_message_at", "message_count",
               "first_response_seconds", "first_response_business_seconds", "breaches", "sla_state", "sla_policy")
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def conversations_csv(span: Period) -> str:
    """One row per conversation whose last activity falls in the period; no message text."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    start, end = span.bounds()
    for item in dynamo.conversations_active(start, end):
        clock = (json.loads(item["sla"]).get("clock") or {}) if item.get("sla") else {}
        labels = item.get("labels") or []
        row = {
            "conversation_id": item["id"], "platform": item.get("platform"), "channel": item.get("channel"),
            "account_id": item.get("account_id"), "customer_id": item.get("customer_id"),
            "customer_name": item.get("customer_name"), "status": item.get("status"),
            "priority": item.get("priority") or "normal",
            "labels": ";".join(sorted(str(label) for label in labels)), "incident_id": item.get("incident_id"),
            "created_at": item.get("created_at"), "last_message_at": item.get("last_message_at"),
            "message_count": item.get("message_count", 0),
            "first_response_seconds": item.get("first_response_seconds"),
            "first_response_business_seconds": item.get("first_response_business_seconds"),
            "breaches": item.get("breach_count", 0), "sla_state": clock.get("state"), "sla_policy": clock.get("policy"),
        }
        writer.writerow([_cell(row[c]) for c in CSV_COLUMNS])
    return out.getvalue()


def _cell(value: Any) -> Any:
    """Spreadsheets run cells starting with = + - @ as formulas: such text gets a leading apostrophe."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA):
        return "'" + value
    return value
