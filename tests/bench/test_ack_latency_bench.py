"""Acknowledgement latency: from a webhook's arrival to the acknowledgement the platform receives.

``make bench`` runs this file. 200 conversations (one customer message each,
rotating Telegram, Messenger, WhatsApp and X DMs, built and signed by the
platform simulator's own webhook sender) are POSTed through the webhook routes
with chalice's test client, one every ``PACE_SECONDS``. Meanwhile a background
thread plays the local pump continuously: ``TableStream.drain()`` (the
table-stream handler: SLA clock opened, acknowledgement queued) then
``OutboundQueue.drain()`` (``deliver_outbound``: platform client -> the local
platform simulator), then ``PUMP_SLEEP_SECONDS`` of sleep. (``make run``'s pump
turns once a second; Lambda polls a stream about four times a second and an
SQS queue by long polling, so a short sleep is the fairer stand-in.)

Measured per conversation, in wall-clock time (no frozen clock here):

* t0: just before the webhook POST (signing is done before);
* answered: when the route has answered;
* clock saved: when the stream handler's conditional write of the
  conversation's newly opened SLA clock succeeded (``functions.clocks.save``,
  wrapped by this file);
* acknowledged: the ``at`` the simulator recorded for the acknowledgement to
  that customer (millisecond resolution).

One conversation every 200 ms (5/s) is about two thirds of what this
single-process pipeline sustains with acknowledgements (about 7.5/s measured
on a 2-core machine); any faster and the outbound work piles up, so the figure
becomes backlog rather than latency.

Two measured runs, each on a fresh table and queue, after a short warm-up.
First the baseline, the same path with the only rule saying ``when =
"never"``: the acknowledgement decision still runs, nothing is queued or sent,
and the last thing that happens for the conversation is its clock being saved,
so the baseline measures webhook -> clock saved. Then the policy acknowledges
everything (``when = "always"``): webhook -> acknowledgement at the simulator.
The difference is what acknowledging adds. No latency target is given, so only correctness is
asserted: exactly one acknowledgement per conversation (none in the baseline).
Everything shares one process and its GIL (moto, the simulator, the route,
the pump), so the absolute figures are this machine's, not Lambda's.
"""
from __future__ import annotations

import json
import os
import re
import statistics
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from functions import clocks, config
from local import infra
from local.pump import OutboundQueue, TableStream
from local.simulator import Credentials, Simulator, webhook
from tests.bench.test_ingest_bench import TEXTS, quiet, say

CONVERSATIONS = 200
KINDS = ("telegram", "messenger", "whatsapp", "x-dm")  # the simulator's customer DM kinds, one platform each
WARM_UP = 8
PACE_SECONDS = 0.2  # one new conversation every 200 ms (5/s): see the module docstring on why not faster
PUMP_SLEEP_SECONDS = 0.02
SETTLE_TIMEOUT_SECONDS = 60.0

POLICY = """
[[sla.policies]]
name = "always"
first_response = "1h"
next_response = "1h"
calendar = "always"

[acknowledge]
language = "en"

[[acknowledge.rules]]
name = "everything"
when = "{when}"
"""

X_DM_PATH = re.compile(r"^/2/dm_conversations/with/(?P<participant>[^/]+)/messages$")


# ---------------------------------------------------------------- conversations


@dataclass(frozen=True)
class Conversation:
    """One signed single-message webhook delivery and the customer it comes from."""

    kind: str
    customer: str  # the platform's id of the customer: where the acknowledgement goes
    path: str
    headers: dict[str, str]
    raw: bytes


def customer_of(kind: str, raw: bytes) -> str:
    """The customer id in a simulator-built webhook (chat id, PSID, wa_id, X user id)."""
    payload = json.loads(raw)
    if kind == "telegram":
        return str(payload["message"]["chat"]["id"])
    if kind == "messenger":
        return payload["entry"][0]["messaging"][0]["sender"]["id"]
    if kind == "whatsapp":
        return payload["entry"][0]["changes"][0]["value"]["messages"][0]["from"]
    return payload["direct_message_events"][0]["message_create"]["sender_id"]


def conversation(tag: str, n: int) -> Conversation:
    """Customer ``n`` of run ``tag``: a new customer (so a new conversation), the message sent just now."""
    kind = KINDS[n % len(KINDS)]
    path, headers, raw = webhook(kind, TEXTS[n % len(TEXTS)].format(n=100_000 + n), f"{tag} customer {n}")
    return Conversation(kind, customer_of(kind, raw), path, headers, raw)


