"""SLA checker benchmark: DynamoDB items read per tick with 10 and with 100,000 stored messages.

``make bench`` runs this file with the ingest benchmarks and prints each figure
as a ``bench: ...`` line. Two tables, each from scratch, with the same 10 clocks
due, created for real: signed Messenger webhooks through the route, the table
stream drained into the SLA handler, time moved past the breach. Then ONE tick
of the scheduled ``sla_tick`` function, with DynamoDB items read, requests by
operation and SMS sent counted through botocore hooks on Heed's own clients.

* small: just those 10 messages;
* large: the same, plus 99,990 more messages (100,000 in all) in 5,000 other
  conversations, 1,000 of them with a clock running but not due (in every
  state the checker queries: ok, warning, breached with the next escalation
  ahead, breached and acknowledged). These are bulk-written with
  ``batch_write_item`` after the real clocks exist (through the route, at
  ~20 ms a transaction, they'd take minutes), shaped like Heed's items (checked
  against items Heed wrote) with SLA states folded by Heed's own domain code.
  The stream is not drained after seeding: the tick never reads it.

Targets: items read per tick within 10% of each other, exactly 10 breach SMS
per tick, no Scan.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from boto3.dynamodb.types import TypeSerializer

from functions import aws, clocks, config
from functions.domain import sla, triage
from functions.domain.conversations import conversation_id
from functions.domain.message import iso_utc
from local.pump import TableStream, scheduled_event
from tests import payloads as p
from tests.bench.test_ingest_bench import (
    Delivery,
    DynamoRequests,
    _text,
    fresh_table,
    post_all,
    quiet,
    say,
    timed,
)
from tests.policy import PUBLIC_URL, ladder, policy_file, policy_in_force, sla_policy
from tests.signing import body, meta_headers

TARGET_ITEMS_READ_SPREAD = 0.10  # large / small within 10%
DUE = 10  # clocks due at the tick, in both tables
STORED_MESSAGES = 100_000  # in the large table, the due clocks' 10 messages included
SEEDED_CONVERSATIONS = 5_000
RUNNING_NOT_DUE = 1_000  # of those, conversations whose clock runs but isn't due
BATCH = 25  # batch_write_item's limit

ON_CALL, ESCALATION = "+15555550100", "+15555550101"
POLICY = policy_file(sla_policy("bench", "10m", warn_at=[0.5]), ladder(("0m", [ON_CALL]), ("2h", [ESCALATION])))
START = datetime.fromtimestamp(p.NOW_MS / 1000, UTC)  # the due messages are sent at START + i seconds
TICK_AT = START + timedelta(minutes=11)  # every due clock breached (due at START + 10m + i s)


@pytest.fixture
def bench_policy(client, stack_env, tmp_path, monkeypatch):
    """The bench's policy file in force (HEED_CONFIG), and moto emptied afterwards (it holds ~100k items)."""
    with policy_in_force(POLICY, tmp_path, monkeypatch, public_url=PUBLIC_URL):
        yield
    reset = urllib.request.Request(f"{stack_env['endpoint']}/moto-api/reset", method="POST")
    urllib.request.urlopen(reset).close()


# ---------------------------------------------------------------- measuring


class ItemsRead:
    """Items DynamoDB returned to the shared client, by operation (hooked on ``after-call``).

    Query/Scan: its ``Items``; GetItem: 1 when it found the item; BatchGetItem
    and TransactGetItems: the items in ``Responses``. ``ScannedCount`` (items a
    Query/Scan evaluated before any filter) is summed alongside.
    """

    EVENT = "after-call.dynamodb"

    def __init__(self) -> None:
        self.by_operation: Counter[str] = Counter()
        self.scanned = 0

    def _count(self, event_name: str, parsed: dict, **_: Any) -> None:
        operation = event_name.rsplit(".", 1)[-1]
        if "Items" in parsed:
            self.by_operation[operation] += len(parsed["Items"])
        if operation == "GetItem" and "Item" in parsed:
            self.by_operation[operation] += 1
        if operation == "BatchGetItem":
            self.by_operation[operation] += sum(len(items) for items in parsed.get("Responses", {}).values())
        if operation == "TransactGetItems":
            self.by_operation[operation] += sum(1 for r in parsed.get("Responses", []) if "Item" in r)
        self.scanned += parsed.get("ScannedCount", 0)

    @property
    def total(self) -> int:
        return sum(self.by_operation.values())

    def __enter__(self) -> ItemsRead:
        aws.client("dynamodb").meta.events.register(self.EVENT, self._count)
        return self

    def __exit__(self, *_: object) -> None:
        aws.client("dynamodb").meta.events.unregister(self.EVENT, self._count)


