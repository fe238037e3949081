"""The webhook routes, driven through Chalice's test client against moto."""
from __future__ import annotations

import json

import boto3
import pytest

from tests import payloads as p
from tests.signing import body, meta_headers, staff_headers, telegram_headers, x_headers


def table_items(table: str) -> list[dict]:
    items, kwargs = [], {"TableName": table}
    client = boto3.client("dynamodb")
    while True:
        page = client.scan(**kwargs)  # tests only: Heed itself never scans
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def messages_in(table: str) -> list[dict]:
    return [i for i in table_items(table) if i["type"]["S"] == "message"]


def post(client, path: str, raw: bytes, headers: dict) -> tuple[int, dict]:
    response = client.http.post(path, body=raw, headers=headers)
    return response.status_code, json.loads(response.body)


def conversations(client) -> list[dict]:
    response = client.http.get("/conversations?status=open&limit=100", headers=staff_headers())
    assert response.status_code == 200
    return json.loads(response.body)["conversations"]


def test_health_needs_no_auth(client):
    response = client.http.get("/health")
    assert (response.status_code, json.loads(response.body)) == (200, {"status": "ok"})


class TestMeta:
    def test_handshake_echoes_challenge(self, client):
        ok = client.http.get("/webhooks/meta?hub.mode=subscribe&hub.verify_token=local-meta-verify-token"
                             "&hub.challenge=1158201444")
        assert (ok.status_code, ok.body) == (200, b"1158201444")
        wrong = client.http.get("/webhooks/meta?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=1")
        assert wrong.status_code == 403 and json.loads(wrong.body)["error"] == "forbidden"
        bare = client.http.get("/webhooks/meta")
        assert bare.status_code in (400, 401, 403) and "error" in json.loads(bare.body)

    def test_mixed_batch_dms_comments_echo(self, client, stack_env):
        raw = body(p.meta(
            "page",
            p.messenger_entry(
                p.messenger_event("psid-1", "m_1", "Where is my order? \u00e4 \U0001F620"),
                p.messenger_event("psid-1", "m_echo", "Looking into it", ts_ms=p.NOW_MS + 60_000, echo=True),
                p.messenger_event("psid-2", "m_2", "hello", ts_ms=p.NOW_MS + 1000),
            ),
            p.page_comment_entry(
                p.page_comment("post_1_c1", "post_1", "user-9", "Sam Customer", "Still broken"),
                p.page_comment("post_1_c2", "post_1", p.PAGE_ID, "Brand", "Sorry Sam, DM us",
                               created=p.NOW_MS // 1000 + 30, parent_id="post_1_c1"),
            ),
        ))
        status, answer = post(client, "/webhooks/meta", raw, meta_headers(raw))
        assert (status, answer) == (200, {"received": 5})

        convs = {(c["channel"], c["customer"]["id"]): c for c in conversations(client)}
        assert set(convs) == {("dm", "psid-1"), ("dm", "psid-2"), ("comment", "user-9")}
        dm = convs[("dm", "psid-1")]
        assert dm["message_count"] == 2
        assert dm["last_message_at"] == "2025-11-22T08:27:40.000Z"  # the echo, a brand reply
        assert dm["last_inbound_at"] == "2025-11-22T08:26:40.000Z"
        comment = convs[("comment", "user-9")]
        assert comment["customer"]["name"] == "Sam Customer" and comment["message_count"] == 2

        detail = json.loads(client.http.get(f"/conversations/{dm['id']}", headers=staff_headers()).body)
        assert [(m["id"], m["direction"]) for m in detail["messages"]] == [("m_1", "in"), ("m_echo", "out")]
        assert detail["messages"][0]["text"] == "Where is my order? \u00e4 \U0001F620"

    def test_raw_body_with_escapes_is_verified_and_stored(self, client, stack_env):
        # Non-canonical JSON: escaped slash and unicode, odd spacing. Signed as sent.
        raw = (b'{"object":"page", "entry":[{"id":"104612345678901","time":1763800000000,"messaging":[{"sender":'
               b'{"id":"psid-7"},"recipient":{"id":"104612345678901"},"timestamp":1763800000000,"message":'
               b'{"mid":"m_esc","text":"see http:\\/\\/x.example\\/a \\u00e4"}}]}]}')
        status, answer = post(client, "/webhooks/meta", raw, meta_headers(raw))
        assert (status, answer) == (200, {"received": 1})
        stored = messages_in(stack_env["table"])[0]
        assert stored["text"]["S"] == "see http://x.example/a \u00e4"
        deliveries = [i for i in table_items(stack_env["table"]) if i["type"]["S"] == "delivery"]
        import zlib
        assert zlib.decompress(deliveries[0]["body_zlib"]["B"]) == raw  # byte-exact raw delivery kept

    def test_instagram_dm_and_both_comment_shapes(self, client, stack_env):
        comment = {"id": "17865799348089039", "text": "Love it but it broke",
                   "from": {"id": "ig-user-1", "username": "ana.k"}, "media": {"id": "ig-media-1"}}
        raw = body(p.meta(
            "instagram",
            {"id": p.IG_ID, "time": p.NOW_MS, "messaging": [
                {"sender": {"id": "igsid-1"}, "recipient": {"id": p.IG_ID}, "timestamp": p.NOW_MS,
                 "message": {"mid": "ig_m_1", "text": "hi"}}]},
            {"id": p.IG_ID, "time": p.NOW_MS // 1000, "changes": [{"field": "comments", "value": comment}]},
            {"id": p.IG_ID, "time": p.NOW_MS // 1000, "field": "comments",
             "value": {**comment, "id": "17865799348089040", "text": "hello?"}},
        ))
        status, answer = post(client, "/webhooks/meta", raw, meta_headers(raw))
        assert (status, answer) == (200, {"received": 3})
        by_channel = {c["channel"]: c for c in conversations(client)}
        assert by_channel["comment"]["message_count"] == 2
        assert by_channel["comment"]["customer"] == {"id": "ig-user-1", "name": "ana.k"}
        assert by_channel["dm"]["platform"] == "instagram"

    def test_whatsapp_messages_stored_statuses_ignored(self, client, stack_env):
        raw = body(p.meta("whatsapp_business_account", p.whatsapp_entry(
            [p.whatsapp_message("wamid.A1", "31612345678", "Hallo, mijn pakket?")],
            [{"profile": {"name": "Joost"}, "wa_id": "31612345678"}],
            statuses=[{"id": "wamid.OUT", "status": "delivered", "timestamp": "1763800000",
                       "recipient_id": "31612345678"}],
        )))
        status, answer = post(client, "/webhooks/meta", raw, meta_headers(raw))
        assert (status, answer) == (200, {"received": 1})
        only = p.meta("whatsapp_business_account", {"id": "1", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp", "metadata": {"phone_number_id": p.WA_PHONE_ID},
            "statuses": [{"id": "wamid.OUT", "status": "read", "timestamp": "1763800001",
                          "recipient_id": "31612345678"}]}}]})
        raw = body(only)
        assert post(client, "/webhooks/meta", raw, meta_headers(raw)) == (200, {"received": 0})
        [conv] = conversations(client)
        assert (conv["platform"], conv["customer"]) == ("whatsapp", {"id": "31612345678", "name": "Joost"})

    def test_duplicate_delivery_changes_nothing(self, client, stack_env):
        raw = body(p.meta("page", p.messenger_entry(p.messenger_event("psid-1", "m_dup", "hi"))))
        assert post(client, "/webhooks/meta", raw, meta_headers(raw)) == (200, {"received": 1})
        before = table_items(stack_env["table"])
        assert post(client, "/webhooks/meta", raw, meta_headers(raw)) == (200, {"received": 0})
        assert table_items(stack_env["table"]) == before

    @pytest.mark.parametrize(
        "headers, status",
        [({"Content-Type": "application/json"}, 401),
         ({"Content-Type": "application/json", "X-Hub-Signature-256": "sha256=" + "0" * 64}, 403),
         ({"Content-Type": "application/json", "X-Hub-Signature-256": "md5=abc"}, 403)],
    )
    def test_bad_signature_refused_nothing_stored(self, client, stack_env, headers, status):
        raw = body(p.meta("page", p.messenger_entry(p.messenger_event("psid-1", "m_x", "hi"))))
        code, answer = post(client, "/webhooks/meta", raw, headers)
        assert code == status and answer["error"] in ("unauthorized", "forbidden")
        assert table_items(stack_env["table"]) == []

    @pytest.mark.parametrize(
        "raw, mentions",
        [(b"{not json", "JSON"),
         (b"[]", "object"),
         (b'{"object": "telepathy", "entry": []}', "telepathy"),
         (b'{"object": "page", "entry": {"id": 1}}', "entry"),
         (b'{"object": "page", "entry": [{"id": "1", "messaging": [{"sender": {}, "recipient": {"id": "1"}, '
          b'"timestamp": 1, "message": {"mid": "m", "text": "t"}}]}]}', "sender"),
         (b'\xff\xfe{"object": "page"}', "JSON"),
         (b"[" * 100_000 + b"]" * 100_000, "")],
    )
    def test_bad_shapes_are_400_naming_the_problem(self, client, stack_env, raw, mentions):
        code, answer = post(client, "/webhooks/meta", raw, meta_headers(raw))
        assert code == 400 and answer["error"] == "bad_request"
        assert mentions in answer["message"]
        assert table_items(stack_env["table"]) == []

    def test_a_bad_event_late_in_a_batch_stores_nothing(self, client, stack_env):
        good = p.messenger_event("psid-1", "m_ok", "fine")
        bad = {**p.messenger_event("psid-1", "m_bad", "x"), "timestamp": ["not", "a", "time"]}
        raw = body(p.meta("page", p.messenger_entry(good, bad)))
        code, _ = post(client, "/webhooks/meta", raw, meta_headers(raw))
        assert code == 400
        assert table_items(stack_env["table"]) == []

    def test_oversized_body_is_413_before_parsing(self, client, stack_env):
        raw = b'{"object": "page", "entry": [], "pad": "' + b"a" * (3 * 1024 * 1024) + b'"}'
        code, answer = post(client, "/webhooks/meta", raw, meta_headers(raw))
        assert (code, answer["error"]) == (413, "payload_too_large")

    def test_big_batch_spans_several_transactions(self, client, stack_env):
        events = [p.messenger_event(f"psid-{i % 7}", f"m_big_{i}", f"message {i}", ts_ms=p.NOW_MS + i)
                  for i in range(250)]
        raw = body(p.meta("page", p.messenger_entry(*events)))
        assert post(client, "/webhooks/meta", raw, meta_headers(raw)) == (200, {"received": 250})
        assert post(client, "/webhooks/meta", raw, meta_headers(raw)) == (200, {"received": 0})
        assert len(messages_in(stack_env["table"])) == 250
        assert sum(c["message_count"] for c in conversations(client)) == 250


