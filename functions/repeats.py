"""Repeated-text spam: the same words from many accounts in a short time (stream path).

Intake triages one message at a time and can't know what other accounts sent,
so this runs in the stream handler before the clocks: each customer message
long enough to count (``triage.repeat_min_chars``) adds its sender to a
counter item for its normalised text and time bucket (``REPEAT#<sha256>``,
``B#<bucket>``, a string set of customers, expiring after a day). From the
``triage.repeat_customers``-th distinct customer on, the message is spam: its
item is relabelled and it opens no clock. Earlier copies keep their labels
(their clocks may already run; staff can relabel them). Complaints and
questions are never counted: many customers asking the same thing is an
incident, not spam. Buckets are fixed (``repeat_window`` long), so a burst
straddling a bucket boundary counts in two halves.
"""
from __future__ import annotations

import hashlib

from functions.domain.incidents import bucket
from functions.domain.triage import DISMISSED, TriageRules, tokens
from functions.log import log
from functions.store import dynamo

KEEP_SECONDS = 86_400
NEVER_COUNTED = frozenset({"complaint", "question"}) | DISMISSED


def is_repeated(message: dynamo.StreamMessage, rules: TriageRules) -> bool:
    """Whether this customer message is spam because enough other accounts sent the same text."""
    fact = message.fact
    if fact.direction != "in" or fact.automated or not message.customer_id or NEVER_COUNTED & set(fact.labels):
        return False
    normalised = " ".join(tokens(message.text))
    if len(normalised) < rules.repeat_min_chars:
        return False
    key = hashlib.sha256(normalised.encode()).hexdigest()[:32]
    customer = f"{message.platform}:{message.customer_id}"
    expires = int(fact.sent_at.timestamp()) + KEEP_SECONDS
    if dynamo.count_repeat(key, bucket(fact.sent_at, rules.repeat_window), customer, expires) < rules.repeat_customers:
        return False
    dynamo.mark_spam(message.platform, message.account_id, fact.message_id)
    log("message_repeated_spam", conversation_id=message.conversation_id, message_id=fact.message_id)
    return True