class SmsSent:
    """SMS that SNS accepted from Heed's client: ``(phone, text)``, in order."""

    PARAMS, DONE = "provide-client-params.sns.Publish", "after-call.sns.Publish"

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def _params(self, params: dict, context: dict, **_: Any) -> None:
        context["bench_sms"] = (params.get("PhoneNumber", ""), params.get("Message", ""))

    def _done(self, http_response: Any, context: dict, **_: Any) -> None:
        if http_response.status_code == 200:
            self.sent.append(context["bench_sms"])

    def __enter__(self) -> SmsSent:
        events = aws.client("sns").meta.events
        events.register(self.PARAMS, self._params)
        events.register(self.DONE, self._done)
        return self

    def __exit__(self, *_: object) -> None:
        events = aws.client("sns").meta.events
        events.unregister(self.PARAMS, self._params)
        events.unregister(self.DONE, self._done)


@dataclass(frozen=True)
class Tick:
    items_read: int
    read_by_operation: dict[str, int]
    scanned: int
    requests: dict[str, int]
    seconds: float
    sms: list[tuple[str, str]]
    report: dict[str, Any]  # the checker's own ``sla_tick`` log record


def one_tick(client: Any) -> Tick:
    """Invoke the scheduled function once, counting what it reads, sends and logs."""
    logs = io.StringIO()
    with contextlib.redirect_stdout(logs), DynamoRequests() as requests, ItemsRead() as read, SmsSent() as sms:
        seconds = timed(client.lambda_.invoke, "sla_tick", scheduled_event())
    records = [json.loads(line) for line in logs.getvalue().splitlines() if line.startswith("{")]
    report = next((r for r in records if r.get("event") == "sla_tick"), {})
    return Tick(read.total, dict(read.by_operation), read.scanned, dict(requests.by_operation), seconds, sms.sent,
                report)


# ---------------------------------------------------------------- the real clocks


def due_delivery(i: int) -> Delivery:
    """Customer ``i`` writes once on Messenger, at START + i seconds."""
    event = p.messenger_event(f"psid-due-{i}", f"m_due_{i}", _text(i), ts_ms=p.NOW_MS + i * 1000)
    raw = body(p.meta("page", p.messenger_entry(event)))
    return Delivery("/webhooks/meta", raw, meta_headers(raw), 1)


def due_clocks_through_the_route(client: Any, table: str) -> None:
    """10 customers write once each (signed webhooks, the route); the stream opens their clocks."""
    deliveries = [due_delivery(i) for i in range(DUE)]
    with quiet():
        post_all(client, deliveries, expect_new=True)
        TableStream(table).drain()


def get(table: str, pk: str, sk: str) -> dict:
    return aws.client("dynamodb").get_item(TableName=table, Key={"pk": {"S": pk}, "sk": {"S": sk}})["Item"]


def attribute_types(item: dict) -> dict[str, str]:
    return {name: next(iter(value)) for name, value in item.items()}


def index_count(table: str, condition: str, now: str) -> int:
    """Clocks in the checker's index (outside any measurement): all running, or due at ``now``."""
    total = 0
    for state in ("ok", "warning", "breached"):
        values = {":pk": {"S": f"SLA#{state}"}}
        if condition == "due":
            values[":now"] = {"S": f"{now}#~"}
        total += aws.client("dynamodb").query(
            TableName=table, IndexName="gsi2", Select="COUNT", ExpressionAttributeValues=values,
            KeyConditionExpression="gsi2pk = :pk" + (" AND gsi2sk <= :now" if condition == "due" else ""),
        )["Count"]
    return total


# ---------------------------------------------------------------- the bulk history