class TestX:
    def test_crc_is_base64_hmac(self, client):
        import base64
        import hashlib
        import hmac
        response = client.http.get("/webhooks/x?crc_token=challenge123")
        expected = base64.b64encode(hmac.new(b"local-x-consumer-secret", b"challenge123", hashlib.sha256).digest())
        assert json.loads(response.body) == {"response_token": "sha256=" + expected.decode()}
        assert client.http.get("/webhooks/x").status_code == 400

    def test_dms_and_mentions(self, client, stack_env):
        dms = body(p.x_dms(
            p.x_dm("1582838888888888801", "44196397", p.X_BRAND, "My card was charged twice"),
            p.x_dm("1582838888888888802", p.X_BRAND, "44196397", "Sorry! Checking", ts_ms=p.NOW_MS + 5000),
            users={"44196397": {"id": "44196397", "name": "Eli", "screen_name": "eli"}},
        ))
        assert post(client, "/webhooks/x", dms, x_headers(dms)) == (200, {"received": 2})
        mentions = body({"for_user_id": p.X_BRAND, "tweet_create_events": [
            p.x_mention("1600000000000000001", "555", "dana", "@brand app is down"),
            p.x_mention("1600000000000000002", p.X_BRAND, "brand", "@dana we're on it", ts_ms=p.NOW_MS + 9000,
                        in_reply_to="1600000000000000001", in_reply_to_user="555"),
        ]})
        assert post(client, "/webhooks/x", mentions, x_headers(mentions)) == (200, {"received": 2})
        # The customer answers the brand's reply: same conversation.
        follow = body({"for_user_id": p.X_BRAND, "tweet_create_events": [
            p.x_mention("1600000000000000003", "555", "dana", "@brand still down", ts_ms=p.NOW_MS + 20000,
                        in_reply_to="1600000000000000002", in_reply_to_user=p.X_BRAND)]})
        assert post(client, "/webhooks/x", follow, x_headers(follow)) == (200, {"received": 1})
        convs = {c["channel"]: c for c in conversations(client)}
        assert convs["dm"]["customer"] == {"id": "44196397", "name": "Eli"}
        assert convs["dm"]["message_count"] == 2
        assert convs["mention"]["message_count"] == 3
        assert convs["mention"]["last_inbound_at"] == "2025-11-22T08:27:00.000Z"

    def test_forged_signature(self, client, stack_env):
        raw = body(p.x_dms(p.x_dm("1", "2", p.X_BRAND, "hi")))
        code, _ = post(client, "/webhooks/x", raw, x_headers(raw, secret="guess"))
        assert code == 403
        assert table_items(stack_env["table"]) == []


