"""Intake: verified, parsed messages -> conversations -> stored exactly once.

The one path every webhook shares after its adapter has done its work.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime
from typing import Sequence

from functions import metrics, sentiment
from functions.config import load_config
from functions.domain import triage
from functions.domain.conversations import thread
from functions.domain.echoes import Echo
from functions.domain.message import Message, RawDelivery
from functions.log import log
from functions.store import dynamo


def ingest(source: str, messages: list[Message], body: bytes, echoes: Sequence[Echo] = ()) -> int:
    """Store ``messages`` from one delivery of ``source``; returns how many were new.

    ``echoes``: proof of Heed's own sends that came without a message (WhatsApp statuses), noted for the
    delivery to find (functions/domain/echoes.py). Echoes that are messages ride with the message.
    """
    messages = triaged(messages)
    threaded, orphans = thread(messages, dynamo.find_threads)
    for orphan in orphans:
        # A brand comment on its own post, or a reply to something never stored.
        log("message_unthreaded", source=source, platform=orphan.platform, message_id=orphan.platform_message_id)
    delivery = RawDelivery(source, body, datetime.now(UTC))
    stored = dynamo.save(threaded, delivery)
    if echoes:
        dynamo.save_echoes(list(echoes))
    log("delivery_stored", source=source, events=len(messages), stored=stored,
        duplicates=len(threaded) - stored, unthreaded=len(orphans), **({"echoes": len(echoes)} if echoes else {}))
    _count(messages, len(threaded) - stored)
    return stored


def triaged(messages: list[Message]) -> list[Message]:
    """Each customer message with its triage (labels, sentiment, priority), stored in the same write.

    Pure work on the text (no request), unless the stage asks Comprehend for
    sentiment; brand messages are not triaged.
    """
    rules = load_config().triage
    inbound = [i for i, m in enumerate(messages) if m.direction == "in" and not m.automated]
    scores: list = [None] * len(inbound)
    if inbound and sentiment.mode(rules.sentiment) == "comprehend":
        texts = [(messages[i].text, triage.guess_language(triage.tokens(messages[i].text), rules)) for i in inbound]
        scores = sentiment.comprehend_scores(texts)
    out = list(messages)
    for i, score in zip(inbound, scores, strict=True):
        m = messages[i]
        result = triage.triage(m.text, m.channel, triage.Customer(m.platform, m.customer_id, m.followers), rules,
                               attachments=m.attachments, sentiment=score)
        out[i] = replace(m, triage=result)
    return out


def _count(messages: list[Message], duplicates: int) -> None:
    """Metrics: every message a verified delivery carried (retries included), and how many were already stored.

    ``MessagesReceived`` per platform is what the "no messages from platform X"
    alarms watch. A delivery comes from one platform (one Meta ``object``, one
    X or Telegram webhook), so its duplicates are that platform's.
    """
    received = Counter(message.platform for message in messages)
    for platform, n in sorted(received.items()):
        metrics.count("MessagesReceived", n, Platform=platform)
    if duplicates:
        platform = next(iter(received)) if len(received) == 1 else "mixed"
        metrics.count("Duplicates", duplicates, Platform=platform)
