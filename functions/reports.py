"""Reports over storage: response-time figures from day rollups, and the conversations CSV.

Report days are days in the brand's time zone (``[reports] timezone`` in the
policy file, default UTC); each is a time range over the UTC day index. A
closed day (over an hour past its end) is read from its stored rollup
(``REPORT#<day>`` / ``ROLLUP#<zone>``: one ``BatchGetItem`` serves up to 100
days); a closed day without one is computed from the day index and stored.

A day still open (today, and yesterday during the first hour after it ended)
has a **partial rollup** (``PARTIAL#<zone>``) that covers the day up to its
``through`` cursor, the last whole hour that ended over ``PARTIAL_LAG`` ago.
A report reads it in the same ``BatchGetItem`` as the closed days, reads live
only the entries after the cursor (two range Queries: at most about 70
minutes of entries), and when a newer hour has closed it folds the entries
between the old and the new cursor into the partial and stores it,
conditioned on no stored partial reaching further (recompute-from-a-cursor:
two readers racing store the same figures). So a month's report costs about
the same whatever the month or today held. Entries that reach the table
after their hour was folded (a stream backlog over ``PARTIAL_LAG``) are
missing from the open day's figures until the day closes and its rollup is
computed from the whole day; the scheduled job (``reports_daily``)
recomputes the last two closed days, so they count. A policy change touches
nothing already recorded.
"""
from __future__ import annotations

import base64
import binascii
import csv
import io
import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Iterable, Optional
from zoneinfo import ZoneInfo

from functions.domain import reports as maths
from functions.domain.message import iso_utc
from functions.errors import BadRequest
from functions.store import dynamo

MAX_DAYS = 366
MAX_CSV_DAYS = 93
DEFAULT_DAYS = 7
CLOSE_GRACE = timedelta(hours=1)  # late stream records of a day land within this, normally
PARTIAL_LAG = timedelta(minutes=10)  # an hour is folded into the open day's partial this long after it ended
GROUP_BY = maths.DIMENSIONS
UTC_ZONE = ZoneInfo("UTC")


def timezone() -> ZoneInfo:
    """The zone whose days reports count (``[reports] timezone``)."""
    from functions.config import load_config

    return ZoneInfo(load_config().reports.timezone)


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range((self.end - self.start).days + 1)]

    def bounds(self, zone: ZoneInfo = UTC_ZONE) -> tuple[str, str]:
        """``[start, end)`` as stored ISO times (UTC), the days being days in ``zone``."""
        return iso_utc(day_start(self.start, zone)), iso_utc(day_start(self.end + timedelta(days=1), zone))


def day_start(day: date, zone: ZoneInfo) -> datetime:
    """Midnight of ``day`` in ``zone``, in UTC (a DST day is 23 or 25 hours long)."""
    return datetime.combine(day, time(), zone).astimezone(UTC)


def local_today(now: datetime, zone: ZoneInfo) -> date:
    return now.astimezone(zone).date()


def period(params: dict[str, str], now: datetime, max_days: int = MAX_DAYS,
           zone: ZoneInfo = UTC_ZONE) -> Period:
    """``from``/``to`` (ISO dates, days in ``zone``, both included); default the last 7 days to today."""
    end = _date(params.get("to"), "to") if params.get("to") else local_today(now, zone)
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
    live: int = 0  # open days: a partial rollup plus the entries after its cursor
    partial_entries: int = 0  # entries folded into open days' partial rollups by this request
    live_entries: int = 0  # entries read live (after the partial rollups' cursors)


def _closed(day: date, now: datetime, zone: ZoneInfo) -> bool:
    return now >= day_start(day + timedelta(days=1), zone) + CLOSE_GRACE


def _keys(zone: ZoneInfo) -> tuple[str, str]:
    return f"ROLLUP#{zone.key}", f"PARTIAL#{zone.key}"


def rollups(days: Iterable[date], now: datetime, sources: Optional[Sources] = None,
            zone: ZoneInfo = UTC_ZONE) -> dict[date, maths.Rollup]:
    """Each day's rollup: stored, computed (and stored) if closed, else partial rollup plus live entries."""
    sources = sources if sources is not None else Sources()
    closed_key, partial_key = _keys(zone)
    days = [d for d in days if d <= local_today(now, zone)]
    wanted = [(d.isoformat(), closed_key if _closed(d, now, zone) else partial_key) for d in days]
    stored = dynamo.get_rollups(wanted) if wanted else {}
    found: dict[date, maths.Rollup] = {}
    for day, key in zip(days, wanted, strict=True):
        start, end = day_start(day, zone), day_start(day + timedelta(days=1), zone)
        hit = stored.get(key)
        usable = hit is not None and hit["rollup"].get("schema") == maths.SCHEMA
        if key[1] == closed_key:
            if usable and hit["computed_at"] >= iso_utc(end + CLOSE_GRACE):
                found[day] = hit["rollup"]
                sources.stored += 1
            else:
                found[day] = maths.fold(dynamo.day_entries(iso_utc(start), iso_utc(end)))
                dynamo.put_rollup(day.isoformat(), closed_key, found[day], iso_utc(now))
                sources.computed += 1
            continue
        found[day] = _open_day(day, start, end, hit if usable else None, now, sources, partial_key)
        sources.live += 1
    return found


