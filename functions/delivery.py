"""DeliverOutbound: the queue consumer that sends acknowledgements and staff replies.

Exactly once per idempotency key, whatever the queue does: a send is claimed
(a lease on its ``OUT#`` record) before the platform is called, and marked sent
in the same transaction that stores the sent message. A redelivered queue
message finds it sent and stops. (The one window left: the platform accepted
the message and the process died before that transaction; the lease expires
and the message goes out again. No platform here offers an idempotency key.)

A read timeout is ambiguous: the platform may have carried the send out and
only the answer was lost. Where the platform echoes Heed's sends back
(Messenger/Instagram ``message_echoes`` with our ``metadata``, WhatsApp statuses
with our ``biz_opaque_callback_data``, X's own DMs and replies, the Page's own
comment for a Facebook comment reply; see
functions/domain/echoes.py) the attempt is noted on ``OUT#`` (``ambiguous_at``)
and the message comes back after ``ECHO_GRACE``; before sending again the
delivery looks the echo up by key (one read). Echo found: the send is recorded
under the echoed message id and nothing goes out again. No echo after the grace
period: it is sent again (an echo can be lost; at least once is the fallback),
counted as ``ResentUnconfirmed``. Telegram and Instagram comment replies echo
nothing, so nothing can tell whether a timed-out send went out: such a send is
*not* sent again. It is marked ``uncertain``, its conversation shows why
(staff check the chat and resend if needed; a staff reply also pages), and the
queue message goes on to the dead-letter queue. Never twice, at the price of
a message that may need a person's resend.

X's echoes (and Facebook's ``feed`` echo of a public comment reply) carry no
marker, so before each such send the delivery notes the intent
(outbound id, automated or not) under the echo key: an echo that beats this
delivery's own write (always so after a read timeout) is then still stored as
automated when it is an acknowledgement or handoff notice, and stops no clock.

Failures: 429/5xx/timeouts are retried through the queue with exponential
backoff and jitter, honouring the platform's retry-after; after the last
receive the message goes to the dead-letter queue. A refusal that retrying
can't fix (window closed, user blocked the page, bad token) is not retried.
Either way the conversation shows ``delivery_failed`` with the reason, and a
refusal pages the ladder's first level.
"""
from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, Iterable

from functions import metrics
from functions.domain import echoes
from functions.domain.conversations import Threaded
from functions.domain.message import Message, iso_utc
from functions.domain.outbound import OutboundMessage, SendFailed, Sent
from functions.log import log
from functions.store import dynamo

MAX_RECEIVES = 6  # the queue's maxReceiveCount (infra/template.yaml)
LEASE = timedelta(seconds=120)  # the queue's visibility timeout
MAX_BACKOFF_SECONDS = 900
ECHO_GRACE = timedelta(seconds=60)  # how long an echo gets to arrive after an ambiguous attempt


def deliver(records: Iterable[dict[str, Any]]) -> list[str]:
    """Handle a batch of SQS records; returns the message ids to retry (Lambda's batchItemFailures)."""
    retry: list[str] = []
    for record in records:
        try:
            done = _deliver_one(record)
        except dynamo.StorageUnavailable:
            done = False
        if not done:
            retry.append(record["messageId"])
    return retry