def s(value: str) -> dict[str, str]:
    return {"S": value}


def n(value: int) -> dict[str, str]:
    return {"N": str(value)}


def message_item(conv: str, psid: str, mid: str, direction: str, sent: datetime, index: int) -> dict:
    """A stored Messenger DM as ``dynamo._message_item`` writes it (no name, root or reply for Messenger)."""
    sent_at = iso_utc(sent)
    event = p.messenger_event(psid, mid, _text(index), ts_ms=int(sent.timestamp() * 1000), echo=direction == "out")
    raw = json.dumps(p.meta("page", p.messenger_entry(event)), separators=(",", ":"))
    item = {
        "pk": s(f"MSG#facebook#{p.PAGE_ID}#{mid}"), "sk": s("MSG"), "type": s("message"), "id": s(mid),
        "conversation_id": s(conv), "gsi1pk": s(f"CONV#{conv}"), "gsi1sk": s(f"{sent_at}#{mid}"),
        "platform": s("facebook"), "channel": s("dm"), "account_id": s(p.PAGE_ID), "customer_id": s(psid),
        "direction": s(direction), "text": s(_text(index)), "attachments": {"L": []}, "sent_at": s(sent_at),
        "received_at": s(iso_utc(sent + timedelta(seconds=1))),
        "delivery_id": s(hashlib.sha256(raw.encode()).hexdigest()), "raw": s(raw),
    }
    if direction == "in":  # a customer's message: the reports' day index and its triage
        item.update({"gsi3pk": s(f"DAY#{sent_at[:10]}"), "gsi3sk": s(f"M#{sent_at}#{mid}"), "labels": {"L": []},
                     "sentiment": n(0), "priority": s("normal"), "language": s("en")})
    return item


def clock_group(c: int) -> str:
    """Which kind of not-due clock running conversation ``c`` has (half ok, 30% warned, 20% breached)."""
    return {0: "ok", 1: "ok", 2: "ok", 3: "ok", 4: "ok", 5: "warning", 6: "warning", 7: "warning",
            8: "breached", 9: "acknowledged"}[c % 10]


def last_message_at(c: int) -> datetime:
    """When conversation ``c``'s last message came: for running clocks, the clock's start."""
    if c >= RUNNING_NOT_DUE:  # answered (and half of them resolved), over the past ~4 months
        return TICK_AT - timedelta(minutes=37 * (c + 1))
    group = clock_group(c)
    if group == "ok":  # warning still ahead
        return TICK_AT - timedelta(seconds=c % 240)
    if group == "warning":  # warned, breach ahead
        return TICK_AT - timedelta(minutes=5, seconds=c % 290 + 1)
    if group == "breached":  # breached, next escalation ahead
        return TICK_AT - timedelta(minutes=11 + c % 100)
    return TICK_AT - timedelta(minutes=60 + c % 100)  # breached and acknowledged: never due again


def sla_state(c: int, facts: list[sla.Fact], policies: clocks.ConversationPolicies,
              escalation: tuple[timedelta, ...]) -> tuple[sla.Sla, int, datetime]:
    """Heed's fold of the messages, then the alerts the checker would have recorded: (state, version, written at)."""
    state, _ = sla.apply(sla.Sla(), facts, policies)
    version, at = 1, facts[-1].sent_at
    if c >= RUNNING_NOT_DUE:
        if c % 2:
            state, _ = sla.resolve(state, at + timedelta(hours=1))
            version, at = 2, at + timedelta(hours=1)
        return state, version, at
    clock = state.clock
    group = clock_group(c)
    if group == "warning":
        at = clock.warn_times[0]
    elif group in ("breached", "acknowledged"):
        at = clock.due_at
    if group != "ok":
        alert = sla.next_alert(clock, escalation, at)
        clock, _ = sla.record_alert(clock, alert, at)
        version += 1
    if group == "acknowledged":
        at += timedelta(minutes=1)
        clock, _ = sla.acknowledge(clock, ON_CALL, at)
        version += 1
    return sla.Sla(clock=clock, brand_replied=state.brand_replied, last_outbound_at=state.last_outbound_at,
                   resolved_at=state.resolved_at), version, at


