"""The only module that speaks DynamoDB.

Single table, keys overloaded by item type (layout in ``infra/template.yaml``
and the README's "Storage design"). The write path is built around one
``TransactWriteItems`` per delivery chunk:

* every message is a ``Put`` conditioned on ``attribute_not_exists(pk)``,
  keyed by the platform's own message id, so a duplicate costs that one
  conditional request and changes nothing;
* each conversation touched gets one ``Update`` (counts, last activity, the
  open-conversations index key), conditioned so an out-of-order message can't
  move ``last_message_at`` backwards (see :func:`_conversation_update`);
* the raw delivery rides in the same transaction, so a message never exists
  without the delivery it came in.

A cancelled transaction says, per action, why. Duplicates are dropped, a
conversation that had already moved on (its old item comes back through
``ReturnValuesOnConditionCheckFailure``) keeps its later timestamps, and the
rest is written in a second request. In-order deliveries cost one request.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
import random
import time
import zlib
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Iterator, Optional

from functions import aws, settings
from functions.domain import echoes as echo_keys
from functions.domain.conversations import Threaded, ThreadRef
from functions.domain.incidents import Cluster, OpenIncident, Signature
from functions.domain.message import RawDelivery, iso_utc
from functions.domain.sla import Fact
from functions.domain.sla import view as sla_view
from functions.domain.views import ConversationView, MessageView
from functions.errors import BadRequest, ServiceUnavailable
from functions.log import log

MAX_ACTIONS = 100  # DynamoDB's limit per transaction
MAX_TRANSACTION_BYTES = 3_500_000  # under the 4 MB request limit, with room for expressions
MAX_ITEM_BYTES = 380_000  # under the 400 KB item limit
DELIVERY_PART_BYTES = 300_000  # compressed raw delivery per item
DELIVERY_RETENTION_DAYS = 90
MAX_ATTEMPTS = 8


class StorageUnavailable(ServiceUnavailable):
    """DynamoDB failed or is unreachable: answer 5xx so the platform retries."""


# ---------------------------------------------------------------- write path


@dataclass
class _Pending:
    threaded: Threaded
    item: dict[str, Any]


def save(messages: list[Threaded], delivery: RawDelivery) -> int:
    """Store new messages and their delivery; returns how many were new.

    Every item is built and size-checked before the first write, so bad input
    is a 400 with nothing written.
    """
    if not messages:
        return 0
    received_at = iso_utc(delivery.received_at)
    delivery_id = _sha256(delivery.body)
    parts = _delivery_parts(delivery, delivery_id, received_at)
    pending = [_Pending(t, _message_item(t, delivery_id, received_at)) for t in messages]
    stored = 0
    for chunk in _chunks(pending, parts):
        new = _write_chunk(chunk, parts)
        if new:
            parts = []  # stored with this chunk; later chunks need not repeat it
        stored += new
    return stored


def _chunks(pending: list[_Pending], parts: list[dict]) -> Iterator[list[_Pending]]:
    """Split so each transaction stays within DynamoDB's action and size limits.

    Every chunk keeps room for the delivery parts, which go with the first
    chunk that stores anything.
    """
    reserved_actions = len(parts)
    reserved_bytes = sum(_size(p) for p in parts)
    chunk: list[_Pending] = []
    convs: set[str] = set()
    echoes = 0  # messages with an echo key: at most one more action each
    size = reserved_bytes
    for entry in pending:
        entry_size = _size(entry.item) + 2_000  # its share of the conversation update
        new_convs = convs | {entry.threaded.conversation_id}
        echo = 1 if entry.threaded.message.echo_key else 0
        actions = reserved_actions + len(chunk) + 1 + len(new_convs) + echoes + echo
        if chunk and (actions > MAX_ACTIONS or size + entry_size > MAX_TRANSACTION_BYTES):
            yield chunk
            chunk, new_convs, size, echoes = [], {entry.threaded.conversation_id}, reserved_bytes, 0
        chunk.append(entry)
        convs = new_convs
        echoes += echo
        size += entry_size
    if chunk:
        yield chunk


class ClaimLost(Exception):
    """An extra action's condition failed: somebody else owns what this write meant to record."""


def _write_chunk(chunk: list[_Pending], parts: list[dict], extra: tuple[dict, ...] = ()) -> int:
    """Write one chunk; retry without duplicates and with the right timestamp rule.

    ``extra`` actions ride along in every attempt (their condition failing is
    :class:`ClaimLost`); they are written even when every message turns out to
    be stored already.
    """
    candidates = list(chunk)
    keep: dict[str, set[str]] = {}  # conversation id -> timestamps already newer than ours
    checked: set[str] = set()  # text echo keys whose noted sends were looked at (see _actions)
    for attempt in range(MAX_ATTEMPTS):
        if not candidates and not extra:
            return 0
        actions, roles = _actions(candidates, parts if candidates else [], keep, checked)
        actions += extra
        roles += [("extra", None)] * len(extra)
        try:
            aws.client("dynamodb").transact_write_items(TransactItems=actions)
            return len(candidates)
        except Exception as exc:  # noqa: BLE001 - classified below, re-raised as 503 otherwise
            reasons = _cancellation_reasons(exc)
        duplicates: set[int] = set()
        recognised = False
        for reason, (role, ref) in zip(reasons, roles, strict=False):
            code = reason.get("Code") or "None"
            if code == "None":
                continue
            if code == "ConditionalCheckFailed" and role == "message":
                duplicates.add(ref)
            elif code == "ConditionalCheckFailed" and role == "echo":
                candidates = _own_sends(candidates, ref, _plain(reason.get("Item") or {}))
                checked.add(ref)
                recognised = True
            elif code == "ConditionalCheckFailed" and role == "conversation":
                keep[ref] = keep.get(ref, set()) | _newer_timestamps(_plain(reason.get("Item") or {}), ref, candidates)
            elif code == "ConditionalCheckFailed" and role == "extra":
                raise ClaimLost("the claim this write records is no longer ours")
            elif code != "TransactionConflict":
                log("store_transaction_failed", level="ERROR", reason=code)
                raise StorageUnavailable(f"storage refused the write: {code}")
        candidates = [entry for i, entry in enumerate(candidates) if i not in duplicates]
        if not duplicates and not recognised:  # contention, not news: back off a little before the next round
            time.sleep(random.uniform(0, 0.01 * 2**attempt))
    raise StorageUnavailable("storage is busy; retry the delivery")


def _own_sends(candidates: list[_Pending], key: str, echo_item: dict[str, Any]) -> list[_Pending]:
    """The brand messages under text echo ``key`` that echo Heed's automatic sends, marked automated.

    Their write was refused because an automatic send was noted under the key (``auto_until``); the sends
    noted there (``pending``) decide (functions/domain/echoes.py), so a reply typed in the platform's app or
    sent by staff through Heed stays the brand's response.
    """
    pending = sorted(echo_item.get("pending") or ())
    out = []
    for entry in candidates:
        m = entry.threaded.message
        if m.echo_key == key and not m.automated and echo_keys.echoes_automatic_send(pending, m.sent_at):
            log("echo_of_automatic_send", platform=m.platform, message_id=m.platform_message_id)
            threaded = replace(entry.threaded, message=replace(m, automated=True))
            entry = _Pending(threaded, {**entry.item, "automated": True})
        out.append(entry)
    return out


def _newer_timestamps(old: dict[str, Any], conv_id: str, candidates: list[_Pending]) -> set[str]:
    """Which of the conversation's timestamps are already later than this chunk's messages."""
    msgs = [e.threaded.message for e in candidates if e.threaded.conversation_id == conv_id]
    ours = _latest(msgs)
    return {attr for attr, value in ours.items() if value and old.get(attr, "") > value}


def _latest(msgs: list[Any]) -> dict[str, Optional[str]]:
    inbound = [m.sent_at for m in msgs if m.direction == "in"]
    return {
        "last_message_at": iso_utc(max(m.sent_at for m in msgs)),
        "last_inbound_at": iso_utc(max(inbound)) if inbound else None,
    }


def _cancellation_reasons(exc: Exception) -> list[dict]:
    """The per-action reasons of a cancelled transaction; anything else is a 503."""
    from botocore.exceptions import BotoCoreError, ClientError

    if isinstance(exc, ClientError) and exc.response.get("Error", {}).get("Code") == "TransactionCanceledException":
        return exc.response.get("CancellationReasons") or []
    if isinstance(exc, (ClientError, BotoCoreError)):
        log("store_unavailable", level="ERROR", error=type(exc).__name__)
        raise StorageUnavailable("storage is unavailable; retry the delivery") from None
    raise exc