def _deliver_one(record: dict[str, Any]) -> bool:
    """True when the record is finished with (sent, sent before, or refused for good)."""
    try:
        message = OutboundMessage.from_json(json.loads(record["body"]))
    except (ValueError, TypeError, KeyError):
        log("outbound_malformed", level="ERROR", message_id=record.get("messageId"))
        return True  # retrying can't fix it; nothing to send
    receives = int(record.get("attributes", {}).get("ApproximateReceiveCount", "1"))
    now = datetime.now(UTC)
    if message.not_after and iso_utc(now) >= message.not_after:
        log("outbound_expired", outbound_id=message.id, kind=message.kind, platform=message.platform)
        return True  # the platform's window for an automatic message closed while it waited
    owner = uuid.uuid4().hex
    claim, state = dynamo.claim_outbound(message.id, message.conversation_id, owner, iso_utc(now),
                                         iso_utc(now + LEASE))
    if claim != "claimed":
        log("outbound_skipped", outbound_id=message.id, reason=claim)
        if claim == "uncertain":  # may have gone out: never again; on to the dead-letter queue
            _to_dead_letters(record)
        return claim == "sent"
    echo_key = echoes.outbound_key(message)
    ambiguous_at = state.get("ambiguous_at") if echo_key else None
    if ambiguous_at:
        confirmed = _reconcile(message, echo_key, ambiguous_at, state.get("ambiguous_since") or ambiguous_at,
                               owner, receives, record, now)
        if confirmed is not None:
            return confirmed
    if echoes.keyed_by_text(echo_key):  # X, FB comments: the echo has no a/h flag: note it first
        dynamo.note_intent(echo_key, echoes.intent(message.id, message.automated, iso_utc(now)),
                           iso_utc(now + echoes.INTENT_WINDOW) if message.automated else None)
    try:
        sent = _send(message)
    except SendFailed as failure:
        return _failed(message, failure, owner, receives, record, now, echo_key)
    try:
        dynamo.record_sent(message.id, owner, _stored(message, sent, now), iso_utc(now))
    except dynamo.ClaimLost:
        log("outbound_claim_lost", level="WARNING", outbound_id=message.id)
        return True
    _done(message, receives)
    return True


def _reconcile(message: OutboundMessage, echo_key: str, ambiguous_at: str, ambiguous_since: str, owner: str,
               receives: int, record: dict[str, Any], now: datetime) -> bool | None:
    """After an ambiguous attempt: ``True`` when its echo confirms it (recorded, nothing resent), ``False`` to
    wait for the echo a little longer, ``None`` to send again (the grace period is over and no echo came)."""
    attempted = _parse_time(ambiguous_at)
    since = iso_utc(_parse_time(ambiguous_since) - timedelta(seconds=echoes.ECHO_TOLERANCE_SECONDS))
    platform_id = dynamo.find_echo(echo_key, since, message.id)
    if platform_id is not None:
        stored = _stored(message, Sent(platform_message_id=platform_id, raw={"confirmed_by": "echo"}), attempted)
        try:
            dynamo.record_sent(message.id, owner, stored, iso_utc(now), echo_key=echo_key)
        except dynamo.ClaimLost:  # another consumer took the send, or another send took this echo
            log("outbound_claim_lost", level="WARNING", outbound_id=message.id)
            dynamo.release_outbound(message.id, owner, "echo taken by another send; checking again")
            return False
        log("outbound_confirmed_by_echo", outbound_id=message.id, kind=message.kind, platform=message.platform,
            platform_message_id=platform_id, attempt=receives)
        metrics.count("SendsConfirmedByEcho", Platform=message.platform)
        _done(message, receives)
        return True
    if now < attempted + ECHO_GRACE and receives < MAX_RECEIVES:  # came back early (a duplicate queue message)
        from functions.outbound import queue

        dynamo.release_outbound(message.id, owner, "waiting for the platform's echo")
        queue.retry_later(record["receiptHandle"], max(1, int((attempted + ECHO_GRACE - now).total_seconds()) + 1))
        return False
    log("outbound_resent_unconfirmed", level="WARNING", outbound_id=message.id, kind=message.kind,
        platform=message.platform, attempt=receives, ambiguous_at=ambiguous_at)
    metrics.count("ResentUnconfirmed", Platform=message.platform)
    return None


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _done(message: OutboundMessage, receives: int) -> None:
    dynamo.clear_delivery_failure(message.conversation_id, message.kind)
    sent_metric = {"ack": "AcknowledgementsSent", "handoff": "HandoffsSent"}.get(message.kind, "RepliesSent")
    metrics.count(sent_metric, Platform="email" if message.channel == "email" else message.platform)
    log("outbound_sent", outbound_id=message.id, kind=message.kind, platform=message.platform, attempt=receives)


def _send(message: OutboundMessage) -> Sent:
    if message.channel == "email":  # a conversation moved to email: SES, same claim/retry/DLQ path
        from functions.outbound import mail

        return mail.send(message)
    from functions.outbound import platforms

    return platforms.send(message)


