"""Event handlers (not HTTP): the table's stream, the SLA schedule and the outbound queue."""
from __future__ import annotations

from typing import Any

# Replaced in the packaged template by the real ARNs (infra/template.yaml).
STREAM_ARN_PLACEHOLDER = "arn:aws:dynamodb:us-east-1:000000000000:table/heed/stream/set-by-infra-template"
QUEUE_ARN_PLACEHOLDER = "arn:aws:sqs:us-east-1:000000000000:heed-outbound-set-by-infra-template"


def on_table_records(event: Any) -> None:
    """Chalice's DynamoDB event; each record's ``to_dict()`` is the stream record as Lambda got it."""
    from functions import clocks

    clocks.handle_records(record.to_dict() for record in event)


def on_tick() -> None:
    from functions import sla_checker

    sla_checker.tick()


def on_outbound(event: Any) -> dict[str, list[dict[str, str]]]:
    """Chalice's SQS event; answers Lambda's partial batch response, so only failed records come back."""
    from functions import delivery

    retry = delivery.deliver(record.to_dict() for record in event)
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in retry]}


def on_inbound_email(event: Any) -> dict[str, int]:
    """S3 ObjectCreated notifications for the inbound mail bucket (an SES receipt rule writes there)."""
    from functions import inbound_mail

    return {"stored": inbound_mail.handle_s3_event(event)}


def on_reports_day() -> None:
    from functions import weekly_report

    weekly_report.daily()