def _actions(
    candidates: list[_Pending], parts: list[dict], keep: dict[str, set[str]], checked: set[str] = frozenset()
) -> tuple[list[dict], list[tuple[str, Any]]]:
    """The transaction and, for each action, what it is (to read cancellation reasons)."""
    table = settings.required("HEED_TABLE")
    actions: list[dict] = []
    roles: list[tuple[str, Any]] = []
    for part in parts:
        actions.append({"Put": {"TableName": table, "Item": _marshal(part)}})
        roles.append(("delivery", None))
    by_conv: dict[str, list[Threaded]] = {}
    for i, entry in enumerate(candidates):
        actions.append(
            {
                "Put": {
                    "TableName": table,
                    "Item": _marshal(entry.item),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
        )
        roles.append(("message", i))
        by_conv.setdefault(entry.threaded.conversation_id, []).append(entry.threaded)
    for conv_id, threaded in by_conv.items():
        update = _conversation_update(conv_id, threaded, keep.get(conv_id, set()))
        actions.append({"Update": {"TableName": table, **update}})
        roles.append(("conversation", conv_id))
    # A new echo of a brand message is noted under its echo key, in the same transaction as the message:
    # a duplicate echo (the message dropped above) notes nothing. One action per key (DynamoDB's rule).
    # A key from the text (X, Facebook comment replies) says nothing of who sent it: its update holds only
    # while no automatic send was noted under it lately (``auto_until``), else the write comes back with the
    # noted sends and the messages they explain are stored as automated (:func:`_own_sends`). So a customer
    # message, a duplicate and a reply typed in the platform's app still cost one request.
    echoes: dict[str, list[str]] = {}
    earliest: dict[str, str] = {}
    for entry in candidates:
        m = entry.threaded.message
        if m.echo_key:
            echoes.setdefault(m.echo_key, []).append(_seen(m.platform_message_id, m.sent_at))
            if not m.automated and m.echo_key not in checked and echo_keys.keyed_by_text(m.echo_key):
                earliest[m.echo_key] = min(earliest.get(m.echo_key, "~"), iso_utc(m.sent_at))
    for key, seen in echoes.items():
        update = _echo_update(key, seen)
        if key in earliest:
            update.update(ConditionExpression="attribute_not_exists(auto_until) OR auto_until < :sent",
                          ReturnValuesOnConditionCheckFailure="ALL_OLD")
            update["ExpressionAttributeValues"][":sent"] = {"S": earliest[key]}
        actions.append({"Update": {"TableName": table, **update}})
        roles.append(("echo", key))
    return actions, roles


def _conversation_update(conv_id: str, threaded: list[Threaded], keep: set[str]) -> dict:
    """The Update for one conversation receiving ``threaded`` new messages.

    ``last_message_at`` and ``last_inbound_at`` only ever move forward. Each is
    either advanced to this chunk's latest time (conditioned on not being later
    already) or, once DynamoDB has shown it is later (``keep``), left alone and
    conditioned on staying later. Both conditions are monotonic, so a
    conversation needs at most three rounds even under concurrent writers, and
    the common in-order case needs one.
    """
    first = threaded[0]
    msgs = [t.message for t in threaded]
    inbound = sorted((m for m in msgs if m.direction == "in"), key=lambda m: m.sent_at)
    latest = _latest(msgs)

    values: dict[str, Any] = {
        ":platform": first.message.platform,
        ":channel": first.message.channel,
        ":account": first.message.account_id,
        ":customer": first.customer_id,
        ":id": conv_id,
        ":type": "conversation",
        ":created": iso_utc(min(m.sent_at for m in msgs)),
        ":open": "open",
        ":open_pk": "STATUS#open",
        ":n": len(msgs),
        ":n_in": len(inbound),
        ":chars_in": sum(len(m.text) for m in inbound),
    }
    sets = [
        "#type = :type", "id = :id", "platform = :platform", "channel = :channel",
        "account_id = :account", "customer_id = :customer",
        "created_at = if_not_exists(created_at, :created)",
    ]
    if first.root_id:
        sets.append("root_id = :root")
        values[":root"] = first.root_id
    if inbound:  # a customer writing (again) opens the conversation
        sets += ["#status = :open", "gsi1pk = :open_pk"]
    else:
        sets += ["#status = if_not_exists(#status, :open)", "gsi1pk = if_not_exists(gsi1pk, :open_pk)"]

    conditions = []
    for attr, placeholder in (("last_message_at", ":last"), ("last_inbound_at", ":last_in")):
        value = latest[attr]
        if value is None:
            continue
        values[placeholder] = value
        if attr in keep:
            conditions.append(f"{attr} >= {placeholder}")
            continue
        conditions.append(f"(attribute_not_exists({attr}) OR {attr} <= {placeholder})")
        sets.append(f"{attr} = {placeholder}")
        if attr == "last_message_at":
            sets.append("gsi1sk = :gsi1sk")
            values[":gsi1sk"] = f"{value}#{conv_id}"
        elif inbound[-1].customer_name:  # the newest inbound message names the customer
            sets.append("customer_name = :name")
            values[":name"] = inbound[-1].customer_name
    return {
        "Key": _marshal({"pk": f"CONV#{conv_id}", "sk": "CONV"}),
        "UpdateExpression": "SET " + ", ".join(sets)
                            + " ADD message_count :n, inbound_count :n_in, inbound_chars :chars_in",
        "ConditionExpression": " AND ".join(conditions),
        "ExpressionAttributeNames": {"#type": "type", "#status": "status"},
        "ExpressionAttributeValues": _marshal(values),
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }


def _message_item(threaded: Threaded, delivery_id: str, received_at: str) -> dict[str, Any]:
    m = threaded.message
    sent_at = iso_utc(m.sent_at)
    item = {
        "pk": _message_pk(m.platform, m.account_id, m.platform_message_id),
        "sk": "MSG",
        "type": "message",
        "id": m.platform_message_id,
        "conversation_id": threaded.conversation_id,
        "gsi1pk": f"CONV#{threaded.conversation_id}",
        "gsi1sk": f"{sent_at}#{m.platform_message_id}",
        "platform": m.platform,
        "channel": m.channel,
        "account_id": m.account_id,
        "customer_id": threaded.customer_id,
        "customer_name": m.customer_name,
        "root_id": threaded.root_id,
        "reply_to": m.reply_to,
        "direction": m.direction,
        "text": m.text,
        "attachments": list(m.attachments),
        "sent_at": sent_at,
        "received_at": received_at,
        "delivery_id": delivery_id,
        "raw": json.dumps(m.raw, separators=(",", ":"), default=str),  # ensure_ascii: no lone surrogates
        "automated": True if m.automated else None,
        "sender_address": m.sender_address,
    }
    if m.direction == "in" and not m.automated:  # the reports' day index (noise share, complaint terms)
        item["gsi3pk"] = f"DAY#{sent_at[:10]}"
        item["gsi3sk"] = f"M#{sent_at}#{m.platform_message_id}"
    if m.triage is not None:  # customer messages: see functions/domain/triage.py
        item.update(labels=list(m.triage.labels), sentiment=m.triage.sentiment, priority=m.triage.priority,
                    language=m.triage.language)
    if _size(item) > MAX_ITEM_BYTES:
        raise BadRequest(f"message {m.platform_message_id[:64]} is too large to store")
    return item


def _delivery_parts(delivery: RawDelivery, delivery_id: str, received_at: str) -> list[dict]:
    """The raw body, compressed and split into items small enough for DynamoDB."""
    packed = zlib.compress(delivery.body, 6)
    chunks = [packed[i : i + DELIVERY_PART_BYTES] for i in range(0, len(packed), DELIVERY_PART_BYTES)] or [b""]
    expires = int(delivery.received_at.timestamp()) + DELIVERY_RETENTION_DAYS * 86_400
    return [
        {
            "pk": f"DELIVERY#{delivery_id}",
            "sk": f"PART#{n:04d}",
            "type": "delivery",
            "platform": delivery.platform,
            "received_at": received_at,
            "parts": len(chunks),
            "body_zlib": chunk,
            "expires_at": expires,
        }
        for n, chunk in enumerate(chunks)
    ]


# ---------------------------------------------------------------- the stream's view of a new message


@dataclass(frozen=True)
class StreamMessage:
    """A message as the stream handler needs it: its SLA fact and what triage and incidents read."""

    fact: Fact
    conversation_id: str
    platform: str
    account_id: str
    channel: str
    customer_id: Optional[str]
    text: str
    sentiment: Optional[float]

    def as_spam(self) -> StreamMessage:
        return replace(self, fact=replace(self.fact, labels=("spam",), priority="low"))


def stream_message(image: dict[str, Any], from_bot: bool = False) -> StreamMessage:
    """A stream record's NewImage of a message item."""
    item = _plain({k: v for k, v in image.items() if k not in ("raw", "attachments")})
    return StreamMessage(
        fact=Fact(message_id=item["id"], direction=item["direction"], sent_at=datetime.fromisoformat(item["sent_at"]),
                  from_bot=from_bot, automated=bool(item.get("automated", False)),
                  labels=tuple(item.get("labels", ())), priority=item.get("priority") or "normal"),
        conversation_id=item["conversation_id"], platform=item["platform"], account_id=item["account_id"],
        channel=item["channel"], customer_id=item.get("customer_id"), text=item.get("text", ""),
        sentiment=item.get("sentiment"))


def conversation_facts(conversation_id: str) -> list[Fact]:
    """Every stored message of a conversation as an SLA fact, with its triage labels (staff relabelling)."""
    params: dict[str, Any] = {
        "TableName": settings.required("HEED_TABLE"), "IndexName": "gsi1",
        "KeyConditionExpression": "gsi1pk = :pk",
        "ExpressionAttributeValues": {":pk": {"S": f"CONV#{conversation_id}"}},
        **_projection(("id", "direction", "sent_at", "labels", "automated", "priority")),
    }
    facts: list[Fact] = []
    while True:
        page = _call("query", **params)
        for item in map(_plain, page.get("Items", [])):
            facts.append(Fact(item["id"], item["direction"], datetime.fromisoformat(item["sent_at"]),
                              automated=bool(item.get("automated", False)), labels=tuple(item.get("labels", ())),
                              priority=item.get("priority") or "normal"))
        if "LastEvaluatedKey" not in page:
            return facts
        params["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def mark_spam(platform: str, account_id: str, message_id: str) -> None:
    """Repeated text turned out to be spam: the stored message says so (its clock never opened)."""
    _call("update_item", TableName=settings.required("HEED_TABLE"),
          Key=_marshal({"pk": _message_pk(platform, account_id, message_id), "sk": "MSG"}),
          UpdateExpression="SET labels = :labels, priority = :low",
          ExpressionAttributeValues=_marshal({":labels": ["spam"], ":low": "low"}))


def count_repeat(text_key: str, bucket: int, customer: str, expires_at: int) -> int:
    """Add ``customer`` to those who sent text ``text_key`` in time ``bucket``; how many distinct ones now.

    A string set, so a redelivered record adds nobody twice.
    """
    response = _call("update_item", TableName=settings.required("HEED_TABLE"),
                     Key=_marshal({"pk": f"REPEAT#{text_key}", "sk": f"B#{bucket}"}),
                     UpdateExpression="ADD customers :c SET #type = :type, expires_at = :exp",
                     ExpressionAttributeNames={"#type": "type"},
                     ExpressionAttributeValues=_marshal({":c": {customer}, ":type": "repeat", ":exp": expires_at}),
                     ReturnValues="UPDATED_NEW")
    return len(response.get("Attributes", {}).get("customers", {}).get("SS", []))


# ---------------------------------------------------------------- echoes
#
# ``pk=ECHO#<echo key>, sk=ECHO`` (functions/domain/echoes.py): ``seen``, a string
# set of ``<sent at>|<platform message id>`` the platform echoed under that key,
# and ``adopted``, a map platform message id -> the outbound id that took it as
# its own (so one echo confirms one send), and ``pending``, a string set of the
# sends noted under that key before they went out (``<at>|<a|h>|<outbound id>``,
# functions/domain/echoes.py ``intent``; X and Facebook comment replies), and
# ``auto_until``, until when an automatic send's echo may come, so intake can
# tell Heed's automatic sends from replies as it writes. 7-day TTL.

ECHO_RETENTION_DAYS = 7


def _seen(platform_message_id: str, at: Any) -> str:
    return f"{iso_utc(at)}|{platform_message_id}"


def _echo_update(key: str, seen: list[str]) -> dict[str, Any]:
    return {
        "Key": _marshal({"pk": f"ECHO#{key}", "sk": "ECHO"}),
        "UpdateExpression": "SET #type = :type, expires_at = :exp, adopted = if_not_exists(adopted, :none)"
                            " ADD seen :seen",
        "ExpressionAttributeNames": {"#type": "type"},
        "ExpressionAttributeValues": {
            **_marshal({":type": "echo", ":exp": int(time.time()) + ECHO_RETENTION_DAYS * 86_400}),
            ":none": {"M": {}}, ":seen": {"SS": sorted(set(seen))},
        },
    }


def save_echoes(echoes: list[Any]) -> None:
    """Note echoes that come without a message (WhatsApp statuses of Heed's sends); repeats change nothing."""
    by_key: dict[str, list[str]] = {}
    for echo in echoes:
        by_key.setdefault(echo.key, []).append(_seen(echo.platform_message_id, echo.at))
    for key, seen in by_key.items():
        _call("update_item", TableName=settings.required("HEED_TABLE"), **_echo_update(key, seen))


def note_intent(key: str, intent: str, auto_until: Optional[str] = None) -> None:
    """Note a send under its echo key before it goes out (one write; each attempt adds its entry).

    ``auto_until``: an automatic send's echo is expected until then; intake checks it as it writes.
    """
    values = {**_marshal({":type": "echo", ":exp": int(time.time()) + ECHO_RETENTION_DAYS * 86_400}),
              ":none": {"M": {}}, ":intent": {"SS": [intent]}}
    automatic = ""
    if auto_until:
        automatic = ", auto_until = :until"
        values[":until"] = {"S": auto_until}
    _call("update_item", TableName=settings.required("HEED_TABLE"),
          Key=_marshal({"pk": f"ECHO#{key}", "sk": "ECHO"}),
          UpdateExpression="SET #type = :type, expires_at = :exp, adopted = if_not_exists(adopted, :none)"
                           + automatic + " ADD pending :intent",
          ExpressionAttributeNames={"#type": "type"}, ExpressionAttributeValues=values)


def find_echo(key: str, since: str, outbound_id: str) -> Optional[str]:
    """The earliest echo under ``key`` at or after ``since`` not taken by another send (one consistent read)."""
    response = _call("get_item", TableName=settings.required("HEED_TABLE"), ConsistentRead=True,
                     Key=_marshal({"pk": f"ECHO#{key}", "sk": "ECHO"}))
    item = response.get("Item")
    if not item:
        return None
    adopted = {k: v.get("S") for k, v in item.get("adopted", {}).get("M", {}).items()}
    for entry in sorted(item.get("seen", {}).get("SS", [])):
        at, _, platform_id = entry.partition("|")
        if at >= since and adopted.get(platform_id, outbound_id) == outbound_id:
            return platform_id
    return None


# ---------------------------------------------------------------- read path


def find_threads(platform: str, account_id: str, ids: list[str]) -> dict[str, ThreadRef]:
    """Where the stored messages among ``ids`` live (``conversations.Lookup``)."""
    table = settings.required("HEED_TABLE")
    found: dict[str, ThreadRef] = {}
    for start in range(0, len(ids), 100):
        keys = [_marshal({"pk": _message_pk(platform, account_id, i), "sk": "MSG"}) for i in ids[start : start + 100]]
        request = {table: {"Keys": keys, "ConsistentRead": True,
                           **_projection(("id", "conversation_id", "customer_id", "root_id"))}}
        while request:
            response = _call("batch_get_item", RequestItems=request)
            for raw in response.get("Responses", {}).get(table, []):
                item = _plain(raw)
                found[item["id"]] = ThreadRef(item["conversation_id"], item["customer_id"], item.get("root_id"))
            request = response.get("UnprocessedKeys") or {}
    return found


# status -> (index, its key attributes, partition, newest first?)
_LISTINGS = {
    "open": ("gsi1", "gsi1pk", "gsi1sk", "STATUS#open", True),
    "resolved": ("gsi1", "gsi1pk", "gsi1sk", "STATUS#resolved", True),
    "breached": ("gsi2", "gsi2pk", "gsi2sk", "SLA#breached", False),  # open and past due, by next page
}


def list_conversations(status: str, limit: int, cursor: Optional[str]) -> tuple[list[ConversationView], Optional[str]]:
    """Conversations with ``status`` through an index (never a Scan)."""
    index, pk_name, sk_name, partition, newest_first = _LISTINGS[status]
    params: dict[str, Any] = {
        "TableName": settings.required("HEED_TABLE"),
        "IndexName": index,
        "KeyConditionExpression": f"{pk_name} = :pk",
        "ExpressionAttributeValues": {":pk": {"S": partition}},
        "ScanIndexForward": not newest_first,
        "Limit": limit,
    }
    if cursor:
        params["ExclusiveStartKey"] = _decode_cursor(cursor, {"pk", "sk", pk_name, sk_name}, pk_name, partition)
    response = _call("query", **params)
    items = [_conversation_view(_plain(i)) for i in response.get("Items", [])]
    last = response.get("LastEvaluatedKey")
    return items, _encode_cursor(last) if last else None


def get_conversation(conversation_id: str) -> Optional[ConversationView]:
    """One conversation with its messages oldest first, or ``None``."""
    table = settings.required("HEED_TABLE")
    response = _call("get_item", TableName=table, Key=_marshal({"pk": f"CONV#{conversation_id}", "sk": "CONV"}),
                     ConsistentRead=True)
    if "Item" not in response:
        return None
    messages: list[MessageView] = []
    params: dict[str, Any] = {
        "TableName": table,
        "IndexName": "gsi1",
        "KeyConditionExpression": "gsi1pk = :pk",
        "ExpressionAttributeValues": {":pk": {"S": f"CONV#{conversation_id}"}},
        **_projection(("id", "direction", "text", "sent_at", "labels", "priority", "sentiment", "channel",
                       "sender_address")),
    }
    while True:
        page = _call("query", **params)
        for raw in page.get("Items", []):
            item = _plain(raw)
            messages.append(MessageView(item["id"], item["direction"], item.get("text", ""), item["sent_at"],
                                        labels=tuple(item.get("labels", ())), priority=item.get("priority"),
                                        sentiment=item.get("sentiment"), channel=item.get("channel"),
                                        sender_address=item.get("sender_address")))
        if "LastEvaluatedKey" not in page:
            break
        params["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    view = _conversation_view(_plain(response["Item"]))
    return ConversationView(**{**view.__dict__, "messages": messages})


def _conversation_view(item: dict[str, Any]) -> ConversationView:
    return ConversationView(
        id=item["id"],
        platform=item["platform"],
        channel=effective_channel(item),
        account_id=item["account_id"],
        customer_id=item["customer_id"],
        customer_name=item.get("customer_name"),
        status=item["status"],
        handed_off_from=item.get("handed_off_from"),
        handed_off_at=item.get("handed_off_at"),
        message_count=int(item.get("message_count", 0)),
        last_message_at=item["last_message_at"],
        last_inbound_at=item.get("last_inbound_at"),
        sla=sla_view(json.loads(item["sla"])) if "sla" in item else None,
        delivery_failed=json.loads(item["delivery_failed"]) if "delivery_failed" in item else None,
        labels=tuple(item.get("labels", ())),
        priority=item.get("priority", "normal"),
        sentiment=item.get("sentiment"),
        incident_id=item.get("incident_id"),
        relabelled_by_staff=bool(item.get("relabelled_by_staff", False)),
    )


def effective_channel(item: dict[str, Any]) -> str:
    """``email`` once a conversation moved to email (``handed_off_from`` keeps where it came from).

    The item's own ``channel`` follows the latest stored message (the intake
    path sets it), so a customer writing on the platform again doesn't move the
    conversation back.
    """
    return "email" if item.get("handed_off_from") else item["channel"]


def _encode_cursor(key: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(_plain(key), separators=(",", ":")).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, expected: set[str], pk_name: str, partition: str) -> dict:
    """An opaque cursor back to a start key; anything we didn't issue is a 400."""
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error):
        raise BadRequest("next cursor is not valid") from None
    if (not isinstance(key, dict) or set(key) != expected or key[pk_name] != partition
            or not all(isinstance(v, str) and v and len(v) < 1024 for v in key.values())):
        raise BadRequest("next cursor is not valid")
    return _marshal(key)


@dataclass(frozen=True)
class ReplyTarget:
    """What sending into a conversation needs: where it is and the customer's latest message."""

    conversation_id: str
    platform: str
    channel: str
    account_id: str
    customer_id: str
    root_id: Optional[str]
    status: str
    last_inbound_at: Optional[str]
    latest_inbound_id: Optional[str]  # the comment or tweet a public reply answers
    latest_inbound_at: Optional[str]
    handoff: Optional[Handoff] = None  # set once the conversation moved to email
    latest_inbound_channel: Optional[str] = None


def reply_target(conversation_id: str) -> Optional[ReplyTarget]:
    """The conversation and its newest customer message (a short index read, newest first)."""
    table = settings.required("HEED_TABLE")
    response = _call("get_item", TableName=table, ConsistentRead=True,
                     Key=_marshal({"pk": f"CONV#{conversation_id}", "sk": "CONV"}),
                     **_projection(("platform", "channel", "account_id", "customer_id", "root_id", "status",
                                    "last_inbound_at", *_HANDOFF_ATTRS)))
    if "Item" not in response:
        return None
    conv = _plain(response["Item"])
    latest: dict[str, Any] = {}
    params: dict[str, Any] = {
        "TableName": table, "IndexName": "gsi1", "ScanIndexForward": False, "Limit": 25,
        "KeyConditionExpression": "gsi1pk = :pk",
        "ExpressionAttributeValues": {":pk": {"S": f"CONV#{conversation_id}"}},
        **_projection(("id", "direction", "sent_at", "channel")),
    }
    while not latest:
        page = _call("query", **params)
        latest = next((m for m in map(_plain, page.get("Items", [])) if m["direction"] == "in"), {})
        if "LastEvaluatedKey" not in page:
            break
        params["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return ReplyTarget(conversation_id, conv["platform"], effective_channel(conv), conv["account_id"],
                       conv["customer_id"], conv.get("root_id"), conv.get("status", "open"),
                       conv.get("last_inbound_at"), latest.get("id"), latest.get("sent_at"), _handoff(conv),
                       latest.get("channel"))


def set_status(conversation_id: str, status: str) -> bool:
    """Move a conversation between the open/resolved listings; False if it doesn't exist."""
    try:
        _call_raw("update_item", TableName=settings.required("HEED_TABLE"),
                  Key=_marshal({"pk": f"CONV#{conversation_id}", "sk": "CONV"}),
                  UpdateExpression="SET #status = :status, gsi1pk = :pk", ConditionExpression="attribute_exists(pk)",
                  ExpressionAttributeNames={"#status": "status"},
                  ExpressionAttributeValues=_marshal({":status": status, ":pk": f"STATUS#{status}"}))
        return True
    except _ConditionFailed:
        return False


# ---------------------------------------------------------------- email handoff
#
# A conversation moved to email carries its token, reply address and the
# Message-ID of its first email (``handoff_token``, ``reply_address``,
# ``email_root``), where it came from (``handed_off_from``) and, once known,
# the customer's address (``customer_email``). ``pk=MAILBOX#<token>, sk=MAILBOX``
# maps the token back to the conversation; both are written in one transaction.


@dataclass(frozen=True)
class Handoff:
    token: str
    reply_address: str
    email_root: str  # Message-ID (without <>) of the first email, the root of the mail thread
    handed_off_from: str
    handed_off_at: str
    reason: str
    customer_email: Optional[str]
    queued: bool  # the notice and the first email were queued


_HANDOFF_ATTRS = ("handoff_token", "reply_address", "email_root", "handed_off_from", "handed_off_at", "handoff_reason",
                  "customer_email", "handoff_queued")


def _handoff(item: dict[str, Any]) -> Optional[Handoff]:
    if "handoff_token" not in item:
        return None
    return Handoff(item["handoff_token"], item["reply_address"], item["email_root"], item["handed_off_from"],
                   item["handed_off_at"], item.get("handoff_reason", ""), item.get("customer_email"),
                   bool(item.get("handoff_queued")))


@dataclass(frozen=True)
class HandoffState:
    """A conversation as deciding and doing a handoff needs it."""

    conversation_id: str
    platform: str
    channel: str  # the effective channel ("email" once handed off)
    account_id: str
    customer_id: str
    customer_name: Optional[str]
    root_id: Optional[str]
    status: str
    inbound_count: int
    inbound_chars: int
    handoff: Optional[Handoff]


def get_handoff(conversation_id: str) -> Optional[HandoffState]:
    response = _call("get_item", TableName=settings.required("HEED_TABLE"), ConsistentRead=True,
                     Key=_marshal({"pk": f"CONV#{conversation_id}", "sk": "CONV"}),
                     **_projection(("id", "platform", "channel", "account_id", "customer_id", "customer_name",
                                    "root_id", "status", "inbound_count", "inbound_chars", *_HANDOFF_ATTRS)))
    if "Item" not in response:
        return None
    item = _plain(response["Item"])
    return HandoffState(item["id"], item["platform"], effective_channel(item), item["account_id"],
                        item["customer_id"], item.get("customer_name"), item.get("root_id"),
                        item.get("status", "open"), int(item.get("inbound_count", 0)),
                        int(item.get("inbound_chars", 0)), _handoff(item))


def start_handoff(conversation_id: str, handoff: Handoff) -> bool:
    """Record the move to email and its mailbox, once: False when it was already handed off (or is gone)."""
    table = settings.required("HEED_TABLE")
    values = {":token": handoff.token, ":address": handoff.reply_address, ":root": handoff.email_root,
              ":from": handoff.handed_off_from, ":at": handoff.handed_off_at, ":reason": handoff.reason}
    sets = ["handoff_token = :token", "reply_address = :address", "email_root = :root", "handed_off_from = :from",
            "handed_off_at = :at", "handoff_reason = :reason"]
    if handoff.customer_email:
        sets.append("customer_email = :email")
        values[":email"] = handoff.customer_email
    return _transact_or_conflict([
        {"Update": {"TableName": table, "Key": _marshal({"pk": f"CONV#{conversation_id}", "sk": "CONV"}),
                    "UpdateExpression": "SET " + ", ".join(sets),
                    "ConditionExpression": "attribute_exists(pk) AND attribute_not_exists(handoff_token)",
                    "ExpressionAttributeValues": _marshal(values)}},
        {"Put": {"TableName": table, "ConditionExpression": "attribute_not_exists(pk)",
                 "Item": _marshal({"pk": f"MAILBOX#{handoff.token}", "sk": "MAILBOX", "type": "mailbox",
                                   "conversation_id": conversation_id, "created_at": handoff.handed_off_at})}},
    ])


def mark_handoff_queued(conversation_id: str) -> None:
    _call("update_item", TableName=settings.required("HEED_TABLE"),
          Key=_marshal({"pk": f"CONV#{conversation_id}", "sk": "CONV"}),
          UpdateExpression="SET handoff_queued = :yes", ExpressionAttributeValues={":yes": {"BOOL": True}})


def set_customer_email(conversation_id: str, address: str) -> None:
    """The customer's address as first learnt (from their first mail); never overwritten."""
    try:
        _call_raw("update_item", TableName=settings.required("HEED_TABLE"),
                  Key=_marshal({"pk": f"CONV#{conversation_id}", "sk": "CONV"}),
                  UpdateExpression="SET customer_email = :email",
                  ConditionExpression="attribute_exists(pk) AND attribute_not_exists(customer_email)",
                  ExpressionAttributeValues=_marshal({":email": address}))
    except _ConditionFailed:
        pass


def mailbox(token: str) -> Optional[str]:
    """The conversation a mail token belongs to; None for a token Heed never issued."""
    response = _call("get_item", TableName=settings.required("HEED_TABLE"), ConsistentRead=True,
                     Key=_marshal({"pk": f"MAILBOX#{token}", "sk": "MAILBOX"}))
    return _plain(response["Item"]).get("conversation_id") if "Item" in response else None


# ---------------------------------------------------------------- SLA clocks
#
# A conversation's SLA state lives on its item (``sla``, JSON; ``sla_version``
# for optimistic concurrency). While a clock runs, the item is in the sparse
# index gsi2 under ``SLA#<state>`` sorted by its next alert time, so the
# checker reads only clocks that are due. Every change appends SLA events
# (``pk=CONV#id, sk=SLA#<time>#<version>#<clock>#<kind>#<n>``) in the same transaction.


@dataclass(frozen=True)
class SlaRecord:
    """A conversation as the SLA code needs it."""

    conversation_id: str
    platform: str
    channel: str
    account_id: str
    customer_id: str
    root_id: Optional[str]
    customer_name: Optional[str]
    status: str
    sla: dict  # functions.domain.sla.dump() form; {} before the first clock
    version: int
    alert_key: Optional[str]
    alert_sent: tuple[str, ...]
    triage: dict = field(default_factory=dict)  # the roll-up attributes (functions.domain.triage.Rollup.dump)

    @property
    def priority(self) -> str:
        """The conversation's triage priority (reports group by it)."""
        return self.triage.get("priority") or "normal"


_TRIAGE_ATTRS = ("labels", "priority", "sentiment", "sentiment_at", "triage_real", "relabelled_by_staff")
_SLA_ATTRS = ("id", "platform", "channel", "account_id", "customer_id", "root_id", "customer_name", "status", "sla",
              "sla_version", "alert_key", "alert_sent", "handed_off_from", *_TRIAGE_ATTRS)


def get_sla(conversation_id: str) -> Optional[SlaRecord]:
    response = _call("get_item", TableName=settings.required("HEED_TABLE"), ConsistentRead=True,
                     Key=_marshal({"pk": f"CONV#{conversation_id}", "sk": "CONV"}), **_projection(_SLA_ATTRS))
    return _sla_record(_plain(response["Item"])) if "Item" in response else None


def save_sla(record: SlaRecord, sla: dict, due: Optional[tuple[str, str]], events: list[dict],
             status: Optional[str] = None, alert_done: bool = False, triage: Optional[dict] = None) -> bool:
    """Write new SLA state if nobody changed it since ``record`` was read; False if somebody did.

    ``due`` is ``(state, next alert time)`` while a clock runs (``None`` takes
    the conversation out of the checker's index). ``status`` moves the
    conversation between the open/resolved listings. ``alert_done`` clears the
    checker's claim on the alert this write records. ``triage`` (the roll-up's
    attributes) is written alongside, under the same version condition.
    """
    table = settings.required("HEED_TABLE")
    names = {"#v": "sla_version"}
    values: dict[str, Any] = {":sla": json.dumps(sla, separators=(",", ":")), ":next": record.version + 1}
    sets = ["sla = :sla", "#v = :next"]
    removes = ["alert_key", "alert_sent", "alert_owner", "alert_until"] if alert_done else []
    for n, (name, value) in enumerate(sorted((triage or {}).items())):
        names[f"#t{n}"] = name
        if value is None:
            removes.append(f"#t{n}")
        else:
            sets.append(f"#t{n} = :t{n}")
            values[f":t{n}"] = value
    if due is None:
        removes += ["gsi2pk", "gsi2sk"]
    else:
        sets += ["gsi2pk = :due_pk", "gsi2sk = :due_sk"]
        values.update({":due_pk": f"SLA#{due[0]}", ":due_sk": f"{due[1]}#{record.conversation_id}"})
    if status is not None:
        names["#status"] = "status"
        sets += ["#status = :status", "gsi1pk = :status_pk"]
        values.update({":status": status, ":status_pk": f"STATUS#{status}"})
    adds = _report_summary(events, sets, values)
    condition = "attribute_exists(pk) AND "
    if record.version:
        condition += "#v = :expected"
        values[":expected"] = record.version
    else:
        condition += "attribute_not_exists(#v)"
    actions = [{"Update": {
        "TableName": table,
        "Key": _marshal({"pk": f"CONV#{record.conversation_id}", "sk": "CONV"}),
        "UpdateExpression": "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
                            + (" ADD " + ", ".join(adds) if adds else ""),
        "ConditionExpression": condition,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": _marshal(values),
    }}]
    for event in events:
        item = _sla_event_item(record.conversation_id, record.version + 1, event, record)
        actions.append({"Put": {"TableName": table, "ConditionExpression": "attribute_not_exists(pk)",
                                "Item": _marshal(item)}})
    return _transact_or_conflict(actions)


def due_clocks(now: str, limit: int = 100) -> list[SlaRecord]:
    """Running clocks whose next alert is at or before ``now`` (ISO, as stored): reads only those."""
    table = settings.required("HEED_TABLE")
    found: list[SlaRecord] = []
    for state in ("ok", "warning", "breached"):
        params: dict[str, Any] = {
            "TableName": table, "IndexName": "gsi2", "Limit": limit,
            "KeyConditionExpression": "gsi2pk = :pk AND gsi2sk <= :now",
            "ExpressionAttributeValues": _marshal({":pk": f"SLA#{state}", ":now": f"{now}#~"}),
        }
        page = _call("query", **params)
        found += [_sla_record(_plain(item)) for item in page.get("Items", [])]
    return found


def claim_alert(record: SlaRecord, key: str, owner: str, until: str, now: str, acks: list[dict]) -> bool:
    """Take the right to send alert ``key`` for a while; only one checker wins.

    The ack links' records are written in the same request, so a link works
    as soon as the SMS that carries it can arrive.
    """
    table = settings.required("HEED_TABLE")
    values = {":owner": owner, ":until": until, ":now": now, ":key": key, ":v": record.version}
    keep_sent = record.alert_key == key  # a retry of the same alert keeps the phones already paged
    sets = "alert_owner = :owner, alert_until = :until, alert_key = :key"
    if not keep_sent:
        sets += ", alert_sent = :none"
        values[":none"] = []
    actions: list[dict] = [{"Update": {
        "TableName": table,
        "Key": _marshal({"pk": f"CONV#{record.conversation_id}", "sk": "CONV"}),
        "UpdateExpression": "SET " + sets,
        "ConditionExpression": "sla_version = :v AND (attribute_not_exists(alert_until) OR alert_until < :now)",
        "ExpressionAttributeValues": _marshal(values),
    }}]
    for ack in acks:
        actions.append({"Put": {"TableName": table, "Item": _marshal({"pk": f"ACK#{ack['token_id']}", "sk": "ACK",
                                                                         "type": "ack", **ack})}})
    return _transact_or_conflict(actions)


def release_alert(conversation_id: str, owner: str, phones: list[str]) -> None:
    """Give the alert back after a failed send, remembering who got it so the retry pages only the rest."""
    try:
        _call_raw("update_item", TableName=settings.required("HEED_TABLE"),
              Key=_marshal({"pk": f"CONV#{conversation_id}", "sk": "CONV"}),
              UpdateExpression="SET alert_sent = list_append(alert_sent, :phones), alert_until = :past",
              ConditionExpression="alert_owner = :owner",
              ExpressionAttributeValues=_marshal({":phones": phones, ":owner": owner, ":past": ""}))
    except (StorageUnavailable, _ConditionFailed):
        log("alert_progress_not_saved", level="WARNING", conversation_id=conversation_id)


def get_ack(token_id: str) -> Optional[dict]:
    response = _call("get_item", TableName=settings.required("HEED_TABLE"), ConsistentRead=True,
                     Key=_marshal({"pk": f"ACK#{token_id}", "sk": "ACK"}))
    return _plain(response["Item"]) if "Item" in response else None


def sla_events(conversation_id: str) -> list[dict]:
    """A conversation's SLA history, oldest first."""
    params: dict[str, Any] = {
        "TableName": settings.required("HEED_TABLE"), "ConsistentRead": True,
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :sla)",
        "ExpressionAttributeValues": _marshal({":pk": f"CONV#{conversation_id}", ":sla": "SLA#"}),
    }
    events: list[dict] = []
    while True:
        page = _call("query", **params)
        events += [json.loads(_plain(item)["event"]) for item in page.get("Items", [])]
        if "LastEvaluatedKey" not in page:
            return events
        params["ExclusiveStartKey"] = page["LastEvaluatedKey"]


# SLA events the reports read, through the day index gsi3 (functions/domain/reports.py).
REPORT_EVENT_KINDS = frozenset({"opened", "met", "responded_late", "breached", "resolved"})


def _sla_event_item(conversation_id: str, version: int, event: dict,
                    record: Optional[SlaRecord] = None) -> dict[str, Any]:
    """Sorted by time, then by the SLA version that wrote it (events written in the same instant).

    Events the reports count also go into the day index (``gsi3``) with the
    dimensions they are grouped by, fixed as they were when it happened.
    """
    number = event["detail"].get("number") or event["detail"].get("level") or 0
    suffix = f"{event['clock_id']}#{event['kind']}#{number}"
    item: dict[str, Any] = {"pk": f"CONV#{conversation_id}", "sk": f"SLA#{event['at']}#{version:010d}#{suffix}",
                            "type": "sla_event", "event": json.dumps(event, separators=(",", ":"), default=str)}
    if record is not None and event["kind"] in REPORT_EVENT_KINDS:
        item.update(gsi3pk=f"DAY#{event['at'][:10]}", gsi3sk=f"S#{event['at']}#{conversation_id}#{suffix}",
                    platform=record.platform, channel=record.channel, policy=event["policy"],
                    priority=event["detail"].get("priority") or record.priority)
    return item


def _report_summary(events: list[dict], sets: list[str], values: dict[str, Any]) -> list[str]:
    """The conversation's own summary for the CSV export: first response times, breach count."""
    adds: list[str] = []
    breaches = 0
    for event in events:
        detail = event["detail"]
        if event["kind"] in ("met", "responded_late") and event["clock_id"].startswith("f"):
            sets += ["first_response_seconds = if_not_exists(first_response_seconds, :frs)",
                     "first_response_business_seconds = if_not_exists(first_response_business_seconds, :frb)"]
            values.update({":frs": detail.get("response_seconds"), ":frb": detail.get("business_seconds")})
            if values[":frb"] is None:
                sets.pop()
                values.pop(":frb")
        if event["kind"] == "breached" or (event["kind"] == "responded_late" and not detail.get("paged_breach")):
            breaches += 1
    if breaches:
        adds.append("breach_count :breaches")
        values[":breaches"] = breaches
    return adds


def _sla_record(item: dict[str, Any]) -> SlaRecord:
    return SlaRecord(
        conversation_id=item["id"], platform=item["platform"], channel=effective_channel(item),
        account_id=item["account_id"], customer_id=item["customer_id"], root_id=item.get("root_id"),
        customer_name=item.get("customer_name"), status=item.get("status", "open"),
        sla=json.loads(item["sla"]) if "sla" in item else {}, version=int(item.get("sla_version", 0)),
        alert_key=item.get("alert_key"), alert_sent=tuple(item.get("alert_sent", [])),
        triage={k: item[k] for k in _TRIAGE_ATTRS if k in item},
    )


def _transact_or_conflict(actions: list[dict]) -> bool:
    """Run a transaction; False when a condition failed or it collided with another writer."""
    try:
        aws.client("dynamodb").transact_write_items(TransactItems=actions)
        return True
    except Exception as exc:  # noqa: BLE001 - classified by _cancellation_reasons
        reasons = _cancellation_reasons(exc)
    codes = {reason.get("Code") or "None" for reason in reasons} - {"None"}
    if codes <= {"ConditionalCheckFailed", "TransactionConflict"}:
        return False
    log("store_transaction_failed", level="ERROR", reason=",".join(sorted(codes)))
    raise StorageUnavailable("storage refused the write")


# ---------------------------------------------------------------- incidents
#
# ``INCIDENT-WINDOW#<bucket>`` / ``<at>#<message id>``: one complaint signature
# (hashed customer, conversation, time, terms), a day's TTL. ``INCIDENT#<id>`` /
# ``INCIDENT``: the incident, listed through gsi1 (``INCIDENTS`` /
# ``<opened_at>#<id>``) and, until its page went out, in the checker's gsi2
# (``INCIDENT#page``). ``INCIDENT-KEY#<terms>`` / ``KEY``: which incident owns a
# term key while it is active (opening is conditioned on it).

INCIDENT_KEEP_SECONDS = 86_400


@dataclass(frozen=True)
class IncidentRecord:
    id: str
    terms: tuple[str, ...]
    status: str
    opened_at: str
    first_seen: str
    last_seen: str
    customers: int
    conversation_ids: tuple[str, ...]
    where: list[tuple[str, str]]  # (platform, channel)
    alert_sent: tuple[str, ...]
    paged_at: Optional[str]
    resolved_at: Optional[str] = None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "status": self.status, "terms": list(self.terms), "count": self.customers,
                "customers": self.customers, "first_seen": self.first_seen, "last_seen": self.last_seen,
                "opened_at": self.opened_at, "conversation_ids": list(self.conversation_ids),
                "channels": [{"platform": p, "channel": c} for p, c in self.where], "paged_at": self.paged_at,
                "resolved_at": self.resolved_at}


def put_signature(bucket: int, signature: Signature) -> None:
    at = iso_utc(signature.at)
    _call("put_item", TableName=settings.required("HEED_TABLE"), Item=_marshal({
        "pk": f"INCIDENT-WINDOW#{bucket}", "sk": f"{at}#{signature.message_id}", "type": "complaint_signature",
        "message_id": signature.message_id, "customer": signature.customer,
        "conversation_id": signature.conversation_id, "at": at, "terms": list(signature.terms),
        "expires_at": int(signature.at.timestamp()) + INCIDENT_KEEP_SECONDS}))


def signatures(buckets: list[int]) -> list[Signature]:
    found: list[Signature] = []
    for bucket in buckets:
        params: dict[str, Any] = {"TableName": settings.required("HEED_TABLE"), "ConsistentRead": True,
                                  "KeyConditionExpression": "pk = :pk",
                                  "ExpressionAttributeValues": _marshal({":pk": f"INCIDENT-WINDOW#{bucket}"})}
        while True:
            page = _call("query", **params)
            found += [Signature(i["message_id"], i["customer"], i["conversation_id"], datetime.fromisoformat(i["at"]),
                                tuple(i["terms"])) for i in map(_plain, page.get("Items", []))]
            if "LastEvaluatedKey" not in page:
                break
            params["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return found


def recent_incidents(since: str) -> list[OpenIncident]:
    """Incidents opened since ``since`` (gsi1, newest first; eventually consistent: see open_incident)."""
    page = _call("query", TableName=settings.required("HEED_TABLE"), IndexName="gsi1", ScanIndexForward=False,
                 Limit=100, KeyConditionExpression="gsi1pk = :pk AND gsi1sk >= :since",
                 ExpressionAttributeValues=_marshal({":pk": "INCIDENTS", ":since": since}))
    return [OpenIncident(i["id"], tuple(i["terms"]), datetime.fromisoformat(i["last_seen"]),
                         datetime.fromisoformat(i["resolved_at"]) if i.get("status") == "resolved" else None)
            for i in map(_plain, page.get("Items", []))]


def open_incident(incident_id: str, cluster: Cluster, active_since: str, now: str) -> bool:
    """Create the incident and take its term key, unless either exists (False: join the key's owner).

    ``now`` (when Heed opened it) is when its page falls due.
    """
    table = settings.required("HEED_TABLE")
    first, last = iso_utc(cluster.members[0].at), iso_utc(max(m.at for m in cluster.members))
    key = "|".join(cluster.key)
    incident = {
        "pk": f"INCIDENT#{incident_id}", "sk": "INCIDENT", "type": "incident", "id": incident_id,
        "status": "open", "key": list(cluster.key), "terms": list(cluster.terms), "opened_at": now,
        "first_seen": first, "last_seen": last, "gsi1pk": "INCIDENTS", "gsi1sk": f"{now}#{incident_id}",
        "gsi2pk": "INCIDENT#page", "gsi2sk": f"{now}#{incident_id}",
    }
    lock = {"pk": f"INCIDENT-KEY#{key}", "sk": "KEY", "type": "incident_key", "incident_id": incident_id,
            "last_seen": last, "expires_at": int(cluster.members[-1].at.timestamp()) + INCIDENT_KEEP_SECONDS}
    return _transact_or_conflict([
        {"Put": {"TableName": table, "Item": _marshal(incident), "ConditionExpression": "attribute_not_exists(pk)"}},
        {"Put": {"TableName": table, "Item": _marshal(lock),
                 "ConditionExpression": "attribute_not_exists(pk) OR last_seen < :since",
                 "ExpressionAttributeValues": _marshal({":since": active_since})}},
    ])


def incident_for_key(key: tuple[str, ...]) -> Optional[str]:
    response = _call("get_item", TableName=settings.required("HEED_TABLE"), ConsistentRead=True,
                     Key=_marshal({"pk": f"INCIDENT-KEY#{'|'.join(key)}", "sk": "KEY"}))
    return _plain(response["Item"]).get("incident_id") if "Item" in response else None


def link_incident(incident_id: str, members: list[Signature], where: list[tuple[str, str]]) -> None:
    """Add complaints to an incident and point their conversations at it (set adds: repeats change nothing)."""
    table = settings.required("HEED_TABLE")
    key = _marshal({"pk": f"INCIDENT#{incident_id}", "sk": "INCIDENT"})
    last = iso_utc(max(m.at for m in members))
    try:
        _call_raw("update_item", TableName=table, Key=key, ConditionExpression="attribute_exists(pk)",
                  UpdateExpression="ADD conversation_ids :convs, customers :customers, places :where",
                  ExpressionAttributeValues=_marshal({":convs": {m.conversation_id for m in members},
                                                      ":customers": {m.customer for m in members},
                                                      ":where": {f"{p}/{c}" for p, c in where}}))
        _call_raw("update_item", TableName=table, Key=key, ConditionExpression="last_seen < :last",
                  UpdateExpression="SET last_seen = :last", ExpressionAttributeValues=_marshal({":last": last}))
    except _ConditionFailed:
        pass  # gone, or last_seen is later already
    for conversation_id in sorted({m.conversation_id for m in members}):
        try:
            _call_raw("update_item", TableName=table, ConditionExpression="attribute_exists(pk)",
                      Key=_marshal({"pk": f"CONV#{conversation_id}", "sk": "CONV"}),
                      UpdateExpression="SET incident_id = if_not_exists(incident_id, :id)",
                      ExpressionAttributeValues=_marshal({":id": incident_id}))
        except _ConditionFailed:
            log("incident_conversation_missing", level="WARNING", conversation_id=conversation_id)


def _incident(item: dict[str, Any]) -> IncidentRecord:
    where = [tuple(place.split("/", 1)) for place in item.get("places", [])]
    return IncidentRecord(
        id=item["id"], terms=tuple(item.get("terms", ())), status=item.get("status", "open"),
        opened_at=item["opened_at"], first_seen=item["first_seen"], last_seen=item["last_seen"],
        customers=len(item.get("customers", [])), conversation_ids=tuple(item.get("conversation_ids", [])),
        where=[(p, c) for p, c in where], alert_sent=tuple(item.get("alert_sent", [])),
        paged_at=item.get("paged_at"), resolved_at=item.get("resolved_at"))


def get_incident(incident_id: str) -> Optional[IncidentRecord]:
    response = _call("get_item", TableName=settings.required("HEED_TABLE"), ConsistentRead=True,
                     Key=_marshal({"pk": f"INCIDENT#{incident_id}", "sk": "INCIDENT"}))
    return _incident(_plain(response["Item"])) if "Item" in response else None


_INCIDENT_FILTERS = {  # status as of now: "open" and "quiet" split at last_seen = now - window
    "open": "#status = :open AND last_seen >= :since",
    "quiet": "#status = :open AND last_seen < :since",
    "resolved": "#status = :resolved",
}


def list_incidents(limit: int, cursor: Optional[str], status: Optional[str] = None,
                   active_since: str = "") -> tuple[list[IncidentRecord], Optional[str]]:
    """Incidents, newest opened first (gsi1 ``INCIDENTS``), paginated like conversations. ``status`` filters
    (a page may then hold fewer than ``limit``; follow ``next``)."""
    params: dict[str, Any] = {
        "TableName": settings.required("HEED_TABLE"), "IndexName": "gsi1", "ScanIndexForward": False,
        "Limit": limit, "KeyConditionExpression": "gsi1pk = :pk",
        "ExpressionAttributeValues": {":pk": {"S": "INCIDENTS"}},
    }
    if status is not None:
        expression = _INCIDENT_FILTERS[status]
        params["FilterExpression"] = expression
        params["ExpressionAttributeNames"] = {"#status": "status"}
        values = {":open": "open", ":since": active_since, ":resolved": "resolved"}
        params["ExpressionAttributeValues"].update(_marshal({k: v for k, v in values.items() if k in expression}))
    if cursor:
        params["ExclusiveStartKey"] = _decode_cursor(cursor, {"pk", "sk", "gsi1pk", "gsi1sk"}, "gsi1pk", "INCIDENTS")
    response = _call("query", **params)
    last = response.get("LastEvaluatedKey")
    return [_incident(_plain(i)) for i in response.get("Items", [])], _encode_cursor(last) if last else None


def resolve_incident(incident_id: str, at: str) -> Optional[IncidentRecord]:
    """Mark it resolved (the first resolve's time stays), take it out of the checker's index if its page
    hasn't gone out, and free its term key so a new wave opens a new incident. None if it doesn't exist."""
    table = settings.required("HEED_TABLE")
    try:
        response = _call_raw("update_item", TableName=table, ReturnValues="ALL_NEW",
                             Key=_marshal({"pk": f"INCIDENT#{incident_id}", "sk": "INCIDENT"}),
                             ConditionExpression="attribute_exists(pk)",
                             UpdateExpression="SET #status = :resolved, resolved_at = if_not_exists(resolved_at, :at) "
                                              "REMOVE gsi2pk, gsi2sk",
                             ExpressionAttributeNames={"#status": "status"},
                             ExpressionAttributeValues=_marshal({":resolved": "resolved", ":at": at}))
    except _ConditionFailed:
        return None
    incident = _plain(response["Attributes"])
    try:  # released, not deleted (the API's role has no DeleteItem): open_incident may take it at once
        _call_raw("update_item", TableName=table, Key=_marshal({"pk": f"INCIDENT-KEY#{'|'.join(incident['key'])}",
                                                               "sk": "KEY"}),
                  ConditionExpression="incident_id = :id", UpdateExpression="SET last_seen = :free REMOVE incident_id",
                  ExpressionAttributeValues=_marshal({":id": incident_id, ":free": ""}))
    except _ConditionFailed:
        pass  # released already, or another incident holds the key now
    return _incident(incident)


def incidents_due(now: str, limit: int = 100) -> list[IncidentRecord]:
    """Incidents whose page hasn't gone out (the checker's gsi2, ``INCIDENT#page``)."""
    page = _call("query", TableName=settings.required("HEED_TABLE"), IndexName="gsi2", Limit=limit,
                 KeyConditionExpression="gsi2pk = :pk AND gsi2sk <= :now",
                 ExpressionAttributeValues=_marshal({":pk": "INCIDENT#page", ":now": f"{now}#~"}))
    keys = [_plain(i) for i in page.get("Items", [])]
    return [found for k in keys if (found := get_incident(k["id"])) is not None]


def claim_incident_alert(incident_id: str, owner: str, until: str, now: str) -> bool:
    try:
        _call_raw("update_item", TableName=settings.required("HEED_TABLE"),
                  Key=_marshal({"pk": f"INCIDENT#{incident_id}", "sk": "INCIDENT"}),
                  UpdateExpression="SET alert_owner = :owner, alert_until = :until",
                  ConditionExpression="attribute_exists(gsi2pk) AND (attribute_not_exists(alert_until) OR "
                                      "alert_until < :now)",
                  ExpressionAttributeValues=_marshal({":owner": owner, ":until": until, ":now": now}),
                  ReturnValuesOnConditionCheckFailure="ALL_OLD")
        return True
    except _ConditionFailed as failed:
        return failed.item.get("alert_owner") == owner  # ours: applied, but its answer was lost and retried


def record_incident_alert(incident_id: str, owner: str, phones: list[str], at: str) -> None:
    """The page went out: out of the checker's index, with who got it."""
    try:
        _call_raw("update_item", TableName=settings.required("HEED_TABLE"),
                  Key=_marshal({"pk": f"INCIDENT#{incident_id}", "sk": "INCIDENT"}),
                  UpdateExpression="SET paged_at = :at, alert_sent = list_append(if_not_exists(alert_sent, :none), "
                                   ":phones) REMOVE gsi2pk, gsi2sk, alert_owner, alert_until",
                  ConditionExpression="alert_owner = :owner",
                  ExpressionAttributeValues=_marshal({":at": at, ":phones": phones, ":none": [], ":owner": owner}),
                  ReturnValuesOnConditionCheckFailure="ALL_OLD")
    except _ConditionFailed as failed:
        if failed.item.get("paged_at") != at:  # else: recorded, but the answer was lost and the retry found it so
            log("incident_alert_not_recorded", level="ERROR", incident_id=incident_id)


def release_incident_alert(incident_id: str, owner: str, phones: list[str]) -> None:
    """A send failed: give the page back, remembering who got it so the retry pages only the rest."""
    try:
        _call_raw("update_item", TableName=settings.required("HEED_TABLE"),
                  Key=_marshal({"pk": f"INCIDENT#{incident_id}", "sk": "INCIDENT"}),
                  UpdateExpression="SET alert_sent = list_append(if_not_exists(alert_sent, :none), :phones), "
                                   "alert_until = :past",
                  ConditionExpression="alert_owner = :owner",
                  ExpressionAttributeValues=_marshal({":phones": phones, ":none": [], ":past": "",
                                                      ":owner": owner}))
    except _ConditionFailed:
        log("alert_progress_not_saved", level="WARNING", incident_id=incident_id)


# ---------------------------------------------------------------- outbound
#
# Every send has a record ``pk=OUT#<idempotency key>, sk=OUT``: claimed with a
# lease before the platform is called, marked sent (with the platform's id) in
# the same transaction that stores the sent message, so a redelivered queue
# message finds it sent and never sends twice.


def claim_outbound(outbound_id: str, conversation_id: str, owner: str, now: str,
                   lease_until: str) -> tuple[str, dict[str, Any]]:
    """``"claimed"`` (ours to send), ``"sent"`` (already done), ``"uncertain"`` (may have gone out; never
    again) or ``"busy"`` (another consumer's lease, or failed for good), with the record as it is now
    (``ambiguous_at``: an earlier attempt timed out after sending)."""
    try:
        answer = _call_raw("update_item", TableName=settings.required("HEED_TABLE"),
                  Key=_marshal({"pk": f"OUT#{outbound_id}", "sk": "OUT"}),
                  UpdateExpression="SET #type = :type, conversation_id = :conv, #owner = :owner, lease_until = :until,"
                                   " #status = :sending, created_at = if_not_exists(created_at, :now)"
                                   " ADD attempts :one",
                  ConditionExpression="attribute_not_exists(pk) OR (NOT #status IN (:sent, :uncertain)"
                                      " AND lease_until < :now)",
                  ExpressionAttributeNames={"#type": "type", "#owner": "owner", "#status": "status"},
                  ExpressionAttributeValues=_marshal({":type": "outbound", ":conv": conversation_id, ":owner": owner,
                                                      ":until": lease_until, ":sending": "sending", ":sent": "sent",
                                                      ":uncertain": "uncertain", ":now": now, ":one": 1}),
                  ReturnValues="ALL_NEW", ReturnValuesOnConditionCheckFailure="ALL_OLD")
        return "claimed", _plain(answer.get("Attributes") or {})
    except _ConditionFailed as failed:
        status = failed.item.get("status")
        if status == "sending" and failed.item.get("owner") == owner:
            return "claimed", failed.item  # our own claim, applied before its answer was lost and retried
        return (status if status in ("sent", "uncertain") else "busy"), failed.item


def record_sent(outbound_id: str, owner: str, message: Threaded, sent_at: str,
                echo_key: Optional[str] = None) -> bool:
    """Store the sent message (deduplicated against the platform's echo) and mark the send done, atomically.

    Returns False when the message was already stored (the echo came first).
    Raises :class:`ClaimLost` if another consumer took the send over meanwhile, or (``echo_key``: the
    send is confirmed by its echo, not by an answer) another send took that echo as its own.
    """
    received_at = iso_utc(message.message.sent_at)
    entry = _Pending(message, _message_item(message, f"outbound:{outbound_id}", received_at))
    mark = {"Update": {
        "TableName": settings.required("HEED_TABLE"),
        "Key": _marshal({"pk": f"OUT#{outbound_id}", "sk": "OUT"}),
        "UpdateExpression": "SET #status = :sent, platform_message_id = :pid, sent_at = :at REMOVE lease_until",
        "ConditionExpression": "#owner = :owner",
        "ExpressionAttributeNames": {"#status": "status", "#owner": "owner"},
        "ExpressionAttributeValues": _marshal({":sent": "sent", ":pid": message.message.platform_message_id,
                                               ":at": sent_at, ":owner": owner}),
    }}
    extra: tuple[dict, ...] = (mark,)
    if echo_key:
        mark["Update"]["UpdateExpression"] = mark["Update"]["UpdateExpression"].replace(
            " REMOVE", ", confirmed_by = :by REMOVE")
        mark["Update"]["ExpressionAttributeValues"][":by"] = {"S": "echo"}
        extra += ({"Update": {
            "TableName": settings.required("HEED_TABLE"),
            "Key": _marshal({"pk": f"ECHO#{echo_key}", "sk": "ECHO"}),
            "UpdateExpression": "SET adopted.#pid = :me",
            "ConditionExpression": "attribute_exists(pk)"
                                   " AND (attribute_not_exists(adopted.#pid) OR adopted.#pid = :me)",
            "ExpressionAttributeNames": {"#pid": message.message.platform_message_id},
            "ExpressionAttributeValues": _marshal({":me": outbound_id}),
        }},)
    return _write_chunk([entry], [], extra=extra) == 1


def release_outbound(outbound_id: str, owner: str, reason: str, ambiguous_at: Optional[str] = None) -> None:
    """Give a send back for the queue's next delivery (its lease ends now).

    ``ambiguous_at``: this attempt, started then, timed out after sending; the next one looks for its echo
    first (``ambiguous_since``: the first such attempt, from when an echo counts). An attempt that failed
    plainly leaves an earlier ambiguous one noted: its echo may still come.
    """
    ambiguous = ", ambiguous_at = :amb, ambiguous_since = if_not_exists(ambiguous_since, :amb)" \
        if ambiguous_at else ""
    try:
        _call_raw("update_item", TableName=settings.required("HEED_TABLE"),
                  Key=_marshal({"pk": f"OUT#{outbound_id}", "sk": "OUT"}),
                  UpdateExpression="SET lease_until = :past, last_error = :reason" + ambiguous,
                  ConditionExpression="#owner = :owner",
                  ExpressionAttributeNames={"#owner": "owner"},
                  ExpressionAttributeValues=_marshal({":past": "", ":reason": reason, ":owner": owner,
                                                      ":amb": ambiguous_at}))
    except _ConditionFailed:
        pass  # somebody else holds it now: nothing of ours to release


def record_delivery_failure(outbound_id: str, owner: str, conversation_id: str, kind: str, reason: str,
                            at: str, status: str = "failed") -> None:
    """A send gave up: the send is marked ``status`` (``failed``; ``uncertain``: it may have gone out, never
    to be sent again) and its conversation shows why."""
    table = settings.required("HEED_TABLE")
    failure = json.dumps({"outbound_id": outbound_id, "kind": kind, "reason": reason, "at": at},
                         separators=(",", ":"))
    _transact_or_conflict([
        {"Update": {"TableName": table, "Key": _marshal({"pk": f"OUT#{outbound_id}", "sk": "OUT"}),
                    "UpdateExpression": "SET #status = :failed, last_error = :reason REMOVE lease_until",
                    "ConditionExpression": "#owner = :owner",
                    "ExpressionAttributeNames": {"#status": "status", "#owner": "owner"},
                    "ExpressionAttributeValues": _marshal({":failed": status, ":reason": reason,
                                                           ":owner": owner})}},
        {"Update": {"TableName": table, "Key": _marshal({"pk": f"CONV#{conversation_id}", "sk": "CONV"}),
                    "UpdateExpression": "SET delivery_failed = :failure, delivery_failed_kind = :kind",
                    "ConditionExpression": "attribute_exists(pk)",
                    "ExpressionAttributeValues": _marshal({":failure": failure, ":kind": kind})}},
    ])


def clear_delivery_failure(conversation_id: str, kind: str) -> None:
    """A later send of ``kind`` went out: the conversation no longer shows a failure, unless a staff reply
    failed and this is only an automatic message (staff must still see that their answer may be missing)."""
    condition, values = "attribute_exists(delivery_failed)", {}
    if kind != "reply":
        condition += " AND (attribute_not_exists(delivery_failed_kind) OR delivery_failed_kind <> :reply)"
        values = {":reply": "reply"}
    try:
        _call_raw("update_item", TableName=settings.required("HEED_TABLE"),
                  Key=_marshal({"pk": f"CONV#{conversation_id}", "sk": "CONV"}),
                  UpdateExpression="REMOVE delivery_failed, delivery_failed_kind", ConditionExpression=condition,
                  **({"ExpressionAttributeValues": _marshal(values)} if values else {}))
    except _ConditionFailed:
        pass


def get_outbound(outbound_id: str) -> Optional[dict]:
    response = _call("get_item", TableName=settings.required("HEED_TABLE"), ConsistentRead=True,
                     Key=_marshal({"pk": f"OUT#{outbound_id}", "sk": "OUT"}))
    return _plain(response["Item"]) if "Item" in response else None


class _ConditionFailed(Exception):
    def __init__(self, item: dict[str, Any]) -> None:
        super().__init__("condition failed")
        self.item = item


def _call_raw(operation: str, **params: Any) -> dict:
    """Like :func:`_call`, but a failed condition is :class:`_ConditionFailed` (with the old item if asked)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return getattr(aws.client("dynamodb"), operation)(**params)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            raise _ConditionFailed(_plain(exc.response.get("Item") or {})) from None
        log("store_unavailable", level="ERROR", operation=operation, error=type(exc).__name__)
        raise StorageUnavailable("storage is unavailable; retry") from None
    except BotoCoreError as exc:
        log("store_unavailable", level="ERROR", operation=operation, error=type(exc).__name__)
        raise StorageUnavailable("storage is unavailable; retry") from None


# ---------------------------------------------------------------- reports
#
# The day index gsi3 (sparse): inbound messages (``M#<sent_at>#<id>``) and the SLA
# events reports count (``S#<at>#<conversation>#...``) under ``DAY#<yyyy-mm-dd>``
# (the UTC date). A report day (in the brand's time zone) is a time range over one
# or two such partitions. Its rollup (``pk=REPORT#<day>, sk=ROLLUP#<zone>``) is
# computed from that range and overwritten whole, so recomputing is harmless; an
# open day has a partial rollup (``sk=PARTIAL#<zone>``) up to its ``through`` cursor.

_DAY_ATTRS = ("type", "platform", "channel", "policy", "priority", "labels", "text", "event")
_DAY_LENGTH = timedelta(days=1)


def day_entries(start: str, end: str) -> Iterator[dict[str, Any]]:
    """Reporting entries in ``[start, end)`` (stored ISO times): messages as stored, events as their JSON plus
    dimensions. A whole UTC day is one Query of its partition; a part of one is two range Queries (``M#``, ``S#``)."""
    first = datetime.fromisoformat(start[:10]).date()
    last = (datetime.fromisoformat(end.replace("Z", "+00:00")) - timedelta(milliseconds=1)).date()
    day = first
    while day <= last:
        key = day.isoformat()
        whole = start <= f"{key}T00:00:00.000Z" and end >= f"{(day + _DAY_LENGTH).isoformat()}T00:00:00.000Z"
        ranges = [None] if whole else [(f"M#{start}", f"M#{end}"), (f"S#{start}", f"S#{end}")]
        for bounds in ranges:
            yield from _day_query(key, bounds)
        day += _DAY_LENGTH


def _day_query(day: str, bounds: Optional[tuple[str, str]]) -> Iterator[dict[str, Any]]:
    values: dict[str, Any] = {":pk": f"DAY#{day}"}
    condition = "gsi3pk = :pk"
    if bounds:  # "M#<t>" sorts before every "M#<t>#<id>": BETWEEN bare times is [start, end)
        condition += " AND gsi3sk BETWEEN :lo AND :hi"
        values.update({":lo": bounds[0], ":hi": bounds[1]})
    params: dict[str, Any] = {"TableName": settings.required("HEED_TABLE"), "IndexName": "gsi3",
                              "KeyConditionExpression": condition, "ExpressionAttributeValues": _marshal(values),
                              **_projection(_DAY_ATTRS)}
    while True:
        page = _call("query", **params)
        for raw in page.get("Items", []):
            item = _plain(raw)
            if item.get("type") == "sla_event":
                event = json.loads(item.pop("event"))
                item.update(kind=event["kind"], clock_id=event["clock_id"], detail=event["detail"],
                            policy=event["policy"])
            yield item
        if "LastEvaluatedKey" not in page:
            return
        params["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def get_rollups(keys: list[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
    """Stored rollups for ``(day, sk)`` keys (those that exist): ``{(day, sk): {"rollup", "computed_at",
    "through"}}``; 100 keys a request."""
    table = settings.required("HEED_TABLE")
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for start in range(0, len(keys), 100):
        request_keys = [_marshal({"pk": f"REPORT#{day}", "sk": sk}) for day, sk in keys[start:start + 100]]
        request = {table: {"Keys": request_keys, **_projection(("day", "sk", "rollup", "computed_at", "through"))}}
        while request:
            response = _call("batch_get_item", RequestItems=request)
            for raw in response.get("Responses", {}).get(table, []):
                item = _plain(raw)
                found[(item["day"], item["sk"])] = {"rollup": json.loads(zlib.decompress(item["rollup"])),
                                                    "computed_at": item["computed_at"],
                                                    "through": item.get("through")}
            request = response.get("UnprocessedKeys") or {}
    return found


def put_rollup(day: str, sk: str, rollup: dict[str, Any], computed_at: str, through: Optional[str] = None) -> bool:
    """Store (replace) a rollup; compressed, it stays far below the item limit. With ``through`` (a partial
    rollup of an open day) only if no stored one reaches further: False when one does (it is as good)."""
    packed = zlib.compress(json.dumps(rollup, separators=(",", ":")).encode(), 6)
    item = _marshal({"pk": f"REPORT#{day}", "sk": sk, "type": "report_rollup", "day": day, "rollup": packed,
                     "entries": rollup.get("entries", 0), "computed_at": computed_at, "through": through})
    if through is None:
        _call("put_item", TableName=settings.required("HEED_TABLE"), Item=item)
        return True
    try:
        _call_raw("put_item", TableName=settings.required("HEED_TABLE"), Item=item,
                  ConditionExpression="attribute_not_exists(through) OR through < :through",
                  ExpressionAttributeValues=_marshal({":through": through}))
        return True
    except _ConditionFailed:
        return False


CSV_STATUSES = ("open", "resolved")


def conversations_active(start: str, end: str, resume: Optional[tuple[str, str]] = None,
                         ) -> Iterator[tuple[dict[str, Any], tuple[str, str]]]:
    """Conversations (open, then resolved) whose last activity is in ``[start, end)``: index range reads.

    Yields each item with its position ``(status, gsi1sk)``; ``resume`` (a position yielded before)
    starts right after it.
    """
    statuses = CSV_STATUSES[CSV_STATUSES.index(resume[0]):] if resume else CSV_STATUSES
    for status in statuses:
        params: dict[str, Any] = {
            "TableName": settings.required("HEED_TABLE"), "IndexName": "gsi1",
            "KeyConditionExpression": "gsi1pk = :pk AND gsi1sk BETWEEN :start AND :end",
            "ExpressionAttributeValues": _marshal({":pk": f"STATUS#{status}", ":start": start, ":end": end}),
        }
        if resume and resume[0] == status:
            conversation_id = resume[1].rpartition("#")[2]
            params["ExclusiveStartKey"] = _marshal({"pk": f"CONV#{conversation_id}", "sk": "CONV",
                                                    "gsi1pk": f"STATUS#{status}", "gsi1sk": resume[1]})
        while True:
            page = _call("query", **params)
            for raw in page.get("Items", []):
                item = _plain(raw)
                if item.get("type") == "conversation" and item.get("last_message_at", "") < end:
                    yield item, (status, item["gsi1sk"])
            if "LastEvaluatedKey" not in page:
                break
            params["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def incidents_since(start: str) -> list[dict[str, Any]]:
    """Incidents opened at or after ``start`` (``INCIDENT#<id>`` items listed in gsi1 under ``INCIDENTS``)."""
    params: dict[str, Any] = {
        "TableName": settings.required("HEED_TABLE"), "IndexName": "gsi1",
        "KeyConditionExpression": "gsi1pk = :pk AND gsi1sk >= :start",
        "ExpressionAttributeValues": _marshal({":pk": "INCIDENTS", ":start": start}),
    }
    found: list[dict[str, Any]] = []
    while True:
        page = _call("query", **params)
        found += [_plain(item) for item in page.get("Items", [])]
        if "LastEvaluatedKey" not in page:
            return found
        params["ExclusiveStartKey"] = page["LastEvaluatedKey"]


# ---------------------------------------------------------------- helpers


def _call(operation: str, **params: Any) -> dict:
    """A read call; transport and service errors become a 503."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return getattr(aws.client("dynamodb"), operation)(**params)
    except (ClientError, BotoCoreError) as exc:
        log("store_unavailable", level="ERROR", operation=operation, error=type(exc).__name__)
        raise StorageUnavailable("storage is unavailable; retry") from None


def _projection(attrs: tuple[str, ...]) -> dict[str, Any]:
    """ProjectionExpression with a placeholder per name, so no attribute trips a reserved word."""
    return {"ProjectionExpression": ", ".join(f"#p{i}" for i in range(len(attrs))),
            "ExpressionAttributeNames": {f"#p{i}": name for i, name in enumerate(attrs)}}


def _message_pk(platform: str, account_id: str, platform_message_id: str) -> str:
    return f"MSG#{platform}#{account_id}#{platform_message_id}"


def _sha256(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def _marshal(item: dict[str, Any]) -> dict[str, Any]:
    """Plain values to DynamoDB's typed form; ``None`` attributes are left out."""
    return {k: _typed(v) for k, v in item.items() if v is not None}


def _typed(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        return {"S": _clean(value)}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int):
        return {"N": str(value)}
    if isinstance(value, float):
        return {"N": repr(round(value, 3))}
    if isinstance(value, (set, frozenset)):
        return {"SS": sorted(_clean(v) for v in value)}
    if isinstance(value, bytes):
        return {"B": value}
    if isinstance(value, list):
        return {"L": [_typed(v) for v in value]}
    raise TypeError(f"cannot store {type(value).__name__}")


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    """DynamoDB's typed form back to plain values (only the types Heed writes)."""
    out: dict[str, Any] = {}
    for key, typed in item.items():
        (kind, value), = typed.items()
        if kind == "N":
            out[key] = float(value) if any(c in value for c in ".eE") else int(value)
        elif kind == "SS":
            out[key] = sorted(value)
        elif kind == "L":
            out[key] = [_plain({"v": v})["v"] for v in value]
        else:
            out[key] = value
    return out


def _clean(text: str) -> str:
    """Replace lone surrogates (JSON lets ``"\\ud800"`` through) so the text encodes as UTF-8."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _size(item: dict[str, Any]) -> int:
    """An upper bound on an item's stored size (names plus UTF-8 values)."""
    total = 0
    for key, value in item.items():
        total += len(key.encode())
        if isinstance(value, str):
            total += len(value.encode("utf-8", "surrogatepass"))
        elif isinstance(value, bytes):
            total += len(value)
        elif isinstance(value, list):
            total += sum(len(str(v).encode("utf-8", "surrogatepass")) + 3 for v in value)
        else:
            total += 21
    return total
