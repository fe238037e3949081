"""Recognising Heed's own sends when the platform echoes them back (pure, no I/O).

A send that times out while reading the answer is ambiguous: the platform may
have carried it out. Before sending again, the delivery looks for the
platform's echo of the first attempt under an **echo key** that both sides can
compute without talking to each other:

* Messenger/Instagram Send API (DMs, private replies): ``message_echoes``
  (``is_echo``) carrying the ``metadata`` we sent; key from the marker.
* WhatsApp Cloud API: ``statuses[]`` carrying the ``biz_opaque_callback_data``
  we sent; key from the marker.
* X DM: ``direct_message_events`` from the brand (``sender_id == for_user_id``);
  key from account, recipient and the exact text.
* X reply: ``tweet_create_events`` by the brand; key from account, the tweet
  answered and the exact text (without the ``@mentions`` X puts in front).
* Facebook public comment reply: the Page's own comment in the ``feed`` webhook
  (``from.id`` is the Page); key from page, the comment answered
  (``parent_id``) and the exact text.
* Telegram, Instagram public comment replies: no key. The Bot API has no echo
  and no way to list sent messages; Instagram's ``comments`` webhook is
  documented for other people's comments on the account's media only.

The marker is ``heed1:<a|h>:<first 32 hex of sha256(outbound id)>``: it names
no customer and carries no text; ``a`` marks Heed's automatic messages
(acknowledgements, handoff notices), so their echo is stored as automated and
stops no SLA clock, ``h`` a human's reply. Keys derived from text are hashes too:
neither the key nor the marker puts customer text or ids into an item key.

**Send intents.** X's echoes carry no marker, so an echo alone can't say whether
it is Heed's acknowledgement or a person's reply. Before every X send (and
Facebook public comment reply) the delivery notes the intent under the send's echo key (:func:`intent`:
``<at>|<a|h>|<outbound id>``, and for an automatic send until when its echo may
come). Intake's write of a brand message whose key comes from the text
(:func:`keyed_by_text`) holds only while no automatic send is expected under
the key; otherwise the noted sends decide (:func:`echoes_automatic_send`) and
an echo of an automatic send from the last :data:`INTENT_WINDOW` is stored as
automated, whether it beats the delivery's own write or not.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Optional

from functions.domain.outbound import OutboundMessage

MARKER_PREFIX = "heed1:"
ECHO_TOLERANCE_SECONDS = 5  # an echo this much before the attempt still counts (the platform's clock)
SEND_API_PLATFORMS = ("facebook", "instagram")
INTENT_WINDOW = timedelta(minutes=15)  # an echo this long after a noted send still belongs to it
TEXT_KEY_PREFIXES = ("x:", "c:")  # keys computed from the text: their echoes carry no automated/human flag


@dataclass(frozen=True)
class Echo:
    """Proof that the platform carried out one of Heed's sends: under ``key``, as ``platform_message_id``."""

    key: str
    platform_message_id: str
    at: datetime


def marker(outbound_id: str, automated: bool) -> str:
    """What Heed puts in Meta's ``metadata`` / ``biz_opaque_callback_data`` for one send."""
    return f"{MARKER_PREFIX}{'a' if automated else 'h'}:{_digest(outbound_id)[:32]}"


def parse_marker(value: object) -> Optional[tuple[str, bool]]:
    """``(echo key, automated)`` for one of Heed's markers, else ``None`` (another app's metadata)."""
    if not isinstance(value, str) or not value.startswith(MARKER_PREFIX):
        return None
    flag, _, digest = value[len(MARKER_PREFIX):].partition(":")
    if flag not in ("a", "h") or len(digest) != 32 or any(c not in "0123456789abcdef" for c in digest):
        return None
    return f"m:{digest}", flag == "a"


def x_dm_key(account: str, recipient: str, text: str) -> str:
    return "x:" + _digest(f"dm\n{account}\n{recipient}\n{text}")[:40]


def x_reply_key(account: str, in_reply_to: str, text: str) -> str:
    return "x:" + _digest(f"reply\n{account}\n{in_reply_to}\n{text}")[:40]


def comment_reply_key(page: str, parent_comment: str, text: str) -> str:
    """A Facebook public reply to ``parent_comment`` (the ``feed`` webhook's ``parent_id``)."""
    return "c:" + _digest(f"comment\n{page}\n{parent_comment}\n{text}")[:40]


def uses_marker(message: OutboundMessage) -> bool:
    """Sends that carry :func:`marker`: the Send API (not public comment replies) and WhatsApp."""
    if message.platform == "whatsapp":
        return True
    return message.platform in SEND_API_PLATFORMS and (message.channel == "dm" or message.private)


def outbound_key(message: OutboundMessage) -> Optional[str]:
    """The echo key of a send, or ``None`` when its platform echoes nothing we can match."""
    if message.channel == "email":
        return None
    if uses_marker(message):
        key = parse_marker(marker(message.id, message.automated))
        return key[0] if key else None
    if message.platform == "x" and message.channel == "dm":
        return x_dm_key(message.account_id, message.customer_id, message.text)
    if message.platform == "x" and message.channel == "mention" and message.reply_to:
        return x_reply_key(message.account_id, message.reply_to, message.text)
    if message.platform == "facebook" and message.channel == "comment" and message.reply_to:
        return comment_reply_key(message.account_id, message.reply_to, message.text)
    return None  # Telegram; Instagram public comment replies


def keyed_by_text(key: Optional[str]) -> bool:
    """Whether an echo under ``key`` needs the noted intents to tell Heed's automatic sends from replies."""
    return bool(key) and key.startswith(TEXT_KEY_PREFIXES)


def intent(outbound_id: str, automated: bool, at: str) -> str:
    """What the delivery notes under the echo key right before a send (``at``: ISO UTC, sorts as a string)."""
    return f"{at}|{'a' if automated else 'h'}|{outbound_id}"


@dataclass(frozen=True)
class Intent:
    at: datetime
    automated: bool
    outbound_id: str


def parse_intent(value: str) -> Optional[Intent]:
    at, _, rest = value.partition("|")
    flag, _, outbound_id = rest.partition("|")
    if flag not in ("a", "h") or not outbound_id:
        return None
    try:
        moment = datetime.fromisoformat(at.replace("Z", "+00:00"))
    except ValueError:
        return None
    return Intent(moment, flag == "a", outbound_id)


def echoes_automatic_send(intents: list[str], sent_at: datetime) -> bool:
    """Whether a brand message sent at ``sent_at`` under a text key is the echo of Heed's automatic send.

    True when an automatic send was noted under its key within :data:`INTENT_WINDOW` before it (the
    platform's clock may run :data:`ECHO_TOLERANCE_SECONDS` behind) and no human reply with the very same
    words was: then the echo could be either, and a response is what the brand gave. No intent at all (typed
    in the platform's own app) is a person's response, as ever.
    """
    tolerance = timedelta(seconds=ECHO_TOLERANCE_SECONDS)
    near = [i for i in map(parse_intent, intents)
            if i is not None and i.at - tolerance <= sent_at <= i.at + INTENT_WINDOW]
    return bool(near) and all(i.automated for i in near)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()
