"""Moving a conversation to email: when to, the reply address, and mail ids. Pure, no boto3.

A handed-off conversation keeps its id, its platform and its SLA clock; its
channel becomes ``email``. Mail finds it again through a per-conversation
token: 128 random bits in lower-case base32 (26 characters, safe in an
address's local part even where a mail system case-folds it), in the reply
address ``<local>+<token>@<domain>`` and in every Message-ID Heed sends
(``<heed.<token>.<random>@<domain>>``), so a reply that lost the plus address
still threads through ``In-Reply-To``/``References``.
"""
from __future__ import annotations

import base64
import re
import secrets
from dataclasses import dataclass
from typing import Iterable, Optional

TOKEN_PATTERN = r"[a-z2-7]{26}"
_TOKEN = re.compile(TOKEN_PATTERN)
# Conservative: a plain address written in a DM ("mail me at ana.b+shop@example.co.uk").
_EMAIL = re.compile(r"(?<![\w.+@-])([A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@(?:[A-Za-z0-9-]{1,63}\.)+[A-Za-z]{2,24})"
                    r"(?![\w@-])")
PLATFORM_CHANNELS_WITH_PRIVATE_NOTICE = {"facebook", "instagram"}  # a private reply answers a comment


@dataclass(frozen=True)
class Rules:
    """``[handoff]`` of the policy file. ``None`` turns a trigger off."""

    after_messages: Optional[int] = None  # customer messages in the conversation
    after_characters: Optional[int] = None  # characters the customer wrote in it
    on_email_address: bool = True  # the customer wrote an email address in a DM


def new_token() -> str:
    """128 random bits, lower-case base32 without padding (26 characters)."""
    return base64.b32encode(secrets.token_bytes(16)).decode("ascii").rstrip("=").lower()


def is_token(text: str) -> bool:
    return bool(_TOKEN.fullmatch(text))


def reply_address(from_address: str, domain: str, token: str) -> str:
    """``support+<token>@<domain>``: the local part of Heed's From address plus the token."""
    local = from_address.rpartition("@")[0] or "support"
    return f"{local.split('+')[0]}+{token}@{domain}"


def message_id(token: str, domain: str) -> str:
    """A new Message-ID (without <>) that carries the conversation's token."""
    return f"heed.{token}.{secrets.token_hex(8)}@{domain}"


def email_address_in(text: str) -> Optional[str]:
    """The first email address a customer wrote, lower-cased; None if there is none."""
    found = _EMAIL.search(text or "")
    return found.group(1).lower() if found else None


def reason_to_hand_off(rules: Rules, channel: str, inbound_count: int, inbound_characters: int,
                       new_texts: Iterable[str]) -> tuple[Optional[str], Optional[str]]:
    """``(reason, customer email)``: why this conversation should move to email now, or ``(None, None)``.

    Only DMs are searched for an address: an address in a public comment is
    already public, and Heed never repeats personal data in public.
    """
    email = None
    if rules.on_email_address and channel == "dm":
        email = next((found for text in new_texts if (found := email_address_in(text))), None)
        if email:
            return "email_address", email
    if rules.after_messages is not None and inbound_count >= rules.after_messages:
        return "messages", None
    if rules.after_characters is not None and inbound_characters >= rules.after_characters:
        return "characters", None
    return None, None


def notice_channel(platform: str, channel: str) -> Optional[str]:
    """Where the handoff notice (with the reply address) goes on the platform; None: nowhere private.

    DMs: the DM. Facebook/Instagram comments: a private reply. X mentions have
    no private reply, and the address must not be posted in public.
    """
    if channel == "dm":
        return "dm"
    if channel == "comment" and platform in PLATFORM_CHANNELS_WITH_PRIVATE_NOTICE:
        return "private_reply"
    return None


@dataclass(frozen=True)
class TranscriptLine:
    who: str  # "customer" or "us"
    text: str
    sent_at: str


def transcript(messages: Iterable[tuple[str, str, str]], *, max_messages: int = 20,
               max_chars: int = 500) -> tuple[list[TranscriptLine], int]:
    """A short, readable transcript from ``(direction, text, sent_at)``: the last ``max_messages``,
    each cut at ``max_chars``; returns the lines and how many earlier messages were left out."""
    items = [m for m in messages if m[1].strip()]
    left_out = max(0, len(items) - max_messages)
    lines = []
    for direction, text, sent_at in items[left_out:]:
        short = text.strip() if len(text.strip()) <= max_chars else text.strip()[:max_chars - 1].rstrip() + "…"
        lines.append(TranscriptLine("customer" if direction == "in" else "us", short, sent_at))
    return lines, left_out
