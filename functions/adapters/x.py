"""X (Twitter) Account Activity API webhooks to :class:`Message`.

Relied on (checked via the search tool):

* CRC and signatures: developer.x.com/en/docs/x-api/enterprise/account-activity-api/
  guides/securing-webhooks and docs.x.com/x-api/webhooks/quickstart -- both are
  ``"sha256=" + base64(HMAC-SHA256(consumer secret, message))``, base64 not hex.
* Delivery bodies: ``for_user_id`` plus ``direct_message_events[]`` (``type:
  "message_create"``, ``id``, ``created_timestamp`` in ms, ``message_create.sender_id``,
  ``target.recipient_id``, ``message_data.text``/``attachment``) with a ``users`` map,
  or ``tweet_create_events[]`` (v1.1 tweet objects: ``id_str``, ``text``,
  ``extended_tweet.full_text``, ``user``, ``in_reply_to_*_str``, ``timestamp_ms``,
  ``created_at``); see the Account Activity docs and the sample delivery in Zammad's
  test data (test/data/twitter/webhook1_direct_message.json).
* Other keys (``favorite_events``, ``follow_events``, ``user_event`` revokes, which
  carry no ``for_user_id``) produce no messages. Retweets (``retweeted_status``) are
  skipped: they repeat a tweet, they don't say anything to the brand.

``raw`` is a minimal delivery holding just the one event (and, for DMs, the users
it names), so ``parse`` of ``json.dumps(raw)`` gives the same message back.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime
from typing import Any, Mapping, Optional

from functions.adapters.common import (
    check_secret,
    configured,
    field,
    header,
    id_field,
    load_json_object,
    objects,
    optional_field,
    optional_id,
    utc_from_millis,
)
from functions.domain.echoes import x_dm_key, x_reply_key
from functions.domain.message import Message
from functions.errors import BadRequest

SIGNATURE_HEADER = "x-twitter-webhooks-signature"
CREATED_AT_FORMAT = "%a %b %d %H:%M:%S %z %Y"  # "Wed Oct 10 20:19:24 +0000 2018"

Json = dict[str, Any]


def sign(consumer_secret: str, message: bytes) -> str:
    """``"sha256=" + base64(HMAC-SHA256(consumer secret, message))``, as X computes it."""
    secret = configured(consumer_secret, "X consumer secret")
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return "sha256=" + base64.b64encode(digest).decode("ascii")


def crc_response(params: Optional[Mapping[str, str]], consumer_secret: str) -> dict[str, str]:
    """Answer X's challenge-response check (``GET ?crc_token=...``)."""
    token = (params or {}).get("crc_token")
    if not token:
        raise BadRequest("crc_token is missing")
    return {"response_token": sign(consumer_secret, token.encode("utf-8", "surrogatepass"))}


def verify(headers: Mapping[str, str], body: bytes, consumer_secret: str) -> None:
    """Check ``x-twitter-webhooks-signature`` over the raw body bytes."""
    expected = sign(consumer_secret, body)
    check_secret(header(headers, SIGNATURE_HEADER), expected, f"{SIGNATURE_HEADER} header")


def parse(body: bytes) -> list[Message]:
    """DMs and tweets (mentions, replies, the brand's own) in one delivery, in order."""
    data = load_json_object(body)
    if "direct_message_events" not in data and "tweet_create_events" not in data:
        return []  # likes, follows, typing, reads, revokes...
    account = id_field(data, "for_user_id", "")
    users = optional_field(data, "users", dict, "") or {}
    out = []
    for where, event in objects(data, "direct_message_events", ""):
        if event.get("type") == "message_create":
            out.append(_dm(data["for_user_id"], account, users, event, where))
    for where, tweet in objects(data, "tweet_create_events", ""):
        if tweet.get("retweeted_status") is None:
            out.append(_tweet(data["for_user_id"], account, tweet, where))
    return out


def _dm(for_user_id: Any, account: str, users: Json, event: Json, where: str) -> Message:
    where_mc = f"{where}.message_create"
    create = field(event, "message_create", dict, where)
    sender = id_field(create, "sender_id", where_mc)
    outgoing = sender == account
    if outgoing:
        target = field(create, "target", dict, where_mc)
        customer = id_field(target, "recipient_id", f"{where_mc}.target")
    else:
        customer = sender
    data = field(create, "message_data", dict, where_mc)
    named = {uid: users[uid] for uid in (sender, customer, account) if uid in users}
    text = optional_field(data, "text", str, f"{where_mc}.message_data") or ""
    return Message(
        platform="x",
        channel="dm",
        account_id=account,
        platform_message_id=id_field(event, "id", where),
        direction="out" if outgoing else "in",
        sent_at=utc_from_millis(event.get("created_timestamp"), f"{where}.created_timestamp"),
        text=text,
        raw={"for_user_id": for_user_id, "direct_message_events": [event], "users": named},
        customer_id=customer,
        customer_name=_user_name(users, customer),
        attachments=_dm_attachments(data, f"{where_mc}.message_data"),
        followers=None if outgoing else _followers(users.get(customer)),
        # The brand's own DM: a send of Heed's with this recipient and text, if one timed out (domain/echoes.py).
        echo_key=x_dm_key(account, customer, text) if outgoing else None,
    )