def seeded_conversation(c: int, count: int, first_index: int) -> tuple[dict, list[dict]]:
    """Conversation ``c`` with ``count`` messages alternating in/out, 2 minutes apart.

    A running clock's conversation ends with the customer's message (which
    started the clock); the others end with the brand's reply.
    """
    psid = f"psid-seed-{c}"
    conv = conversation_id("facebook", p.PAGE_ID, psid, None)
    last = last_message_at(c)
    last_direction, other = ("in", "out") if c < RUNNING_NOT_DUE else ("out", "in")
    messages, facts = [], []
    for j in range(count):
        direction = last_direction if (count - 1 - j) % 2 == 0 else other
        sent = last - timedelta(minutes=2 * (count - 1 - j))
        mid = f"m_seed_{c}_{j}"
        messages.append(message_item(conv, psid, mid, direction, sent, first_index + j))
        facts.append(sla.Fact(mid, direction, sent))
    cfg = config.load_config()
    policies = clocks.ConversationPolicies(cfg, "facebook", "dm", p.PAGE_ID)
    state, version, written_at = sla_state(c, facts, policies, cfg.escalation_after)
    status = "resolved" if state.resolved_at else "open"
    last_at = iso_utc(facts[-1].sent_at)
    item = {
        "pk": s(f"CONV#{conv}"), "sk": s("CONV"), "type": s("conversation"), "id": s(conv),
        "platform": s("facebook"), "channel": s("dm"), "account_id": s(p.PAGE_ID), "customer_id": s(psid),
        "created_at": s(iso_utc(facts[0].sent_at)), "status": s(status), "gsi1pk": s(f"STATUS#{status}"),
        "last_message_at": s(last_at), "gsi1sk": s(f"{last_at}#{conv}"),
        "last_inbound_at": s(iso_utc(max(f.sent_at for f in facts if f.direction == "in"))),
        "message_count": n(count), "inbound_count": n(sum(f.direction == "in" for f in facts)),
        "inbound_chars": n(sum(len(m["text"]["S"]) for m in messages if m["direction"]["S"] == "in")),
        "sla": s(json.dumps(sla.dump(state), separators=(",", ":"))), "sla_version": n(version),
    }
    rollup = triage.Rollup()  # the triage roll-up the stream keeps on the conversation
    for fact in facts:
        if fact.direction == "in":
            rollup = rollup.add((), "normal", 0.0, iso_utc(fact.sent_at))
    item.update({name: TypeSerializer().serialize(Decimal(str(value)) if isinstance(value, float) else value)
                 for name, value in rollup.dump().items()})
    clock = state.clock
    if clock is not None and clock.running:  # its place in the checker's index, as clocks.save puts it
        alert = sla.next_alert(clock, cfg.escalation_after, written_at)
        item["gsi2pk"] = s(f"SLA#{clock.state}")
        item["gsi2sk"] = s(f"{iso_utc(alert.at) if alert else clocks.NEVER}#{conv}")
    return item, messages


def seeded_history(messages: int) -> tuple[list[dict], list[dict]]:
    """The 5,000 other conversations and their ``messages`` messages (about 20 each)."""
    per, extra = divmod(messages, SEEDED_CONVERSATIONS)
    conversations, stored = [], []
    for c in range(SEEDED_CONVERSATIONS):
        item, items = seeded_conversation(c, per + (1 if c < extra else 0), len(stored))
        conversations.append(item)
        stored += items
    return conversations, stored


def batches(items: list[dict]) -> Iterator[list[dict]]:
    for start in range(0, len(items), BATCH):
        yield items[start:start + BATCH]


def write_batch(table: str, batch: list[dict]) -> None:
    request = {table: [{"PutRequest": {"Item": item}} for item in batch]}
    while request:
        request = aws.client("dynamodb").batch_write_item(RequestItems=request).get("UnprocessedItems") or {}


def bulk_write(table: str, items: list[dict]) -> int:
    """``batch_write_item`` 25 at a time; returns the number of requests.

    One thread: moto runs in this process and applies one request at a time
    (``local/emulator.py``), so more threads only contend for the GIL (measured:
    4 threads wrote no faster than 1).
    """
    requests = 0
    for batch in batches(items):
        write_batch(table, batch)
        requests += 1
    return requests


