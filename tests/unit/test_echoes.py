"""Recognising Heed's own sends in the platforms' echoes (functions/domain/echoes.py and the adapters)."""
from __future__ import annotations

import json

from functions.adapters import meta, x
from functions.domain import echoes
from functions.domain.outbound import OutboundMessage
from tests import payloads as p


def _outbound(platform: str, channel: str = "dm", kind: str = "ack", **fields) -> OutboundMessage:
    values = {"id": "ack:conv-1:clock-1", "kind": kind, "conversation_id": "conv-1", "platform": platform,
              "channel": channel, "account_id": "acct", "customer_id": "cust-1", "text": "Thanks, Ana!"}
    return OutboundMessage(**{**values, **fields})


def test_the_marker_names_the_send_and_whether_it_is_automated_nothing_else():
    ack, reply = echoes.marker("ack:conv-1:clock-1", True), echoes.marker("reply:conv-1:k", False)
    assert ack.startswith("heed1:a:") and reply.startswith("heed1:h:") and len(ack) == len("heed1:a:") + 32
    assert "conv-1" not in ack + reply
    assert echoes.parse_marker(ack) == (echoes.outbound_key(_outbound("facebook")), True)
    for other in (None, 7, "", "heed1:x:" + "0" * 32, "heed1:a:short", "another app's metadata"):
        assert echoes.parse_marker(other) is None


def test_which_sends_have_an_echo_key():
    assert echoes.outbound_key(_outbound("facebook")) and echoes.outbound_key(_outbound("whatsapp"))
    assert echoes.outbound_key(_outbound("instagram", "comment", private=True, reply_to="c1"))
    assert echoes.outbound_key(_outbound("x")) == echoes.x_dm_key("acct", "cust-1", "Thanks, Ana!")
    assert echoes.outbound_key(_outbound("x", "mention", reply_to="t1")) == echoes.x_reply_key("acct", "t1",
                                                                                               "Thanks, Ana!")
    assert echoes.outbound_key(_outbound("telegram")) is None  # no echo: the documented limit
    assert echoes.outbound_key(_outbound("facebook", "comment", reply_to="c1")) == echoes.comment_reply_key(
        "acct", "c1", "Thanks, Ana!")  # a public comment reply: the Page's own comment in the feed webhook
    assert echoes.outbound_key(_outbound("instagram", "comment", reply_to="c1")) is None  # no documented echo


def test_the_pages_own_reply_to_a_comment_carries_its_echo_key_other_comments_none():
    page, post = "1067280970047460", "1067280970047460_555"

    def feed(author: str, parent: str, comment_id: str) -> bytes:
        return json.dumps(p.meta("page", {"id": page, "time": 1, "changes": [{"field": "feed", "value": {
            "item": "comment", "verb": "add", "comment_id": comment_id, "post_id": post, "parent_id": parent,
            "created_time": 1_763_800_000, "message": "Thanks, Ana!", "from": {"id": author, "name": "X"}}}]})).encode()

    [reply] = meta.parse(feed(page, "555_1", "555_2"))
    assert (reply.direction, reply.echo_key) == ("out", echoes.comment_reply_key(page, "555_1", "Thanks, Ana!"))
    assert meta.parse(feed(page, post, "555_3"))[0].echo_key is None  # the Page commenting on its own post
    assert meta.parse(feed("42", "555_1", "555_4"))[0].echo_key is None  # a customer's reply


def test_a_messenger_echo_with_our_marker_is_automated_and_keyed_and_replays_the_same():
    marker = echoes.marker("ack:conv-1:clock-1", True)
    event = p.messenger_event("psid-1", "m_echo", "Thanks, Ana!", echo=True)
    event["message"]["metadata"] = marker
    raw = json.dumps(p.meta("page", p.messenger_entry(event))).encode()
    [message] = meta.parse(raw)
    assert (message.direction, message.automated, message.echo_key) == ("out", True, echoes.parse_marker(marker)[0])
    assert meta.parse(json.dumps(message.raw).encode()) == [message]
    event["message"]["metadata"] = "someone else's"  # another app's send: a brand message like any other
    [other] = meta.parse(json.dumps(p.meta("page", p.messenger_entry(event))).encode())
    assert (other.automated, other.echo_key) == (False, None)


