"""Intake: verified, parsed messages -> conversations -> stored exactly once.

The one path every webhook shares after its adapter has done its work.
"""
from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Sequence

from functions import metrics
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