def _followers(user: Any) -> Optional[int]:
    """``followers_count`` of a user object when it is there and sane (triage's influencer signal), else None."""
    count = user.get("followers_count") if isinstance(user, dict) else None
    return count if isinstance(count, int) and not isinstance(count, bool) and count >= 0 else None


def _user_name(users: Json, user_id: str) -> Optional[str]:
    user = optional_field(users, user_id, dict, "users")
    if user is None:
        return None
    where = f"users.{user_id}"
    return optional_field(user, "name", str, where) or optional_field(user, "screen_name", str, where)


def _dm_attachments(data: Json, where: str) -> tuple[str, ...]:
    """``("photo",)`` etc. for a DM with media; X sends at most one attachment."""
    attachment = optional_field(data, "attachment", dict, where)
    if attachment is None:
        return ()
    where = f"{where}.attachment"
    media = optional_field(attachment, "media", dict, where) or {}
    kind = optional_field(media, "type", str, f"{where}.media")
    return (kind or optional_field(attachment, "type", str, where) or "media",)


def _tweet(for_user_id: Any, account: str, tweet: Json, where: str) -> Message:
    tweet_id = id_field(tweet, "id_str", where)
    user = field(tweet, "user", dict, where)
    author = id_field(user, "id_str", f"{where}.user")
    reply_to = optional_id(tweet, "in_reply_to_status_id_str", where)
    text = _tweet_text(tweet, where)
    echo_key = None
    if author == account and reply_to:  # the brand's reply: Heed's, if one timed out with this text
        echo_key = x_reply_key(account, reply_to, _displayed(tweet, text))
    if author == account:  # the brand's own tweet or reply
        customer = optional_id(tweet, "in_reply_to_user_id_str", where)
        customer = None if customer == account else customer
        name = None
    else:
        customer = author
        name = optional_field(user, "name", str, f"{where}.user") or optional_field(
            user, "screen_name", str, f"{where}.user"
        )
    return Message(
        platform="x",
        channel="mention",
        account_id=account,
        platform_message_id=tweet_id,
        direction="out" if author == account else "in",
        sent_at=_tweet_time(tweet, where),
        text=text,
        raw={"for_user_id": for_user_id, "tweet_create_events": [tweet]},
        customer_id=customer,
        customer_name=name,
        followers=None if author == account else _followers(user),
        root_id=reply_to or tweet_id,
        reply_to=reply_to,
        echo_key=echo_key,
    )


def _displayed(tweet: Json, text: str) -> str:
    """A reply's text without the ``@mentions`` X puts in front (``display_text_range``, code points)."""
    extended = tweet.get("extended_tweet") if isinstance(tweet.get("extended_tweet"), dict) else tweet
    shown = extended.get("display_text_range") if isinstance(extended, dict) else None
    if (isinstance(shown, list) and len(shown) == 2 and all(isinstance(n, int) and not isinstance(n, bool)
                                                            for n in shown) and 0 <= shown[0] <= shown[1]):
        return text[shown[0]:shown[1]]
    return text


def _tweet_text(tweet: Json, where: str) -> str:
    """``extended_tweet.full_text`` (tweets over 140 characters) else ``text``."""
    extended = optional_field(tweet, "extended_tweet", dict, where)
    if extended is not None:
        full = optional_field(extended, "full_text", str, f"{where}.extended_tweet")
        if full:
            return full
    return optional_field(tweet, "text", str, where) or ""


def _tweet_time(tweet: Json, where: str) -> datetime:
    if tweet.get("timestamp_ms") is not None:
        return utc_from_millis(tweet["timestamp_ms"], f"{where}.timestamp_ms")
    created = field(tweet, "created_at", str, where)
    try:  # %a and %b are English in the C locale that Lambda and Python default to
        return datetime.strptime(created, CREATED_AT_FORMAT).astimezone(UTC)
    except (ValueError, OverflowError):
        raise BadRequest(f"{where}.created_at must look like 'Wed Oct 10 20:19:24 +0000 2018'") from None
