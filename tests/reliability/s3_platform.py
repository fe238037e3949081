"""Scenario 3: 30% of outbound platform calls answer 429, 500 or time out.

In process, time frozen and moved on with time-machine (which also makes SQS
messages whose visibility was pushed back visible again): customer DMs on every
platform -> table stream (clocks, acknowledgement queued) -> outbound queue ->
``deliver_outbound`` -> the platform simulator, which fails 30% of calls at
random. Staff reply once to every conversation (double-clicked: the same
Idempotency-Key twice). In the end every acknowledgement and reply was carried
out by the platform exactly once, or it sits in the dead-letter queue and its
conversation shows ``delivery_failed`` with a reason; nothing twice.

Some timeouts come after the platform acted (a late accept). The simulator
posts the platforms' echoes of what it carried out (Meta ``message_echoes`` /
WhatsApp statuses, X's own DMs) and the pump hands them to Heed's webhooks, so
on Meta and X a late accept must not be sent again: Heed confirms it by the
echo. Telegram echoes nothing: a timed-out send there is never sent again,
shown as uncertain on its conversation and left in the dead-letter queue. A
duplicate on any platform fails the scenario.
"""
from __future__ import annotations

import json
import os
import random
import threading
import time
from datetime import UTC, datetime, timedelta

import boto3
import time_machine

from local.pump import OutboundQueue, TableStream
from local.simulator import Credentials, Simulator, _failure, _text_of, customer_number, webhook
from tests.reliability.common import (
    DM_KINDS,
    STAFF,
    Result,
    accepted,
    chalice_client,
    check,
    conversations,
    fresh_stack,
    policy_acking,
)

NAME = "platform-faults"
FAULT_RATE = 0.3
LATE_ACCEPT_RATE = 0.02  # of calls: timeouts after the platform acted (reconciled by echo; Telegram apart)
POLICY = policy_acking(match=None)  # the shared policy's rule, matching comments and mentions too


class FlakySimulator(Simulator):
    """The platform simulator, failing a random share of platform calls: 429, 500 or a timeout."""

    def __init__(self, rate: float, seed: int, **kwargs) -> None:
        super().__init__(0, **kwargs)
        self.rate, self.rng, self.rng_lock = rate, random.Random(seed), threading.Lock()
        self.injected = {"429": 0, "500": 0, "timeout": 0}
        self.doomed = ""  # a customer id whose every call fails: its messages must end in the DLQ
        self.specs = {"429": _failure({"match": "x", "status": 429, "retry_after": 30, "times": -1}),
                      "500": _failure({"match": "x", "status": 500, "times": -1}),
                      # the client gives up (read timeout) and the platform did nothing
                      "timeout": _failure({"match": "x", "status": 504, "delay": 0.4, "times": -1})}
        # A timeout after the platform acted (it answers 200, too late): on Meta and X its echo tells Heed;
        # Telegram has none, so Heed doesn't send it again (uncertain, in the DLQ). Off by default.
        self.late = _failure({"match": "x", "delay": 0.4, "times": -1})
        self.late_rate = 0.0

    def _take_failure(self, labels: set[str], path: str):
        if self.doomed and self.doomed in path:
            return dict(self.specs["500"])
        with self.rng_lock:
            if self.rng.random() < self.late_rate:
                self.injected["late-accept"] = self.injected.get("late-accept", 0) + 1
                return dict(self.late)
            if self.rng.random() >= self.rate:
                return None
            kind = self.rng.choice(sorted(self.specs))
            self.injected[kind] += 1
        return dict(self.specs[kind])


def dead_letters(queue_url: str) -> int:
    """Messages waiting in the outbound queue's dead-letter queue (from its redrive policy)."""
    sqs = boto3.client("sqs")
    policy = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["RedrivePolicy"])["Attributes"]
    name = json.loads(policy["RedrivePolicy"])["deadLetterTargetArn"].rsplit(":", 1)[-1]
    url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    return int(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
               ["Attributes"]["ApproximateNumberOfMessages"])


