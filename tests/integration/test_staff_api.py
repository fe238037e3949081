"""The staff read API: auth, listing order, pagination, detail, errors."""
from __future__ import annotations

import json
import re

import pytest

from tests import payloads as p
from tests.integration.test_webhooks import post
from tests.signing import body, meta_headers, staff_headers

ISO_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def get(client, path: str, headers: dict | None = None) -> tuple[int, dict]:
    response = client.http.get(path, headers=staff_headers() if headers is None else headers)
    return response.status_code, json.loads(response.body)


def seed(client, customers: int) -> None:
    """One DM conversation per customer; customer i's last activity is i minutes after NOW."""
    events = [p.messenger_event(f"psid-{i}", f"m_{i}", f"hello {i}", ts_ms=p.NOW_MS + i * 60_000)
              for i in range(customers)]
    raw = body(p.meta("page", p.messenger_entry(*events)))
    assert post(client, "/webhooks/meta", raw, meta_headers(raw)) == (200, {"received": customers})


@pytest.mark.parametrize("path", ["/conversations", "/conversations/cabcdefghijklmnopqrstuvwx"])
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic abc"},
                                     {"Authorization": "Bearer"}, {"Authorization": "local-staff-token"}])
def test_staff_routes_need_the_bearer_token(client, path, headers):
    status, answer = get(client, path, headers)
    assert (status, answer["error"]) == (401, "unauthorized")


def test_list_newest_activity_first_with_opaque_cursor(client):
    seed(client, 7)
    seen, cursor, pages = [], None, 0
    while True:
        status, answer = get(client, "/conversations?status=open&limit=3" + (f"&next={cursor}" if cursor else ""))
        assert status == 200
        seen += answer["conversations"]
        pages += 1
        cursor = answer["next"]
        if not cursor:
            break
    assert pages >= 3
    assert [c["customer"]["id"] for c in seen] == [f"psid-{i}" for i in range(6, -1, -1)]
    first = seen[0]
    assert set(first) == {"id", "platform", "channel", "account_id", "customer", "status", "message_count",
                          "last_message_at", "last_inbound_at", "sla", "delivery_failed", "handed_off_from",
                          "handed_off_at", "labels", "priority", "sentiment", "incident_id", "relabelled_by_staff"}
    assert first["sla"] is None  # clocks follow the table stream, which this test doesn't pump
    assert (first["labels"], first["priority"], first["incident_id"]) == ([], "normal", None)  # rolled up there too
    assert (first["status"], first["platform"], first["channel"], first["message_count"]) == (
        "open", "facebook", "dm", 1)
    assert ISO_Z.fullmatch(first["last_message_at"]) and ISO_Z.fullmatch(first["last_inbound_at"])


def test_default_status_is_open_and_resolved_is_empty_for_now(client):
    seed(client, 2)
    assert len(get(client, "/conversations")[1]["conversations"]) == 2
    assert get(client, "/conversations?status=resolved")[1] == {"conversations": [], "next": None}


@pytest.mark.parametrize("query, mentions", [
    ("status=closed", "status"), ("limit=0", "limit"), ("limit=101", "limit"), ("limit=ten", "limit"),
    ("next=not-a-cursor", "cursor"), ("next=eyJwayI6IngifQ", "cursor"),
])
def test_bad_query_is_400(client, query, mentions):
    status, answer = get(client, f"/conversations?{query}")
    assert status == 400 and mentions in answer["message"]


def test_cursor_from_another_status_is_refused(client):
    seed(client, 3)
    cursor = get(client, "/conversations?limit=1")[1]["next"]
    status, _ = get(client, f"/conversations?status=resolved&next={cursor}")
    assert status == 400


def test_detail_has_messages_oldest_first(client):
    events = [p.messenger_event("psid-1", "m_b", "second", ts_ms=p.NOW_MS + 1000),
              p.messenger_event("psid-1", "m_a", "first"),
              p.messenger_event("psid-1", "m_c", "reply", ts_ms=p.NOW_MS + 2000, echo=True)]
    raw = body(p.meta("page", p.messenger_entry(*events)))
    post(client, "/webhooks/meta", raw, meta_headers(raw))
    [conv] = get(client, "/conversations")[1]["conversations"]
    status, detail = get(client, f"/conversations/{conv['id']}")
    assert status == 200
    assert {k: v for k, v in detail.items() if k != "messages"} == conv
    triaged = {"labels": [], "priority": "normal", "sentiment": 0.0}  # customer messages; the brand's have none
    where = {"channel": "dm", "from": None}  # "from": an email's sender only
    assert detail["messages"] == [
        {"id": "m_a", "direction": "in", "text": "first", "sent_at": "2025-11-22T08:26:40.000Z", **triaged, **where},
        {"id": "m_b", "direction": "in", "text": "second", "sent_at": "2025-11-22T08:26:41.000Z", **triaged,
         **where},
        {"id": "m_c", "direction": "out", "text": "reply", "sent_at": "2025-11-22T08:26:42.000Z",
         "labels": [], "priority": None, "sentiment": None, **where},
    ]


@pytest.mark.parametrize("conversation_id", ["cabcdefghijklmnopqrstuvwx", "nope", "c" + "a" * 300])
def test_unknown_conversation_is_404_json(client, conversation_id):
    status, answer = get(client, f"/conversations/{conversation_id}")
    assert (status, answer["error"]) == (404, "not_found")
