"""Event handlers (not HTTP): the table's stream and the SLA schedule."""
from __future__ import annotations

from typing import Any

# Replaced in the packaged template by the table's real stream ARN (infra/template.yaml).
STREAM_ARN_PLACEHOLDER = "arn:aws:dynamodb:us-east-1:000000000000:table/heed/stream/set-by-infra-template"


def on_table_records(event: Any) -> None:
    """Chalice's DynamoDB event; each record's ``to_dict()`` is the stream record as Lambda got it."""
    from functions import clocks

    clocks.handle_records(record.to_dict() for record in event)


def on_tick() -> None:
    from functions import sla_checker

    sla_checker.tick()
