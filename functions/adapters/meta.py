"""Meta webhooks (Messenger, Page feed, Instagram, WhatsApp Cloud API) to :class:`Message`.

Shapes relied on (Meta developer documentation, checked via the search tool):

* Verification GET ``hub.mode`` / ``hub.verify_token`` / ``hub.challenge`` and the
  ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, raw body)>`` header:
  developers.facebook.com/docs/graph-api/webhooks/getting-started.
* Messenger ``messaging[]`` events, echoes with ``message.is_echo`` and sender/recipient
  swapped (sender = Page, recipient = PSID): messenger-platform/webhooks/webhook-events
  (message-echoes, message-deliveries).
* Page ``feed`` comment values (``item``, ``verb``, ``comment_id``, ``post_id``,
  ``parent_id``, ``from {id, name}``, ``created_time``, ``message``):
  developers.facebook.com/docs/graph-api/webhooks/reference/page (and the example
  in restfb issue #817).
* Instagram ``comments`` values (``id``, ``text``, ``from {id, username}``,
  ``media {id}``, ``parent_id``), shown both inside ``changes[]`` and directly on
  the entry: developers.facebook.com/docs/instagram-platform/webhooks/examples and
  graph-api/webhooks/reference/instagram. Instagram DMs carry ``message.is_deleted``
  for unsent messages (skipped here: they are not new messages).
* WhatsApp ``changes[].value`` with ``metadata.phone_number_id``, ``contacts[]``,
  ``messages[]`` and ``statuses[]``: business-messaging/whatsapp/webhooks/reference/messages.
* Heed's own sends: a Messenger/Instagram echo carries the ``metadata`` the Send API
  call set (messenger-platform/webhooks/webhook-events/message-echoes: "an optional
  custom metadata sent by the sender, and the corresponding app_id"); a WhatsApp
  status carries the send's ``biz_opaque_callback_data``. Heed's marker there
  (functions/domain/echoes.py) gives the echo its key and, for acknowledgements,
  ``automated``.

Every :class:`Message` keeps in ``raw`` a minimal webhook body holding just its own
event (envelope ``object`` and entry ``id``/``time`` included), so ``parse`` of
``json.dumps(raw)`` gives the same message back: stored events can be replayed.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from typing import Any, Callable, Mapping, Optional

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
    utc_from_seconds,
)
from functions.domain.echoes import Echo, comment_reply_key, parse_marker
from functions.domain.message import Message, Platform
from functions.errors import BadRequest, Forbidden, Unauthorized

SIGNATURE_HEADER = "X-Hub-Signature-256"

Json = dict[str, Any]


def handshake(params: Optional[Mapping[str, str]], verify_token: str) -> str:
    """Answer the subscription GET: the ``hub.challenge`` to echo as a plain body.

    A missing mode or token is 401; a present but wrong mode or token is 403.
    """
    configured(verify_token, "Meta verify token")
    params = params or {}
    mode = params.get("hub.mode")
    if not mode:
        raise Unauthorized("missing hub.mode")
    if mode != "subscribe":
        raise Forbidden("hub.mode must be 'subscribe'")
    check_secret(params.get("hub.verify_token"), verify_token, "hub.verify_token")
    challenge = params.get("hub.challenge")
    if not challenge:
        raise BadRequest("hub.challenge is missing")
    return challenge


def verify(headers: Mapping[str, str], body: bytes, app_secret: str) -> None:
    """Check ``X-Hub-Signature-256`` over the raw body bytes (never re-serialised JSON)."""
    secret = configured(app_secret, "Meta app secret")
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    check_secret(header(headers, SIGNATURE_HEADER), expected, f"{SIGNATURE_HEADER} signature")


def parse(body: bytes) -> list[Message]:
    """Every DM and comment in a delivery, in order; other events are skipped."""
    return parse_with_echoes(body)[0]


def parse_with_echoes(body: bytes) -> tuple[list[Message], list[Echo]]:
    """:func:`parse`, plus the WhatsApp statuses that prove one of Heed's sends went out.

    A status (``sent``, ``delivered``, ``read``) carrying Heed's marker in
    ``biz_opaque_callback_data`` is an :class:`Echo` of that send (a ``failed``
    status is not: nothing reached the customer). Other statuses are skipped.
    """
    data = load_json_object(body)
    kind = field(data, "object", str, "")
    parse_entry = _ENTRY_PARSERS.get(kind)
    if parse_entry is None:
        raise BadRequest(f"object {kind[:64]!r} is not supported")
    field(data, "entry", list, "")
    messages: list[Message] = []
    echoes: list[Echo] = []
    for where, entry in objects(data, "entry", ""):
        e = _Entry(kind, entry, where)
        messages.extend(parse_entry(e))
        echoes.extend(e.echoes)
    return messages, echoes


class _Entry:
    """One ``entry[]`` item with what every event under it needs."""

    def __init__(self, kind: str, entry: Json, where: str) -> None:
        self.kind = kind
        self.entry = entry
        self.where = where
        self.id = id_field(entry, "id", where)
        self.echoes: list[Echo] = []  # WhatsApp statuses of Heed's own sends

    def raw(self, **content: Any) -> Json:
        """A minimal webhook body holding only ``content`` under this entry."""
        entry: Json = {"id": self.entry["id"]}
        if "time" in self.entry:
            entry["time"] = self.entry["time"]
        entry.update(content)
        return {"object": self.kind, "entry": [entry]}


# --- Messenger and Instagram DMs -------------------------------------------------


def _dms(e: _Entry, platform: Platform) -> list[Message]:
    out = []
    for where, event in objects(e.entry, "messaging", e.where):
        message = _dm(e, platform, event, where)
        if message is not None:
            out.append(message)
    return out


def _dm(e: _Entry, platform: Platform, event: Json, where: str) -> Optional[Message]:
    msg = optional_field(event, "message", dict, where)
    if msg is None:  # delivery, read, reaction, postback, referral...
        return None
    where_msg = f"{where}.message"
    if optional_field(msg, "is_deleted", bool, where_msg):  # Instagram "unsend"
        return None
    echo = bool(optional_field(msg, "is_echo", bool, where_msg))
    side = "recipient" if echo else "sender"  # echoes: sender is the Page, recipient the PSID
    customer = id_field(field(event, side, dict, where), "id", f"{where}.{side}")
    # Heed's own send comes back with the marker it put in ``metadata`` (message_echoes reference).
    ours = parse_marker(msg.get("metadata")) if echo else None
    return Message(
        platform=platform,
        channel="dm",
        account_id=e.id,
        platform_message_id=id_field(msg, "mid", where_msg),
        direction="out" if echo else "in",
        sent_at=utc_from_millis(event.get("timestamp"), f"{where}.timestamp"),
        text=optional_field(msg, "text", str, where_msg) or "",
        raw=e.raw(messaging=[event]),
        customer_id=customer,
        attachments=tuple(field(att, "type", str, w) for w, att in objects(msg, "attachments", where_msg)),
        automated=bool(ours and ours[1]),
        echo_key=ours[0] if ours else None,
    )


# --- Facebook Page --------------------------------------------------------------


def _page(e: _Entry) -> list[Message]:
    out = _dms(e, "facebook")
    for where, change in objects(e.entry, "changes", e.where):
        if change.get("field") != "feed":
            continue
        value = field(change, "value", dict, where)
        if value.get("item") == "comment" and value.get("verb") == "add":
            out.append(_page_comment(e, change, value, f"{where}.value"))
    return out


def _page_comment(e: _Entry, change: Json, value: Json, where: str) -> Message:
    comment_id = id_field(value, "comment_id", where)
    # Graph withholds ``from`` when the app may not see the commenter; the comment
    # still needs an answer, so it becomes a conversation of its own.
    author = optional_field(value, "from", dict, where) or {"id": f"anonymous:{comment_id}"}
    author_id = id_field(author, "id", f"{where}.from")
    name = optional_field(author, "name", str, f"{where}.from")
    post_id = id_field(value, "post_id", where)
    parent_id = optional_id(value, "parent_id", where)
    brand = author_id == e.id  # the Page's own comment
    text = optional_field(value, "message", str, where) or ""
    return Message(
        platform="facebook",
        channel="comment",
        account_id=e.id,
        platform_message_id=comment_id,
        direction="out" if brand else "in",
        sent_at=utc_from_seconds(value.get("created_time"), f"{where}.created_time"),
        text=text,
        raw=e.raw(changes=[change]),
        customer_id=None if brand else author_id,
        customer_name=None if brand else name,
        root_id=post_id,
        reply_to=parent_id if parent_id != post_id else None,
        attachments=tuple(kind for kind in ("photo", "video") if value.get(kind)),
        # The Page's reply to a comment: a public reply of Heed's with this text, if one was sent (domain/echoes.py)
        echo_key=comment_reply_key(e.id, parent_id, text) if brand and parent_id and parent_id != post_id else None,
    )


# --- Instagram --------------------------------------------------------------------


def _instagram(e: _Entry) -> list[Message]:
    out = _dms(e, "instagram")
    if e.entry.get("field") == "comments":  # the examples' shape: field/value on the entry
        value = field(e.entry, "value", dict, e.where)
        raw = e.raw(field="comments", value=value)
        out.append(_ig_comment(e, value, f"{e.where}.value", raw))
    for where, change in objects(e.entry, "changes", e.where):
        if change.get("field") == "comments":
            value = field(change, "value", dict, where)
            out.append(_ig_comment(e, value, f"{where}.value", e.raw(changes=[change])))
    return out


def _ig_comment(e: _Entry, value: Json, where: str, raw: Json) -> Message:
    author = field(value, "from", dict, where)
    author_id = id_field(author, "id", f"{where}.from")
    brand = author_id == e.id  # the account's own comment or reply
    return Message(
        platform="instagram",
        channel="comment",
        account_id=e.id,
        platform_message_id=id_field(value, "id", where),
        direction="out" if brand else "in",
        sent_at=_ig_time(e, value, where),
        text=optional_field(value, "text", str, where) or "",
        raw=raw,
        customer_id=None if brand else author_id,
        customer_name=None if brand else optional_field(author, "username", str, f"{where}.from"),
        root_id=id_field(field(value, "media", dict, where), "id", f"{where}.media"),
        reply_to=optional_id(value, "parent_id", where),
    )


def _ig_time(e: _Entry, value: Json, where: str) -> datetime:
    """``entry.time`` (seconds; milliseconds if > 1e11), else ``value.timestamp``."""
    if e.entry.get("time") is not None:
        return _seconds_or_millis(e.entry["time"], f"{e.where}.time")
    if value.get("timestamp") is not None:
        return _seconds_or_millis(value["timestamp"], f"{where}.timestamp")
    raise BadRequest(f"{e.where}.time is missing")


def _seconds_or_millis(value: Any, where: str) -> datetime:
    try:
        millis = float(value) > 1e11  # 1e11 s is the year 5138; 1e11 ms is 1973
    except (TypeError, ValueError):
        millis = False  # utc_from_seconds names the bad value
    return utc_from_millis(value, where) if millis else utc_from_seconds(value, where)


# --- WhatsApp ---------------------------------------------------------------------


def _whatsapp(e: _Entry) -> list[Message]:
    out = []
    for where, change in objects(e.entry, "changes", e.where):
        if change.get("field") != "messages":
            continue
        where_value = f"{where}.value"
        value = field(change, "value", dict, where)
        e.echoes.extend(_wa_statuses(value, where_value))
        messages = objects(value, "messages", where_value)
        if not messages:  # statuses[] only: delivery receipts, not messages
            continue
        metadata = field(value, "metadata", dict, where_value)
        phone_id = id_field(metadata, "phone_number_id", f"{where_value}.metadata")
        contacts = _wa_contacts(value, where_value)
        for where_msg, msg in messages:
            out.append(_wa_message(e, change, value, phone_id, contacts, msg, where_msg))
    return out


def _wa_statuses(value: Json, where: str) -> list[Echo]:
    """Statuses of Heed's sends (``biz_opaque_callback_data`` is our marker); receipts of others are skipped."""
    found = []
    for where_s, status in objects(value, "statuses", where):
        ours = parse_marker(status.get("biz_opaque_callback_data"))
        if ours is None or status.get("status") == "failed":
            continue
        found.append(Echo(ours[0], id_field(status, "id", where_s),
                          utc_from_seconds(status.get("timestamp"), f"{where_s}.timestamp")))
    return found


