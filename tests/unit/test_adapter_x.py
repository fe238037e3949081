"""X adapter: CRC, x-twitter-webhooks-signature, and Account Activity API deliveries.

Payloads follow the Account Activity API documentation and the sample delivery in
Zammad's test data (test/data/twitter/webhook1_direct_message.json).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from functions.adapters import x
from functions.domain.message import Message
from functions.errors import BadRequest, Forbidden, ServiceUnavailable, Unauthorized

BRAND = "3001969357"
CUSTOMER = "4337869213"
SECRET = "z3ZX4v7mAAUGykl3EcmkqbartmuW8VFOOzCloLx9Q45P0hLrFu"


def body(payload: Any) -> bytes:
    return json.dumps(payload).encode()


def parse(payload: Any) -> list[Message]:
    return x.parse(body(payload))


def x_signature(secret: str, raw: bytes) -> str:
    """Computed here independently of the adapter."""
    return "sha256=" + base64.b64encode(hmac.new(secret.encode(), raw, hashlib.sha256).digest()).decode()


def dm(
    event_id: str = "1062015437679050760", sender: str = CUSTOMER, recipient: str = BRAND, text: str = "Hey! Hello!"
) -> dict:
    return {
        "type": "message_create",
        "id": event_id,
        "created_timestamp": "1542039186292",
        "message_create": {
            "target": {"recipient_id": recipient},
            "sender_id": sender,
            "source_app_id": "268278",
            "message_data": {
                "text": text,
                "entities": {"hashtags": [], "symbols": [], "user_mentions": [], "urls": []},
            },
        },
    }


USERS = {
    BRAND: {"id": BRAND, "created_timestamp": "1476091912921", "name": "Heed Support", "screen_name": "heedhq"},
    CUSTOMER: {
        "id": CUSTOMER,
        "created_timestamp": "1290730789000",
        "name": "Martin \u00d6zdemir",
        "screen_name": "martin_oz",
    },
}


def tweet(
    tweet_id: str = "1050118621198921728",
    author: str = CUSTOMER,
    reply_to_status: str | None = None,
    reply_to_user: str | None = BRAND,
    text: str = "@heedhq my order never arrived",
) -> dict:
    return {
        "created_at": "Wed Oct 10 20:19:24 +0000 2018",
        "id": int(tweet_id),
        "id_str": tweet_id,
        "text": text,
        "source": '<a href="http://twitter.com" rel="nofollow">Twitter Web Client</a>',
        "truncated": False,
        "in_reply_to_status_id": int(reply_to_status) if reply_to_status else None,
        "in_reply_to_status_id_str": reply_to_status,
        "in_reply_to_user_id": int(reply_to_user) if reply_to_user else None,
        "in_reply_to_user_id_str": reply_to_user,
        "in_reply_to_screen_name": "heedhq" if reply_to_user == BRAND else None,
        "user": dict(USERS[author], id=int(author), id_str=author),
        "entities": {"hashtags": [], "urls": [], "user_mentions": [], "symbols": []},
        "timestamp_ms": "1539202764000",
    }


def dms(*events: dict, users: dict | None = None) -> dict:
    return {
        "for_user_id": BRAND,
        "direct_message_events": list(events),
        "apps": {},
        "users": USERS if users is None else users,
    }


def tweets(*events: dict) -> dict:
    return {"for_user_id": BRAND, "user_has_blocked": False, "tweet_create_events": list(events)}


# --- CRC and signature -------------------------------------------------------------------------


def test_crc_known_answer() -> None:
    # Secret and token from X's sample CRC code (gist jcipriano/46c4b3f3...); the
    # expected value was computed once with `openssl dgst -sha256 -hmac <secret> -binary | base64`.
    response = x.crc_response({"crc_token": "9b4507b3-9040-4669-9ca3-6b94edb50553"}, SECRET)
    assert response == {"response_token": "sha256=Cytd4Sq+NvEcV3MMrXxWJGJx5A+y/lXzzU2Maartkx8="}


def test_crc_rfc4231_vector_is_base64_not_hex() -> None:
    # RFC 4231 test case 2: HMAC-SHA-256("Jefe", "what do ya want for nothing?") = 5bdcc146...3843.
    token = x.crc_response({"crc_token": "what do ya want for nothing?"}, "Jefe")["response_token"]
    assert token == "sha256=W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM="
    assert base64.b64decode(token[7:]).hex() == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"


@pytest.mark.parametrize("params", [None, {}, {"crc_token": ""}, {"nonce": "x"}])
def test_crc_without_token(params: dict | None) -> None:
    with pytest.raises(BadRequest, match="crc_token"):
        x.crc_response(params, SECRET)


def test_crc_with_a_lone_surrogate_does_not_crash() -> None:
    assert x.crc_response({"crc_token": "\ud800"}, SECRET)["response_token"].startswith("sha256=")


def test_crc_without_secret_is_unavailable() -> None:
    with pytest.raises(ServiceUnavailable):
        x.crc_response({"crc_token": "t"}, "")


def test_published_vectors_verify() -> None:
    x.verify(
        {"x-twitter-webhooks-signature": "sha256=W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM="},
        b"what do ya want for nothing?",
        "Jefe",
    )
    # GitHub's documented vector (hex 757107ea...3e17), base64-encoded with openssl.
    x.verify(
        {"X-Twitter-Webhooks-Signature": "sha256=dXEH6g6yUJ/CESIczphLijdXC211hsIsRvQ3nIsEPhc="},
        b"Hello, World!",
        "It's a Secret to Everybody",
    )


def test_independently_computed_signature() -> None:
    raw = body(dms(dm()))
    x.verify({"X-Twitter-Webhooks-Signature": x_signature(SECRET, raw)}, raw, SECRET)


def test_signature_is_over_the_raw_bytes_not_reserialised_json() -> None:
    raw = (
        b'{"for_user_id":"3001969357",  "direct_message_events":[{"type":"message_create","id":"1",'
        b'"created_timestamp":"1542039186292","message_create":{"target":{"recipient_id":"3001969357"},'
        b'"sender_id":"4337869213","message_data":{"text":"Gr\\u00fc\\u00dfe https:\\/\\/t.co\\/x"}}}]}'
    )
    reserialised = json.dumps(json.loads(raw)).encode()
    assert reserialised != raw
    x.verify({"x-twitter-webhooks-signature": x_signature(SECRET, raw)}, raw, SECRET)
    with pytest.raises(Forbidden):
        x.verify({"x-twitter-webhooks-signature": x_signature(SECRET, reserialised)}, raw, SECRET)
    with pytest.raises(Forbidden):
        x.verify({"x-twitter-webhooks-signature": x_signature(SECRET, raw)}, reserialised, SECRET)
    [m] = x.parse(raw)
    assert m.text == "Gr\u00fc\u00dfe https://t.co/x"


@pytest.mark.parametrize(
    ("headers", "error"),
    [
        ({}, Unauthorized),
        ({"x-twitter-webhooks-signature": ""}, Unauthorized),
        ({"x-twitter-webhooks-signature": "sha256=\ud800"}, Forbidden),
        ({"x-twitter-webhooks-signature": "sha256=W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEm="}, Forbidden),
        ({"x-twitter-webhooks-signature": "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM="}, Forbidden),
        (
            {"x-twitter-webhooks-signature": "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
            Forbidden,
        ),
        ({"x-hub-signature-256": "sha256=W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM="}, Unauthorized),
    ],
)
def test_bad_signatures(headers: dict, error: type[Exception]) -> None:
    with pytest.raises(error):
        x.verify(headers, b"what do ya want for nothing?", "Jefe")


def test_verify_without_secret_is_unavailable() -> None:
    with pytest.raises(ServiceUnavailable):
        x.verify({"x-twitter-webhooks-signature": x_signature("", b"{}")}, b"{}", "")


# --- DMs ------------------------------------------------------------------------------------------


def test_incoming_dm() -> None:
    [m] = parse(dms(dm(text="Wo bleibt meine Bestellung? \U0001f69a")))
    assert m == Message(
        platform="x",
        channel="dm",
        account_id=BRAND,
        platform_message_id="1062015437679050760",
        direction="in",
        sent_at=datetime(2018, 11, 12, 16, 13, 6, 292000, tzinfo=UTC),
        text="Wo bleibt meine Bestellung? \U0001f69a",
        raw=m.raw,
        customer_id=CUSTOMER,
        customer_name="Martin \u00d6zdemir",
    )


def test_brands_own_dm_is_outgoing_to_the_recipient() -> None:
    [m] = parse(dms(dm(sender=BRAND, recipient=CUSTOMER, text="Sorry! Checking now.")))
    assert (m.direction, m.customer_id, m.customer_name) == ("out", CUSTOMER, "Martin \u00d6zdemir")


def test_dm_name_falls_back_to_screen_name_and_to_none() -> None:
    [m] = parse(dms(dm(), users={CUSTOMER: {"id": CUSTOMER, "screen_name": "martin_oz"}}))
    assert m.customer_name == "martin_oz"
    [m] = parse(dms(dm(), users={}))
    assert m.customer_name is None
    del_users = dms(dm())
    del del_users["users"]
    assert parse(del_users)[0].customer_name is None


def test_other_dm_event_types_are_ignored() -> None:
    other = {"type": "message_delete", "id": "5", "created_timestamp": "1542039186292"}
    assert [m.platform_message_id for m in parse(dms(other, dm("2"), {"id": "3"}))] == ["2"]


def test_dm_with_media_only() -> None:
    event = dm(text="https://t.co/x5Yl1Y0ZpG")
    event["message_create"]["message_data"]["attachment"] = {
        "type": "media",
        "media": {"id": 1, "type": "photo", "media_url_https": "https://ton.twitter.com/1.jpg"},
    }
    [m] = parse(dms(event))
    assert m.attachments == ("photo",)


def test_numeric_for_user_id() -> None:
    payload = dms(dm())
    payload["for_user_id"] = int(BRAND)
    [m] = parse(payload)
    assert m.account_id == BRAND


# --- tweets ----------------------------------------------------------------------------------------


def test_mention() -> None:
    [m] = parse(tweets(tweet()))
    assert m == Message(
        platform="x",
        channel="mention",
        account_id=BRAND,
        platform_message_id="1050118621198921728",
        direction="in",
        sent_at=datetime(2018, 10, 10, 20, 19, 24, tzinfo=UTC),
        text="@heedhq my order never arrived",
        raw=m.raw,
        customer_id=CUSTOMER,
        customer_name="Martin \u00d6zdemir",
        root_id="1050118621198921728",
        reply_to=None,
    )


def test_customer_reply_in_a_thread() -> None:
    [m] = parse(tweets(tweet("1050118621198921729", reply_to_status="1050118621198921000")))
    assert (m.reply_to, m.root_id) == ("1050118621198921000", "1050118621198921000")


def test_brand_reply_is_outgoing_to_the_replied_user() -> None:
    reply = tweet(
        "1050118621198921730",
        author=BRAND,
        reply_to_status="1050118621198921728",
        reply_to_user=CUSTOMER,
        text="@martin_oz sorry!",
    )
    [m] = parse(tweets(reply))
    assert (m.direction, m.customer_id, m.customer_name, m.reply_to) == ("out", CUSTOMER, None, "1050118621198921728")


@pytest.mark.parametrize("reply_to_user", [None, BRAND])
def test_brand_tweet_without_customer(reply_to_user: str | None) -> None:
    [m] = parse(tweets(tweet(author=BRAND, reply_to_user=reply_to_user, text="New opening hours")))
    assert (m.direction, m.customer_id) == ("out", None)


def test_extended_tweet_full_text() -> None:
    long = tweet(text="@heedhq first 140 characters\u2026 https://t.co/abc")
    long["truncated"] = True
    long["extended_tweet"] = {"full_text": "@heedhq " + "\u00e4" * 200, "display_text_range": [8, 208]}
    [m] = parse(tweets(long))
    assert m.text == "@heedhq " + "\u00e4" * 200


def test_created_at_when_timestamp_ms_missing() -> None:
    event = tweet()
    del event["timestamp_ms"]
    event["created_at"] = "Thu Apr 06 15:24:15 +0200 2017"
    [m] = parse(tweets(event))
    assert m.sent_at == datetime(2017, 4, 6, 13, 24, 15, tzinfo=UTC)


def test_retweets_are_not_messages() -> None:
    retweet = tweet("1050118621198921999", text="RT @heedhq: New opening hours")
    retweet["retweeted_status"] = tweet(author=BRAND, reply_to_user=None)
    assert parse(tweets(retweet)) == []


def test_mixed_delivery_keeps_order() -> None:
    payload = {
        **dms(dm("d1"), dm("d2", sender=BRAND, recipient=CUSTOMER)),
        "tweet_create_events": [tweet("11"), tweet("12", author=BRAND, reply_to_status="11", reply_to_user=CUSTOMER)],
    }
    assert [(m.channel, m.platform_message_id, m.direction) for m in parse(payload)] == [
        ("dm", "d1", "in"),
        ("dm", "d2", "out"),
        ("mention", "11", "in"),
        ("mention", "12", "out"),
    ]


@pytest.mark.parametrize(
    "payload",
    [
        {"for_user_id": BRAND, "favorite_events": [{"id": "a", "favorited_status": {}, "user": {}}]},
        {"for_user_id": BRAND, "follow_events": [{"type": "follow", "source": {}, "target": {}}]},
        {"for_user_id": BRAND, "direct_message_indicate_typing_events": [{"sender_id": CUSTOMER}]},
        {"for_user_id": BRAND, "tweet_delete_events": [{"status": {"id": "1", "user_id": CUSTOMER}}]},
        {
            "user_event": {
                "revoke": {
                    "date_time": "2018-05-24T09:48:12+00:00",
                    "target": {"app_id": "13090192"},
                    "source": {"user_id": "63046977"},
                }
            }
        },
        {"for_user_id": BRAND, "something_new": True},
        {},
    ],
)
def test_deliveries_without_messages(payload: dict) -> None:
    assert parse(payload) == []


def test_raw_replays_to_the_same_message() -> None:
    payload = {
        **dms(dm("d1"), dm("d2", sender=BRAND, recipient=CUSTOMER)),
        "tweet_create_events": [tweet("11"), tweet("12", author=BRAND, reply_to_status="11")],
    }
    for m in parse(payload):
        assert x.parse(json.dumps(m.raw).encode()) == [m]
    assert set(parse(payload)[0].raw["users"]) == {BRAND, CUSTOMER}


# --- bad shapes -------------------------------------------------------------------------------------

DELETE = object()


def _with(payload: dict, path: tuple, value: Any) -> dict:
    out = copy.deepcopy(payload)
    node = out
    for key in path[:-1]:
        node = node[key]
    if value is DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return out


DMS = dms(dm())
TWEETS = tweets(tweet())
D = ("direct_message_events", 0)
T = ("tweet_create_events", 0)


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ([], "body must be a JSON object"),
        (_with(DMS, ("for_user_id",), DELETE), "for_user_id must be a non-empty id"),
        (_with(TWEETS, ("for_user_id",), ["1"]), "for_user_id must be a non-empty id"),
        (_with(DMS, ("direct_message_events",), {}), "direct_message_events must be list"),
        (_with(DMS, D, "x"), "direct_message_events[0] must be an object"),
        (_with(DMS, ("users",), []), "users must be dict"),
        (_with(DMS, ("users", CUSTOMER), "Martin"), f"users.{CUSTOMER} must be dict"),
        (_with(DMS, ("users", CUSTOMER, "name"), 5), f"users.{CUSTOMER}.name must be str"),
        (_with(DMS, (*D, "id"), DELETE), "direct_message_events[0].id must be a non-empty id"),
        (
            _with(DMS, (*D, "created_timestamp"), "yesterday"),
            "direct_message_events[0].created_timestamp must be a timestamp",
        ),
        (_with(DMS, (*D, "message_create"), DELETE), "direct_message_events[0].message_create is missing"),
        (
            _with(DMS, (*D, "message_create", "sender_id"), 1.0),
            "direct_message_events[0].message_create.sender_id must be a non-empty id",
        ),
        (
            _with(dms(dm(sender=BRAND, recipient=CUSTOMER)), (*D, "message_create", "target"), DELETE),
            "direct_message_events[0].message_create.target is missing",
        ),
        (
            _with(DMS, (*D, "message_create", "message_data"), "hi"),
            "direct_message_events[0].message_create.message_data must be dict",
        ),
        (
            _with(DMS, (*D, "message_create", "message_data", "text"), ["hi"]),
            "direct_message_events[0].message_create.message_data.text must be str",
        ),
        (_with(TWEETS, ("tweet_create_events",), "x"), "tweet_create_events must be list"),
        (_with(TWEETS, (*T, "id_str"), DELETE), "tweet_create_events[0].id_str must be a non-empty id"),
        (_with(TWEETS, (*T, "user"), DELETE), "tweet_create_events[0].user is missing"),
        (_with(TWEETS, (*T, "user", "id_str"), None), "tweet_create_events[0].user.id_str must be a non-empty id"),
        (_with(TWEETS, (*T, "user", "name"), {}), "tweet_create_events[0].user.name must be str"),
        (_with(TWEETS, (*T, "text"), 1), "tweet_create_events[0].text must be str"),
        (_with(TWEETS, (*T, "extended_tweet"), "long"), "tweet_create_events[0].extended_tweet must be dict"),
        (
            _with(TWEETS, (*T, "in_reply_to_status_id_str"), True),
            "tweet_create_events[0].in_reply_to_status_id_str must be a non-empty id",
        ),
        (_with(TWEETS, (*T, "timestamp_ms"), "soon"), "tweet_create_events[0].timestamp_ms must be a timestamp"),
        (
            _with(_with(TWEETS, (*T, "timestamp_ms"), DELETE), (*T, "created_at"), DELETE),
            "tweet_create_events[0].created_at is missing",
        ),
        (
            _with(_with(TWEETS, (*T, "timestamp_ms"), DELETE), (*T, "created_at"), "2018-10-10T20:19:24Z"),
            "tweet_create_events[0].created_at must look like",
        ),
    ],
)
def test_bad_shapes_name_the_path(payload: Any, expected: str) -> None:
    with pytest.raises(BadRequest) as caught:
        parse(payload)
    assert expected in caught.value.message


# --- fuzzing ------------------------------------------------------------------------------------------

KEYS = st.sampled_from(
    [
        "for_user_id",
        "direct_message_events",
        "tweet_create_events",
        "users",
        "type",
        "id",
        "created_timestamp",
        "message_create",
        "sender_id",
        "target",
        "recipient_id",
        "message_data",
        "text",
        "attachment",
        "media",
        "id_str",
        "user",
        "name",
        "screen_name",
        "in_reply_to_status_id_str",
        "in_reply_to_user_id_str",
        "extended_tweet",
        "full_text",
        "timestamp_ms",
        "created_at",
        "retweeted_status",
        BRAND,
        CUSTOMER,
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
            "message_create",
            BRAND,
            CUSTOMER,
            "1542039186292",
            "Wed Oct 10 20:19:24 +0000 2018",
            "Mon Jan 01 00:00:00 +2359 0001",
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


SAMPLES = [
    {
        **dms(dm("d1"), dm("d2", sender=BRAND, recipient=CUSTOMER)),
        "tweet_create_events": [tweet("11"), tweet("12", author=BRAND, reply_to_status="11")],
    },
    tweets(
        dict(tweet(), extended_tweet={"full_text": "long"}), {k: v for k, v in tweet().items() if k != "timestamp_ms"}
    ),
]


@st.composite
def mutated(draw: st.DrawFn) -> Any:
    payload = draw(st.sampled_from(SAMPLES))
    path = draw(st.sampled_from(_paths(payload)))
    if not path:
        return draw(JSON)
    return _with(payload, path, draw(st.just(DELETE) | JSON))


def check_outcome(raw: bytes) -> None:
    try:
        messages = x.parse(raw)
    except BadRequest as exc:
        assert exc.message
        return
    assert isinstance(messages, list)
    for m in messages:
        assert isinstance(m, Message) and m.platform == "x" and m.channel in ("dm", "mention")
        assert isinstance(m.account_id, str) and isinstance(m.platform_message_id, str) and m.platform_message_id
        assert isinstance(m.text, str) and m.sent_at.tzinfo is not None
        assert m.customer_id is None or isinstance(m.customer_id, str)
        json.dumps(m.raw)


ANY_TEXT = st.text(st.characters(exclude_categories=()))  # lone surrogates too
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(JSON)
def test_fuzz_arbitrary_json(value: Any) -> None:
    check_outcome(json.dumps(value).encode())


@FUZZ
@given(st.lists(JSON, max_size=3), st.lists(JSON, max_size=3), JSON)
def test_fuzz_arbitrary_events(dm_events: list, tweet_events: list, users: Any) -> None:
    payload = {
        "for_user_id": BRAND,
        "direct_message_events": dm_events,
        "tweet_create_events": tweet_events,
        "users": users,
    }
    check_outcome(json.dumps(payload).encode())


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
        x.verify({"x-twitter-webhooks-signature": presented}, raw, SECRET)


@FUZZ
@given(ANY_TEXT.filter(bool))
def test_fuzz_crc_token(token: str) -> None:
    response = x.crc_response({"crc_token": token}, SECRET)["response_token"]
    assert response.startswith("sha256=") and len(base64.b64decode(response[7:])) == 32