def test_whatsapp_statuses_of_our_sends_are_echoes_others_are_skipped():
    marker = echoes.marker("reply:conv-1:k", False)
    statuses = [{"id": "wamid.A", "status": "sent", "timestamp": "1790000000", "recipient_id": "1555",
                 "biz_opaque_callback_data": marker},
                {"id": "wamid.B", "status": "failed", "timestamp": "1790000000", "biz_opaque_callback_data": marker},
                {"id": "wamid.C", "status": "read", "timestamp": "1790000000"}]
    body = {"object": "whatsapp_business_account", "entry": [{"id": "waba", "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp", "metadata": {"phone_number_id": "phone-1"}, "statuses": statuses}}]}]}
    messages, found = meta.parse_with_echoes(json.dumps(body).encode())
    assert messages == [] and [(e.key, e.platform_message_id) for e in found] == [
        (echoes.parse_marker(marker)[0], "wamid.A")]


def test_the_brands_own_x_dm_and_reply_carry_their_echo_keys():
    dm = {"for_user_id": "brand", "direct_message_events": [{
        "type": "message_create", "id": "e1", "created_timestamp": "1790000000000",
        "message_create": {"sender_id": "brand", "target": {"recipient_id": "cust-1"},
                           "message_data": {"text": "Thanks, Ana!"}}}]}
    [message] = x.parse(json.dumps(dm).encode())
    assert message.echo_key == echoes.x_dm_key("brand", "cust-1", "Thanks, Ana!")
    dm["direct_message_events"][0]["message_create"].update(sender_id="cust-1", target={"recipient_id": "brand"})
    assert x.parse(json.dumps(dm).encode())[0].echo_key is None  # the customer's DM
    tweet = {"for_user_id": "brand", "tweet_create_events": [{
        "id_str": "t2", "text": "@ana Thanks, Ana!", "display_text_range": [5, 17], "timestamp_ms": "1790000000000",
        "in_reply_to_status_id_str": "t1", "user": {"id_str": "brand", "screen_name": "brand"}}]}
    [reply] = x.parse(json.dumps(tweet).encode())
    assert reply.echo_key == echoes.x_reply_key("brand", "t1", "Thanks, Ana!")


def test_an_x_echo_is_automated_only_when_an_automatic_send_was_noted_for_it_shortly_before():
    from datetime import UTC, datetime, timedelta

    t0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    at = "2026-11-23T09:00:00.000Z"
    ack, reply = echoes.intent("ack:conv-1:clock-1", True, at), echoes.intent("reply:conv-1:k", False, at)
    assert echoes.parse_intent(ack) == echoes.Intent(t0, True, "ack:conv-1:clock-1")
    assert echoes.echoes_automatic_send([ack], t0 + timedelta(seconds=1))
    assert echoes.echoes_automatic_send([ack], t0 - timedelta(seconds=4))  # the platform's clock a little behind
    assert not echoes.echoes_automatic_send([ack], t0 - timedelta(minutes=1))  # sent before Heed's send: a person
    assert not echoes.echoes_automatic_send([ack], t0 + timedelta(minutes=16))  # long after: typed in the app
    assert not echoes.echoes_automatic_send([], t0)  # nothing noted: a person's response
    assert not echoes.echoes_automatic_send([reply], t0 + timedelta(seconds=1))  # a staff reply through Heed
    assert not echoes.echoes_automatic_send([ack, reply], t0 + timedelta(seconds=1))  # the same words from both
    assert not echoes.echoes_automatic_send(["garbage", "x|a|", "2026|q|id"], t0)
    assert echoes.keyed_by_text(echoes.x_dm_key("a", "c", "t")) and echoes.keyed_by_text(
        echoes.x_reply_key("a", "t1", "t"))
    assert not echoes.keyed_by_text(echoes.parse_marker(echoes.marker("ack:c:k", True))[0]) and \
        not echoes.keyed_by_text(None)
