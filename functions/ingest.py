"""Intake: verified, parsed messages -> conversations -> stored exactly once.

The one path every webhook shares after its adapter has done its work.
"""
from __future__ import annotations

from datetime import UTC, datetime

from functions.domain.conversations import thread
from functions.domain.message import Message, RawDelivery
from functions.log import log
from functions.store import dynamo


def ingest(source: str, messages: list[Message], body: bytes) -> int:
    """Store ``messages`` from one delivery of ``source``; returns how many were new."""
    threaded, orphans = thread(messages, dynamo.find_threads)
    for orphan in orphans:
        # A brand comment on its own post, or a reply to something never stored.
        log("message_unthreaded", source=source, platform=orphan.platform, message_id=orphan.platform_message_id)
    delivery = RawDelivery(source, body, datetime.now(UTC))
    stored = dynamo.save(threaded, delivery)
    log("delivery_stored", source=source, events=len(messages), stored=stored,
        duplicates=len(threaded) - stored, unthreaded=len(orphans))
    return stored
