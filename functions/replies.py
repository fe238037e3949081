"""Staff replies: checked against the platform's rules, then queued (never sent inline).

A DM answer goes in the DM; a public comment or mention is answered publicly
(a Facebook comment reply, an X reply to the tweet) or, with ``private``, by a
Meta private reply to the comment. Messenger/Instagram replies 24 h to 7 days
after the customer's last message carry the HUMAN_AGENT tag; later they are
refused (409), as are WhatsApp replies outside its 24 h window.
"""
from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any, Optional

from functions.domain import windows
from functions.domain.outbound import OutboundMessage
from functions.errors import BadRequest, Conflict, NotFound
from functions.outbound import queue
from functions.store import dynamo

IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


def queue_reply(conversation_id: str, body: Any, idempotency_key: Optional[str]) -> OutboundMessage:
    """Validate a reply request and queue it; the returned message's ``id`` tracks it."""
    text, private = _parse(body)
    if idempotency_key is not None and not IDEMPOTENCY_KEY.fullmatch(idempotency_key):
        raise BadRequest("Idempotency-Key must be 1-64 letters, digits or _.:-")
    target = dynamo.reply_target(conversation_id)
    if target is None:
        raise NotFound(f"no conversation {conversation_id[:64]}")
    if target.channel == "email":
        message = _email_reply(target, text, private, idempotency_key)
        queue.enqueue(message)
        return message
    now = datetime.now(UTC)
    reply_to, tag, channel_for_limit = _route(target, private, now)
    _check_length(target.platform, channel_for_limit, text)
    message = OutboundMessage(
        id=f"reply:{conversation_id}:{idempotency_key or uuid.uuid4().hex}",
        kind="reply", conversation_id=conversation_id, platform=target.platform, channel=target.channel,
        account_id=target.account_id, customer_id=target.customer_id, text=text, reply_to=reply_to,
        root_id=target.root_id, private=private, tag=tag,
    )
    queue.enqueue(message)
    return message


def _email_reply(target: dynamo.ReplyTarget, text: str, private: bool,
                 idempotency_key: Optional[str]) -> OutboundMessage:
    """A conversation moved to email is answered by email (SES, through the same queue), threaded in the customer's
    client: ``In-Reply-To`` their latest mail (else Heed's first email), ``References`` the thread's root too."""
    from functions import settings
    from functions.config import load_config
    from functions.domain import handoff
    from functions.handoff import PLATFORM_NAMES

    record = target.handoff
    if private:
        raise BadRequest("private applies to public comments only; this conversation is on email")
    if record is None or not record.customer_email:
        raise Conflict("the customer's email address isn't known yet: their first email to "
                       f"{'the conversation address' if record is None else record.reply_address} will tell")
    latest_mail = target.latest_inbound_id if target.latest_inbound_channel == "email" else None
    references = [record.email_root] + ([latest_mail] if latest_mail else [])
    return OutboundMessage(
        id=f"reply:{target.conversation_id}:{idempotency_key or uuid.uuid4().hex}",
        kind="reply", conversation_id=target.conversation_id, platform=target.platform, channel="email",
        account_id=target.account_id, customer_id=target.customer_id, text=text, root_id=target.root_id,
        email={"to": record.customer_email, "reply_to": record.reply_address,
               "message_id": handoff.message_id(record.token, settings.required("HEED_EMAIL_DOMAIN")),
               "subject": f"Re: Your conversation with {load_config().brand_name} on "
                          f"{PLATFORM_NAMES.get(target.platform, target.platform)}",
               "in_reply_to": latest_mail or record.email_root,
               "references": references, "html": None},
    )


def _parse(body: Any) -> tuple[str, bool]:
    if not isinstance(body, dict):
        raise BadRequest('body must be a JSON object like {"text": "..."}')
    unknown = set(body) - {"text", "private"}
    if unknown:
        raise BadRequest(f"unknown field(s): {', '.join(sorted(unknown))[:100]}")
    text, private = body.get("text"), body.get("private", False)
    if not isinstance(text, str) or not text.strip():
        raise BadRequest("text must be a non-empty string")
    if not isinstance(private, bool):
        raise BadRequest("private must be true or false")
    return text, private


def _route(target: dynamo.ReplyTarget, private: bool, now: datetime) -> tuple[Optional[str], Optional[str], str]:
    """(the platform id answered, Meta tag, the channel whose length limit applies); 409 when not allowed."""
    if target.channel == "dm":
        if private:
            raise BadRequest("private applies to public comments only; this is a DM")
        last = _time(target.last_inbound_at)
        mode, refusal = windows.human_reply_mode(target.platform, last, now)
        if refusal:
            raise Conflict(refusal)
        return None, "HUMAN_AGENT" if mode == "HUMAN_AGENT" else None, "dm"
    if target.latest_inbound_id is None:
        raise Conflict("the customer has no message in this thread to answer")
    if private:
        verdict = windows.automatic_allowed(target.platform, _time(target.latest_inbound_at), now,
                                            channel="private_reply")
        if not verdict:
            raise Conflict(verdict.detail)
        return target.latest_inbound_id, None, "private_reply"
    return target.latest_inbound_id, None, target.channel


def _check_length(platform: str, channel: str, text: str) -> None:
    from functions import templating

    try:
        templating.check_limit(platform, channel, text)
    except templating.LimitExceeded as exceeded:
        raise BadRequest(str(exceeded)) from None


def _time(iso: Optional[str]) -> Optional[datetime]:
    return datetime.fromisoformat(iso) if iso else None
