"""Meta adapter: handshake, X-Hub-Signature-256, and parsing of Page/Instagram/WhatsApp deliveries.

Payloads follow the examples in Meta's developer documentation (Messenger webhook
events, Page feed webhook reference, Instagram webhook examples, WhatsApp messages
webhook reference).
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from functions.adapters import meta
from functions.domain.message import Message
from functions.errors import BadRequest, Forbidden, ServiceUnavailable, Unauthorized

PAGE_ID = "106540352242922"
PSID = "6734521198746521"
IG_ID = "17841405822304914"
IGSID = "7102381924512453"
WABA_ID = "102290129340398"
PHONE_ID = "106540352242922"
WA_ID = "16505551234"

T_MS = 1458692752478
T_MS_AT = datetime(2016, 3, 23, 0, 25, 52, 478000, tzinfo=UTC)
T_S = 1510092431
T_S_AT = datetime(2017, 11, 7, 22, 7, 11, tzinfo=UTC)


def body(payload: Any) -> bytes:
    return json.dumps(payload).encode()


def parse(payload: Any) -> list[Message]:
    return meta.parse(body(payload))


def hub_signature(secret: str, raw: bytes) -> str:
    """Computed here independently of the adapter."""
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


# --- sample events ------------------------------------------------------------------


def messenger_in(
    mid: str = "m_AG5Hz2Uq7tuwNEhXfYYKj8mJEM_QPpz5jdCK48PnKAjSdjfipqxqMvK8ma6AC8fplwlqLP_5cgXIbu7I3rBN0P",
    text: str = "hello, world!",
) -> dict:
    return {
        "sender": {"id": PSID},
        "recipient": {"id": PAGE_ID},
        "timestamp": T_MS,
        "message": {"mid": mid, "text": text},
    }


def messenger_echo(mid: str = "mid.1457764197618:41d102a3e1ae206a38") -> dict:
    return {
        "sender": {"id": PAGE_ID},
        "recipient": {"id": PSID},
        "timestamp": T_MS,
        "message": {"is_echo": True, "app_id": 1517776481860111, "mid": mid, "text": "We're on it!"},
    }


DELIVERY = {
    "sender": {"id": PSID},
    "recipient": {"id": PAGE_ID},
    "delivery": {"mids": ["mid.1458668856218:ed81099e15d3f4f233"], "watermark": 1458668856253},
}
READ = {"sender": {"id": PSID}, "recipient": {"id": PAGE_ID}, "timestamp": T_MS, "read": {"watermark": T_MS}}
REACTION = {
    "sender": {"id": PSID},
    "recipient": {"id": PAGE_ID},
    "timestamp": T_MS,
    "reaction": {"mid": "m_x", "action": "react", "emoji": "\u2764", "reaction": "love"},
}
POSTBACK = {
    "sender": {"id": PSID},
    "recipient": {"id": PAGE_ID},
    "timestamp": T_MS,
    "postback": {"title": "Get Started", "payload": "GET_STARTED", "mid": "m_pb"},
}


def feed_comment(
    comment_id: str = "444444444_1491873277575158",
    parent_id: str = f"{PAGE_ID}_987654321",
    from_id: str = "123456789098764",
    verb: str = "add",
    item: str = "comment",
    message: str = "more attachments more fun",
) -> dict:
    return {
        "field": "feed",
        "value": {
            "from": {"id": from_id, "name": "Test User"},
            "item": item,
            "comment_id": comment_id,
            "post_id": f"{PAGE_ID}_987654321",
            "verb": verb,
            "parent_id": parent_id,
            "created_time": T_S,
            "message": message,
        },
    }


def ig_comment_value(comment_id: str = "17865799348089039", from_id: str = IGSID, parent_id: str | None = None) -> dict:
    value = {
        "from": {"id": from_id, "username": "sheena.nelson"},
        "media": {"id": "18023345989012587", "media_product_type": "FEED"},
        "id": comment_id,
        "text": "This is an example. \U0001f44b",
    }
    if parent_id is not None:
        value["parent_id"] = parent_id
    return value


def wa_value(messages: list[dict] | None = None, statuses: list[dict] | None = None) -> dict:
    value: dict = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE_ID},
    }
    if messages is not None:
        value["contacts"] = [{"profile": {"name": "Sheena Nelson"}, "wa_id": WA_ID}]
        value["messages"] = messages
    if statuses is not None:
        value["statuses"] = statuses
    return value


def wa_text(
    wamid: str = "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=",
    text: str = "Does it come in another color?",
) -> dict:
    return {"from": WA_ID, "id": wamid, "timestamp": "1749416383", "type": "text", "text": {"body": text}}


WA_STATUS = {
    "id": "wamid.HBgLMTY1MDUwNzY1MjAVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA",
    "status": "delivered",
    "timestamp": "1750263773",
    "recipient_id": WA_ID,
    "pricing": {"billable": True, "pricing_model": "PMP", "category": "service"},
}


def page_delivery(*entries: dict) -> dict:
    return {"object": "page", "entry": list(entries)}


def page_entry(messaging: list[dict] | None = None, changes: list[dict] | None = None) -> dict:
    entry: dict = {"id": PAGE_ID, "time": T_MS}
    if messaging is not None:
        entry["messaging"] = messaging
    if changes is not None:
        entry["changes"] = changes
    return entry


def ig_delivery(*entries: dict) -> dict:
    return {"object": "instagram", "entry": list(entries)}


def wa_delivery(*changes: dict) -> dict:
    return {"object": "whatsapp_business_account", "entry": [{"id": WABA_ID, "changes": list(changes)}]}


# --- handshake -----------------------------------------------------------------------


def test_handshake_returns_the_challenge() -> None:
    params = {"hub.mode": "subscribe", "hub.verify_token": "meatyhamhock", "hub.challenge": "1158201444"}
    assert meta.handshake(params, "meatyhamhock") == "1158201444"


@pytest.mark.parametrize(
    ("params", "error"),
    [
        (None, Unauthorized),
        ({}, Unauthorized),
        ({"hub.verify_token": "meatyhamhock", "hub.challenge": "1"}, Unauthorized),
        ({"hub.mode": "subscribe", "hub.challenge": "1"}, Unauthorized),
        ({"hub.mode": "subscribe", "hub.verify_token": "", "hub.challenge": "1"}, Unauthorized),
        ({"hub.mode": "subscribe", "hub.verify_token": "meatyhamhoc", "hub.challenge": "1"}, Forbidden),
        ({"hub.mode": "subscribe", "hub.verify_token": "meatyhamhock2", "hub.challenge": "1"}, Forbidden),
        ({"hub.mode": "unsubscribe", "hub.verify_token": "meatyhamhock", "hub.challenge": "1"}, Forbidden),
        ({"hub.mode": "subscribe", "hub.verify_token": "meatyhamhock"}, BadRequest),
    ],
)
def test_handshake_rejects(params: dict | None, error: type[Exception]) -> None:
    with pytest.raises(error):
        meta.handshake(params, "meatyhamhock")


def test_handshake_without_a_configured_token_is_unavailable() -> None:
    params = {"hub.mode": "subscribe", "hub.verify_token": "", "hub.challenge": "1"}
    with pytest.raises(ServiceUnavailable):
        meta.handshake(params, "")


# --- signature -------------------------------------------------------------------------


def test_published_github_vector() -> None:
    # docs.github.com "Validating webhook deliveries": this secret and payload give this digest.
    signature = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    meta.verify({"X-Hub-Signature-256": signature}, b"Hello, World!", "It's a Secret to Everybody")


def test_rfc4231_vector() -> None:
    # RFC 4231 test case 2, HMAC-SHA-256 (also checked with `openssl dgst -sha256 -hmac Jefe`).
    signature = "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    meta.verify({"x-hub-signature-256": signature}, b"what do ya want for nothing?", "Jefe")


def test_independently_computed_signature_and_case_insensitive_header() -> None:
    raw = body(page_delivery(page_entry(messaging=[messenger_in()])))
    for name in ("X-Hub-Signature-256", "x-hub-signature-256", "X-HUB-SIGNATURE-256"):
        meta.verify({name: hub_signature("s3cret", raw)}, raw, "s3cret")


def test_signature_is_over_the_raw_bytes_not_reserialised_json() -> None:
    raw = (
        b'{"object":"page" ,  "entry":[{"id":"106540352242922","time":1458692752478,'
        b'"messaging":[{"sender":{"id":"6734521198746521"},"recipient":{"id":"106540352242922"},'
        b'"timestamp":1458692752478,"message":{"mid":"m_1","text":"M\\u00e4rz: https:\\/\\/example.com\\/a"}}]}]}'
    )
    reserialised = json.dumps(json.loads(raw)).encode()
    assert reserialised != raw
    meta.verify({"X-Hub-Signature-256": hub_signature("s3cret", raw)}, raw, "s3cret")
    with pytest.raises(Forbidden):
        meta.verify({"X-Hub-Signature-256": hub_signature("s3cret", reserialised)}, raw, "s3cret")
    with pytest.raises(Forbidden):
        meta.verify({"X-Hub-Signature-256": hub_signature("s3cret", raw)}, reserialised, "s3cret")
    [message] = meta.parse(raw)
    assert message.text == "M\u00e4rz: https://example.com/a"


@pytest.mark.parametrize(
    ("headers", "error"),
    [
        ({}, Unauthorized),
        ({"X-Hub-Signature-256": ""}, Unauthorized),
        ({"X-Hub-Signature": "sha1=0123456789abcdef0123456789abcdef01234567"}, Unauthorized),
        ({"X-Hub-Signature-256": "sha256=" + "0" * 64}, Forbidden),
        ({"X-Hub-Signature-256": "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"}, Forbidden),
        ({"X-Hub-Signature-256": "sha1=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"}, Forbidden),
        ({"X-Hub-Signature-256": "sha256=757107EA0EB2509FC211221CCE984B8A37570B6D7586C22C46F4379C8B043E17"}, Forbidden),
        ({"X-Hub-Signature-256": "sha256=dXEH6g6yUJ/CESIczphLijdXC211hsIsRvQ3nIsEPhc="}, Forbidden),
        ({"X-Hub-Signature-256": "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e1"}, Forbidden),
        (
            {"X-Hub-Signature-256": "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17 "},
            Forbidden,
        ),
        ({"X-Hub-Signature-256": "sha256=\udcff"}, Forbidden),
        ({"X-Hub-Signature-256": "sha256=\ud800"}, Forbidden),
    ],
)
def test_bad_signatures(headers: dict, error: type[Exception]) -> None:
    with pytest.raises(error):
        meta.verify(headers, b"Hello, World!", "It's a Secret to Everybody")


def test_tampered_body_or_other_secret_is_forbidden() -> None:
    signature = {"X-Hub-Signature-256": hub_signature("It's a Secret to Everybody", b"Hello, World!")}
    with pytest.raises(Forbidden):
        meta.verify(signature, b"Hello, World?", "It's a Secret to Everybody")
    with pytest.raises(Forbidden):
        meta.verify(signature, b"Hello, World!", "another secret")


def test_empty_app_secret_never_verifies() -> None:
    with pytest.raises(ServiceUnavailable):
        meta.verify({"X-Hub-Signature-256": hub_signature("", b"{}")}, b"{}", "")


# --- Messenger -------------------------------------------------------------------------


def test_messenger_dm() -> None:
    [m] = parse(page_delivery(page_entry(messaging=[messenger_in(mid="m_1", text="Wo ist mein Paket? \U0001f4e6")])))
    assert m == Message(
        platform="facebook",
        channel="dm",
        account_id=PAGE_ID,
        platform_message_id="m_1",
        direction="in",
        sent_at=T_MS_AT,
        text="Wo ist mein Paket? \U0001f4e6",
        raw=m.raw,
        customer_id=PSID,
    )
    assert m.raw == {
        "object": "page",
        "entry": [
            {"id": PAGE_ID, "time": T_MS, "messaging": [messenger_in(mid="m_1", text="Wo ist mein Paket? \U0001f4e6")]}
        ],
    }


def test_messenger_echo_is_outgoing_to_the_recipient() -> None:
    [m] = parse(page_delivery(page_entry(messaging=[messenger_echo()])))
    assert (m.direction, m.customer_id, m.account_id) == ("out", PSID, PAGE_ID)
    assert m.platform_message_id == "mid.1457764197618:41d102a3e1ae206a38"
    assert m.text == "We're on it!"


def test_messenger_non_message_events_are_ignored() -> None:
    assert parse(page_delivery(page_entry(messaging=[DELIVERY, READ, REACTION, POSTBACK]))) == []


def test_messenger_attachments_only() -> None:
    event = messenger_in()
    event["message"] = {
        "mid": "m_att",
        "attachments": [
            {"type": "image", "payload": {"url": "https://scontent.xx.fbcdn.net/v/t1.15752-9/1.jpg"}},
            {"type": "audio", "payload": {"url": "https://cdn.fbsbx.com/v/t59.3654-21/2.mp4"}},
        ],
    }
    [m] = parse(page_delivery(page_entry(messaging=[event])))
    assert (m.text, m.attachments) == ("", ("image", "audio"))


def test_batch_of_entries_and_events_keeps_order() -> None:
    delivery = page_delivery(
        page_entry(messaging=[messenger_in(mid="m_1"), DELIVERY, messenger_echo(mid="m_2")]),
        {"id": "999", "time": T_MS, "messaging": [dict(messenger_in(mid="m_3"), recipient={"id": "999"})]},
        page_entry(messaging=[messenger_in(mid="m_4", text="again")]),
    )
    messages = parse(delivery)
    assert [(m.platform_message_id, m.account_id, m.direction) for m in messages] == [
        ("m_1", PAGE_ID, "in"),
        ("m_2", PAGE_ID, "out"),
        ("m_3", "999", "in"),
        ("m_4", PAGE_ID, "in"),
    ]


def test_numeric_ids_become_strings() -> None:
    event = {
        "sender": {"id": 6734521198746521},
        "recipient": {"id": 106540352242922},
        "timestamp": T_MS,
        "message": {"mid": "m_n", "text": "x"},
    }
    [m] = parse({"object": "page", "entry": [{"id": 106540352242922, "time": T_MS, "messaging": [event]}]})
    assert (m.account_id, m.customer_id) == (PAGE_ID, PSID)


# --- Page feed ---------------------------------------------------------------------------


def test_customer_comment_on_a_post() -> None:
    [m] = parse(page_delivery(page_entry(changes=[feed_comment(parent_id=f"{PAGE_ID}_987654321")])))
    assert m == Message(
        platform="facebook",
        channel="comment",
        account_id=PAGE_ID,
        platform_message_id="444444444_1491873277575158",
        direction="in",
        sent_at=T_S_AT,
        text="more attachments more fun",
        raw=m.raw,
        customer_id="123456789098764",
        customer_name="Test User",
        root_id=f"{PAGE_ID}_987654321",
        reply_to=None,
    )


def test_reply_to_a_comment_keeps_the_parent() -> None:
    [m] = parse(page_delivery(page_entry(changes=[feed_comment(parent_id="987654321_1111")])))
    assert (m.root_id, m.reply_to) == (f"{PAGE_ID}_987654321", "987654321_1111")


def test_pages_own_comment_is_outgoing_without_customer() -> None:
    [m] = parse(page_delivery(page_entry(changes=[feed_comment(from_id=PAGE_ID, parent_id="987654321_1111")])))
    assert (m.direction, m.customer_id, m.customer_name, m.reply_to) == ("out", None, None, "987654321_1111")


def test_comment_whose_author_graph_withholds_is_its_own_conversation() -> None:
    change = feed_comment()
    del change["value"]["from"]
    [m] = parse(page_delivery(page_entry(changes=[change])))
    assert (m.direction, m.customer_id, m.customer_name) == ("in", f"anonymous:{m.platform_message_id}", None)


@pytest.mark.parametrize(
    "change",
    [
        feed_comment(verb="edited"),
        feed_comment(verb="remove"),
        feed_comment(item="reaction"),
        feed_comment(item="post"),
        feed_comment(item="status"),
        feed_comment(item="like"),
        {"field": "mention", "value": {"post_id": "44444444_444444444", "item": "post", "verb": "add"}},
        {"field": "ratings", "value": "whatever"},
    ],
)
def test_other_feed_changes_are_ignored(change: dict) -> None:
    assert parse(page_delivery(page_entry(changes=[change]))) == []


def test_photo_comment_without_text() -> None:
    change = feed_comment()
    del change["value"]["message"]
    change["value"]["photo"] = "https://scontent.xx.fbcdn.net/v/t31.0-8/16715996_o.jpg"
    [m] = parse(page_delivery(page_entry(changes=[change])))
    assert (m.text, m.attachments) == ("", ("photo",))


def test_mixed_dms_and_comments_in_one_delivery() -> None:
    delivery = page_delivery(
        page_entry(
            messaging=[messenger_in(mid="m_1")], changes=[feed_comment(comment_id="c_1"), feed_comment(verb="remove")]
        ),
        page_entry(changes=[feed_comment(comment_id="c_2", from_id=PAGE_ID)]),
    )
    assert [(m.channel, m.platform_message_id, m.direction) for m in parse(delivery)] == [
        ("dm", "m_1", "in"),
        ("comment", "c_1", "in"),
        ("comment", "c_2", "out"),
    ]


# --- Instagram ---------------------------------------------------------------------------


def test_instagram_dm_and_echo() -> None:
    dm = {
        "sender": {"id": IGSID},
        "recipient": {"id": IG_ID},
        "timestamp": T_MS,
        "message": {"mid": "aWdfZAG1", "text": "hola \u00bfqu\u00e9 tal?"},
    }
    echo = {
        "sender": {"id": IG_ID},
        "recipient": {"id": IGSID},
        "timestamp": T_MS,
        "message": {"mid": "aWdfZAG2", "text": "Hi!", "is_echo": True},
    }
    first, second = parse(ig_delivery({"id": IG_ID, "time": T_MS, "messaging": [dm, echo]}))
    assert (first.platform, first.channel, first.account_id, first.customer_id, first.direction) == (
        "instagram",
        "dm",
        IG_ID,
        IGSID,
        "in",
    )
    assert first.text == "hola \u00bfqu\u00e9 tal?"
    assert (second.customer_id, second.direction) == (IGSID, "out")


def test_instagram_unsent_message_is_ignored() -> None:
    unsent = {
        "sender": {"id": IGSID},
        "recipient": {"id": IG_ID},
        "timestamp": T_MS,
        "message": {"mid": "aWdfZAG1", "is_deleted": True},
    }
    assert parse(ig_delivery({"id": IG_ID, "time": T_MS, "messaging": [unsent]})) == []


def test_instagram_comment_in_changes() -> None:
    entry = {"id": IG_ID, "time": 1755779280, "changes": [{"field": "comments", "value": ig_comment_value()}]}
    [m] = parse(ig_delivery(entry))
    assert m == Message(
        platform="instagram",
        channel="comment",
        account_id=IG_ID,
        platform_message_id="17865799348089039",
        direction="in",
        sent_at=datetime(2025, 8, 21, 12, 28, tzinfo=UTC),
        text="This is an example. \U0001f44b",
        raw=m.raw,
        customer_id=IGSID,
        customer_name="sheena.nelson",
        root_id="18023345989012587",
        reply_to=None,
    )


def test_instagram_comment_on_the_entry_itself() -> None:
    entry = {
        "id": IG_ID,
        "time": 1755779280,
        "field": "comments",
        "value": ig_comment_value(parent_id="17858893269000001"),
    }
    [m] = parse(ig_delivery(entry))
    assert (m.platform_message_id, m.root_id, m.reply_to, m.customer_name) == (
        "17865799348089039",
        "18023345989012587",
        "17858893269000001",
        "sheena.nelson",
    )
    assert m.raw == {"object": "instagram", "entry": [entry]}


def test_instagram_brand_reply_is_outgoing() -> None:
    entry = {
        "id": IG_ID,
        "time": 1755779280,
        "changes": [{"field": "comments", "value": ig_comment_value(from_id=IG_ID, parent_id="178")}],
    }
    [m] = parse(ig_delivery(entry))
    assert (m.direction, m.customer_id, m.customer_name, m.reply_to) == ("out", None, None, "178")


def test_instagram_time_in_millis_and_fallback_to_value_timestamp() -> None:
    in_ms = {"id": IG_ID, "time": T_MS, "field": "comments", "value": ig_comment_value()}
    assert parse(ig_delivery(in_ms))[0].sent_at == T_MS_AT
    no_time = {"id": IG_ID, "field": "comments", "value": dict(ig_comment_value(), timestamp=T_S)}
    assert parse(ig_delivery(no_time))[0].sent_at == T_S_AT
    with pytest.raises(BadRequest, match=r"entry\[0\]\.time is missing"):
        parse(ig_delivery({"id": IG_ID, "field": "comments", "value": ig_comment_value()}))


def test_instagram_other_fields_are_ignored() -> None:
    entry = {
        "id": IG_ID,
        "time": T_S,
        "changes": [
            {"field": "mentions", "value": {"media_id": "17918195224117851", "comment_id": "17894227972186120"}},
            {"field": "story_insights", "value": {"media_id": "1", "exits": 1, "replies": 0}},
        ],
    }
    assert parse(ig_delivery(entry, {"id": IG_ID, "time": T_S, "field": "mentions", "value": {"media_id": "1"}})) == []


def test_instagram_mixed_batch() -> None:
    dm = {
        "sender": {"id": IGSID},
        "recipient": {"id": IG_ID},
        "timestamp": T_MS,
        "message": {"mid": "d1", "text": "hi"},
    }
    delivery = ig_delivery(
        {"id": IG_ID, "time": T_S, "messaging": [dm]},
        {
            "id": IG_ID,
            "time": T_S,
            "changes": [
                {"field": "comments", "value": ig_comment_value("c1")},
                {"field": "comments", "value": ig_comment_value("c2", from_id=IG_ID)},
            ],
        },
        {"id": IG_ID, "time": T_S, "field": "comments", "value": ig_comment_value("c3")},
    )
    assert [(m.channel, m.platform_message_id, m.direction) for m in parse(delivery)] == [
        ("dm", "d1", "in"),
        ("comment", "c1", "in"),
        ("comment", "c2", "out"),
        ("comment", "c3", "in"),
    ]


# --- WhatsApp ----------------------------------------------------------------------------


def test_whatsapp_text_message() -> None:
    [m] = parse(wa_delivery({"field": "messages", "value": wa_value([wa_text()])}))
    assert m == Message(
        platform="whatsapp",
        channel="dm",
        account_id=PHONE_ID,
        platform_message_id="wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=",
        direction="in",
        sent_at=datetime(2025, 6, 8, 20, 59, 43, tzinfo=UTC),
        text="Does it come in another color?",
        raw=m.raw,
        customer_id=WA_ID,
        customer_name="Sheena Nelson",
    )


def test_whatsapp_statuses_are_ignored() -> None:
    assert parse(wa_delivery({"field": "messages", "value": wa_value(statuses=[WA_STATUS, WA_STATUS])})) == []


def test_whatsapp_media_and_other_types() -> None:
    image = {
        "from": WA_ID,
        "id": "wamid.img",
        "timestamp": "1749416383",
        "type": "image",
        "image": {"caption": "Kaputt \U0001f615", "mime_type": "image/jpeg", "sha256": "x", "id": "1003383421387256"},
    }
    audio = {
        "from": WA_ID,
        "id": "wamid.aud",
        "timestamp": "1749416383",
        "type": "audio",
        "audio": {"mime_type": "audio/ogg; codecs=opus", "id": "1", "voice": True},
    }
    button = {
        "from": WA_ID,
        "id": "wamid.btn",
        "timestamp": "1749416383",
        "type": "button",
        "button": {"payload": "STOP", "text": "Stop promotions"},
    }
    location = {
        "from": WA_ID,
        "id": "wamid.loc",
        "timestamp": "1749416383",
        "type": "location",
        "location": {"latitude": 37.48, "longitude": -122.15},
    }
    reaction = {
        "from": WA_ID,
        "id": "wamid.rea",
        "timestamp": "1749416383",
        "type": "reaction",
        "reaction": {"message_id": "wamid.x", "emoji": "\U0001f44d"},
    }
    unsupported = {
        "from": WA_ID,
        "id": "wamid.uns",
        "timestamp": "1749416383",
        "type": "unsupported",
        "errors": [{"code": 131051}],
    }
    messages = parse(
        wa_delivery({"field": "messages", "value": wa_value([image, audio, button, location, reaction, unsupported])})
    )
    assert [(m.platform_message_id, m.text, m.attachments) for m in messages] == [
        ("wamid.img", "Kaputt \U0001f615", ("image",)),
        ("wamid.aud", "", ("audio",)),
        ("wamid.btn", "", ("button",)),
        ("wamid.loc", "", ("location",)),
        ("wamid.rea", "", ("reaction",)),
        ("wamid.uns", "", ("unsupported",)),
    ]


def test_whatsapp_batch_with_statuses_other_fields_and_unknown_contact() -> None:
    stranger = dict(wa_text("wamid.2", "hi"), **{"from": "447700900123"})
    delivery = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": WABA_ID,
                "changes": [
                    {"field": "messages", "value": wa_value(statuses=[WA_STATUS])},
                    {"field": "messages", "value": wa_value([wa_text("wamid.1"), stranger])},
                    {"field": "message_template_status_update", "value": {"event": "APPROVED"}},
                ],
            },
            {
                "id": WABA_ID,
                "changes": [{"field": "messages", "value": wa_value([wa_text("wamid.3")], statuses=[WA_STATUS])}],
            },
        ],
    }
    messages = parse(delivery)
    assert [(m.platform_message_id, m.customer_id, m.customer_name) for m in messages] == [
        ("wamid.1", WA_ID, "Sheena Nelson"),
        ("wamid.2", "447700900123", None),
        ("wamid.3", WA_ID, "Sheena Nelson"),
    ]
    assert messages[1].raw["entry"][0]["changes"][0]["value"]["messages"] == [stranger]
    assert "contacts" not in messages[1].raw["entry"][0]["changes"][0]["value"]


# --- raw --------------------------------------------------------------------------------------


def everything() -> list[dict]:
    """Realistic deliveries covering every parsed shape (also seeds the fuzzers)."""
    attachment_dm = messenger_in(mid="m_att")
    attachment_dm["message"] = {
        "mid": "m_att",
        "attachments": [{"type": "file", "payload": {"url": "https://x/y.pdf"}}],
    }
    return [
        page_delivery(
            page_entry(
                messaging=[messenger_in(), DELIVERY, messenger_echo(), attachment_dm],
                changes=[feed_comment(), feed_comment(comment_id="c2", from_id=PAGE_ID, parent_id="p_1")],
            ),
        ),
        ig_delivery(
            {
                "id": IG_ID,
                "time": T_MS,
                "messaging": [
                    {
                        "sender": {"id": IGSID},
                        "recipient": {"id": IG_ID},
                        "timestamp": T_MS,
                        "message": {"mid": "d1", "text": "hi"},
                    }
                ],
            },
            {"id": IG_ID, "time": T_S, "changes": [{"field": "comments", "value": ig_comment_value(parent_id="1")}]},
            {"id": IG_ID, "time": T_S, "field": "comments", "value": ig_comment_value("c3", from_id=IG_ID)},
        ),
        wa_delivery(
            {
                "field": "messages",
                "value": wa_value(
                    [wa_text(), dict(wa_text("wamid.i"), type="image", image={"caption": "c"})], statuses=[WA_STATUS]
                ),
            },
        ),
    ]


@pytest.mark.parametrize("delivery", everything())
def test_raw_is_a_minimal_delivery_that_replays_to_the_same_message(delivery: dict) -> None:
    messages = parse(delivery)
    assert messages
    for m in messages:
        replayed = meta.parse(json.dumps(m.raw).encode())
        assert replayed == [m]
        assert m.raw["object"] == delivery["object"] and len(m.raw["entry"]) == 1


# --- bad shapes ---------------------------------------------------------------------------------


def _with(delivery: dict, path: tuple, value: Any) -> dict:
    """A deep copy of ``delivery`` with ``value`` at ``path`` (``DELETE`` removes the key)."""
    out = copy.deepcopy(delivery)
    node = out
    for key in path[:-1]:
        node = node[key]
    if value is DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return out


DELETE = object()
MESSENGER = page_delivery(page_entry(messaging=[DELIVERY, messenger_in()], changes=[feed_comment()]))
INSTAGRAM = ig_delivery({"id": IG_ID, "time": T_S, "changes": [{"field": "comments", "value": ig_comment_value()}]})
WHATSAPP = wa_delivery({"field": "messages", "value": wa_value([wa_text()])})
M = ("entry", 0, "messaging", 1)
C = ("entry", 0, "changes", 0, "value")
IC = ("entry", 0, "changes", 0, "value")
W = ("entry", 0, "changes", 0, "value")


@pytest.mark.parametrize(
    ("delivery", "expected"),
    [
        ([], "body must be a JSON object"),
        ({"entry": []}, "object is missing"),
        ({"object": 7, "entry": []}, "object must be str"),
        ({"object": "user", "entry": []}, "object 'user' is not supported"),
        ({"object": "page"}, "entry is missing"),
        ({"object": "page", "entry": {"id": "1"}}, "entry must be list"),
        ({"object": "page", "entry": ["x"]}, r"entry[0] must be an object"),
        ({"object": "page", "entry": [{"messaging": []}]}, r"entry[0].id must be a non-empty id"),
        (_with(MESSENGER, ("entry", 0, "messaging"), {}), "entry[0].messaging must be list"),
        (_with(MESSENGER, ("entry", 0, "messaging", 1), 5), "entry[0].messaging[1] must be an object"),
        (_with(MESSENGER, (*M, "sender", "id"), DELETE), "entry[0].messaging[1].sender.id must be a non-empty id"),
        (_with(MESSENGER, (*M, "sender"), DELETE), "entry[0].messaging[1].sender is missing"),
        (_with(MESSENGER, (*M, "sender"), "6734521198746521"), "entry[0].messaging[1].sender must be dict"),
        (_with(MESSENGER, (*M, "message"), "hi"), "entry[0].messaging[1].message must be dict"),
        (_with(MESSENGER, (*M, "message", "text"), 42), "entry[0].messaging[1].message.text must be str"),
        (_with(MESSENGER, (*M, "message", "mid"), DELETE), "entry[0].messaging[1].message.mid must be a non-empty id"),
        (_with(MESSENGER, (*M, "message", "is_echo"), "true"), "entry[0].messaging[1].message.is_echo must be bool"),
        (
            _with(MESSENGER, (*M, "message", "attachments"), [{"payload": {}}]),
            "entry[0].messaging[1].message.attachments[0].type is missing",
        ),
        (
            _with(MESSENGER, (*M, "message", "attachments"), "image"),
            "entry[0].messaging[1].message.attachments must be list",
        ),
        (_with(MESSENGER, (*M, "timestamp"), [1]), "entry[0].messaging[1].timestamp must be a timestamp"),
        (_with(MESSENGER, (*M, "timestamp"), DELETE), "entry[0].messaging[1].timestamp must be a timestamp"),
        (_with(MESSENGER, (*M, "timestamp"), "soon"), "entry[0].messaging[1].timestamp must be a timestamp"),
        (_with(MESSENGER, (*M, "timestamp"), 1e300), "entry[0].messaging[1].timestamp must be a timestamp"),
        (_with(MESSENGER, ("entry", 0, "changes"), "feed"), "entry[0].changes must be list"),
        (_with(MESSENGER, ("entry", 0, "changes", 0, "value"), []), "entry[0].changes[0].value must be dict"),
        (_with(MESSENGER, (*C, "from"), "Test User"), "entry[0].changes[0].value.from must be dict"),
        (_with(MESSENGER, (*C, "from", "name"), ["Test"]), "entry[0].changes[0].value.from.name must be str"),
        (_with(MESSENGER, (*C, "comment_id"), 1.5), "entry[0].changes[0].value.comment_id must be a non-empty id"),
        (_with(MESSENGER, (*C, "post_id"), DELETE), "entry[0].changes[0].value.post_id must be a non-empty id"),
        (_with(MESSENGER, (*C, "created_time"), {}), "entry[0].changes[0].value.created_time must be a timestamp"),
        (_with(MESSENGER, (*C, "message"), False), "entry[0].changes[0].value.message must be str"),
        (_with(INSTAGRAM, (*IC, "media"), DELETE), "entry[0].changes[0].value.media is missing"),
        (_with(INSTAGRAM, (*IC, "media", "id"), None), "entry[0].changes[0].value.media.id must be a non-empty id"),
        (_with(INSTAGRAM, (*IC, "from", "username"), 3), "entry[0].changes[0].value.from.username must be str"),
        (_with(INSTAGRAM, ("entry", 0, "time"), "yesterday"), "entry[0].time must be a timestamp"),
        (_with(INSTAGRAM, ("entry", 0, "time"), True), "entry[0].time must be a timestamp"),
        (ig_delivery({"id": IG_ID, "field": "comments", "value": "x"}), "entry[0].value must be dict"),
        (_with(WHATSAPP, (*W, "metadata"), DELETE), "entry[0].changes[0].value.metadata is missing"),
        (
            _with(WHATSAPP, (*W, "metadata", "phone_number_id"), DELETE),
            "entry[0].changes[0].value.metadata.phone_number_id must be a non-empty id",
        ),
        (
            _with(WHATSAPP, (*W, "messages", 0, "text"), "hello"),
            "entry[0].changes[0].value.messages[0].text must be dict",
        ),
        (
            _with(WHATSAPP, (*W, "messages", 0, "text", "body"), 1),
            "entry[0].changes[0].value.messages[0].text.body must be str",
        ),
        (_with(WHATSAPP, (*W, "messages", 0, "type"), DELETE), "entry[0].changes[0].value.messages[0].type is missing"),
        (
            _with(WHATSAPP, (*W, "messages", 0, "from"), ""),
            "entry[0].changes[0].value.messages[0].from must be a non-empty id",
        ),
        (
            _with(WHATSAPP, (*W, "messages", 0, "timestamp"), "1749416383s"),
            "entry[0].changes[0].value.messages[0].timestamp must be a timestamp",
        ),
        (_with(WHATSAPP, (*W, "messages"), {"0": {}}), "entry[0].changes[0].value.messages must be list"),
        (
            _with(WHATSAPP, (*W, "contacts", 0, "profile"), "Sheena"),
            "entry[0].changes[0].value.contacts[0].profile must be dict",
        ),
        (
            _with(WHATSAPP, (*W, "contacts", 0, "wa_id"), DELETE),
            "entry[0].changes[0].value.contacts[0].wa_id must be a non-empty id",
        ),
        (
            _with(WHATSAPP, (*W, "messages", 0), dict(wa_text(), type="image", image="cat.jpg")),
            "entry[0].changes[0].value.messages[0].image must be dict",
        ),
    ],
)
def test_bad_shapes_name_the_path(delivery: Any, expected: str) -> None:
    with pytest.raises(BadRequest) as caught:
        parse(delivery)
    assert expected in caught.value.message


@pytest.mark.parametrize("raw", [b"", b"{", b"\xff\xfe", b"null", b'"page"', b"[1]", b"{}" * 2, b"[" * 100_000])
def test_non_object_bodies(raw: bytes) -> None:
    with pytest.raises(BadRequest):
        meta.parse(raw)


# --- fuzzing -------------------------------------------------------------------------------------

KEYS = st.sampled_from(
    [
        "object",
        "entry",
        "id",
        "time",
        "messaging",
        "changes",
        "field",
        "value",
        "sender",
        "recipient",
        "timestamp",
        "message",
        "mid",
        "text",
        "is_echo",
        "is_deleted",
        "attachments",
        "type",
        "item",
        "verb",
        "from",
        "name",
        "comment_id",
        "post_id",
        "parent_id",
        "created_time",
        "media",
        "username",
        "metadata",
        "phone_number_id",
        "contacts",
        "wa_id",
        "profile",
        "messages",
        "statuses",
        "body",
        "caption",
        "image",
    ]
) | st.text(max_size=4)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(st.characters(exclude_categories=()), max_size=8)
    | st.sampled_from(
        [
            "page",
            "instagram",
            "whatsapp_business_account",
            "feed",
            "comments",
            "messages",
            "comment",
            "add",
            "text",
            "image",
            PAGE_ID,
            "1e12",
            "-1",
        ]
    )
)
JSON = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=5), max_leaves=25
)


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            out += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            out += _paths(item, (*prefix, index))
    return out


@st.composite
def mutated(draw: st.DrawFn) -> Any:
    """A realistic delivery with one subtree replaced by arbitrary JSON or removed."""
    delivery = draw(st.sampled_from(everything()))
    path = draw(st.sampled_from(_paths(delivery)))
    if not path:
        return draw(JSON)
    return _with(delivery, path, draw(st.just(DELETE) | JSON))


def check_outcome(raw: bytes) -> None:
    try:
        messages = meta.parse(raw)
    except BadRequest as exc:
        assert exc.message
        return
    assert isinstance(messages, list)
    for m in messages:
        assert isinstance(m, Message)
        assert m.platform in ("facebook", "instagram", "whatsapp")
        assert m.channel in ("dm", "comment") and m.direction in ("in", "out")
        assert isinstance(m.account_id, str) and m.account_id
        assert isinstance(m.platform_message_id, str) and m.platform_message_id
        assert isinstance(m.text, str) and m.sent_at.tzinfo is not None
        assert all(isinstance(a, str) for a in m.attachments)
        assert m.customer_id is None or isinstance(m.customer_id, str)
        json.dumps(m.raw)


ANY_TEXT = st.text(st.characters(exclude_categories=()))  # lone surrogates too
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(JSON)
def test_fuzz_arbitrary_json(value: Any) -> None:
    check_outcome(json.dumps(value).encode())


@FUZZ
@given(st.sampled_from(["page", "instagram", "whatsapp_business_account"]), st.lists(JSON, max_size=3))
def test_fuzz_arbitrary_entries(kind: str, entries: list) -> None:
    check_outcome(json.dumps({"object": kind, "entry": entries}).encode())


@FUZZ
@given(mutated())
def test_fuzz_mutated_realistic_deliveries(value: Any) -> None:
    check_outcome(json.dumps(value).encode())


@FUZZ
@given(st.binary(max_size=200))
def test_fuzz_arbitrary_bytes(raw: bytes) -> None:
    check_outcome(raw)


@FUZZ
@given(ANY_TEXT, st.binary(max_size=64))
def test_fuzz_signature_header_only_401_or_403(presented: str, raw: bytes) -> None:
    with pytest.raises((Unauthorized, Forbidden)):
        meta.verify({"X-Hub-Signature-256": presented}, raw, "s3cret")


@FUZZ
@given(st.dictionaries(st.sampled_from(["hub.mode", "hub.verify_token", "hub.challenge"]), ANY_TEXT))
def test_fuzz_handshake_params(params: dict) -> None:
    try:
        assert meta.handshake(params, "meatyhamhock") == params["hub.challenge"]
    except (Unauthorized, Forbidden, BadRequest):
        return
