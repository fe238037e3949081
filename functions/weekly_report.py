"""The weekly report: last week's response times against the week before, by email to managers.

``daily()`` runs every morning (``reports_daily``, 06:00 UTC; locally ``make
report`` sends the report at once): it recomputes the last two closed days'
rollups and, on ``[reports] weekly_day`` (default Monday) as dated in
``[reports] timezone``, sends the report for the seven days that ended the day
before (days in that zone).
The numbers come from the same rollups as ``GET /reports/response-times``;
top complaint terms from messages labelled ``complaint`` (counted in the
rollups); incidents from triage's ``INCIDENT#`` items, if any.

Recipients: ``HEED_REPORT_RECIPIENTS`` (comma-separated) when set and not
empty, else ``[reports] recipients`` of the policy file; sender:
``HEED_EMAIL_FROM`` (an SES-verified identity). Without either nothing is
sent (logged ``weekly_report_skipped``).
"""
from __future__ import annotations

import argparse
import functools
import os
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any, Optional
from zoneinfo import ZoneInfo

from functions import reports
from functions.domain import charts
from functions.domain import reports as maths
from functions.domain.incidents import status as incident_status
from functions.domain.message import iso_utc
from functions.log import log

TEMPLATES = Path(__file__).resolve().parents[1] / "templates" / "reports"
PLATFORM_NAMES = {"facebook": "Facebook", "instagram": "Instagram", "whatsapp": "WhatsApp", "x": "X",
                  "telegram": "Telegram", "email": "Email"}


@dataclass(frozen=True)
class Sent:
    message_id: str
    recipients: tuple[str, ...]
    subject: str


def daily(now: Optional[datetime] = None) -> Optional[Sent]:
    from functions.config import load_config

    now = now or datetime.now(UTC)
    zone = reports.timezone()
    today = reports.local_today(now, zone)
    reports.recompute([today - timedelta(days=2), today - timedelta(days=1)], now, zone)
    if today.weekday() == load_config().reports.weekly_day:
        return send(now)
    return None


def week_of(now: datetime, zone: Optional[ZoneInfo] = None) -> tuple[reports.Period, reports.Period]:
    """The seven days (in the reports' zone) that ended yesterday, and the seven before."""
    end = reports.local_today(now, zone or reports.timezone()) - timedelta(days=1)
    this = reports.Period(end - timedelta(days=6), end)
    return this, reports.Period(this.start - timedelta(days=7), this.start - timedelta(days=1))


def build(now: datetime) -> dict[str, Any]:
    """What the report says (plain values; the templates only lay it out)."""
    from functions.config import load_config
    from functions.store import dynamo

    zone = reports.timezone()
    this, last = week_of(now, zone)
    by_day = reports.rollups(last.days + this.days, now, zone=zone)
    this_week = maths.merge(by_day[d] for d in this.days)
    last_week = maths.merge(by_day[d] for d in last.days)
    now_fig, then_fig = maths.summary(this_week["all"]), maths.summary(last_week["all"])
    rows = [
        _row("Clocks opened", now_fig["clocks_opened"], then_fig["clocks_opened"], "", better="none"),
        _row("First response p50 (business)", _p(now_fig, "first_response", "business", 50),
             _p(then_fig, "first_response", "business", 50), "duration", better="lower"),
        _row("First response p90 (business)", _p(now_fig, "first_response", "business", 90),
             _p(then_fig, "first_response", "business", 90), "duration", better="lower"),
        _row("First response p50 (wall clock)", _p(now_fig, "first_response", "wall", 50),
             _p(then_fig, "first_response", "wall", 50), "duration", better="lower"),
        _row("Next response p50 (business)", _p(now_fig, "next_response", "business", 50),
             _p(then_fig, "next_response", "business", 50), "duration", better="lower"),
        _row("SLA compliance", now_fig["sla_compliance_pct"], then_fig["sla_compliance_pct"], "%", better="higher"),
        _row("Breaches", now_fig["breached"], then_fig["breached"], "", better="lower"),
        _row("Noise share", now_fig["noise_share_pct"], then_fig["noise_share_pct"], "%", better="none"),
    ]
    platforms = sorted(set(this_week["platform"]) | set(last_week["platform"]))
    p50 = [charts.Bar(PLATFORM_NAMES.get(p, p), _minutes(this_week["platform"].get(p), 50),
                      _minutes(last_week["platform"].get(p), 50)) for p in platforms]
    compliance = [charts.Bar(_weekday(d), maths.summary(by_day[d]["all"])["sla_compliance_pct"]) for d in this.days]
    start_iso = iso_utc(reports.day_start(this.start, zone))
    window = load_config().incidents.window
    incidents = [_incident(i, now, window) for i in dynamo.incidents_since(start_iso)]
    return {
        "brand": _brand(), "start": this.start, "end": this.end, "rows": rows,
        "breaches_by_reason": sorted(now_fig["breaches_by_reason"].items()),
        "terms": maths.top_terms(this_week["terms"], 10),
        "incidents": incidents,
        "charts": [
            {"svg": charts.svg_bars("First response p50 by platform (minutes; grey: week before)", p50),
             "table": charts.table_bars("First response p50 by platform (minutes)", p50)},
            {"svg": charts.svg_bars("SLA compliance by day (%)", compliance, "%"),
             "table": charts.table_bars("SLA compliance by day (%)", compliance, "%")},
        ],
    }


