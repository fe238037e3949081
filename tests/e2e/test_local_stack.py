"""End to end: ``python -m local.stack`` (what ``make run`` starts), signed webhooks over real HTTP."""
from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Iterator

import pytest
import requests

from tests import payloads as p
from tests.localstack import LocalStack
from tests.policy import ack_rule, acknowledge, ladder, policy_file, sla_policy
from tests.signing import body, meta_headers, staff_headers, telegram_headers, x_headers

# Seconds, not hours, so the pump's checker pages within the test.
FAST_POLICY = policy_file(sla_policy("e2e", "3s"), ladder(("0m", ["+15555550100"])),
                          acknowledge(ack_rule("telegram", match={"platform": "telegram"}), language="en"))


@pytest.fixture(scope="module")
def stack() -> Iterator[str]:
    launched = LocalStack(FAST_POLICY, tick_seconds=1, log=os.environ.get("HEED_E2E_LOG", os.devnull)).start()
    assert "STAFF_API_TOKEN=local-staff-token" in launched.secrets_line  # make run prints the secrets in use
    yield Local(launched.api, launched.emulator, launched.sim)
    assert launched.stop() == 0  # SIGTERM stops it cleanly, children included


class Local(str):
    """The API's base URL, also knowing the emulator's."""

    def __new__(cls, api: str, emulator: str, simulator: str) -> Local:
        made = super().__new__(cls, api)
        made.emulator = emulator
        made.simulator = simulator
        return made


def test_health(stack):
    assert requests.get(f"{stack}/health", timeout=5).json() == {"status": "ok"}


def test_signed_webhooks_over_http_concurrent_duplicates(stack):
    deliveries: list[tuple[str, bytes, dict]] = []
    for i in range(30):
        raw = body(p.meta("page", p.messenger_entry(p.messenger_event(f"e2e-psid-{i % 6}", f"e2e_m_{i}", "hi",
                                                                       ts_ms=p.NOW_MS + i))))
        deliveries.append(("/webhooks/meta", raw, meta_headers(raw)))
        raw = body(p.x_dms(p.x_dm(f"9{i:05d}", f"77{i % 4}", p.X_BRAND, "hello", ts_ms=p.NOW_MS + i)))
        deliveries.append(("/webhooks/x", raw, x_headers(raw)))
        raw = body(p.telegram_update(500_000 + i, 8_000 + i % 3, i, "привет", date=p.NOW_MS // 1000 + i))
        deliveries.append(("/webhooks/telegram", raw, telegram_headers()))
    work = deliveries * 2
    random.Random(11).shuffle(work)
    statuses: list[int] = []
    received: list[int] = []
    lock = threading.Lock()

    def sender(share):
        with requests.Session() as session:
            for path, raw, headers in share:
                response = session.post(stack + path, data=raw, headers=headers, timeout=30)
                with lock:
                    statuses.append(response.status_code)
                    received.append(response.json().get("received", 0))

    threads = [threading.Thread(target=sender, args=(work[n::8],)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200] * len(work)
    assert sum(received) == 90  # every distinct message counted new once, duplicates never

    listed, cursor = [], None
    while True:
        params = {"limit": 100, **({"next": cursor} if cursor else {})}
        page = requests.get(f"{stack}/conversations", params=params, headers=staff_headers(), timeout=10).json()
        listed += page["conversations"]
        cursor = page["next"]
        if not cursor:
            break
    mine = [c for c in listed if c["customer"]["id"].startswith(("e2e-psid-", "77", "800"))]
    assert {c["platform"] for c in mine} == {"facebook", "x", "telegram"}
    assert sum(c["message_count"] for c in mine) == 90


def test_unsigned_is_refused_over_http(stack):
    raw = body(p.meta("page", p.messenger_entry(p.messenger_event("x", "e2e_unsigned", "hi"))))
    response = requests.post(f"{stack}/webhooks/meta", data=raw, headers={"Content-Type": "application/json"},
                             timeout=10)
    assert response.status_code == 401 and response.json()["error"] == "unauthorized"


def test_the_pump_runs_the_stream_and_the_checker_sms_and_ack_link_work(stack):
    raw = body(p.telegram_update(777_001, 424242, 1, "hello?", date=int(time.time()), first_name="Eve"))
    assert requests.post(f"{stack}/webhooks/telegram", data=raw, headers=telegram_headers(), timeout=10).json() == {
        "received": 1}
    deadline = time.monotonic() + 30
    texts: list[str] = []
    while time.monotonic() < deadline and not texts:
        sms = requests.get(f"{stack.emulator}/moto-api/data.json", timeout=10).json()["sns"]["SMS"]
        texts = [m["message"] for m in sms if "from Eve" in m["message"]]
        time.sleep(0.5)
    assert texts, "no breach SMS from the local pump within 30 s"
    [text] = texts
    assert text.startswith("Heed SLA BREACH: Telegram DM from Eve") and len(text) <= 160
    acks = [c for c in requests.get(f"{stack.simulator}/_sim/sent", timeout=10).json()["sent"]
            if "sendMessage" in c["path"] and str(c["body"]["chat_id"]) == "424242"]
    assert len(acks) == 1 and "Eve" in acks[0]["body"]["text"]  # acknowledged once, through the pump's queue
    link = text.rsplit(" ", 1)[-1]
    assert link.startswith(f"{stack}/ack/")
    page = requests.get(link, timeout=10)
    assert page.status_code == 200 and "Acknowledged" in page.text
