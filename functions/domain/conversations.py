"""Grouping messages into conversations.

DMs group by (platform, brand account, customer); public comments and mentions
by (platform, brand account, customer, root post). Conversation ids are derived
from that key, so every delivery of the same thread lands in the same place
without a lookup.

Brand comments are the exception: a Page's reply names only the comment it
answers, not the customer. :func:`thread` finds the customer and the root post
through that parent, first among the messages of the same delivery, then
through the ``lookup`` the caller passes in (storage, in production).
"""
from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Callable, Iterable, Optional

from functions.domain.message import Message


@dataclass(frozen=True)
class ThreadRef:
    """Where an already-stored message lives: enough to thread a reply to it."""

    conversation_id: str
    customer_id: str
    root_id: Optional[str]


@dataclass(frozen=True)
class Threaded:
    """A message placed in its conversation."""

    message: Message
    conversation_id: str
    customer_id: str
    root_id: Optional[str]

    def ref(self) -> ThreadRef:
        return ThreadRef(self.conversation_id, self.customer_id, self.root_id)


# (platform, account_id, platform message ids) -> the stored ones among them
Lookup = Callable[[str, str, list[str]], dict[str, ThreadRef]]


def conversation_id(platform: str, account_id: str, customer_id: str, root_id: Optional[str]) -> str:
    """A short, URL-safe, deterministic id for a conversation key."""
    key = "\x1f".join((platform, account_id, customer_id, root_id or ""))
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()
    return "c" + base64.b32encode(digest[:15]).decode("ascii").lower()


def thread(messages: Iterable[Message], lookup: Lookup) -> tuple[list[Threaded], list[Message]]:
    """Place each message in a conversation.

    Returns the threaded messages and the ones that belong to no customer's
    conversation (a brand comment on its own post, or a reply to something
    Heed never stored); the caller logs those and stores nothing for them.
    """
    # Oldest first, so a reply in the same delivery finds the parent placed before it.
    messages = sorted(messages, key=lambda m: m.sent_at)
    known: dict[tuple[str, str, str], ThreadRef] = {}
    _prefetch_parents(messages, lookup, known)

    threaded: list[Threaded] = []
    orphans: list[Message] = []
    for message in messages:
        parent = known.get(_key(message, message.reply_to)) if message.reply_to else None
        placed = _place(message, parent)
        if placed is None:
            orphans.append(message)
            continue
        threaded.append(placed)
        known[_key(message, message.platform_message_id)] = placed.ref()
    return threaded, orphans


def _place(message: Message, parent: Optional[ThreadRef]) -> Optional[Threaded]:
    if message.channel == "dm":
        if message.customer_id is None:
            return None
        return _threaded(message, message.customer_id, None)
    if parent is not None:
        # A reply joins its parent's thread; a brand reply also takes its customer.
        customer = message.customer_id if message.direction == "in" else None
        return _threaded(message, customer or parent.customer_id, parent.root_id)
    if message.customer_id is None:
        return None
    return _threaded(message, message.customer_id, message.root_id)


def _threaded(message: Message, customer_id: str, root_id: Optional[str]) -> Threaded:
    conv = conversation_id(message.platform, message.account_id, customer_id, root_id)
    return Threaded(message, conv, customer_id, root_id)


def _prefetch_parents(messages: list[Message], lookup: Lookup, known: dict) -> None:
    """One lookup per (platform, account) for parents not in this delivery.

    Only public replies need it: DMs thread by customer alone, and a customer
    comment on Facebook/Instagram already names its root post, but we still
    prefer the parent's root so X reply chains stay one conversation.
    """
    in_delivery = {_key(m, m.platform_message_id) for m in messages}
    wanted: dict[tuple[str, str], list[str]] = {}
    for m in messages:
        if m.channel != "dm" and m.reply_to and _key(m, m.reply_to) not in in_delivery:
            wanted.setdefault((m.platform, m.account_id), []).append(m.reply_to)
    for (platform, account), ids in wanted.items():
        for found_id, ref in lookup(platform, account, sorted(set(ids))).items():
            known[(platform, account, found_id)] = ref


def _key(message: Message, platform_message_id: str) -> tuple[str, str, str]:
    return (message.platform, message.account_id, platform_message_id)
