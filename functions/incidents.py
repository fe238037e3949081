"""Incidents over storage: complaints from the stream in, one page per incident out.

The stream handler calls :func:`observe` with each batch's new messages after
the clocks. For every customer complaint with enough significant terms it
keeps a signature in a time-bucketed partition (``INCIDENT-WINDOW#<bucket>``,
a day's TTL), joins an open incident sharing its terms, or, when more than K
distinct customers now share N terms within W, opens one: a conditional Put of
``INCIDENT#<id>`` (the id is deterministic, so a redelivered record finds it
again) together with a lock on its term key (``INCIDENT-KEY#<terms>``), so two
stream workers can't open the same incident twice. Opening links every
member's conversation (``incident_id``) and puts the incident in the
checker's index (gsi2 ``INCIDENT#page``); the scheduled checker
(:func:`page_due`) claims it with a lease, SMSes every ladder phone once and
records it, exactly like SLA alerts: a crash or retry never pages twice.
"""
from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime, timedelta

from functions import metrics
from functions.config import Config
from functions.domain import alerts
from functions.domain.incidents import Signature, after_resolves, bucket, detect, incident_id, joins, status
from functions.domain.message import iso_utc
from functions.domain.triage import significant_terms
from functions.log import log
from functions.outbound import sms
from functions.store import dynamo

LEASE = timedelta(seconds=60)
LOOKBACK = timedelta(hours=24)  # incidents opened longer ago are not joined (a new one opens)


def observe(messages: list[dynamo.StreamMessage], config: Config) -> int:
    """Record the complaints among ``messages``; returns how many joined or opened an incident."""
    settings = config.incidents
    if not settings.enabled:
        return 0
    linked = 0
    for message in messages:
        fact = message.fact
        if fact.direction != "in" or fact.automated or fact.dismissed or "complaint" not in fact.labels:
            continue
        terms = significant_terms(message.text, config.triage)
        if len(terms) < settings.min_shared_terms or not message.customer_id:
            continue
        signature = Signature(fact.message_id, _customer(message), message.conversation_id, fact.sent_at, terms)
        dynamo.put_signature(bucket(fact.sent_at, settings.window), signature)
        linked += _place(signature, message, config)
    return linked


def _place(signature: Signature, message: dynamo.StreamMessage, config: Config) -> int:
    settings = config.incidents
    since = iso_utc(signature.at - LOOKBACK)
    incidents = dynamo.recent_incidents(since)  # resolved ones too (with resolved_at): joins skips them
    existing = joins(signature, incidents, settings)
    if existing is not None:
        dynamo.link_incident(existing.id, [signature], [(message.platform, message.channel)])
        return 1
    here = bucket(signature.at, settings.window)
    recent = after_resolves(signature, dynamo.signatures([here - 1, here, here + 1]),
                            incidents, settings)
    cluster = detect(signature, recent, settings)
    if cluster is None:
        return 0
    new_id = incident_id(cluster)
    opened = dynamo.open_incident(new_id, cluster, iso_utc(signature.at - settings.window),
                                  iso_utc(datetime.now(UTC)))
    if opened:
        log("incident_opened", incident_id=new_id, customers=cluster.customers, terms=len(cluster.terms))
        metrics.count("Incidents")
    else:
        new_id = dynamo.incident_for_key(cluster.key) or new_id
    dynamo.link_incident(new_id, list(cluster.members), [(message.platform, message.channel)])
    return 1


def listing(wanted: str | None, limit: int, cursor: str | None, config: Config,
            now: datetime) -> tuple[list[dict], str | None]:
    """``GET /incidents``: newest first, each with its status as of ``now``; ``wanted`` filters by it."""
    since = iso_utc(now - config.incidents.window)
    found, following = dynamo.list_incidents(limit, cursor, wanted, since)
    return [view(i, config, now) for i in found], following


def view(incident: dynamo.IncidentRecord, config: Config, now: datetime) -> dict:
    return {**incident.to_json(),
            "status": status(incident.status, datetime.fromisoformat(incident.last_seen), now,
                             config.incidents.window)}


def resolve(incident_id: str, now: datetime) -> dynamo.IncidentRecord | None:
    """Staff resolved it: no more joining, no page if none went out yet, its terms free for a new wave.
    Idempotent (the first resolve's time stays); None if there is no such incident."""
    resolved = dynamo.resolve_incident(incident_id, iso_utc(now))
    if resolved is not None:
        log("incident_resolved", incident_id=incident_id)
    return resolved


def _customer(message: dynamo.StreamMessage) -> str:
    """A customer's key in incident items: hashed, so an incident never holds a phone number (WhatsApp ids)."""
    return hashlib.sha256(f"{message.platform}:{message.customer_id}".encode()).hexdigest()[:20]


def page_due(config: Config, owner: str, now: datetime) -> tuple[int, int]:
    """Page every incident not paged yet: each ladder phone once. Returns (sent, failed)."""
    sent = failed = 0
    base = os.environ.get("HEED_PUBLIC_URL", "").rstrip("/")
    phones = list(dict.fromkeys(p for level in range(len(config.ladder)) for p in config.pager(level, now)))
    for incident in dynamo.incidents_due(iso_utc(now)):
        todo = [p for p in phones if p not in incident.alert_sent]
        if not dynamo.claim_incident_alert(incident.id, owner, iso_utc(now + LEASE), iso_utc(now)):
            continue
        text = alerts.compose_incident(incident.customers, incident.terms, incident.where, f"{base}/incidents")
        done = [phone for phone in todo if sms.send(phone, text)]
        if len(done) < len(todo):
            metrics.count("SmsFailures", len(todo) - len(done))
            dynamo.release_incident_alert(incident.id, owner, done)
            failed += 1
            continue
        dynamo.record_incident_alert(incident.id, owner, done, iso_utc(now))
        metrics.count("IncidentPages")
        log("incident_paged", incident_id=incident.id, recipients=len(done))
        sent += 1
    return sent, failed
