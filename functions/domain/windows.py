"""When a platform lets Heed write to a customer: the policy windows, as pure functions of time.

* Messenger (``facebook``) and Instagram DMs: the standard messaging window is
  24 hours after the customer's last message. Inside it anything may be sent
  (``messaging_type: RESPONSE``). A *human* agent may answer up to 7 days after
  it with the ``HUMAN_AGENT`` message tag; automated messages may not use that tag.
* Private replies to a Facebook or Instagram comment: one message, within 7 days
  of the comment's creation (measured from the comment, not from when Heed saw it).
* WhatsApp: free-form messages only in the 24-hour customer-service window that
  each customer message restarts; outside it only a pre-approved template.
* Public replies (comments, X mentions), X DMs and Telegram: no window, only
  rate limits (the platform clients' business).

All bounds are exclusive: at exactly 24 hours the window has closed (the safer
reading of "24 hours after"). A ``now`` before the customer's message (clock
skew between the platform and Heed) counts as inside. Times are aware datetimes.

Sources: Meta's Messenger Platform policy (standard messaging, HUMAN_AGENT tag),
Instagram private replies ("within 7 days of the creation time of the comment"),
WhatsApp Cloud API customer-service windows; see ``/work/shared/platform-facts.md``.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, Optional

STANDARD_WINDOW = timedelta(hours=24)
HUMAN_AGENT_WINDOW = timedelta(days=7)
PRIVATE_REPLY_WINDOW = timedelta(days=7)

META_MESSAGING: frozenset[str] = frozenset({"facebook", "instagram"})
"""Platforms with Meta's 24 h standard window and the 7-day HUMAN_AGENT tag."""
NO_WINDOW: frozenset[str] = frozenset({"x", "telegram", "email"})
"""Platforms that never close a conversation; only rate limits apply."""
PUBLIC_CHANNELS: frozenset[str] = frozenset({"comment", "mention"})
PRIVATE_REPLY_PLATFORMS: frozenset[str] = frozenset({"facebook", "instagram"})
"""Where a comment can be answered with a private message (``recipient: {comment_id}``)."""

ReplyMode = Literal["RESPONSE", "HUMAN_AGENT", "TEMPLATE"]


@dataclass(frozen=True)
class Verdict:
    """Whether a send is allowed; false with a ``reason`` (a short code) and ``detail`` for people."""

    allowed: bool
    reason: Optional[str] = None
    detail: str = ""

    def __bool__(self) -> bool:
        return self.allowed


ALLOWED = Verdict(True)


def automatic_allowed(platform: str, last_inbound_at: Optional[datetime], now: datetime, *,
                      channel: str = "dm") -> Verdict:
    """May Heed send an automatic message (an acknowledgement) at ``now``?

    ``last_inbound_at`` is the customer's last message in the conversation; for
    a private reply (``channel="private_reply"``) it is the comment being answered.
    ``channel`` is where the text goes: ``dm``, ``comment`` or ``mention`` (a
    public reply: no window) or ``private_reply``. A WhatsApp refusal means no
    free-form text; an approved template may still be sent (the caller decides).
    """
    _known(platform)
    if channel == "private_reply":
        if platform not in PRIVATE_REPLY_PLATFORMS:
            return Verdict(False, "no_private_reply", f"{platform} has no private replies to comments")
        return _within(last_inbound_at, now, PRIVATE_REPLY_WINDOW, "private_reply_window_closed",
                       "a private reply must be sent within 7 days of the comment")
    if channel in PUBLIC_CHANNELS or platform in NO_WINDOW:
        return ALLOWED
    if channel != "dm":
        raise ValueError(f"{channel!r} is not dm, comment, mention or private_reply")
    return _within(last_inbound_at, now, STANDARD_WINDOW, "window_closed",
                   f"{platform} allows automatic messages only within 24 hours of the customer's last message")


def human_reply_mode(platform: str, last_inbound_at: Optional[datetime], now: datetime, *,
                     template: bool = False) -> tuple[Optional[ReplyMode], Optional[str]]:
    """How a staff member's DM reply may go out at ``now``: ``(mode, None)`` or ``(None, refusal)``.

    * Messenger/Instagram: under 24 h ``RESPONSE``; 24 h to 7 days ``HUMAN_AGENT``
      (the message tag); later refused.
    * WhatsApp: under 24 h ``RESPONSE`` (free-form); later ``TEMPLATE`` if an
      approved template is available (``template=True``), else refused.
    * X, Telegram (and email): always ``RESPONSE``.

    Public replies to comments and mentions have no window; this is for DMs.
    """
    _known(platform)
    if platform in NO_WINDOW:
        return "RESPONSE", None
    if _within(last_inbound_at, now, STANDARD_WINDOW, "", ""):
        return "RESPONSE", None
    if last_inbound_at is None:
        return None, f"the customer has never written on {platform}, so it may not be messaged"
    if platform in META_MESSAGING:
        if _within(last_inbound_at, now, HUMAN_AGENT_WINDOW, "", ""):
            return "HUMAN_AGENT", None
        return None, (f"more than 7 days since the customer's last message: {platform} refuses messages "
                      "until the customer writes again")
    if template:
        return "TEMPLATE", None
    return None, ("more than 24 hours since the customer's last message: WhatsApp accepts only an approved "
                  "template until the customer writes again")


def _within(since: Optional[datetime], now: datetime, span: timedelta, reason: str, detail: str) -> Verdict:
    if since is None:
        return Verdict(False, "no_inbound", "the customer has not written in this conversation")
    if now - since < span:
        return ALLOWED
    return Verdict(False, reason, detail)


def _known(platform: str) -> None:
    if platform not in META_MESSAGING | NO_WINDOW | {"whatsapp"}:
        raise ValueError(f"{platform!r} is not a platform Heed sends to")