def run(size: int) -> Result:
    result = Result(NAME, True)
    rng = random.Random(size * 3 + 1)
    tag = f"P{rng.randrange(10**6):06d}"
    t0 = datetime.now(UTC).replace(microsecond=0)
    saved = {k: os.environ.get(k) for k in ("META_GRAPH_URL", "X_API_URL", "TELEGRAM_API_URL",
                                             "HEED_HTTP_READ_TIMEOUT")}
    with fresh_stack(POLICY) as env, chalice_client() as client, \
            FlakySimulator(FAULT_RATE, size, env=dict(os.environ), echo_to="collect") as sim, \
            time_machine.travel(t0, tick=False) as traveller:
        os.environ.update(sim.env(), HEED_HTTP_READ_TIMEOUT="0.2")
        sim.credentials = Credentials(dict(os.environ))
        try:
            stream, queue = TableStream(env["table"]), OutboundQueue(env["queue"])

            def echoes() -> int:
                """The platforms' webhooks for what they carried out, to Heed's routes (as Meta and X post them)."""
                taken = sim.take_echoes()
                for path, headers, raw in taken:
                    check(result, client.http.post(path, body=raw, headers=headers).status_code == 200,
                          "an echo was refused")
                return len(taken)

            def pump() -> None:
                while stream.drain() + queue.drain() + echoes():
                    pass

            sim.late_rate = LATE_ACCEPT_RATE
            sim.doomed = customer_number(f"{tag}-4", 10)  # conversation 4 is an X DM (DM_KINDS[4])
            for i in range(size):
                path, headers, raw = webhook(DM_KINDS[i % len(DM_KINDS)], f"help {i}", customer=f"{tag}-{i}",
                                             env={}, now=t0.timestamp())
                check(result, client.http.post(path, body=raw, headers=headers).status_code == 200,
                      f"delivery {i} refused")
            pump()
            convs = conversations(client)
            replies = 0
            for n, conv in enumerate(convs):
                traveller.move_to(t0 + timedelta(seconds=30 + n))
                for _ in range(2):  # a double click
                    answer = client.http.post(f"/conversations/{conv['id']}/replies",
                                              body=json.dumps({"text": f"reply-{tag}-{n}"}),
                                              headers={**STAFF, "Content-Type": "application/json",
                                                       "Idempotency-Key": f"click-{n}"})
                    check(result, answer.status_code == 202, f"reply answered {answer.status_code}")
                replies += 1
                if n % 10 == 0:
                    pump()
            for step in range(1, 40):  # 10-minute steps: well past every backoff and Retry-After
                traveller.move_to(t0 + timedelta(minutes=10 * step))
                pump()
            time.sleep(0.5)  # the last late answers are recorded once their delay is over
            calls = sim.sent()
            listed = [json.loads(client.http.get(f"/conversations/{c['id']}", headers=STAFF).body) for c in convs]
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        dlq = dead_letters(env["queue"])

    done = [c for c in calls if accepted(c)]
    twice, missing, unexplained, uncertain = 0, 0, 0, 0
    late_accepts = {False: 0, True: 0}  # Meta/X, Telegram: sends carried out whose answer came too late
    for n, conv in enumerate(listed):
        customer = conv["customer"]["id"]
        mine = [c for c in done if customer in json.dumps(c.get("body")) + str(c.get("path"))]
        reply_calls = [c for c in mine if _text_of(c.get("body")) == f"reply-{tag}-{n}"]
        ack_calls = [c for c in mine if not _text_of(c.get("body")).startswith("reply-")]
        for kind, found in (("ack", ack_calls), ("reply", reply_calls)):
            late = [c for c in found if c.get("failure")]  # carried out, answered after Heed's timeout
            if late:
                late_accepts[conv["platform"] == "telegram"] += 1
            failed = conv.get("delivery_failed") or {}
            if "may have been delivered" in failed.get("reason", "") and failed.get("kind") == kind:
                uncertain += 1
            if len(found) > 1:
                twice += 1
                result.problems.append(f"{kind} for {conv['platform']} {customer} carried out {len(found)} times")
            elif not found:
                missing += 1
                # A staff reply that went out later supersedes a failed acknowledgement (and clears its notice).
                if not failed.get("reason") and not (kind == "ack" and reply_calls):
                    unexplained += 1
                    result.problems.append(f"{kind} for {conv['platform']} {customer} never sent, no reason shown")
    result.counts = {"conversations": len(listed), "acks+replies": 2 * len(listed), "calls": len(calls),
                     **{f"injected-{k}": v for k, v in sim.injected.items()}, "delivered": len(done),
                     "late-accepted-meta-x": late_accepts[False], "sent-twice": twice,
                     "late-accepted-telegram": late_accepts[True], "uncertain-not-resent": uncertain,
                     "in-dlq": dlq, "not-delivered": missing,
                     "unexplained": unexplained}
    check(result, len(listed) == size, f"{len(listed)} conversations for {size} customers")
    check(result, sum(sim.injected.values()) > 0, "no fault was injected")
    check(result, twice == 0, f"{twice} messages carried out more than once")
    check(result, unexplained == 0, f"{unexplained} messages neither delivered nor shown as failed")
    check(result, missing >= 2 and dlq >= 2, "the X DM customer whose every call fails: ack and reply not in the DLQ")
    check(result, dlq >= missing, f"{missing} not delivered but only {dlq} in the dead-letter queue")
    result.passed = result.passed and not result.problems
    return result
