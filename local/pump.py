"""Does locally what AWS would do for events moto and ``chalice local`` never fire.

In the cloud, the table's stream invokes ``sla_stream`` and EventBridge invokes
``sla_tick`` every minute; moto fires neither (and never applies TTL). The pump
calls the same registered functions of ``app`` with events shaped like
Lambda's, on a timer:

* ``table-stream`` (every second, until caught up): reads moto's DynamoDB stream like Lambda's
  event source mapping does: in order, a batch at a time, moving on only after
  the handler succeeded (a failing batch is retried at the next turn);
* ``sla-tick`` (every ``HEED_TICK_SECONDS``, default 5): the SLA checker;
* ``inbound-mail`` (every second): new objects in the inbound mail bucket
  (where the SES receipt rule stores mail in the cloud) handed to
  ``handle_inbound_email`` as S3 ``ObjectCreated`` notifications, each key
  once (S3 never notifies moto's listeners);
* ``outbound-queue`` (every second, until empty): the outbound queue, like
  Lambda's SQS mapping: batches of up to 10, only the records the handler
  reports as succeeded are deleted (partial batch response); the others come
  back when their visibility (set by the handler's backoff) runs out, and SQS
  moves them to the dead-letter queue after the last receive.
"""
from __future__ import annotations

import functools
import json
import os
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Callable, Optional

import boto3

from functions.log import log


@dataclass(frozen=True)
class Job:
    name: str
    every_seconds: float
    run: Callable[[], None]


class TableStream:
    """Reads the table's stream from the start and hands each batch to ``app.sla_stream``."""

    def __init__(self, table_name: str, batch_size: int = 100) -> None:
        self.table_name = table_name
        self.batch_size = batch_size
        self.iterators: dict[str, str] = {}

    def drain(self) -> int:
        """Deliver every record written so far; returns how many were delivered."""
        delivered = 0
        while batch := self.poll():
            delivered += batch
        return delivered

    def poll(self) -> int:
        """Deliver at most one batch per shard; returns how many records were delivered."""
        from app import sla_stream

        streams = self._streams()
        delivered = 0
        for shard in streams.describe_stream(StreamArn=self._arn())["StreamDescription"]["Shards"]:
            shard_id = shard["ShardId"]
            iterator = self.iterators.get(shard_id) or streams.get_shard_iterator(
                StreamArn=self._arn(), ShardId=shard_id, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
            page = streams.get_records(ShardIterator=iterator, Limit=self.batch_size)
            if page["Records"]:
                sla_stream({"Records": [_lambda_record(r, self._arn()) for r in page["Records"]]}, None)
                delivered += len(page["Records"])
            self.iterators[shard_id] = page["NextShardIterator"]  # only after the handler succeeded
        return delivered

    @functools.cache  # noqa: B019 - one reader per table for the life of the stack
    def _streams(self) -> Any:
        return boto3.client("dynamodbstreams")

    @functools.cache  # noqa: B019 - the table (and so its stream) outlives the reader
    def _arn(self) -> str:
        return boto3.client("dynamodb").describe_table(TableName=self.table_name)["Table"]["LatestStreamArn"]


class OutboundQueue:
    """Receives from the outbound queue and hands batches to ``app.deliver_outbound``."""

    def __init__(self, queue_url: str) -> None:
        self.queue_url = queue_url

    def drain(self) -> int:
        """Deliver every visible message; returns how many records were handed over."""
        from app import deliver_outbound

        sqs = boto3.client("sqs")
        handed = 0
        while True:
            received = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, AttributeNames=["All"],
                                           WaitTimeSeconds=0).get("Messages", [])
            if not received:
                return handed
            handed += len(received)
            answer = deliver_outbound({"Records": [self._record(m) for m in received]}, None) or {}
            failed = {item["itemIdentifier"] for item in answer.get("batchItemFailures", [])}
            done = [m for m in received if m["MessageId"] not in failed]
            if done:
                sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=[
                    {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(done)])

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        return {"messageId": message["MessageId"], "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"], "attributes": message.get("Attributes", {}), "messageAttributes": {},
                "md5OfBody": message.get("MD5OfBody", ""), "eventSource": "aws:sqs",
                "eventSourceARN": self.queue_url, "awsRegion": os.environ.get("AWS_DEFAULT_REGION", "us-east-1")}


