"""Ingest benchmarks: DynamoDB requests per message, route time against bare writes, cold start.

``make bench`` runs this file. Each figure is printed as one ``bench: ...`` line
with its target, and asserted, so a missed target fails the run. Everything runs
against the in-process moto server of ``tests/conftest.py`` (``stack_env``).
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import statistics
import subprocess
import sys
import textwrap
import time
import urllib.request
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from functions import aws
from tests import payloads as p
from tests.signing import body, meta_headers, telegram_headers, x_headers

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable  # the venv's interpreter when run through `make bench`

TARGET_REQUESTS_PER_NEW = 2.0
TARGET_REQUESTS_PER_DUPLICATE = 1.0
TARGET_ROUTE_OVER_BARE = 1.5
TARGET_COLD_START_RATIO = 1.25

TEXTS = [
    "Hi, my order #{n} still hasn't arrived. Can you check?",
    "The app logs me out every time I open it \U0001F620",
    "Thanks, that worked!",
    "Hallo, mijn pakket is beschadigd aangekomen. Wat nu?",
    "Can I change the delivery address for order {n}? I moved last week and forgot to update it.",
    "Привет, заказ не пришёл",
    "Is the store on Main St open on Sundays?",
    "I was charged twice for the same subscription this month, please refund one of the charges.",
]


def say(figure: str) -> None:
    """Print one figure on its own line (``-s`` keeps it visible)."""
    print(f"bench: {figure}", flush=True)


# ---------------------------------------------------------------- deliveries


@dataclass(frozen=True)
class Delivery:
    """One signed webhook request and how many messages it carries."""

    path: str
    raw: bytes
    headers: dict[str, str]
    messages: int


def _number(*parts: object, digits: int) -> int:
    """A stable pseudo-random number for ``parts`` (``hash()`` changes between runs)."""
    return zlib.crc32(repr(parts).encode()) % 10**digits


def _text(n: int) -> str:
    return TEXTS[n % len(TEXTS)].format(n=100_000 + n)


def messenger_delivery(tag: str, indices: range, customers: int = 40) -> Delivery:
    """Messenger DMs; every fifth is the Page's own reply (an echo), as real inboxes have."""
    events = [p.messenger_event(f"psid-{tag}-{i % customers}", f"m_{tag}_{i}", _text(i),
                                ts_ms=p.NOW_MS + i * 1000, echo=i % 5 == 4) for i in indices]
    raw = body(p.meta("page", p.messenger_entry(*events)))
    return Delivery("/webhooks/meta", raw, meta_headers(raw), len(events))


