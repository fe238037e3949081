"""The SLA checker: every minute in AWS (every HEED_TICK_SECONDS locally), page whoever is due.

Reads only clocks that are due (the sparse SLA index), never the history. Each
alert goes out at most once even with several checkers running: a checker
first claims the conversation's alert with a conditional write (a lease), then
sends, then records the alert with a write conditioned on its claim. An SMS
that fails stays due and is retried at the next tick; phones already paged for
that alert are remembered and not paged twice. New incidents are paged the
same way (functions/incidents.py).
"""
from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Optional

from functions import acks, incidents, metrics
from functions.clocks import save
from functions.config import Config, load_config
from functions.domain import alerts, sla
from functions.domain.message import iso_utc
from functions.log import log
from functions.outbound import sms
from functions.store import dynamo

LEASE = timedelta(seconds=60)
ALERT_METRICS = {"warning": "SlaWarnings", "breach": "SlaBreaches", "escalation": "SlaEscalations"}


@dataclass
class TickReport:
    due: int = 0
    sent: int = 0
    failed: int = 0
    skipped: int = 0  # claimed by another checker, or nothing due after all
    incidents_paged: int = 0  # incidents whose page went out (functions/incidents.py)
    alerts: list[str] = field(default_factory=list)


def tick(now: Optional[datetime] = None) -> TickReport:
    now = now or datetime.now(UTC)
    config = load_config()
    report = TickReport()
    owner = uuid.uuid4().hex
    for record in dynamo.due_clocks(iso_utc(now)):
        report.due += 1
        outcome = _page(record, config, owner, now)
        setattr(report, outcome, getattr(report, outcome) + 1)
    report.incidents_paged, failed = incidents.page_due(config, owner, now)
    report.failed += failed
    if report.due:
        log("sla_tick", due=report.due, sent=report.sent, failed=report.failed, skipped=report.skipped)
    return report


def _page(record: dynamo.SlaRecord, config: Config, owner: str, now: datetime) -> str:
    state = sla.load(record.sla)
    clock = state.clock
    alert = sla.next_alert(clock, config.escalation_after, now)
    if clock is None or alert is None or alert.at > now:
        save(record, state, [], config, now)  # the index was stale: put the clock where it belongs
        return "skipped"
    key = _key(clock, alert)
    phones = [p for p in config.pager(alert.level, now) if p not in record.alert_sent or record.alert_key != key]
    links = {phone: acks.new_token(now) for phone in phones}
    ack_records = [{"token_id": token_id, "conversation_id": record.conversation_id, "clock_id": clock.id,
                    "phone": phone, "expires_at": int((now + acks.VALID_FOR).timestamp())}
                   for phone, (token_id, _) in links.items()]
    if not dynamo.claim_alert(record, key, owner, iso_utc(now + LEASE), iso_utc(now), ack_records):
        return "skipped"
    delta = (clock.due_at - now) if alert.kind == "warning" else (now - clock.due_at)
    base = os.environ.get("HEED_PUBLIC_URL", "").rstrip("/")
    sent: list[str] = []
    for phone, (_, token) in links.items():
        text = alerts.compose(alert.kind, record.platform, record.channel, record.customer_name, delta,
                              f"{base}/ack/{token}")
        if sms.send(phone, text):
            sent.append(phone)
    if len(sent) < len(links):
        metrics.count("SmsFailures", len(links) - len(sent))
        dynamo.release_alert(record.conversation_id, owner, sent)
        return "failed"
    metrics.count(ALERT_METRICS[alert.kind], Platform=record.platform)
    _record(record, key, config, now)
    log("sla_alert_sent", conversation_id=record.conversation_id, alert=alert.kind, ladder_level=alert.level + 1,
        recipients=len(sent))
    return "sent"


def _record(record: dynamo.SlaRecord, key: str, config: Config, now: datetime) -> None:
    """Record that alert ``key`` went out, re-reading if a new message changed the state meanwhile."""
    for _ in range(5):
        state = sla.load(record.sla)
        alert = sla.next_alert(state.clock, config.escalation_after, now)
        if state.clock is None or alert is None or _key(state.clock, alert) != key:
            return  # the clock moved on (a reply stopped it): nothing left to record
        paged, event = sla.record_alert(state.clock, alert, now)
        if save(record, replace(state, clock=paged), [event], config, now, alert_done=True):
            return
        record = dynamo.get_sla(record.conversation_id) or record
    log("sla_alert_not_recorded", level="ERROR", conversation_id=record.conversation_id)


def _key(clock: sla.Clock, alert: sla.Alert) -> str:
    return f"{clock.id}:{alert.kind}:{alert.number or alert.level}"