def _p(figures: dict, kind: str, scale: str, pct: int) -> Optional[int]:
    return figures[kind][scale][f"p{pct}"]


def _minutes(stats: Optional[maths.Stats], pct: int) -> Optional[float]:
    if stats is None:
        return None
    value = maths.percentile(stats["responses"]["first_response"]["business"], pct)
    return None if value is None else round(value / 60, 1)


def _weekday(day: date) -> str:
    return day.strftime("%a %d")


def _row(name: str, now: Any, then: Any, unit: str, better: str) -> dict[str, Any]:
    change = ""
    trend = "same"
    if now is not None and then is not None and now != then:
        diff = now - then
        trend = "up" if diff > 0 else "down"
        change = ("+" if diff > 0 else "−") + _fmt(abs(diff), unit)
    good = None if better == "none" or trend == "same" else (trend == "up") == (better == "higher")
    return {"name": name, "now": _fmt(now, unit), "then": _fmt(then, unit), "change": change, "good": good}


def _fmt(value: Any, unit: str) -> str:
    if value is None:
        return "–"
    if unit == "duration":
        return duration(int(value))
    if unit == "%":
        return f"{value:.1f}%"
    return f"{value:g}" if isinstance(value, float) else str(value)


def duration(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"


def _incident(item: dict[str, Any], now: datetime, window: timedelta) -> dict[str, Any]:
    """One incident's row, its status as of ``now`` (what the staff API shows: ``quiet`` is never stored)."""
    customers = item.get("customers") or item.get("conversation_ids") or []
    last_seen = datetime.fromisoformat(str(item.get("last_seen") or item.get("first_seen") or iso_utc(now)))
    return {"id": item.get("id") or str(item.get("pk", "")).removeprefix("INCIDENT#"),
            "terms": ", ".join(str(t) for t in (item.get("terms") or [])[:5]),
            "customers": len(customers) if isinstance(customers, list) else customers,
            "first_seen": str(item.get("first_seen", ""))[:16].replace("T", " "),
            "status": incident_status(str(item.get("status", "open")), last_seen, now, window)}


def _brand() -> str:
    from functions.config import load_config

    return load_config().brand_name


@functools.cache
def _environment() -> Any:
    from jinja2 import FileSystemLoader, StrictUndefined, select_autoescape
    from jinja2.sandbox import SandboxedEnvironment

    return SandboxedEnvironment(loader=FileSystemLoader(str(TEMPLATES)), undefined=StrictUndefined,
                                autoescape=select_autoescape(["html.j2"], default=False), trim_blocks=True,
                                lstrip_blocks=True)


def render(context: dict[str, Any]) -> tuple[str, str, str]:
    """Subject, text part and HTML part."""
    env = _environment()
    subject = f"{context['brand']}: response times {context['start']:%d %b} – {context['end']:%d %b %Y}"
    return subject, env.get_template("weekly.txt.j2").render(**context), \
        env.get_template("weekly.html.j2").render(**context)


def message(context: dict[str, Any], sender: str, recipients: tuple[str, ...]) -> EmailMessage:
    subject, text, html = render(context)
    mail = EmailMessage()
    mail["Subject"] = subject
    mail["From"] = sender
    mail["To"] = ", ".join(recipients)
    mail["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "heed.local")
    mail.set_content(text)
    mail.add_alternative(html, subtype="html")
    return mail


def recipients() -> tuple[str, ...]:
    """``HEED_REPORT_RECIPIENTS`` (the stage's override) when it names anyone, else ``[reports] recipients``."""
    from functions.config import load_config

    override = tuple(a.strip() for a in os.environ.get("HEED_REPORT_RECIPIENTS", "").split(",") if a.strip())
    return override or load_config().reports.recipients


def send(now: Optional[datetime] = None) -> Optional[Sent]:
    from functions.outbound import email

    now = now or datetime.now(UTC)
    to, sender = recipients(), os.environ.get("HEED_EMAIL_FROM", "").strip()
    if not to or not sender:
        log("weekly_report_skipped", reason="no recipients ([reports] recipients, HEED_REPORT_RECIPIENTS) or "
                                            "HEED_EMAIL_FROM is not set")
        return None
    mail = message(build(now), sender, to)
    message_id = email.send(mail)
    log("weekly_report_sent", recipients=len(to), ses_message_id=message_id)
    return Sent(message_id, to, str(mail["Subject"]))


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Send the weekly report now (or print it with --dry-run).")
    parser.add_argument("--dry-run", action="store_true", help="print the text part instead of sending")
    args = parser.parse_args(argv)
    now = datetime.now(UTC)
    if args.dry_run:
        print(render(build(now))[1])
        return 0
    sent = send(now)
    if sent is None:
        print("not sent: set [reports] recipients (or HEED_REPORT_RECIPIENTS) and HEED_EMAIL_FROM")
        return 1
    print(f"sent {sent.subject!r} to {', '.join(sent.recipients)} (SES message id {sent.message_id})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
