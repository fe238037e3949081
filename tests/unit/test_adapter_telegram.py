"""Telegram adapter: secret-token header and Bot API updates.

Updates follow the Bot API ``Update``/``Message`` objects (core.telegram.org/bots/api).
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from functions.adapters import telegram
from functions.domain.message import Message
from functions.errors import BadRequest, Forbidden, ServiceUnavailable, Unauthorized

BOT_ID = "7112345678"
TOKEN = "Heed_webhook-secret_0123456789"


def body(payload: Any) -> bytes:
    return json.dumps(payload).encode()


def parse(payload: Any, bot_id: str = BOT_ID) -> list[Message]:
    return telegram.parse(body(payload), bot_id)


def private_message(text: str | None = "Hallo! Wo ist mein Paket?", message_id: int = 42) -> dict:
    message: dict = {
        "message_id": message_id,
        "from": {
            "id": 123456789,
            "is_bot": False,
            "first_name": "J\u00fcrgen",
            "last_name": "M\u00fcller",
            "username": "jmueller",
            "language_code": "de",
        },
        "chat": {
            "id": 123456789,
            "first_name": "J\u00fcrgen",
            "last_name": "M\u00fcller",
            "username": "jmueller",
            "type": "private",
        },
        "date": 1700000000,
    }
    if text is not None:
        message["text"] = text
    return {"update_id": 918273645, "message": message}


# --- secret token ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["X-Telegram-Bot-Api-Secret-Token", "x-telegram-bot-api-secret-token"])
def test_matching_secret_token(name: str) -> None:
    telegram.verify({name: TOKEN}, TOKEN)


@pytest.mark.parametrize(
    ("headers", "error"),
    [
        ({}, Unauthorized),
        ({"X-Telegram-Bot-Api-Secret-Token": ""}, Unauthorized),
        ({"X-Telegram-Bot-Api-Secret-Token": TOKEN + "x"}, Forbidden),
        ({"X-Telegram-Bot-Api-Secret-Token": TOKEN[:-1]}, Forbidden),
        ({"X-Telegram-Bot-Api-Secret-Token": TOKEN.lower()}, Forbidden),
        ({"X-Telegram-Bot-Api-Secret-Token": "\udcff"}, Forbidden),
        ({"X-Telegram-Bot-Api-Secret-Token": "\ud800"}, Forbidden),
        ({"Authorization": TOKEN}, Unauthorized),
    ],
)
def test_bad_secret_tokens(headers: dict, error: type[Exception]) -> None:
    with pytest.raises(error):
        telegram.verify(headers, TOKEN)


def test_unconfigured_token_never_verifies() -> None:
    with pytest.raises(ServiceUnavailable):
        telegram.verify({"X-Telegram-Bot-Api-Secret-Token": ""}, "")


# --- updates ---------------------------------------------------------------------------------


def test_private_text_message() -> None:
    update = private_message()
    [m] = parse(update)
    assert m == Message(
        platform="telegram",
        channel="dm",
        account_id=BOT_ID,
        platform_message_id="123456789:42",
        direction="in",
        sent_at=datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC),
        text="Hallo! Wo ist mein Paket?",
        raw=update,
        customer_id="123456789",
        customer_name="J\u00fcrgen M\u00fcller",
    )


def test_name_falls_back_to_username() -> None:
    update = private_message()
    update["message"]["from"] = {"id": 123456789, "is_bot": False, "first_name": "", "username": "jmueller"}
    assert parse(update)[0].customer_name == "jmueller"
    update["message"]["from"] = {"id": 123456789, "is_bot": False, "first_name": "Ana"}
    assert parse(update)[0].customer_name == "Ana"


def test_group_message_is_one_conversation_per_chat() -> None:
    update = {
        "update_id": 918273646,
        "message": {
            "message_id": 7,
            "from": {"id": 555, "is_bot": False, "first_name": "Li", "last_name": "Wei"},
            "chat": {"id": -1001234567890, "title": "Heed customers", "type": "supergroup"},
            "date": 1700000000,
            "text": "@heed_bot \u4f60\u597d",
        },
    }
    [m] = parse(update)
    assert (m.customer_id, m.platform_message_id, m.customer_name, m.channel) == (
        "-1001234567890",
        "-1001234567890:7",
        "Li Wei",
        "dm",
    )


def test_message_sent_on_behalf_of_a_chat_uses_the_chat_title() -> None:
    update = {
        "update_id": 1,
        "message": {
            "message_id": 8,
            "sender_chat": {"id": -1001234567890, "title": "Heed customers", "type": "supergroup"},
            "chat": {"id": -1001234567890, "title": "Heed customers", "type": "supergroup"},
            "date": 1700000000,
            "text": "anonymous admin",
        },
    }
    [m] = parse(update)
    assert (m.direction, m.customer_name) == ("in", "Heed customers")


def test_own_bot_message_is_outgoing_other_bots_are_incoming() -> None:
    own = private_message("Thanks, we're on it")
    own["message"]["from"] = {"id": int(BOT_ID), "is_bot": True, "first_name": "Heed", "username": "heed_bot"}
    assert parse(own)[0].direction == "out"
    other = private_message("I am a bot")
    other["message"]["from"] = {"id": 999, "is_bot": True, "first_name": "Spam", "username": "spam_bot"}
    [m] = parse(other)
    assert (m.direction, m.raw["message"]["from"]["is_bot"]) == ("in", True)
    not_a_bot = private_message()
    not_a_bot["message"]["from"]["id"] = int(BOT_ID)
    assert parse(not_a_bot)[0].direction == "in"


def test_photo_with_caption_and_attachment_only_messages() -> None:
    photo = private_message(text=None)
    photo["message"]["photo"] = [
        {"file_id": "AgAD1", "file_unique_id": "AQAD1", "file_size": 1000, "width": 90, "height": 51},
        {"file_id": "AgAD2", "file_unique_id": "AQAD2", "file_size": 50000, "width": 800, "height": 450},
    ]
    photo["message"]["caption"] = "Broken on arrival \U0001f4a5"
    [m] = parse(photo)
    assert (m.text, m.attachments) == ("Broken on arrival \U0001f4a5", ("photo",))
    voice = private_message(text=None)
    voice["message"]["voice"] = {"file_id": "AwAD", "file_unique_id": "AgAD", "duration": 3, "mime_type": "audio/ogg"}
    voice["message"]["location"] = {"latitude": 52.52, "longitude": 13.405}
    [m] = parse(voice)
    assert (m.text, m.attachments) == ("", ("voice", "location"))


@pytest.mark.parametrize(
    "update",
    [
        {"update_id": 1, "edited_message": private_message()["message"]},
        {
            "update_id": 2,
            "channel_post": {"message_id": 1, "chat": {"id": -100, "type": "channel"}, "date": 1700000000, "text": "x"},
        },
        {
            "update_id": 3,
            "callback_query": {
                "id": "4382bfdwdsb323b2d9",
                "from": {"id": 1, "is_bot": False, "first_name": "A"},
                "data": "yes",
            },
        },
        {"update_id": 4, "my_chat_member": {"chat": {"id": 1}, "from": {"id": 1}}},
        {"update_id": 5},
    ],
)
def test_other_updates_give_nothing(update: dict) -> None:
    assert parse(update) == []


# --- bad shapes --------------------------------------------------------------------------------

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


UPDATE = private_message()


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ([], "body must be a JSON object"),
        ({"message": UPDATE["message"]}, "update_id is missing"),
        (_with(UPDATE, ("update_id",), "918273645"), "update_id must be int"),
        (_with(UPDATE, ("update_id",), True), "update_id must be int"),
        (_with(UPDATE, ("message",), "hi"), "message must be dict"),
        (_with(UPDATE, ("message", "chat"), DELETE), "message.chat is missing"),
        (_with(UPDATE, ("message", "chat", "id"), ""), "message.chat.id must be a non-empty id"),
        (_with(UPDATE, ("message", "chat", "id"), 1.5), "message.chat.id must be a non-empty id"),
        (_with(UPDATE, ("message", "message_id"), DELETE), "message.message_id must be a non-empty id"),
        (_with(UPDATE, ("message", "date"), DELETE), "message.date must be a timestamp"),
        (_with(UPDATE, ("message", "date"), [1700000000]), "message.date must be a timestamp"),
        (_with(UPDATE, ("message", "text"), 5), "message.text must be str"),
        (_with(UPDATE, ("message", "from"), "jmueller"), "message.from must be dict"),
        (_with(UPDATE, ("message", "from", "is_bot"), "false"), "message.from.is_bot must be bool"),
        (_with(UPDATE, ("message", "from", "first_name"), 1), "message.from.first_name must be str"),
    ],
)
def test_bad_shapes_name_the_path(payload: Any, expected: str) -> None:
    with pytest.raises(BadRequest) as caught:
        parse(payload)
    assert expected in caught.value.message


# --- fuzzing -------------------------------------------------------------------------------------

KEYS = st.sampled_from(
    [
        "update_id",
        "message",
        "message_id",
        "from",
        "chat",
        "id",
        "is_bot",
        "first_name",
        "last_name",
        "username",
        "title",
        "type",
        "date",
        "text",
        "caption",
        "photo",
        "voice",
        "document",
    ]
) | st.text(max_size=4)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(st.characters(exclude_categories=()), max_size=8)
    | st.sampled_from([BOT_ID, "private"])
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
    path = draw(st.sampled_from(_paths(UPDATE)))
    if not path:
        return draw(JSON)
    return _with(UPDATE, path, draw(st.just(DELETE) | JSON))


def check_outcome(raw: bytes) -> None:
    try:
        messages = telegram.parse(raw, BOT_ID)
    except BadRequest as exc:
        assert exc.message
        return
    assert isinstance(messages, list) and len(messages) <= 1
    for m in messages:
        assert isinstance(m, Message) and m.platform == "telegram" and m.account_id == BOT_ID
        assert isinstance(m.platform_message_id, str) and isinstance(m.customer_id, str)
        assert isinstance(m.text, str) and m.sent_at.tzinfo is not None
        assert m.customer_name is None or isinstance(m.customer_name, str)
        json.dumps(m.raw)


ANY_TEXT = st.text(st.characters(exclude_categories=()))  # lone surrogates too
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(JSON)
def test_fuzz_arbitrary_json(value: Any) -> None:
    check_outcome(json.dumps(value).encode())


@FUZZ
@given(JSON)
def test_fuzz_arbitrary_message(message: Any) -> None:
    check_outcome(json.dumps({"update_id": 1, "message": message}).encode())


@FUZZ
@given(mutated())
def test_fuzz_mutated_realistic_update(value: Any) -> None:
    check_outcome(json.dumps(value).encode())


@FUZZ
@given(st.binary(max_size=200))
def test_fuzz_arbitrary_bytes(raw: bytes) -> None:
    check_outcome(raw)


@FUZZ
@given(ANY_TEXT)
def test_fuzz_secret_header_only_401_or_403(presented: str) -> None:
    with pytest.raises((Unauthorized, Forbidden)):
        telegram.verify({"X-Telegram-Bot-Api-Secret-Token": presented}, TOKEN)
