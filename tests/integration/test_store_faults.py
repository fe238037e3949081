"""Storage failures, retries, reordering and concurrency: every message stored exactly once."""
from __future__ import annotations

import json
import random
import threading

from functions.adapters import meta
from functions.ingest import ingest
from functions.store.dynamo import StorageUnavailable
from tests import payloads as p
from tests.faults import answer_lost, failing
from tests.integration.test_webhooks import conversations, messages_in, post, table_items
from tests.signing import body, meta_headers


def test_storage_failure_is_5xx_and_retry_stores_once(client, stack_env):
    raw = body(p.meta("page", p.messenger_entry(p.messenger_event("psid-1", "m_1", "hi"),
                                                p.messenger_event("psid-2", "m_2", "yo"))))
    with failing("TransactWriteItems", lambda n: True) as failed:
        code, answer = post(client, "/webhooks/meta", raw, meta_headers(raw))
    assert (code, answer["error"]) == (503, "unavailable") and failed
    assert table_items(stack_env["table"]) == []
    assert post(client, "/webhooks/meta", raw, meta_headers(raw)) == (200, {"received": 2})
    assert post(client, "/webhooks/meta", raw, meta_headers(raw)) == (200, {"received": 0})


def test_a_write_whose_answer_was_lost_is_counted_once_not_as_a_duplicate(client, stack_env):
    # DynamoDB applied it but the answer never came (a read timeout); botocore's retry repeats the same
    # request and client token, which DynamoDB answers with success and no second write.
    raw = body(p.meta("page", p.messenger_entry(p.messenger_event("psid-1", "m_1", "hi"))))
    with answer_lost("TransactWriteItems", lambda n: n == 1) as lost:
        answer = post(client, "/webhooks/meta", raw, meta_headers(raw))
    assert lost == [1]
    assert answer == (200, {"received": 1})
    assert len(messages_in(stack_env["table"])) == 1
    assert post(client, "/webhooks/meta", raw, meta_headers(raw)) == (200, {"received": 0})


def test_throttled_second_chunk_then_retry_completes_without_duplicates(client, stack_env):
    events = [p.messenger_event(f"psid-{i % 3}", f"m_{i}", f"text {i}", ts_ms=p.NOW_MS + i) for i in range(150)]
    raw = body(p.meta("page", p.messenger_entry(*events)))
    with failing("TransactWriteItems", lambda n: n == 2, status=400):
        code, _ = post(client, "/webhooks/meta", raw, meta_headers(raw))
    assert code == 503
    stored_first = len(messages_in(stack_env["table"]))
    assert 0 < stored_first < 150
    assert post(client, "/webhooks/meta", raw, meta_headers(raw)) == (200, {"received": 150 - stored_first})
    assert len(messages_in(stack_env["table"])) == 150
    assert sorted(c["message_count"] for c in conversations(client)) == [50, 50, 50]


def test_out_of_order_never_moves_activity_backwards(client, stack_env):
    newer_reply = body(p.meta("page", p.messenger_entry(
        p.messenger_event("psid-1", "m_reply", "on it", ts_ms=p.NOW_MS + 120_000, echo=True))))
    older_question = body(p.meta("page", p.messenger_entry(
        p.messenger_event("psid-1", "m_question", "help", ts_ms=p.NOW_MS))))
    for raw in (newer_reply, older_question):
        assert post(client, "/webhooks/meta", raw, meta_headers(raw)) == (200, {"received": 1})
    [conv] = conversations(client)
    assert conv["last_message_at"] == "2025-11-22T08:28:40.000Z"
    assert conv["last_inbound_at"] == "2025-11-22T08:26:40.000Z"
    assert conv["message_count"] == 2
    detail = json.loads(client.http.get(f"/conversations/{conv['id']}",
                                        headers={"Authorization": "Bearer local-staff-token"}).body)
    assert [m["id"] for m in detail["messages"]] == ["m_question", "m_reply"]


def _with_platform_retries(deliver, attempts: int = 5) -> int:
    """What a platform does with a 5xx: send the same delivery again."""
    for _ in range(attempts - 1):
        try:
            return deliver()
        except StorageUnavailable:
            continue
    return deliver()


def test_concurrent_shuffled_duplicates_store_each_message_once(stack_env):
    deliveries = []
    for i in range(40):
        events = [p.messenger_event(f"psid-{(i + k) % 5}", f"m_{i}_{k}", "hi", ts_ms=p.NOW_MS + i * 10 + k)
                  for k in range(3)]
        deliveries.append(body(p.meta("page", p.messenger_entry(*events))))
    work = deliveries * 3  # every delivery three times
    random.Random(7).shuffle(work)
    results: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def sender(share: list[bytes]) -> None:
        try:
            for raw in share:
                stored = _with_platform_retries(lambda raw=raw: ingest("meta", meta.parse(raw), raw))
                with lock:
                    results.append(stored)
        except BaseException as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=sender, args=(work[n::8],)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sum(results) == 120  # each of the 120 distinct messages counted new exactly once
    ids = [m["id"]["S"] for m in messages_in(stack_env["table"])]
    assert len(ids) == len(set(ids)) == 120
    convs = [i for i in table_items(stack_env["table"]) if i["type"]["S"] == "conversation"]
    assert sum(int(c["message_count"]["N"]) for c in convs) == 120