def _failed(message: OutboundMessage, failure: SendFailed, owner: str, receives: int, record: dict[str, Any],
            now: datetime, echo_key: str | None = None) -> bool:
    log("outbound_failed", level="WARNING", outbound_id=message.id, platform=message.platform,
        status=failure.status, retryable=failure.retryable, attempt=receives, reason=failure.reason)
    if failure.ambiguous and not echo_key:
        return _uncertain(message, failure, owner, record, now)
    if failure.retryable and receives < MAX_RECEIVES:
        from functions.outbound import queue

        wait = backoff_seconds(receives, failure.retry_after)
        ambiguous_at = iso_utc(now) if failure.ambiguous and echo_key else None
        if ambiguous_at:  # the platform may have sent it: give its echo time to arrive before trying again
            wait = max(wait, int(ECHO_GRACE.total_seconds()))
        dynamo.release_outbound(message.id, owner, failure.reason, ambiguous_at=ambiguous_at)
        queue.retry_later(record["receiptHandle"], wait)
        metrics.count("DeliveryRetries", Platform=message.platform)
        return False
    dynamo.record_delivery_failure(message.id, owner, message.conversation_id, message.kind, failure.reason,
                                   iso_utc(now))
    metrics.count("DeliveryFailures", Platform=message.platform)
    if not failure.retryable:
        _page_staff(message, failure.reason)
    # A refusal is final; a retryable failure on the last receive goes on to the dead-letter queue.
    return not failure.retryable


def _uncertain(message: OutboundMessage, failure: SendFailed, owner: str, record: dict[str, Any],
               now: datetime) -> bool:
    """A timed-out send on a platform that echoes nothing: it may have gone out, so it is never sent again."""
    reason = (f"{failure.reason}. It may have been delivered: not sent again automatically, as "
              f"{message.platform} offers no way to check. Look at the chat and resend if it is missing.")
    dynamo.record_delivery_failure(message.id, owner, message.conversation_id, message.kind, reason, iso_utc(now),
                                   status="uncertain")
    metrics.count("DeliveryUncertain", Platform=message.platform)
    if message.kind == "reply":  # a person's answer may be missing: tell someone (an acknowledgement: no page)
        _page_staff(message, reason)
    _to_dead_letters(record)
    return False


def _to_dead_letters(record: dict[str, Any]) -> None:
    """Hand the queue message back at once: every receive now ends here, so SQS moves it to the dead-letter queue
    after the queue's maxReceiveCount (MAX_RECEIVES) without waiting out backoffs."""
    from functions.outbound import queue

    queue.retry_later(record["receiptHandle"], 1)


def backoff_seconds(receives: int, retry_after: float | None) -> int:
    """Exponential with full jitter from 10 s, capped; the platform's own retry-after wins when longer."""
    ceiling = min(MAX_BACKOFF_SECONDS, 10 * 2 ** (receives - 1))
    delay = random.uniform(ceiling / 2, ceiling)
    return int(min(max(delay, retry_after or 0), 43_200))  # SQS allows at most 12 hours


def _stored(message: OutboundMessage, sent: Sent, now: datetime) -> Threaded:
    stored = Message(
        platform=message.platform, channel=message.channel, account_id=message.account_id,
        platform_message_id=sent.platform_message_id, direction="out", sent_at=now,
        text=message.text, raw={"outbound_id": message.id, "kind": message.kind, "response": sent.raw},
        customer_id=message.customer_id, root_id=message.root_id, reply_to=message.reply_to,
        automated=message.automated,
    )
    return Threaded(stored, message.conversation_id, message.customer_id, message.root_id)


def _page_staff(message: OutboundMessage, reason: str) -> None:
    from functions.config import load_config
    from functions.domain.alerts import compose_failure
    from functions.outbound import sms

    config = load_config()
    if not config.ladder:
        return
    record = dynamo.get_sla(message.conversation_id)
    text = compose_failure(message.platform, message.channel, record.customer_name if record else None,
                           message.kind, reason)
    for phone in config.pager(0, datetime.now(UTC)):
        sms.send(phone, text)
