"""Scenario 2: 20% of DynamoDB writes fail (throttling and 500s, at the botocore level).

Deliveries (one to five messages, every platform) go through the webhook routes
in process. Right after the first pass: every delivery answered 2xx is stored.
Then the sender retries each 5xx until it gets a 2xx (faults still on): every
message is stored, once; conversation counts add up to the distinct messages.
"""
from __future__ import annotations

import json
import os
import random
import time
from contextlib import ExitStack

from local.simulator import webhook
from tests.faults import failing
from tests.reliability.common import KINDS, Result, chalice_client, check, fresh_stack, table_items

NAME = "storage-faults"
WRITES = ("TransactWriteItems", "PutItem", "UpdateItem", "BatchWriteItem")
FAULT_RATE = 0.2


def batch(kind: str, messages: int, tag: str, n: int, now: float) -> tuple[str, dict, bytes, int]:
    """One delivery of ``messages`` messages (the platforms' own batching: several events, one body)."""
    parts = [webhook(kind, f"{tag} {n}.{k}", customer=f"{tag}{n % 7}", env={}, now=now + n + k / 10)
             for k in range(messages)]
    path, headers, first = parts[0]
    if len(parts) == 1 or kind == "telegram":  # Telegram sends one update per request
        return path, headers, first, 1
    payload = json.loads(first)
    for _, _, raw in parts[1:]:
        other = json.loads(raw)
        if "entry" in payload:
            payload["entry"] += other["entry"]
        elif "direct_message_events" in payload:
            payload["direct_message_events"] += other["direct_message_events"]
            payload["users"].update(other["users"])
        else:
            payload["tweet_create_events"] += other["tweet_create_events"]
    raw = json.dumps(payload).encode()
    path, headers, _ = resign(kind, raw)
    return path, headers, raw, len(parts)


def resign(kind: str, raw: bytes) -> tuple[str, dict, bytes]:
    from tests.signing import meta_headers, x_headers

    if kind.startswith("x-"):
        return "/webhooks/x", x_headers(raw), raw
    return "/webhooks/meta", meta_headers(raw), raw


def run(size: int) -> Result:
    result = Result(NAME, True)
    rng = random.Random(size * 7 + 2)
    tag = f"S{rng.randrange(10**6):06d}"
    now = time.time()
    work = [batch(KINDS[n % len(KINDS)], rng.randint(1, 5), tag, n, now) for n in range(size)]
    distinct = sum(w[3] for w in work)
    with fresh_stack() as env, chalice_client() as client, ExitStack() as faults:
        injected = []
        for op in WRITES:  # half the faults throttle (400), half are 500s
            injected.append(faults.enter_context(failing(op, lambda _n: rng.random() < FAULT_RATE / 2, status=400)))
            injected.append(faults.enter_context(failing(op, lambda _n: rng.random() < FAULT_RATE / 2 / (
                1 - FAULT_RATE / 2), status=500)))
        ok, failed, other = [], [], []
        for path, headers, raw, _ in work:
            answer = client.http.post(path, body=raw, headers=headers)
            (ok if answer.status_code == 200 else failed if answer.status_code >= 500 else other).append(
                (path, headers, raw, answer.status_code))
        stored_ids = {i["pk"]["S"].split("#", 3)[3] for i in table_items(env["table"]) if i["type"]["S"] == "message"}
        missing_after_2xx = sum(1 for path, _, raw, _ in ok if not _all_stored(path, raw, stored_ids))
        retries, gave_up = 0, 0
        for path, headers, raw, _ in failed:
            for _ in range(30):
                retries += 1
                if client.http.post(path, body=raw, headers=headers).status_code == 200:
                    break
            else:
                gave_up += 1
        # and a platform's own duplicate redelivery of a few 2xx ones, faults still on
        for path, headers, raw, _ in rng.sample(ok, min(len(ok), 20)):
            for _ in range(30):
                if client.http.post(path, body=raw, headers=headers).status_code == 200:
                    break
        calls_failed = sum(len(f) for f in injected)
    items = table_items(env["table"])
    messages = [i for i in items if i["type"]["S"] == "message"]
    counted = sum(int(i["message_count"]["N"]) for i in items if i["type"]["S"] == "conversation")
    result.counts = {"deliveries": size, "distinct": distinct, "writes-failed": calls_failed,
                     "2xx-first": len(ok), "5xx-first": len(failed), "4xx": len(other), "retries": retries,
                     "missing-after-2xx": missing_after_2xx, "stored": len(messages), "counted": counted}
    check(result, calls_failed > 0, "no fault was injected")
    check(result, not other, f"{len(other)} deliveries answered 4xx: {[o[3] for o in other[:5]]}")
    check(result, missing_after_2xx == 0, f"{missing_after_2xx} deliveries answered 2xx but not all stored")
    check(result, gave_up == 0, f"{gave_up} deliveries never got a 2xx in 30 tries")
    check(result, len(messages) == distinct, f"stored {len(messages)} messages, sent {distinct} distinct")
    check(result, counted == distinct, f"conversations count {counted} messages, sent {distinct} distinct")
    return result


def _all_stored(path: str, raw: bytes, stored_ids: set[str]) -> bool:
    """Every message of the delivery is in the table (by its platform message id, the key's last part)."""
    from functions.adapters import meta, telegram, x

    if path.endswith("/meta"):
        messages = meta.parse(raw)
    elif path.endswith("/x"):
        messages = x.parse(raw)
    else:
        messages = telegram.parse(raw, os.environ["TELEGRAM_BOT_ID"])
    return bool(messages) and all(m.platform_message_id in stored_ids for m in messages)