class InboundMail:
    """Lists the inbound mail bucket and hands each new object to ``app.handle_inbound_email`` (once per key).

    Like Lambda's asynchronous invocation (``HandleInboundEmailInvokeConfig``): a mail whose handling
    raised stays unhandled and is tried again at the next turn, at most ``max_attempts`` times in all;
    then its event goes to the on-failure queue (``failures_queue_url``, as Lambda's destination record)
    for a replay, and the pump moves on. Logged with the object key and the error's type only.
    """

    def __init__(self, bucket: str, failures_queue_url: Optional[str] = None, max_attempts: int = 3) -> None:
        self.bucket = bucket
        self.failures_queue_url = failures_queue_url
        self.max_attempts = max_attempts
        self.seen: set[str] = set()
        self.attempts: dict[str, int] = {}

    def drain(self) -> int:
        """Hand over every new object; returns how many were handled (failed ones not counted)."""
        from app import handle_inbound_email

        s3 = boto3.client("s3")
        handed = 0
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix="mail/"):
            for item in page.get("Contents", []):
                key = item["Key"]
                if key in self.seen:
                    continue
                event = s3_event(self.bucket, key, item["Size"])
                try:
                    handle_inbound_email(event, None)
                except Exception as exc:  # noqa: BLE001 - what Lambda does: count the attempt, retry later
                    self._failed(key, event, exc)
                    continue
                self.seen.add(key)  # only after the handler succeeded
                self.attempts.pop(key, None)
                handed += 1
        return handed

    def _failed(self, key: str, event: dict[str, Any], exc: Exception) -> None:
        attempt = self.attempts[key] = self.attempts.get(key, 0) + 1
        if attempt < self.max_attempts:
            log("inbound_mail_failed", level="WARNING", object_key=key, attempt=attempt, error=type(exc).__name__)
            return
        self.seen.add(key)
        self.attempts.pop(key, None)
        if self.failures_queue_url:
            boto3.client("sqs").send_message(QueueUrl=self.failures_queue_url,
                                             MessageBody=json.dumps(failure_record(event, attempt, exc)))
        log("inbound_mail_given_up", level="ERROR", object_key=key, attempts=attempt, error=type(exc).__name__,
            queued=bool(self.failures_queue_url))


def failure_record(event: dict[str, Any], attempts: int, exc: Exception) -> dict[str, Any]:
    """Lambda's on-failure destination record for an asynchronous invocation (the error's type, not its text)."""
    return {"version": "1.0", "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "requestContext": {"requestId": "local-pump", "functionArn": "local:handle_inbound_email",
                               "condition": "RetriesExhausted", "approximateInvokeCount": attempts},
            "requestPayload": event,
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "responsePayload": {"errorType": type(exc).__name__}}


def s3_event(bucket: str, key: str, size: int = 0) -> dict[str, Any]:
    """An S3 ObjectCreated notification as Lambda receives it (keys URL-encoded, as S3 sends them)."""
    from urllib.parse import quote_plus

    return {"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
        "awsRegion": os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        "eventTime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
               "object": {"key": quote_plus(key, safe="/"), "size": size}},
    }]}


def tick() -> None:
    from app import sla_tick

    sla_tick(scheduled_event(), None)


def scheduled_event() -> dict[str, Any]:
    """An EventBridge scheduled event as Lambda receives it."""
    return {"version": "0", "id": "local-pump", "detail-type": "Scheduled Event", "source": "aws.events",
            "account": "000000000000", "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": os.environ.get("AWS_DEFAULT_REGION", "us-east-1"), "resources": [], "detail": {}}


def _lambda_record(record: dict[str, Any], arn: str) -> dict[str, Any]:
    dynamodb = dict(record["dynamodb"])
    created = dynamodb.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        dynamodb["ApproximateCreationDateTime"] = created.timestamp()
    return {**record, "dynamodb": dynamodb, "eventSourceARN": arn}


def jobs(table_name: str, outbound_queue_url: str, inbound_bucket: str | None = None,
         inbound_failures_queue_url: str | None = None) -> list[Job]:
    return [
        Job("table-stream", 1.0, TableStream(table_name).drain),
        *([Job("inbound-mail", 1.0, InboundMail(inbound_bucket, inbound_failures_queue_url).drain)]
          if inbound_bucket else []),
        Job("outbound-queue", 1.0, OutboundQueue(outbound_queue_url).drain),
        Job("sla-tick", float(os.environ.get("HEED_TICK_SECONDS", "5")), tick),
    ]


class Pump(threading.Thread):
    """Runs each job every ``every_seconds`` until :meth:`stop`; a failing job is logged, not fatal."""

    def __init__(self, jobs: list[Job], tick_seconds: float = 0.5) -> None:
        super().__init__(name="heed-pump", daemon=True)
        self.jobs = jobs
        self.tick_seconds = tick_seconds
        self._stopped = threading.Event()

    def run(self) -> None:
        due = {job.name: 0.0 for job in self.jobs}
        elapsed = 0.0
        while not self._stopped.wait(self.tick_seconds):
            elapsed += self.tick_seconds
            for job in self.jobs:
                if elapsed >= due[job.name]:
                    due[job.name] = elapsed + job.every_seconds
                    try:
                        job.run()
                    except Exception as exc:  # noqa: BLE001 - keep pumping; the next turn retries
                        log("pump_job_failed", level="ERROR", job=job.name, error=type(exc).__name__)

    def stop(self) -> None:
        self._stopped.set()