def _wa_contacts(value: Json, where: str) -> dict[str, tuple[Json, Optional[str]]]:
    """``wa_id`` -> (contact object, profile name)."""
    found: dict[str, tuple[Json, Optional[str]]] = {}
    for where_c, contact in objects(value, "contacts", where):
        profile = optional_field(contact, "profile", dict, where_c) or {}
        name = optional_field(profile, "name", str, f"{where_c}.profile")
        found[id_field(contact, "wa_id", where_c)] = (contact, name)
    return found


def _wa_message(
    e: _Entry,
    change: Json,
    value: Json,
    phone_id: str,
    contacts: dict[str, tuple[Json, Optional[str]]],
    msg: Json,
    where: str,
) -> Message:
    sender = id_field(msg, "from", where)
    kind = field(msg, "type", str, where)
    if kind == "text":
        text = field(field(msg, "text", dict, where), "body", str, f"{where}.text")
        attachments: tuple[str, ...] = ()
    else:  # image, audio, document, button, interactive, location, reaction, ...
        content = optional_field(msg, kind, dict, where) or {}
        text = optional_field(content, "caption", str, f"{where}.{kind}") or ""
        attachments = (kind,)
    contact, name = contacts.get(sender, (None, None))
    single = {k: v for k, v in value.items() if k not in ("messages", "contacts", "statuses")}
    single["messages"] = [msg]
    if contact is not None:
        single["contacts"] = [contact]
    return Message(
        platform="whatsapp",
        channel="dm",
        account_id=phone_id,
        platform_message_id=id_field(msg, "id", where),
        direction="in",  # the Cloud API webhook never echoes business-sent messages
        sent_at=utc_from_seconds(msg.get("timestamp"), f"{where}.timestamp"),
        text=text,
        raw=e.raw(changes=[{**change, "value": single}]),
        customer_id=sender,
        customer_name=name,
        attachments=attachments,
    )


_ENTRY_PARSERS: dict[str, Callable[[_Entry], list[Message]]] = {
    "page": _page,
    "instagram": _instagram,
    "whatsapp_business_account": _whatsapp,
}
