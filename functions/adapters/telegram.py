"""Telegram Bot API webhook updates to :class:`Message`.

Relied on: the Bot API reference (core.telegram.org/bots/api; ``setWebhook`` as
mirrored in client docs found with the search tool): ``setWebhook``'s
``secret_token`` comes back in the ``X-Telegram-Bot-Api-Secret-Token`` header of
every update (there is no body signature); an ``Update`` has ``update_id`` and at
most one optional field (``message``, ``edited_message``, ``channel_post``,
``callback_query``...); a ``Message`` has ``message_id`` (unique per chat), ``date``
(Unix seconds), ``chat {id, type}``, optional ``from {id, is_bot, first_name,
last_name, username}`` (absent for messages sent on behalf of a chat), ``text`` or
``caption``, and media fields such as ``photo``, ``document``, ``voice``.

The bot's own id is not in the update, so :func:`parse` takes it. ``raw`` is the
update itself, which replays as is.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

from functions.adapters.common import (
    check_secret,
    configured,
    field,
    header,
    id_field,
    load_json_object,
    optional_field,
    utc_from_seconds,
)
from functions.domain.message import Message

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ATTACHMENT_KINDS = ("photo", "document", "voice", "video", "sticker", "audio", "location", "contact")


def verify(headers: Mapping[str, str], expected_token: str) -> None:
    """The secret token header must equal the one given to ``setWebhook``."""
    configured(expected_token, "Telegram webhook secret token")
    check_secret(header(headers, SECRET_HEADER), expected_token, f"{SECRET_HEADER} header")


def parse(body: bytes, bot_id: str) -> list[Message]:
    """One message per ``message`` update; every other update type gives ``[]``."""
    update = load_json_object(body)
    field(update, "update_id", int, "")
    msg = optional_field(update, "message", dict, "")
    if msg is None:
        return []
    chat = field(msg, "chat", dict, "message")
    chat_id = id_field(chat, "id", "message.chat")
    sender = optional_field(msg, "from", dict, "message")
    outgoing = (
        sender is not None
        and bool(optional_field(sender, "is_bot", bool, "message.from"))
        and id_field(sender, "id", "message.from") == bot_id
    )
    text = optional_field(msg, "text", str, "message") or optional_field(msg, "caption", str, "message")
    return [
        Message(
            platform="telegram",
            channel="dm",  # private chats and groups alike: one conversation per chat
            account_id=bot_id,
            platform_message_id=f"{chat_id}:{id_field(msg, 'message_id', 'message')}",
            direction="out" if outgoing else "in",
            sent_at=utc_from_seconds(msg.get("date"), "message.date"),
            text=text or "",
            raw=update,
            customer_id=chat_id,
            customer_name=_name(sender, "message.from") or _name(chat, "message.chat"),
            attachments=tuple(kind for kind in ATTACHMENT_KINDS if msg.get(kind) is not None),
        )
    ]


def _name(person: Optional[dict[str, Any]], where: str) -> Optional[str]:
    """First and last name, else the username; a chat without either gives its title."""
    if person is None:
        return None
    first = optional_field(person, "first_name", str, where) or ""
    last = optional_field(person, "last_name", str, where) or ""
    full = f"{first} {last}".strip()
    return full or optional_field(person, "username", str, where) or optional_field(person, "title", str, where)
