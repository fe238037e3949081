"""Send an :class:`OutboundMessage` to its platform: ``send(message) -> Sent`` or :class:`SendFailed`.

| platform, channel | call |
|---|---|
| facebook/instagram dm | Graph ``POST /{account}/messages`` (``HUMAN_AGENT`` tag when ``message.tag``) |
| facebook/instagram comment, private | Graph ``POST /{account}/messages``, ``recipient.comment_id`` |
| facebook comment | Graph ``POST /{comment}/comments`` |
| instagram comment | Graph ``POST /{comment}/replies`` |
| whatsapp dm | Graph ``POST /{phone_number_id}/messages`` (text, or ``message.template``) |
| x dm | ``POST /2/dm_conversations/with/{customer}/messages`` |
| x mention | ``POST /2/tweets`` replying to ``message.reply_to`` |
| telegram dm | ``POST /bot<token>/sendMessage`` |

Importing this package imports no ``requests`` (the first send does).
"""
from __future__ import annotations

import time
from typing import Callable

from functions.domain.outbound import OutboundMessage, SendFailed, Sent
from functions.log import log
from functions.outbound.platforms import meta, telegram, x

SENDERS: dict[str, Callable[[OutboundMessage], Sent]] = {
    "facebook": meta.send,
    "instagram": meta.send,
    "whatsapp": meta.send,
    "x": x.send,
    "telegram": telegram.send,
}


def send(message: OutboundMessage) -> Sent:
    """Send once (no retries here); logs ids, outcome and timing, never text, tokens or customer ids."""
    sender = SENDERS.get(message.platform)
    started = time.monotonic()
    fields = {"outbound_id": message.id, "kind": message.kind, "platform": message.platform,
              "channel": message.channel, "account_id": message.account_id}
    try:
        if sender is None:
            raise SendFailed(f"unsupported platform {message.platform!r}", retryable=False)
        sent = sender(message)
    except SendFailed as failed:
        log("platform_send_failed", level="WARNING", **fields, reason=failed.reason, retryable=failed.retryable,
            status=failed.status, retry_after=failed.retry_after, ms=_ms(started))
        raise
    log("platform_sent", **fields, platform_message_id=sent.platform_message_id, ms=_ms(started))
    return sent


def _ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


__all__ = ["send", "OutboundMessage", "Sent", "SendFailed"]