def recipient_of(call: dict[str, Any]) -> str | None:
    """Who a platform call recorded by the simulator was sent to."""
    body = call.get("body") if isinstance(call.get("body"), dict) else {}
    if call["endpoint"] == "sendMessage":
        return str(body.get("chat_id"))
    if call["endpoint"] == "graph_messages":
        return str((body.get("recipient") or {}).get("id"))
    if call["endpoint"] == "wa_messages":
        return str(body.get("to", "")).lstrip("+")
    if match := X_DM_PATH.match(call["path"]):
        return match["participant"]
    return None


def recorded_at(call: dict[str, Any]) -> float:
    """The simulator's ``at`` (ISO, milliseconds, UTC) as a Unix time."""
    return datetime.fromisoformat(call["at"].replace("Z", "+00:00")).timestamp()


# ---------------------------------------------------------------- the pipeline


class ClockSaves:
    """Wall time of each conversation's first successful write of a newly opened clock, by customer id."""

    def __init__(self) -> None:
        self.at: dict[str, float] = {}
        self._lock = threading.Lock()

    def wrap(self, save: Callable[..., bool]) -> Callable[..., bool]:
        def timed_save(record: Any, state: Any, events: list, *args: Any, **kwargs: Any) -> bool:
            saved = save(record, state, events, *args, **kwargs)
            if saved and any(event.kind == "opened" for event in events):
                now = time.time()
                with self._lock:
                    self.at.setdefault(record.customer_id, now)
            return saved

        return timed_save


class ContinuousPump(threading.Thread):
    """The local pump's two delivery jobs, back to back, every ``PUMP_SLEEP_SECONDS`` until stopped."""

    def __init__(self, table: str, queue_url: str) -> None:
        super().__init__(name="bench-pump", daemon=True)
        self.stream, self.queue = TableStream(table), OutboundQueue(queue_url)
        self.errors: list[BaseException] = []
        self._stopped = threading.Event()

    def run(self) -> None:
        while not self._stopped.is_set():
            try:
                self.stream.drain()
                self.queue.drain()
            except Exception as exc:  # noqa: BLE001 - reported by the test; the next turn retries, as the pump does
                self.errors.append(exc)
            self._stopped.wait(PUMP_SLEEP_SECONDS)

    def stop(self) -> None:
        self._stopped.set()
        self.join(timeout=30)


def fresh_stack(endpoint: str) -> tuple[str, str]:
    """Reset moto and deploy the template again (as ``stack_env`` does): an empty table and queue."""
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")).close()
    outputs = infra.deploy(endpoint)
    os.environ["HEED_TABLE"] = outputs["HeedTableName"]
    os.environ["HEED_OUTBOUND_QUEUE_URL"] = outputs["OutboundQueueUrl"]
    return outputs["HeedTableName"], outputs["OutboundQueueUrl"]


@dataclass
class Run:
    """Per-conversation wall times of one run, by customer id."""

    sent: dict[str, float] = field(default_factory=dict)
    answered: dict[str, float] = field(default_factory=dict)
    saved: dict[str, float] = field(default_factory=dict)
    acked: dict[str, list[float]] = field(default_factory=dict)
    calls: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    def ms(self, end: dict[str, float]) -> list[float]:
        return [(end[c] - self.sent[c]) * 1000 for c in self.sent]