# ---------------------------------------------------------------- the bench


def test_sla_checker_items_read_per_tick(client, stack_env, bench_policy):
    """DynamoDB items read by one SLA tick: 10 stored messages vs 100,000, the same 10 clocks due.

    The checker reads the sparse index for due clocks only, so the history and
    the 1,000 running clocks that aren't due yet should cost nothing. Target:
    the two within 10%; each tick sends exactly 10 breach SMS; no Scan.
    """
    endpoint = stack_env["endpoint"]
    due_now = iso_utc(TICK_AT)

    # Small: the 10 due clocks alone.
    with time_machine.travel(START + timedelta(seconds=DUE), tick=False) as traveller:
        due_clocks_through_the_route(client, stack_env["table"])
        traveller.move_to(TICK_AT)
        small_index = index_count(stack_env["table"], "all", due_now), index_count(stack_env["table"], "due", due_now)
        small = one_tick(client)

    # Large: the same 10, then 99,990 more messages (5,000 conversations, 1,000 clocks running, not due).
    table = fresh_table(endpoint)
    with time_machine.travel(START + timedelta(seconds=DUE), tick=False) as traveller:
        due_clocks_through_the_route(client, table)
        real_conv = get(table, f"CONV#{conversation_id('facebook', p.PAGE_ID, 'psid-due-0', None)}", "CONV")
        real_message = get(table, f"MSG#facebook#{p.PAGE_ID}#m_due_0", "MSG")

        build_start = time.perf_counter()
        conversations, messages = seeded_history(STORED_MESSAGES - DUE)
        build_seconds = time.perf_counter() - build_start
        running = [c for c in conversations if "gsi2pk" in c]
        assert attribute_types(running[0]) == attribute_types(real_conv)  # shaped as Heed writes them
        inbound = next(m for m in messages if m["direction"]["S"] == "in")
        assert attribute_types(inbound) == attribute_types(real_message)
        seed_start = time.perf_counter()
        requests = bulk_write(table, conversations + messages)
        seed_seconds = time.perf_counter() - seed_start
        items = len(conversations) + len(messages)

        traveller.move_to(TICK_AT)
        large_index = index_count(table, "all", due_now), index_count(table, "due", due_now)
        large = one_tick(client)

    say(f"sla checker seed: {len(messages):,} messages + {len(conversations):,} conversations "
        f"({len(running):,} clocks running, not due) built in {build_seconds:.1f} s, written in {seed_seconds:.1f} s "
        f"({requests:,} batch_write_item x {BATCH}, {items / seed_seconds:,.0f} items/s)")
    for label, (running_clocks, due_clocks) in (("small", small_index), ("large", large_index)):
        say(f"sla checker index before the {label} tick: {running_clocks:,} running clocks, {due_clocks} due")
    for label, tick in ((f"{DUE} messages", small), (f"{STORED_MESSAGES:,} messages", large)):
        say(f"sla checker items read per tick, {label}: {tick.items_read} (requests: {tick.requests}; "
            f"items by operation: {tick.read_by_operation}; ScannedCount: {tick.scanned})")
        say(f"sla checker tick, {label}: {tick.seconds * 1000:.0f} ms wall, {len(tick.sms)} SMS sent "
            f"(target {DUE}), checker report {({k: v for k, v in tick.report.items() if k not in ('level', 'event')})}")
    ratio = large.items_read / small.items_read
    say(f"sla checker ratio large/small: {ratio:.2f} (target within {TARGET_ITEMS_READ_SPREAD:.0%})")

    assert small_index == (DUE, DUE)
    assert large_index == (RUNNING_NOT_DUE + DUE, DUE)
    for tick in (small, large):
        assert len(tick.sms) == DUE
        assert all(phone == ON_CALL and text.startswith("Heed SLA BREACH") for phone, text in tick.sms)
        assert tick.requests.get("Scan", 0) == 0
        assert tick.report.get("due") == DUE and tick.report.get("sent") == DUE
    assert small.items_read >= DUE
    assert abs(ratio - 1) <= TARGET_ITEMS_READ_SPREAD
