"""Scenario 1: load with duplicates over HTTP against ``python -m local.stack``.

``size`` deliveries across every platform and kind, 30% of them re-sends of
another delivery, shuffled, from 8 concurrent senders. Then: stored messages =
distinct messages sent, one acknowledgement per DM conversation (the policy acks
DMs), zero 5xx. The same distinct load without re-sends gives the comparison rate.
"""
from __future__ import annotations

import random
import threading
import time
from collections import Counter

import requests

from local.simulator import webhook
from tests.reliability.common import DM_KINDS, KINDS, Result, accepted, check, local_stack, recipient

NAME = "load+duplicates"
SENDERS = 8
DUPLICATES = 0.3


def deliveries(distinct: int, tag: str, env: dict) -> tuple[list[tuple[str, dict, bytes]], set[tuple[str, str]]]:
    """``distinct`` one-message deliveries and the DM conversations (kind, customer) they open."""
    made, dms = [], set()
    customers = max(1, distinct // (4 * len(KINDS)))  # about four messages per DM conversation
    now = time.time()
    for i in range(distinct):
        kind = KINDS[i % len(KINDS)]
        customer = f"{tag}{(i // len(KINDS)) % customers:05d}"
        made.append(webhook(kind, f"message {tag} {i}", customer=customer, env=env, now=now + i / 1000))
        if kind in DM_KINDS:
            dms.add((kind, customer))
    return made, dms


def send(api: str, work: list[tuple[str, dict, bytes]]) -> tuple[Counter, int, float]:
    statuses: Counter = Counter()
    received = [0]
    lock = threading.Lock()

    def sender(share):
        with requests.Session() as session:
            for path, headers, raw in share:
                for _ in range(10):  # a platform retries a 5xx (counted: there should be none)
                    response = session.post(api + path, data=raw, headers=headers, timeout=120)
                    with lock:
                        statuses[response.status_code] += 1
                    if response.status_code < 500:
                        break
                if response.status_code == 200:
                    with lock:
                        received[0] += response.json().get("received", 0)

    started = time.monotonic()
    threads = [threading.Thread(target=sender, args=(work[n::SENDERS],)) for n in range(SENDERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return statuses, received[0], time.monotonic() - started


def run(size: int) -> Result:
    stack = local_stack()
    result = Result(NAME, True)
    rng = random.Random(size)
    tag = f"L{rng.randrange(10**6):06d}"
    distinct = round(size / (1 + DUPLICATES))
    unique, dms = deliveries(distinct, tag, stack.env)
    work = unique + [rng.choice(unique) for _ in range(size - distinct)]
    rng.shuffle(work)
    statuses, received, seconds = send(stack.api, work)

    # The same load of distinct deliveries, no re-sends: the comparison rate.
    off, off_dms = deliveries(distinct, tag + "o", stack.env)
    rng.shuffle(off)
    off_statuses, off_received, off_seconds = send(stack.api, off)

    # The pump turns stream records into acknowledgements, stored as the brand's messages: wait until it is
    # done (it shares the serialized emulator, so it trails the load), watching only the simulator's record
    # (listing conversations while the pump works would compete with it for the emulator), then count the
    # stored messages until two counts agree and no acknowledgement went out in between.
    expected_acks = len(dms) + len(off_dms)
    deadline = time.monotonic() + max(180, size * 0.5)
    acked = lambda: [c for c in stack.sent() if accepted(c)]  # noqa: E731
    settled, stored_all, mine = 0, -1, acked()
    while time.monotonic() < deadline and settled < 2:
        time.sleep(3)
        now = acked()
        if len(now) != len(mine) or len(now) < expected_acks:
            mine, settled = now, 0
            continue
        counted = sum(c["message_count"] for c in stack.conversations())
        settled = settled + 1 if counted == stored_all else 1
        stored_all, mine = counted, acked()
    per_recipient = Counter(recipient(c) for c in mine)
    five = sum(n for code, n in (statuses + off_statuses).items() if code >= 500)
    acks = len(mine)
    stored_in = stored_all - acks  # every acknowledgement sent is stored as the brand's message too
    rate, off_rate = size / seconds, distinct / off_seconds
    doubled = [r for r, n in per_recipient.items() if n > 1]
    # distinct/stored cover both loads (with and without re-sends): 2 x the distinct deliveries.
    result.counts = {"deliveries": size, "distinct": 2 * distinct, "stored": stored_in,
                     "new-counted": received + off_received, "acks": acks, "dm-conversations": expected_acks,
                     "acked-twice": len(doubled), "5xx": five, "seconds": f"{seconds:.0f}",
                     "rate": f"{rate:.0f}/s", "dup-off rate": f"{off_rate:.0f}/s", "ratio": f"{rate / off_rate:.2f}"}
    check(result, five == 0, f"{five} 5xx answers")
    check(result, received == distinct, f"new messages counted {received}, sent {distinct} distinct")
    check(result, off_received == distinct, f"dup-off run counted {off_received} of {distinct}")
    check(result, stored_in == 2 * distinct, f"stored {stored_in} messages, sent {2 * distinct} distinct")
    check(result, acks == expected_acks, f"{acks} acknowledgements for {expected_acks} DM conversations")
    check(result, not doubled, f"{len(doubled)} recipients acknowledged more than once, e.g. {doubled[:2]}")
    return result