def _open_day(day: date, start: datetime, end: datetime, hit: Optional[dict[str, Any]], now: datetime,
              sources: Sources, partial_key: str) -> maths.Rollup:
    """An open day: its partial rollup, advanced to the last closed hour if one closed since, plus what follows."""
    through = iso_utc(start)
    partial = maths.empty_rollup()
    if hit is not None and hit.get("through") and iso_utc(start) <= hit["through"] <= iso_utc(end):
        through, partial = hit["through"], hit["rollup"]
    cursor = max(through, iso_utc(min(end, max(start, _hour(now - PARTIAL_LAG)))))
    if cursor > through:
        added = maths.fold(_counted(dynamo.day_entries(through, cursor), sources, "partial_entries"))
        partial = maths.merge([partial, added])
        dynamo.put_rollup(day.isoformat(), partial_key, partial, iso_utc(now), through=cursor)
    live = maths.fold(_counted(dynamo.day_entries(cursor, iso_utc(end)), sources, "live_entries"))
    return maths.merge([partial, live])


def _hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _counted(entries: Iterable[dict[str, Any]], sources: Sources, field: str) -> Iterable[dict[str, Any]]:
    for entry in entries:
        setattr(sources, field, getattr(sources, field) + 1)
        yield entry


def recompute(days: Iterable[date], now: datetime, zone: ZoneInfo = UTC_ZONE) -> int:
    """Recompute and store closed days' rollups (the scheduled job); returns how many were stored."""
    stored = 0
    closed_key, _ = _keys(zone)
    for day in days:
        if _closed(day, now, zone):
            start, end = iso_utc(day_start(day, zone)), iso_utc(day_start(day + timedelta(days=1), zone))
            dynamo.put_rollup(day.isoformat(), closed_key, maths.fold(dynamo.day_entries(start, end)), iso_utc(now))
            stored += 1
    return stored


def response_times(span: Period, group: Optional[str], now: datetime,
                   zone: ZoneInfo = UTC_ZONE) -> dict[str, Any]:
    """The ``GET /reports/response-times`` body."""
    sources = Sources()
    by_day = rollups(span.days, now, sources, zone)
    total = maths.merge(by_day.values())
    body: dict[str, Any] = {"from": span.start.isoformat(), "to": span.end.isoformat(), "timezone": zone.key,
                            "group_by": group, **maths.report(total, group)}
    body["daily"] = [_daily(day, rollup) for day, rollup in sorted(by_day.items())]
    body["sources"] = {"stored_rollups": sources.stored, "computed_days": sources.computed, "live_days": sources.live,
                       "partial_entries": sources.partial_entries, "live_entries": sources.live_entries}
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


# A Lambda response must stay under 6 MB as the JSON the runtime sends, where a quote becomes \", CRLF
# four characters and every non-ASCII character a \uXXXX escape (6 bytes; 12 for an emoji). A page stops
# at MAX_CSV_ROWS rows or MAX_CSV_BYTES of body *as so encoded*, whichever comes first, and names the next.
MAX_CSV_ROWS = 20_000
MAX_CSV_BYTES = 5_000_000
_POSITION = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z#c[a-z2-7]{24}")


@dataclass(frozen=True)
class CsvPage:
    body: str
    rows: int
    next: Optional[str]  # cursor of the next page; None when this one ends the export


def conversations_csv(span: Period, zone: ZoneInfo = UTC_ZONE, cursor: Optional[str] = None) -> CsvPage:
    """One row per conversation whose last activity falls in the period; no message text. At most
    ``MAX_CSV_ROWS`` rows / ``MAX_CSV_BYTES``; ``next`` resumes after the last row."""
    lines = [_csv_line(CSV_COLUMNS)]
    size = _encoded_size(lines[0])
    start, end = span.bounds(zone)
    resume = _decode_position(cursor, start, end) if cursor else None
    last: tuple[str, str] = ("", "")
    for item, position in dynamo.conversations_active(start, end, resume):
        line = _csv_line([_cell(value) for value in _csv_row(item)])
        rows = len(lines) - 1
        if rows and (rows >= MAX_CSV_ROWS or size + _encoded_size(line) > MAX_CSV_BYTES):  # every page has a row
            return CsvPage("".join(lines), rows, _encode_position(last))
        lines.append(line)
        size += _encoded_size(line)
        last = position
    return CsvPage("".join(lines), len(lines) - 1, None)


def _csv_line(values: Iterable[Any]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(values)
    return out.getvalue()


def _encoded_size(text: str) -> int:
    """Bytes ``text`` takes inside the Lambda runtime's JSON response (ASCII-escaped)."""
    return len(json.dumps(text)) - 2


def _csv_row(item: dict[str, Any]) -> list[Any]:
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
    return [row[c] for c in CSV_COLUMNS]


def _encode_position(position: tuple[str, str]) -> str:
    return base64.urlsafe_b64encode(f"{position[0]}|{position[1]}".encode()).decode().rstrip("=")


def _decode_position(cursor: str, start: str, end: str) -> tuple[str, str]:
    """A cursor we issued for this period back to its position; anything else is a 400."""
    try:
        status, _, key = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().partition("|")
    except (ValueError, binascii.Error):
        raise BadRequest("next cursor is not valid") from None
    if len(cursor) > 200 or status not in dynamo.CSV_STATUSES or not _POSITION.fullmatch(key) \
            or not start <= key < end:
        raise BadRequest("next cursor is not valid for this period")
    return status, key


def _cell(value: Any) -> Any:
    """Spreadsheets run cells starting with = + - @ as formulas: such text gets a leading apostrophe."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA):
        return "'" + value
    return value