def whatsapp_delivery(tag: str, indices: range, customers: int = 40) -> Delivery:
    """WhatsApp Cloud API text messages with their contacts."""
    wa_ids = {i: f"3161{_number(tag, i % customers, digits=7):07d}" for i in indices}
    messages = [p.whatsapp_message(f"wamid.{tag}.{i}", wa_ids[i], _text(i), ts=p.NOW_MS // 1000 + i)
                for i in indices]
    contacts = [{"profile": {"name": f"Customer {w[-3:]}"}, "wa_id": w} for w in sorted(set(wa_ids.values()))]
    raw = body(p.meta("whatsapp_business_account", p.whatsapp_entry(messages, contacts)))
    return Delivery("/webhooks/meta", raw, meta_headers(raw), len(messages))


def x_delivery(tag: str, indices: range, customers: int = 40) -> Delivery:
    """X DMs with the users map; every fifth is the brand's reply."""
    events, users = [], {}
    for i in indices:
        customer = f"{4419_0000 + _number(tag, i % customers, digits=4)}"
        users[customer] = {"id": customer, "name": f"User {customer[-4:]}", "screen_name": f"u{customer}"}
        sender, recipient = (p.X_BRAND, customer) if i % 5 == 4 else (customer, p.X_BRAND)
        events.append(p.x_dm(f"15828{_number(tag, digits=6):06d}{i:08d}", sender, recipient, _text(i),
                             ts_ms=p.NOW_MS + i * 1000))
    raw = body(p.x_dms(*events, users=users))
    return Delivery("/webhooks/x", raw, x_headers(raw), len(events))


def telegram_delivery(tag: str, i: int, customers: int = 40) -> Delivery:
    """One Telegram update (Telegram never batches: one update per webhook request)."""
    chat_id = 100_000_000 + _number(tag, i % customers, digits=8)
    update_id = _number(tag, digits=4) * 10**5 + i
    raw = body(p.telegram_update(update_id, chat_id, i, _text(i), date=p.NOW_MS // 1000 + i))
    return Delivery("/webhooks/telegram", raw, telegram_headers(), 1)


def single_message_mix(n: int, tag: str) -> list[Delivery]:
    """``n`` one-message deliveries rotating Messenger, WhatsApp, X DM and Telegram."""
    out = []
    for i in range(n):
        kind = i % 4
        if kind == 0:
            out.append(messenger_delivery(tag, range(i, i + 1)))
        elif kind == 1:
            out.append(whatsapp_delivery(tag, range(i, i + 1)))
        elif kind == 2:
            out.append(x_delivery(tag, range(i, i + 1)))
        else:
            out.append(telegram_delivery(tag, i))
    return out


def batch_mix(deliveries: int, per_delivery: int, tag: str) -> list[Delivery]:
    """Batched deliveries rotating Messenger, WhatsApp and X (the platforms that batch)."""
    builders = [messenger_delivery, whatsapp_delivery, x_delivery]
    return [builders[d % 3](tag, range(d * per_delivery, (d + 1) * per_delivery)) for d in range(deliveries)]


def post_all(client: Any, deliveries: list[Delivery], expect_new: bool) -> None:
    """POST each delivery; each must answer 200 with all (or none, for duplicates) of its messages new."""
    for d in deliveries:
        response = client.http.post(d.path, body=d.raw, headers=d.headers)
        assert response.status_code == 200, response.body
        assert json.loads(response.body) == {"received": d.messages if expect_new else 0}


# ---------------------------------------------------------------- measuring


class DynamoRequests:
    """Counts the HTTP requests the shared DynamoDB client sends, by operation.

    Hooked on ``before-send``, which botocore emits once per attempt, so
    botocore's own retries are counted too.
    """

    EVENT = "before-send.dynamodb"

    def __init__(self) -> None:
        self.by_operation: Counter[str] = Counter()

    def _count(self, event_name: str, **_: Any) -> None:
        self.by_operation[event_name.rsplit(".", 1)[-1]] += 1

    @property
    def total(self) -> int:
        return sum(self.by_operation.values())

    def __enter__(self) -> DynamoRequests:
        aws.client("dynamodb").meta.events.register(self.EVENT, self._count)
        return self

    def __exit__(self, *_: object) -> None:
        aws.client("dynamodb").meta.events.unregister(self.EVENT, self._count)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Send Heed's JSON log lines (stdout) to /dev/null so the figures stay readable."""
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        yield


def fresh_table(endpoint: str) -> str:
    """Reset moto and deploy the infra template again (as ``stack_env`` does): an empty table."""
    from local import infra

    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")).close()
    table = infra.deploy(endpoint)["HeedTableName"]
    os.environ["HEED_TABLE"] = table
    return table


def timed(run: Callable[..., object], *args: Any) -> float:
    """Wall time of ``run(*args)`` in seconds."""
    start = time.perf_counter()
    run(*args)
    return time.perf_counter() - start


def write_all(dynamodb: Any, transactions: list[list[dict]]) -> None:
    """Send each prebuilt transaction, one ``transact_write_items`` per message."""
    for actions in transactions:
        dynamodb.transact_write_items(TransactItems=actions)


# ---------------------------------------------------------------- 1. requests per message


def test_dynamodb_requests_per_message(client, stack_env):
    """DynamoDB requests (retries included) per new message and per duplicate, and Scans.

    * per new message: requests while 200 single-message deliveries are first
      ingested, divided by 200 (target <= 2);
    * per duplicate: the same 200 deliveries again, every message already
      stored (target <= 1);
    * batch: 50 deliveries of 20 messages, requests / 1,000 new messages;
    * Scans: across all of the above (target 0; Heed reads through keys and the index).
    """
    singles = single_message_mix(200, "single")
    with quiet(), DynamoRequests() as new:
        post_all(client, singles, expect_new=True)
    with quiet(), DynamoRequests() as dup:
        post_all(client, singles, expect_new=False)

    batches = batch_mix(50, 20, "batch")
    batch_messages = sum(d.messages for d in batches)
    with quiet(), DynamoRequests() as batch_new:
        post_all(client, batches, expect_new=True)
    with quiet(), DynamoRequests() as batch_dup:
        post_all(client, batches, expect_new=False)

    per_new = new.total / len(singles)
    per_dup = dup.total / len(singles)
    per_batch_new = batch_new.total / batch_messages
    per_batch_dup = batch_dup.total / batch_messages
    scans = sum(c.by_operation["Scan"] for c in (new, dup, batch_new, batch_dup))
    say(f"dynamodb requests per new message (200 single-message deliveries): {per_new:.2f} "
        f"(target <= {TARGET_REQUESTS_PER_NEW:g}) {dict(new.by_operation)}")
    say(f"dynamodb requests per duplicate (same 200 again): {per_dup:.2f} "
        f"(target <= {TARGET_REQUESTS_PER_DUPLICATE:g}) {dict(dup.by_operation)}")
    say(f"dynamodb requests per new message (50 deliveries x 20 messages): {per_batch_new:.3f} "
        f"(target <= {TARGET_REQUESTS_PER_NEW:g}) {dict(batch_new.by_operation)}")
    say(f"dynamodb requests per duplicate (same 50 x 20 again): {per_batch_dup:.3f} "
        f"(target <= {TARGET_REQUESTS_PER_DUPLICATE:g}) {dict(batch_dup.by_operation)}")
    say(f"dynamodb Scan calls: {scans} (target 0)")

    assert per_new <= TARGET_REQUESTS_PER_NEW
    assert per_dup <= TARGET_REQUESTS_PER_DUPLICATE
    assert per_batch_new <= TARGET_REQUESTS_PER_NEW
    assert per_batch_dup <= TARGET_REQUESTS_PER_DUPLICATE
    assert scans == 0


# ---------------------------------------------------------------- 2. route vs bare writes

ROUTE_MESSAGES = 1_000
ROUTE_CUSTOMERS = 100
ROUNDS = 3


def bare_transactions(table: str, count: int, customers: int) -> list[list[dict]]:
    """The minimal DynamoDB writes for ``count`` Messenger DMs, built here without Heed's code.

    Per message, one transaction: a ``Put`` of a message item (same attributes
    and similar size as Heed's, ``attribute_not_exists(pk)``) and an ``Update``
    of its conversation item (same attributes, counts and the forward-only
    ``last_message_at`` condition).
    """
    transactions = []
    for i in range(count):
        psid, mid = f"psid-route-{i % customers}", f"m_route_{i}"
        sent_at = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(p.NOW_MS // 1000 + i)) + ".000Z"
        conv = "c" + hashlib.sha256(f"facebook|{p.PAGE_ID}|{psid}".encode()).hexdigest()[:24]
        event = p.messenger_event(psid, mid, _text(i), ts_ms=p.NOW_MS + i * 1000)
        message = {
            "pk": {"S": f"MSG#facebook#{p.PAGE_ID}#{mid}"}, "sk": {"S": "MSG"}, "type": {"S": "message"},
            "id": {"S": mid}, "conversation_id": {"S": conv}, "gsi1pk": {"S": f"CONV#{conv}"},
            "gsi1sk": {"S": f"{sent_at}#{mid}"}, "platform": {"S": "facebook"}, "channel": {"S": "dm"},
            "account_id": {"S": p.PAGE_ID}, "customer_id": {"S": psid}, "direction": {"S": "in"},
            "text": {"S": _text(i)}, "attachments": {"L": []}, "sent_at": {"S": sent_at},
            "received_at": {"S": sent_at}, "delivery_id": {"S": hashlib.sha256(mid.encode()).hexdigest()},
            "raw": {"S": json.dumps(p.meta("page", p.messenger_entry(event)), separators=(",", ":"))},
        }
        update = {
            "TableName": table,
            "Key": {"pk": {"S": f"CONV#{conv}"}, "sk": {"S": "CONV"}},
            "UpdateExpression": (
                "SET #type = :type, id = :id, platform = :platform, channel = :channel, account_id = :account, "
                "customer_id = :customer, created_at = if_not_exists(created_at, :at), #status = :open, "
                "gsi1pk = :open_pk, last_message_at = :at, gsi1sk = :gsi1sk, last_inbound_at = :at "
                "ADD message_count :one, inbound_count :one"
            ),
            "ConditionExpression": "(attribute_not_exists(last_message_at) OR last_message_at <= :at) AND "
                                   "(attribute_not_exists(last_inbound_at) OR last_inbound_at <= :at)",
            "ExpressionAttributeNames": {"#type": "type", "#status": "status"},
            "ExpressionAttributeValues": {
                ":type": {"S": "conversation"}, ":id": {"S": conv}, ":platform": {"S": "facebook"},
                ":channel": {"S": "dm"}, ":account": {"S": p.PAGE_ID}, ":customer": {"S": psid},
                ":at": {"S": sent_at}, ":open": {"S": "open"}, ":open_pk": {"S": "STATUS#open"},
                ":gsi1sk": {"S": f"{sent_at}#{conv}"}, ":one": {"N": "1"},
            },
        }
        put = {"TableName": table, "Item": message, "ConditionExpression": "attribute_not_exists(pk)"}
        transactions.append([{"Put": put}, {"Update": update}])
    return transactions


def test_route_time_against_bare_writes(client, stack_env):
    """Wall time to ingest 1,000 Messenger DMs (100 customers) through the route vs bare writes.

    * route: signed single-message deliveries POSTed with chalice's test client
      (verify, parse, thread, store, log); signing happens before the clock starts;
    * bare: the same 1,000 messages as one prebuilt ``transact_write_items``
      each, sent directly with the same boto3 client;
    * both start from an empty table of the same template, alternate for
      3 rounds, and report the median. Target: route / bare <= 1.5.
    """
    endpoint = stack_env["endpoint"]
    deliveries = [messenger_delivery("route", range(i, i + 1), customers=ROUTE_CUSTOMERS)
                  for i in range(ROUTE_MESSAGES)]
    dynamodb = aws.client("dynamodb")
    route_times, bare_times = [], []
    for _ in range(ROUNDS):
        fresh_table(endpoint)
        with quiet():
            route_times.append(timed(post_all, client, deliveries, True))

        transactions = bare_transactions(fresh_table(endpoint), ROUTE_MESSAGES, ROUTE_CUSTOMERS)
        bare_times.append(timed(write_all, dynamodb, transactions))

    route, bare = statistics.median(route_times), statistics.median(bare_times)
    ratio = route / bare
    say(f"ingest {ROUTE_MESSAGES:,} messages through the route: {route:.2f} s "
        f"(median of {ROUNDS}: {', '.join(f'{t:.2f}' for t in route_times)})")
    say(f"bare DynamoDB writes for the same {ROUTE_MESSAGES:,} messages: {bare:.2f} s "
        f"(median of {ROUNDS}: {', '.join(f'{t:.2f}' for t in bare_times)})")
    say(f"route / bare: {ratio:.2f} (target <= {TARGET_ROUTE_OVER_BARE:g})")
    assert ratio <= TARGET_ROUTE_OVER_BARE


# ---------------------------------------------------------------- 3. cold start

COLD_RUNS = 7
HELLO_APP = textwrap.dedent('''\
    import boto3
    from chalice import Chalice

    app = Chalice(app_name="hello")


    @app.route("/")
    def index():
        return {"hello": "world"}
''')
PROBE = (
    "import json, sys\n"
    "import app\n"
    "from functions import aws\n"
    "print(json.dumps({'boto3': 'boto3' in sys.modules, 'botocore': 'botocore' in sys.modules,\n"
    "                  'aws_clients': aws.client.cache_info().currsize}))\n"
)


def python_run(code: str, cwd: Path, *flags: str) -> subprocess.CompletedProcess:
    """``python [flags] -c code`` in a fresh interpreter (the venv's), from ``cwd``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    return subprocess.run([PYTHON, *flags, "-c", code], cwd=cwd, env=env, check=True,
                          capture_output=True, text=True)


def importers_of(module: str, cwd: Path) -> list[str]:
    """The import chain that pulls ``module`` in with ``import app`` (from ``-X importtime``)."""
    lines = python_run("import app", cwd, "-X", "importtime").stderr.splitlines()
    entries = []  # (depth, name), children listed before their parent
    for line in lines:
        if line.startswith("import time:") and "|" in line:
            name_field = line.rsplit("|", 1)[1]
            entries.append((len(name_field) - len(name_field.lstrip()), name_field.strip()))
    chain = []
    for index, (depth, name) in enumerate(entries):
        if name == module:
            chain.append(name)
            for later_depth, later in entries[index + 1:]:
                if later_depth < depth:
                    chain.append(later)
                    depth = later_depth
            break
    return chain


def median_wall_times(commands: dict[str, Callable[[], object]], runs: int) -> dict[str, float]:
    """Median wall time of each command, runs interleaved so machine noise hits all alike."""
    for run in commands.values():
        run()  # warm-up: bytecode caches written, files in the page cache
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, run in commands.items():
            times[name].append(timed(run))
    return {name: statistics.median(values) for name, values in times.items()}


def test_cold_start_against_hello_world(tmp_path):
    """``python -c "import app"`` in a fresh interpreter, beside a hello-world Chalice app importing boto3.

    Figures are the median wall time of the whole process over 7 interleaved runs
    (interpreter start included: that is what a cold start pays), plus a bare
    ``python -c pass`` for scale. Target: Heed / hello <= 1.25. Also asserted:
    ``import app`` imports neither boto3 nor botocore and creates no AWS client.
    """
    (tmp_path / "app.py").write_text(HELLO_APP)
    probe = json.loads(python_run(PROBE, ROOT).stdout)
    medians = median_wall_times({
        "heed": lambda: python_run("import app", ROOT),
        "hello": lambda: python_run("import app", tmp_path),
        "bare": lambda: python_run("pass", tmp_path),
    }, COLD_RUNS)

    ratio = medians["heed"] / medians["hello"]
    say(f"modules after `import app`: {json.dumps(probe)} (target: no boto3, no botocore, 0 clients)")
    say(f"cold start, python -c 'import app' (Heed): {medians['heed'] * 1000:.0f} ms (median of {COLD_RUNS})")
    say(f"cold start, hello-world Chalice app + boto3: {medians['hello'] * 1000:.0f} ms (median of {COLD_RUNS})")
    say(f"cold start, bare interpreter (python -c pass): {medians['bare'] * 1000:.0f} ms (for scale)")
    say(f"cold start Heed / hello: {ratio:.2f} (target <= {TARGET_COLD_START_RATIO:g})")

    for module in ("boto3", "botocore"):
        assert not probe[module], f"`import app` imports {module} via {' <- '.join(importers_of(module, ROOT))}"
    assert probe["aws_clients"] == 0
    assert ratio <= TARGET_COLD_START_RATIO
