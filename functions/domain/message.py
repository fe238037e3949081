"""The one message model every platform adapter produces.

Adapters turn a platform's webhook payload into a list of :class:`Message`;
everything downstream (threading, storage, SLA clocks) only sees this shape.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, Optional

if TYPE_CHECKING:
    from functions.domain.triage import Triage

Platform = Literal["facebook", "instagram", "whatsapp", "x", "telegram"]
Channel = Literal["dm", "comment", "mention", "email"]  # email: a conversation moved to email (handoff)
Direction = Literal["in", "out"]

PLATFORMS: tuple[str, ...] = ("facebook", "instagram", "whatsapp", "x", "telegram")


@dataclass(frozen=True)
class Message:
    """A customer or brand message, normalised from any platform.

    Threading hints:

    * ``root_id`` is the public post a comment or mention hangs under (the
      Facebook post, the Instagram media, the X tweet a mention answers).
      ``None`` for DMs, which thread by customer alone.
    * ``reply_to`` is the platform id of the message this one answers, when the
      platform says so. Brand comments carry no customer, so the threading step
      finds their conversation through the message they reply to.
    * ``customer_id`` is ``None`` only for brand messages whose customer the
      payload doesn't name (a Page's reply to a comment).
    """

    platform: Platform
    channel: Channel
    account_id: str
    platform_message_id: str
    direction: Direction
    sent_at: datetime  # timezone-aware, UTC
    text: str
    raw: dict[str, Any]
    customer_id: Optional[str] = None
    customer_name: Optional[str] = None
    root_id: Optional[str] = None
    reply_to: Optional[str] = None
    attachments: tuple[str, ...] = field(default_factory=tuple)
    automated: bool = False  # Heed's own acknowledgement: never counts as the brand's response
    followers: Optional[int] = None  # the customer's follower count, where the payload has it (X)
    triage: Optional[Triage] = None  # labels, sentiment, priority: set by intake for customer messages
    # The platform's echo of a brand message, matchable to the send that made it (functions/domain/echoes.py)
    echo_key: Optional[str] = None
    # An email's From address: the reply address lets anyone holding it write in, so staff see who did.
    sender_address: Optional[str] = None


@dataclass(frozen=True)
class RawDelivery:
    """A webhook body exactly as received, kept for replay and audit."""

    platform: str
    body: bytes
    received_at: datetime


def iso_utc(moment: datetime) -> str:
    """ISO-8601 UTC with millisecond precision and ``Z``: fixed width, so it sorts as a string."""
    naive = moment.astimezone(UTC).replace(tzinfo=None)
    return naive.isoformat(timespec="milliseconds") + "Z"