def run_conversations(client: Any, endpoint: str, sim: Simulator, policy: Path, saves: ClockSaves,
                      when: str, tag: str, count: int) -> Run:
    """Post ``count`` new conversations at ``PACE_SECONDS`` with the pump going; wait until every one settled."""
    policy.write_text(POLICY.format(when=when) + ('reply = "private"\n' if when != "never" else ""))
    config.reset()
    table, queue_url = fresh_stack(endpoint)
    sim.reset()
    saves.at.clear()
    run = Run()
    pump = ContinuousPump(table, queue_url)
    started = time.time()
    with quiet():
        pump.start()
        try:
            for n in range(count):
                conv = conversation(tag, n)
                t0 = time.time()
                response = client.http.post(conv.path, body=conv.raw, headers=conv.headers)
                run.answered[conv.customer] = time.time()
                run.sent[conv.customer] = t0
                assert response.status_code == 200, response.body
                assert json.loads(response.body) == {"received": 1}
                time.sleep(max(0.0, t0 + PACE_SECONDS - time.time()))
            deadline = time.time() + SETTLE_TIMEOUT_SECONDS
            while time.time() < deadline and not pump.errors:
                acks = {recipient_of(c) for c in sim.sent()}
                if len(saves.at) >= count and (when == "never" or run.sent.keys() <= acks):
                    break
                time.sleep(0.05)
            time.sleep(0.5 if when == "never" else 0.1)  # anything sent late (there should be nothing) shows up
        finally:
            pump.stop()
    run.seconds = time.time() - started
    assert not pump.errors, f"the pump failed: {pump.errors[:3]!r}"
    run.saved = dict(saves.at)
    run.calls = sim.sent()
    for call in run.calls:
        run.acked.setdefault(recipient_of(call) or "?", []).append(recorded_at(call))
    return run


def check_acknowledged(run: Run) -> None:
    """Every conversation got exactly one accepted acknowledgement, and nobody else got anything."""
    assert len(run.sent) == CONVERSATIONS, "customer ids collided"
    assert all(not c.get("failure") and c["status"] in (200, 201) for c in run.calls), run.calls[:3]
    assert {c: len(at) for c, at in run.acked.items() if len(at) != 1} == {}
    assert run.acked.keys() == run.sent.keys()
    assert run.saved.keys() == run.sent.keys()


def figures(values: list[float]) -> str:
    return f"p50 {p50(values):.0f} ms, p99 {p99(values):.0f} ms, max {max(values):.0f} ms"


def p50(values: list[float]) -> float:
    return statistics.median(values)


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[98]


# ---------------------------------------------------------------- the bench


def test_webhook_to_acknowledgement_against_ack_disabled(client, stack_env, tmp_path, monkeypatch):
    """p50/p99 of webhook -> acknowledgement at the simulator, beside webhook -> clock saved with acks off."""
    policy = tmp_path / "heed.toml"
    monkeypatch.setenv("HEED_CONFIG", str(policy))
    saves = ClockSaves()
    monkeypatch.setattr(clocks, "save", saves.wrap(clocks.save))
    endpoint = stack_env["endpoint"]
    with Simulator(0, env=dict(os.environ)) as sim:
        for name, url in sim.env().items():
            monkeypatch.setenv(name, url)
        sim.credentials = Credentials(dict(os.environ))
        try:
            # Warm-up: first imports (requests, templates), connections, moto's first stream reads.
            warm = run_conversations(client, endpoint, sim, policy, saves, "always", "warm", WARM_UP)
            assert len(warm.calls) == WARM_UP
            off = run_conversations(client, endpoint, sim, policy, saves, "never", "off", CONVERSATIONS)
            on = run_conversations(client, endpoint, sim, policy, saves, "always", "on", CONVERSATIONS)
        finally:
            config.reset()

    assert len(off.sent) == CONVERSATIONS, "customer ids collided"
    assert off.calls == [], "acknowledgements disabled, yet the simulator was called"
    assert off.saved.keys() == off.sent.keys()
    check_acknowledged(on)

    acked = on.ms({c: at[0] for c, at in on.acked.items()})
    saved_off, saved_on = off.ms(off.saved), on.ms(on.saved)
    added = [(on.acked[c][0] - on.saved[c]) * 1000 for c in on.sent]
    ratio = p50(acked) / p50(saved_off)
    say(f"webhook -> acknowledgement at the simulator, {CONVERSATIONS} conversations "
        f"({', '.join(KINDS)}; one every {PACE_SECONDS * 1000:.0f} ms, pump sleeping {PUMP_SLEEP_SECONDS * 1000:.0f} "
        f"ms between turns): {figures(acked)} (ack disabled, webhook -> clock saved: {figures(saved_off)}; "
        f"p50 ratio {ratio:.2f})")
    say(f"  webhook answered: {figures(on.ms(on.answered))} (ack disabled: {figures(off.ms(off.answered))})")
    say(f"  with acks, webhook -> clock saved: {figures(saved_on)}; clock saved -> acknowledgement at the "
        f"simulator: {figures(added)}")
    say(f"  run wall time: {on.seconds:.1f} s with acks, {off.seconds:.1f} s without")
