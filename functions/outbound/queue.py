"""The outbound queue: everything Heed sends to a platform is queued, never sent inline."""
from __future__ import annotations

import json

from functions import aws, settings
from functions.domain.outbound import OutboundMessage
from functions.errors import ServiceUnavailable
from functions.log import log


def enqueue(message: OutboundMessage) -> None:
    """Queue ``message`` for DeliverOutbound; 503 when SQS can't take it (the caller's caller retries)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        aws.client("sqs").send_message(QueueUrl=settings.required("HEED_OUTBOUND_QUEUE_URL"),
                                       MessageBody=json.dumps(message.to_json(), separators=(",", ":")))
    except (BotoCoreError, ClientError) as exc:
        log("outbound_enqueue_failed", level="ERROR", outbound_id=message.id, error=type(exc).__name__)
        raise ServiceUnavailable("the outbound queue is unavailable; retry") from None
    log("outbound_queued", outbound_id=message.id, kind=message.kind, platform=message.platform)


def retry_later(receipt_handle: str, seconds: int) -> None:
    """Make a received message visible again in ``seconds`` (SQS's backoff)."""
    aws.client("sqs").change_message_visibility(QueueUrl=settings.required("HEED_OUTBOUND_QUEUE_URL"),
                                                ReceiptHandle=receipt_handle, VisibilityTimeout=seconds)