class TestTelegram:
    def test_message_stored_and_other_updates_ignored(self, client, stack_env):
        raw = body(p.telegram_update(900001, 123456789, 42, "Привет, заказ не пришёл"))
        assert post(client, "/webhooks/telegram", raw, telegram_headers()) == (200, {"received": 1})
        edited = body({"update_id": 900002, "edited_message": p.telegram_update(0, 123456789, 42, "x")["message"]})
        assert post(client, "/webhooks/telegram", edited, telegram_headers()) == (200, {"received": 0})
        [conv] = conversations(client)
        assert (conv["platform"], conv["customer"]["name"]) == ("telegram", "Ana")

    def test_wrong_or_missing_token(self, client, stack_env):
        raw = body(p.telegram_update(1, 2, 3, "hi"))
        assert post(client, "/webhooks/telegram", raw, telegram_headers("wrong"))[0] == 403
        assert post(client, "/webhooks/telegram", raw, {"Content-Type": "application/json"})[0] == 401
        assert table_items(stack_env["table"]) == []


def test_missing_secret_is_503_not_crash(client, monkeypatch):
    monkeypatch.delenv("META_APP_SECRET")
    raw = body(p.meta("page", p.messenger_entry(p.messenger_event("psid-1", "m_1", "hi"))))
    code, answer = post(client, "/webhooks/meta", raw, meta_headers(raw))
    assert (code, answer["error"]) == (503, "unavailable")
