"""Inbound email: an SES receipt rule stores raw mail in S3; each new object is parsed and stored here.

S3 "ObjectCreated" event -> GetObject -> :mod:`functions.adapters.email` ->
the conversation (by the token in the recipient address, else by our
Message-ID in ``In-Reply-To``/``References``) -> stored as an inbound message
on channel ``email`` (platform, account and customer stay the conversation's,
so it is the same conversation and the same SLA clock). The message id is the
mail's Message-ID: the same object delivered twice, or the same mail received
twice, is stored once (the store's conditional Put).

Dropped with a logged reason (ids only, never addresses or text) and never
answered: auto-replies, loops, mail without a token or with one Heed never
issued (forged, guessed, or a conversation's mail sent elsewhere).
"""
from __future__ import annotations

import json
import urllib.parse
from datetime import UTC, datetime
from typing import Any, Optional

from functions import aws, metrics, settings
from functions.adapters import email as parser
from functions.domain.conversations import Threaded
from functions.domain.message import Message, RawDelivery
from functions.log import log
from functions.store import dynamo

MAX_MAIL_BYTES = 40 * 1024 * 1024  # SES accepts up to 40 MB; anything larger is not ours


def handle_s3_event(event: dict[str, Any]) -> int:
    """Store every new mail object of an S3 event; returns how many messages were new."""
    stored = 0
    for record in event.get("Records", []):
        s3 = record.get("s3", {})
        bucket = s3.get("bucket", {}).get("name")
        key = urllib.parse.unquote_plus(s3.get("object", {}).get("key", ""))
        if not bucket or not key or not record.get("eventName", "ObjectCreated").startswith("ObjectCreated"):
            continue
        stored += receive(bucket, key)
    return stored


def receive(bucket: str, key: str) -> int:
    """Parse and store one raw mail object; 1 when it became a new message, else 0 (dropped or duplicate)."""
    raw = _get(bucket, key)
    now = datetime.now(UTC)
    domain = settings.required("HEED_EMAIL_DOMAIN")
    mail = parser.parse(raw, own_domain=domain, received_at=now)
    if mail.drop:
        return _dropped(key, mail.drop)
    token = mail.token(domain)
    if token is None:
        return _dropped(key, "no_token")
    conversation_id = dynamo.mailbox(token)
    if conversation_id is None:
        return _dropped(key, "unknown_token")
    state = dynamo.get_handoff(conversation_id)
    if state is None:
        return _dropped(key, "conversation_missing")
    message = Message(
        platform=state.platform, channel="email", account_id=state.account_id,  # type: ignore[arg-type]
        platform_message_id=mail.message_id, direction="in", sent_at=mail.sent_at, text=mail.text,
        raw={"s3": {"bucket": bucket, "key": key}, "subject": mail.subject, "in_reply_to": mail.in_reply_to,
             "attachments": [a.__dict__ for a in mail.attachments]},
        customer_id=state.customer_id, customer_name=state.customer_name, root_id=state.root_id,
        attachments=tuple(a.content_type for a in mail.attachments), sender_address=mail.sender or None,
    )
    known = state.handoff.customer_email if state.handoff else None
    if known and mail.sender and mail.sender != known.lower():  # (mail.sender is lower case)
        # Stored all the same (a colleague, a forward, a second address): staff see who wrote ("from").
        log("email_from_other_sender", conversation_id=conversation_id, object_key=key)
    # The raw mail stays in the bucket (lifecycle-expired); the table keeps a pointer to it.
    delivery = RawDelivery("email", f"s3://{bucket}/{key}".encode(), now)
    new = dynamo.save([Threaded(message, conversation_id, state.customer_id, state.root_id)], delivery)
    if mail.sender and (state.handoff is None or not state.handoff.customer_email):
        dynamo.set_customer_email(conversation_id, mail.sender)
    log("email_stored", conversation_id=conversation_id, object_key=key, stored=new,
        attachments=len(mail.attachments))
    metrics.count("EmailsReceived", new)
    return new


def _get(bucket: str, key: str) -> bytes:
    body = aws.client("s3").get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{MAX_MAIL_BYTES - 1}")["Body"]
    return body.read()


def _dropped(key: str, reason: str) -> int:
    log("email_dropped", object_key=key, reason=reason)
    metrics.count("EmailsDropped", Reason=reason)
    return 0



def replay(queue_url: str, function_name: Optional[str] = None, limit: int = 1000) -> int:
    """Hand the events waiting in the on-failure queue back to the handler; returns how many were replayed.

    Each queue message is Lambda's on-failure record; its ``requestPayload`` is the S3 event. With
    ``function_name`` the event is invoked asynchronously on that function (the cloud), else handled
    here (locally, against the emulator). A message is deleted only once its event was handed over;
    replaying a mail that was stored after all stores nothing twice (its Message-ID is its key).
    """
    sqs = aws.client("sqs")
    replayed = 0
    while replayed < limit:
        received = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                       VisibilityTimeout=60).get("Messages", [])
        if not received:
            break
        for message in received:
            event = json.loads(message["Body"]).get("requestPayload", {})
            if function_name:
                aws.client("lambda").invoke(FunctionName=function_name, InvocationType="Event",
                                            Payload=json.dumps(event).encode())
            else:
                handle_s3_event(event)
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            replayed += 1
            log("inbound_mail_replayed", object_keys=[r.get("s3", {}).get("object", {}).get("key")
                                                     for r in event.get("Records", [])])
    return replayed


def main(argv: Optional[list[str]] = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m functions.inbound_mail",
                                     description="Replay inbound mail that failed after retries.")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("replay", help="hand the on-failure queue's events back to the handler")
    run.add_argument("--queue-url", required=True, help="the stack output InboundMailFailuresQueueUrl")
    run.add_argument("--function", help="the HandleInboundEmail function to invoke (default: handle here)")
    args = parser.parse_args(argv)
    print(f"{replay(args.queue_url, args.function)} replayed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
